"""The retraining guard's Lambda code against moto in server mode: it reads the pipeline's real execution history
(ListPipelineExecutions), starts a run with the trigger reason as a pipeline parameter, and refuses as the guards
say. moto starts executions as Succeeded at once; the emulator's injection makes one Executing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from retrain_guard.handler import BadEvent, handle

PIPELINE = "mlops-shared-churn"
ALARM = "mlops-prod-churn-drift"
ENV = {"PIPELINE_NAME": PIPELINE, "RETRAIN_ENABLED": "true", "RETRAIN_COOLDOWN_MINUTES": "360",
       "RETRAIN_MAX_RUNS_PER_DAY": "2"}


def alarm_event(state: str = "ALARM", at: str = "2026-03-10T12:00:00.000+0000", value: float = 0.41) -> dict:
    return {
        "source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change", "time": "2026-03-10T12:00:01Z",
        "detail": {"alarmName": ALARM, "state": {
            "value": state, "timestamp": at, "reason": "Threshold Crossed",
            "reasonData": json.dumps({"recentDatapoints": [value], "threshold": 0.2})}},
    }


@pytest.fixture
def sagemaker(emulator: object) -> object:
    client = boto3.client("sagemaker")
    client.create_pipeline(PipelineName=PIPELINE, PipelineDefinition="{}",
                           RoleArn="arn:aws:iam::123456789012:role/mlops-shared-churn-pipeline")
    return client


def _parameters(client: object, arn: str) -> dict[str, str]:
    got = client.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
    return {p["Name"]: p["Value"] for p in got}


def test_the_first_alarm_starts_a_run_that_records_why(sagemaker: object) -> None:
    record = handle(alarm_event(), sagemaker, ENV)
    assert record["decision"]["start"] is True
    reason = _parameters(sagemaker, record["executionArn"])["TriggerReason"]
    assert reason == f"drift alarm {ALARM} value 0.41 at 2026-03-10T12:00:00.000+0000"
    summaries = sagemaker.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
    assert [s["PipelineExecutionDisplayName"].startswith("drift-") for s in summaries] == [True]


def test_the_second_alarm_within_the_cool_down_is_refused(sagemaker: object) -> None:
    handle(alarm_event(), sagemaker, ENV)
    record = handle(alarm_event(at="2026-03-10T13:00:00.000+0000"), sagemaker, ENV)
    assert record["decision"]["guard"] == "cool-down" and "executionArn" not in record
    assert len(sagemaker.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]) == 1


def test_no_run_while_one_executes(sagemaker: object, emulator: object) -> None:
    manual = sagemaker.start_pipeline_execution(PipelineName=PIPELINE, PipelineExecutionDisplayName="manual",
                                                ClientRequestToken="m" * 32)["PipelineExecutionArn"]
    emulator.post("/_inject/sagemaker/pipeline-execution", {"arn": manual, "status": "Executing"})
    record = handle(alarm_event(), sagemaker, ENV)
    assert record["decision"]["guard"] == "one-at-a-time"


def test_the_kill_switch_and_other_states_start_nothing(sagemaker: object) -> None:
    assert handle(alarm_event(), sagemaker, {**ENV, "RETRAIN_ENABLED": "false"})["decision"]["guard"] == "kill-switch"
    assert handle(alarm_event(state="OK"), sagemaker, ENV)["decision"]["guard"] == "not-alarm"
    assert sagemaker.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"] == []


def test_the_daily_cap_over_the_real_history(sagemaker: object) -> None:
    now = datetime.now(UTC)
    fast = {**ENV, "RETRAIN_COOLDOWN_MINUTES": "10", "RETRAIN_MAX_RUNS_PER_DAY": "1"}
    assert handle(alarm_event(), sagemaker, fast, now=lambda: now)["decision"]["start"]
    later = now + timedelta(minutes=20)
    if later.date() == now.date():  # moto stamps executions with the real clock: the cap is per UTC day
        assert handle(alarm_event(at="x"), sagemaker, fast, now=lambda: later)["decision"]["guard"] == "daily-cap"


@pytest.mark.parametrize("event", [{}, {"source": "aws.s3"}, {"source": "aws.cloudwatch",
                                                               "detail-type": "CloudWatch Alarm State Change",
                                                               "detail": {}}])
def test_a_foreign_event_is_refused_loudly(sagemaker: object, event: dict) -> None:
    with pytest.raises(BadEvent):
        handle(event, sagemaker, ENV)


def test_a_misconfigured_function_fails_before_any_call(sagemaker: object) -> None:
    with pytest.raises(RuntimeError, match="misconfigured"):
        handle(alarm_event(), sagemaker, {**ENV, "RETRAIN_ENABLED": "yes"})


def test_the_recorded_reason_is_one_a_package_can_record(sagemaker: object) -> None:
    """An alarm's name and time come from the event: whatever they hold, TriggerReason stays in the characters and
    the 256-character length CreateModelPackage takes (tests/infra/test_lineage_values.py)."""
    event = alarm_event(at="2026-03-10T12:00:00.000+0000")
    event["detail"]["alarmName"] = "drift (churn) #" + "x" * 300
    record = handle(event, sagemaker, ENV)
    reason = _parameters(sagemaker, record["executionArn"])["TriggerReason"]
    assert reason.startswith("drift alarm drift churn xxx") and len(reason) == 256
    assert "(" not in reason and "#" not in reason
