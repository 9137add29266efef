"""The Lambda function between a model's drift alarm and its training pipeline: read the alarm, ask the guards
(`retrain_guard.guard`), start the pipeline or refuse, and log the decision as one JSON line.

Configured by environment variables that the shared stack sets from `retrainOnDrift` (docs/monitoring.md):
`PIPELINE_NAME`, `RETRAIN_ENABLED` (`true`/`false`: the kill switch), `RETRAIN_COOLDOWN_MINUTES`,
`RETRAIN_MAX_RUNS_PER_DAY`. The function runs with reserved concurrency 1, so two alarms never read the same
history at once; the ClientRequestToken makes a redelivered event (EventBridge delivers at least once) start at
most one run.

The event is EventBridge's "CloudWatch Alarm State Change" (source `aws.cloudwatch`):
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
"""

from __future__ import annotations

import hashlib
import json
import os
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from retrain_guard.guard import Decision, Execution, GuardSettings, decide, execution_display_name

PARAM_TRIGGER_REASON = "TriggerReason"
"""The pipeline parameter that records why a run started (infra/core/pipeline/spec.py holds the same name)."""
LINEAGE_VALUE_PUNCTUATION = "_.:/=+-@"
LINEAGE_VALUE_MAX = 256


def lineage_value(text: str) -> str:
    """`text` in the characters and length a model package records (a copy of `infra.core.pipeline.spec.
    lineage_value`, which says why; this Lambda ships alone. tests/retrain_guard/test_lineage_values.py holds the
    two to the same answer)."""
    kept = "".join(c if unicodedata.category(c)[0] in "LZN" or c in LINEAGE_VALUE_PUNCTUATION else " " for c in text)
    value = " ".join(kept.split())
    while len(value.encode("utf-16-le")) // 2 > LINEAGE_VALUE_MAX:
        value = value[:-1]
    return value.strip() or "unknown"


HISTORY_PAGES = 5
"""ListPipelineExecutions pages (newest first, 100 each) read: more than a day of runs at any cap allowed."""


class BadEvent(ValueError):
    """The event is not a CloudWatch alarm state change this function can act on."""


@dataclass(frozen=True)
class AlarmEvent:
    name: str
    state: str
    value: str
    timestamp: str

    def trigger_reason(self) -> str:
        return lineage_value(f"drift alarm {self.name} value {self.value} at {self.timestamp}")

    def request_token(self) -> str:
        """The same state change delivered twice yields the same token (32-128 characters: StartPipelineExecution)."""
        return hashlib.sha256(f"{self.name}|{self.timestamp}".encode()).hexdigest()


def parse_alarm(event: Mapping[str, Any]) -> AlarmEvent:
    if event.get("source") != "aws.cloudwatch" or event.get("detail-type") != "CloudWatch Alarm State Change":
        raise BadEvent(f"not a CloudWatch alarm state change: source={event.get('source')!r}, "
                       f"detail-type={event.get('detail-type')!r}")
    detail = event.get("detail") or {}
    state = detail.get("state") or {}
    name, value = detail.get("alarmName"), state.get("value")
    if not isinstance(name, str) or not isinstance(value, str):
        raise BadEvent("detail.alarmName and detail.state.value are required")
    return AlarmEvent(name=name, state=value, value=_latest_datapoint(state.get("reasonData")),
                      timestamp=str(state.get("timestamp") or event.get("time") or ""))


def _latest_datapoint(reason_data: Any) -> str:
    """The newest datapoint CloudWatch quotes in `reasonData` (a JSON string), or `unknown`."""
    try:
        points = json.loads(reason_data).get("recentDatapoints") or []
        return f"{float(points[0]):g}"
    except (TypeError, ValueError, AttributeError, IndexError):
        return "unknown"


def settings_from_env(env: Mapping[str, str]) -> tuple[str, GuardSettings]:
    try:
        enabled = {"true": True, "false": False}[env["RETRAIN_ENABLED"]]
        return env["PIPELINE_NAME"], GuardSettings(
            enabled=enabled,
            cooldown=timedelta(minutes=int(env["RETRAIN_COOLDOWN_MINUTES"])),
            max_runs_per_day=int(env["RETRAIN_MAX_RUNS_PER_DAY"]),
        )
    except (KeyError, ValueError) as exc:
        raise RuntimeError(f"retrain guard misconfigured: {exc!r}") from None


def history(client: Any, pipeline: str) -> list[Execution]:
    runs: list[Execution] = []
    kwargs: dict[str, Any] = {"PipelineName": pipeline, "SortBy": "CreationTime", "SortOrder": "Descending",
                              "MaxResults": 100}
    for _ in range(HISTORY_PAGES):
        page = client.list_pipeline_executions(**kwargs)
        runs += [Execution(started_at=_aware(s["StartTime"]), status=s.get("PipelineExecutionStatus", ""),
                           display_name=s.get("PipelineExecutionDisplayName", ""))
                 for s in page.get("PipelineExecutionSummaries", [])]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return runs


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def handle(event: Mapping[str, Any], client: Any, env: Mapping[str, str],
           now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> dict[str, Any]:
    """Decide and act on one event; returns the decision record that is also logged."""
    pipeline, settings = settings_from_env(env)
    alarm = parse_alarm(event)
    moment = now()
    record: dict[str, Any] = {"pipeline": pipeline, "alarm": alarm.name, "alarmState": alarm.state,
                              "value": alarm.value, "at": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if alarm.state != "ALARM":
        decision = Decision(False, "not-alarm", f"alarm state is {alarm.state}, not ALARM")
    else:
        decision = decide(settings, moment, history(client, pipeline))
    record["decision"] = decision.to_dict()
    if decision.start:
        started = client.start_pipeline_execution(
            PipelineName=pipeline,
            PipelineExecutionDisplayName=execution_display_name(alarm.name, moment),
            PipelineExecutionDescription=alarm.trigger_reason(),
            PipelineParameters=[{"Name": PARAM_TRIGGER_REASON, "Value": alarm.trigger_reason()}],
            ClientRequestToken=alarm.request_token(),
        )
        record["executionArn"] = started["PipelineExecutionArn"]
    print(json.dumps({"retrainGuard": record}, sort_keys=True), flush=True)
    return record


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:  # pragma: no cover - the Lambda entry
    import boto3

    return handle(event, boto3.client("sagemaker"), os.environ)
