"""The continuous-training loop in the planned stacks, and its config refused at the edge when contradictory."""

from __future__ import annotations

import json

import pytest
from test_config import BASE, TRAINED, problems, served

from infra.config import ConfigError, parse_stack_config
from infra.core.naming import Naming
from infra.plan.model import PlanResult


def _types(plan: PlanResult, type_: str) -> list[dict]:
    return [r.inputs for r in plan.resources if r.type == type_]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_environment_plans_a_schedule_job_definition_drift_alarm_and_forward_rule(
        plans: dict[str, PlanResult], stack: str) -> None:
    """churn on SageMaker (its endpoint's capture) and fraud on Kubernetes (its shipped capture files) alike."""
    plan, naming = plans[stack], Naming("mlops", stack)
    schedules = {s["name"]: s for s in _types(plan, "aws:sagemaker/monitoringSchedule:MonitoringSchedule")}
    definition_type = "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
    definitions = {d["name"]: d for d in _types(plan, definition_type)}
    # fraud is served on Kubernetes everywhere: Pulumi judges its shipped capture files.
    fraud = definitions[naming.monitoring_schedule("fraud")]["dataQualityJobInput"]
    assert fraud["batchTransformInput"]["dataCapturedDestinationS3Uri"].endswith(f"/{stack}/fraud/")
    if stack == "dev":
        # dev's churn is SageMaker by pull: its job definition and schedule are ACK objects in gitops/dev/churn
        # (tests/gitops/test_ack_monitor.py), so that promotion moves the baseline; Pulumi keeps role and alarm.
        assert set(schedules) == set(definitions) == {naming.monitoring_schedule("fraud")}
        assert naming.monitor_role("churn") in {r["name"] for r in _types(plan, "aws:iam/role:Role")}
    else:
        assert set(schedules) == set(definitions) == {naming.monitoring_schedule(m) for m in ("churn", "fraud")}
        churn = definitions[naming.monitoring_schedule("churn")]["dataQualityJobInput"]
        assert churn["endpointInput"]["endpointName"] == naming.endpoint("churn")
    alarms = {a["name"]: a for a in _types(plan, "aws:cloudwatch/metricAlarm:MetricAlarm")}
    rules = [r["name"] for r in _types(plan, "aws:cloudwatch/eventRule:EventRule")]
    for model in ("churn", "fraud"):
        assert alarms[naming.drift_alarm(model)]["metricName"] == "max_feature_psi"
        assert naming.drift_forward_rule(model) in rules


def test_the_shared_stack_plans_the_guards_and_the_tracking_server(plans: dict[str, PlanResult]) -> None:
    plan = plans["shared"]
    guards = {f["name"] for f in _types(plan, "aws:lambda/function:Function")}
    assert guards == {"mlops-shared-churn-retrain-guard", "mlops-shared-fraud-retrain-guard"}
    [server] = _types(plan, "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer")
    assert server["trackingServerSize"] == "Small"
    assert plan.outputs["mlflowTrackingServerArn"]
    for model, outputs in plan.outputs["models"].items():  # (the mocks' ARN separator differs from Lambda's `:`)
        assert outputs["retrainGuardArn"].endswith(f"mlops-shared-{model}-retrain-guard")


def test_monitoring_without_capture_is_refused() -> None:
    found = problems(mlops__models=served(monitoring={"enabled": True}))
    assert any("monitoring.enabled needs dataCapturePercent > 0" in p for p in found), found


def test_monitoring_on_kubernetes_needs_the_servers_capture_too() -> None:
    model = {"churn": {"deploy": {"target": "kubernetes", "approvedVersion": 1, "monitoring": {"enabled": True}}}}
    found = problems(mlops__models=model)
    assert any("dataCapturePercent" in p for p in found), found
    model["churn"]["deploy"]["dataCapturePercent"] = 10
    raw = {**BASE, "mlops:models": json.dumps(model), "mlops:cluster": json.dumps({"kubeconfig": "x"}),
           "mlops:argocd": json.dumps({"url": "https://argocd.example.com"})}
    try:
        config = parse_stack_config(raw)
    except ConfigError as exc:  # the cluster section may need more keys; the monitoring part must not complain
        assert not any("monitoring" in p or "dataCapture" in p for p in exc.problems), exc.problems
    else:
        assert set(config.monitored_models()) == {"churn"}


def test_experiments_belong_to_the_shared_stack() -> None:
    found = problems(mlops__experiments={"enabled": True})
    assert any("experiments belongs in the shared stack" in p for p in found), found


@pytest.mark.parametrize(("retrain", "needle"), [
    ({"cooldownMinutes": 5}, "cooldownMinutes"),
    ({"maxRunsPerDay": 0}, "maxRunsPerDay"),
    ({"maxRunsPerDay": 25}, "maxRunsPerDay"),
    ({"enabled": "yes"}, "enabled"),
    ({"killSwitch": True}, "killSwitch"),
])
def test_guard_settings_are_refused_at_the_edge(retrain: dict, needle: str) -> None:
    trained = {"churn": {"training": {**TRAINED["training"], "retrainOnDrift": retrain}}}
    found = problems(mlops__kind="shared", mlops__models=trained)
    assert any(needle in p for p in found), found
