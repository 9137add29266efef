"""`drift` and `retrain-status` against moto in server mode: the metrics a monitoring job published, the drift
alarm, the pipeline's executions and the guard's decision log, read through the real AWS API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import release_seed as seed
from release_cli import release, release_text

from infra.core.monitoring import METRIC_FEATURE_PSI, METRIC_NAMESPACES
from infra.core.naming import Naming

PROD = Naming("mlops", "prod")
FEATURES = {"age": 0.02, "debt_to_income": 0.61, "income_k": 0.05}


def publish_psi(values: dict[str, float], at: datetime | None = None, schedule: str | None = None) -> None:
    """What SageMaker publishes from the monitor job's metrics file (model_code.monitor.metric_records)."""
    at = at or datetime.now(UTC) - timedelta(minutes=30)
    seed.client("cloudwatch").put_metric_data(Namespace=METRIC_NAMESPACES["endpoint"], MetricData=[
        {"MetricName": METRIC_FEATURE_PSI, "Timestamp": at, "Value": value, "Unit": "None",
         "Dimensions": [{"Name": "MonitoringSchedule", "Value": schedule or PROD.monitoring_schedule("churn")},
                        {"Name": "Model", "Value": "churn"}, {"Name": "Feature", "Value": feature}]}
        for feature, value in values.items()])


def test_drift_over_the_threshold_is_a_verdict(emulator: object, project: Path, capsys: pytest.CaptureFixture) -> None:
    publish_psi(FEATURES)
    code, doc, _ = release(capsys, project, "drift", "--model", "churn", "--stack", "prod")
    assert code == 1 and doc["drifted"] == ["debt_to_income"] and doc["threshold"] == 0.2
    assert {f["feature"]: f["psi"] for f in doc["features"]} == FEATURES
    code, text, _ = release_text(capsys, project, "drift", "--model", "churn", "--stack", "prod")
    assert code == 1 and "debt_to_income" in text and "DRIFT" in text


def test_no_drift_and_no_data_are_not_verdicts(emulator: object, project: Path, capsys: pytest.CaptureFixture) -> None:
    code, doc, _ = release(capsys, project, "drift", "--model", "churn", "--stack", "prod")
    assert code == 0 and doc["features"] == []
    publish_psi({"age": 0.01})
    publish_psi({"age": 0.9}, schedule=Naming("mlops", "staging").monitoring_schedule("churn"))  # not prod's
    code, doc, _ = release(capsys, project, "drift", "--model", "churn", "--stack", "prod")
    assert code == 0 and doc["drifted"] == [] and [f["feature"] for f in doc["features"]] == ["age"]


def test_old_results_fall_out_of_the_window(emulator: object, project: Path, capsys: pytest.CaptureFixture) -> None:
    publish_psi({"age": 0.9}, at=datetime.now(UTC) - timedelta(hours=30))
    code, doc, _ = release(capsys, project, "drift", "--model", "churn", "--stack", "prod", "--hours", "24")
    assert code == 0 and doc["features"] == []


@pytest.mark.parametrize(("argv", "needle"), [
    (("--model", "fraud", "--stack", "prod"), "not monitored"),
    (("--model", "nope", "--stack", "prod"), "not a model"),
    (("--model", "churn", "--stack", "nowhere"), "unknown stack"),
    (("--model", "churn", "--stack", "prod", "--hours", "0"), "--hours must be > 0"),
])
def test_bad_input_is_exit_2(emulator: object, project: Path, capsys: pytest.CaptureFixture, argv: tuple,
                             needle: str) -> None:
    if needle == "not monitored":  # every environment monitors fraud now: turn prod's monitor off in the copy
        stack = project / "stacks" / "Pulumi.prod.yaml"
        text = stack.read_text()
        at = text.index("    fraud:")
        at = text.index("        monitoring:", at)
        at = text.index("enabled: true", at)
        stack.write_text(text[:at] + "enabled: false" + text[at + len("enabled: true"):])
    code, _, err = release_text(capsys, project, "drift", *argv)
    assert code == 2 and needle in err and "Traceback" not in err


def _seed_guard(decisions: list[dict]) -> str:
    shared = Naming("mlops", "shared")
    sm = seed.client("sagemaker")
    sm.create_pipeline(PipelineName=shared.pipeline("churn"), PipelineDefinition="{}",
                       RoleArn="arn:aws:iam::123456789012:role/mlops-shared-churn-pipeline")
    logs, group = seed.client("logs"), f"/aws/lambda/{shared.retrain_guard('churn')}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(datetime.now(UTC).timestamp() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": now, "message": "START RequestId: x"},
        *({"timestamp": now, "message": json.dumps({"retrainGuard": d})} for d in decisions)])
    return shared.pipeline("churn")


def test_retrain_status_shows_guards_decisions_and_the_verdict_now(emulator: object, project: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    pipeline = _seed_guard([
        {"at": "2026-03-10T12:00:00Z", "alarm": "mlops-prod-churn-drift", "value": "0.61",
         "decision": {"start": True, "guard": "none", "reason": "no guard refused"}},
        {"at": "2026-03-10T13:00:00Z", "alarm": "mlops-prod-churn-drift", "value": "0.64",
         "decision": {"start": False, "guard": "cool-down", "reason": "next may start at ..."}},
    ])
    seed.client("sagemaker").start_pipeline_execution(
        PipelineName=pipeline, PipelineExecutionDisplayName="drift-20260310T120000Z-x", ClientRequestToken="t" * 32)
    code, doc, _ = release(capsys, project, "retrain-status", "--model", "churn")
    assert code == 0
    assert doc["guards"] == {"enabled": True, "cooldownMinutes": 720, "maxRunsPerDay": 2}
    assert doc["driftRunsToday"] == 1 and doc["wouldStartNow"]["guard"] == "cool-down"
    assert [d["decision"]["guard"] for d in doc["decisions"]] == ["cool-down", "none"]
    code, text, _ = release_text(capsys, project, "retrain-status", "--model", "churn")
    assert "be refused: cool-down" in text and "refused  cool-down" in text


def test_retrain_status_with_the_kill_switch_and_no_log(emulator: object, project: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    seed.client("sagemaker").create_pipeline(
        PipelineName=Naming("mlops", "shared").pipeline("fraud"), PipelineDefinition="{}",
        RoleArn="arn:aws:iam::123456789012:role/mlops-shared-fraud-pipeline")
    code, doc, _ = release(capsys, project, "retrain-status", "--model", "fraud")
    assert code == 0 and doc["guards"]["enabled"] is False
    assert doc["wouldStartNow"]["guard"] == "kill-switch" and doc["decisions"] == []
