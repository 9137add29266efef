"""`retrain-status`: what a model's retraining guards are set to, what they decided and why, and what they would
decide for a drift alarm right now (docs/monitoring.md).

The settings come from the shared stack file (`retrainOnDrift`); the history is the pipeline's executions (the
guard's own source of truth); the decisions are the guard function's log lines (`{"retrainGuard": {...}}`).
The "now" decision is the guard's own pure function (`retrain_guard.guard.decide`) on that history.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from infra.release import stacks
from infra.release.aws import Aws, guarded
from infra.release.errors import AwsError
from infra.release.outcome import Outcome
from retrain_guard.guard import GuardSettings, decide, utc_day_start
from retrain_guard.handler import history

DECISION_DAYS = 7
SHOWN_DECISIONS = 10


def run(project_dir: Path, model: str, now: datetime | None = None) -> Outcome:
    shared = stacks.load_shared(project_dir)
    settings = stacks.training_of(shared, model).retrain_on_drift
    pipeline = shared.naming.pipeline(model)
    aws, moment = Aws(shared.config.region), now or datetime.now(UTC)
    runs = guarded(lambda: {"runs": history(aws.client("sagemaker"), pipeline)}, "sagemaker:ListPipelineExecutions",
                   pipeline, read=lambda answer: answer["runs"])
    guard = GuardSettings(settings.enabled, timedelta(minutes=settings.cooldown_minutes), settings.max_runs_per_day)
    verdict = decide(guard, moment, runs)
    drift_runs = sorted((r for r in runs if r.drift_triggered), key=lambda r: r.started_at, reverse=True)
    today = [r for r in drift_runs if r.started_at >= utc_day_start(moment)]
    decisions = _decisions(aws, shared.naming.retrain_guard_log_group(model), moment)
    out = Outcome("retrain-status", data={
        "model": model, "pipeline": pipeline,
        "guards": {"enabled": settings.enabled, "cooldownMinutes": settings.cooldown_minutes,
                   "maxRunsPerDay": settings.max_runs_per_day},
        "driftRunsToday": len(today),
        "lastDriftRun": drift_runs[0].started_at.isoformat() if drift_runs else None,
        "running": [r.display_name for r in runs if r.status in ("Executing", "Stopping")],
        "wouldStartNow": verdict.to_dict(),
        "decisions": decisions,
    })
    switch = "on (drift may retrain)" if settings.enabled else "OFF (kill switch: drift never retrains)"
    out.say(f"{model}: retraining on drift {switch}; cool-down {settings.cooldown_minutes} min, "
            f"at most {settings.max_runs_per_day} run(s) per UTC day")
    out.say(f"  drift-triggered runs today: {len(today)}; last: {out.data['lastDriftRun'] or 'never'}; "
            f"running: {', '.join(out.data['running']) or 'none'}")
    out.say(f"  a drift alarm now would {'START a run' if verdict.start else 'be refused'}: "
            f"{verdict.guard} ({verdict.reason})")
    out.say(f"  decisions of the last {DECISION_DAYS} days (newest first):" if decisions else
            f"  no guard decisions logged in the last {DECISION_DAYS} days")
    for d in decisions[:SHOWN_DECISIONS]:
        decision = d.get("decision", {})
        out.say(f"    {d.get('at', '?')}  {'started' if decision.get('start') else 'refused'}  "
                f"{decision.get('guard', '?')}: {decision.get('reason', '')}  [{d.get('alarm', '?')} "
                f"{d.get('value', '')}]")
    return out


def _decisions(aws: Aws, log_group: str, now: datetime) -> list[dict[str, Any]]:
    """The guard's decision records, newest first; none when the function has not logged yet."""
    start = int((now - timedelta(days=DECISION_DAYS)).timestamp() * 1000)
    try:
        events = aws.call("logs", "filter_log_events", log_group, logGroupName=log_group, startTime=start,
                          filterPattern='"retrainGuard"').get("events", [])
    except AwsError as exc:
        if exc.code == "ResourceNotFoundException":
            return []
        raise
    records = []
    for event in events:
        try:
            records.append(json.loads(event["message"])["retrainGuard"])
        except (ValueError, KeyError, TypeError):
            continue  # Lambda's own START/END/REPORT lines
    return sorted(records, key=lambda r: r.get("at", ""), reverse=True)
