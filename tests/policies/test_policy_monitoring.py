"""The continuous-training rule: captured endpoints are monitored, monitoring jobs are isolated, encrypted and
bounded, retraining guards keep their guards, and no alarm starts training past a guard."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from policy_factory import UNKNOWN, PlanBuilder, arn, endpoint_stack, of, run

RULE = "drift-monitoring-and-retrain-guards"
KEY = arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab")


def endpoint_with_capture(b: PlanBuilder, capture: bool = True) -> Any:
    config = b.add("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "churn", {
        "name": "mlops-prod-churn-abc", "kmsKeyArn": KEY,
        "productionVariants": [{"variantName": "AllTraffic", "instanceType": "ml.m5.large",
                                "initialInstanceCount": 1, "modelName": "m"}],
        "dataCaptureConfig": {"enableCapture": capture, "initialSamplingPercentage": 20,
                              "destinationS3Uri": "s3://capture/prod/churn/", "kmsKeyId": KEY,
                              "captureOptions": [{"captureMode": "Input"}, {"captureMode": "Output"}]}})
    return b.add("aws:sagemaker/endpoint:Endpoint", "churn", {"name": "mlops-prod-churn",
                                                               "endpointConfigName": "mlops-prod-churn-abc"},
                 deps={"endpointConfigName": [config]})


def job_definition(b: PlanBuilder, endpoint: Any, **changes: Any) -> Any:
    inputs = {
        "name": "mlops-prod-churn-monitor", "roleArn": arn("iam", "role/mlops-prod-churn-monitor"),
        "dataQualityAppSpecification": {"imageUri": "111111111111.dkr.ecr.us-east-1.amazonaws.com/s:1"},
        "dataQualityJobInput": {"endpointInput": {"endpointName": "mlops-prod-churn", "localPath": "/opt/ml/p"}},
        "dataQualityJobOutputConfig": {"kmsKeyId": KEY, "monitoringOutputs": {"s3Output": {"s3Uri": "s3://c/m/"}}},
        "jobResources": {"clusterConfig": {"instanceCount": 1, "instanceType": "ml.m5.large",
                                           "volumeSizeInGb": 20, "volumeKmsKeyId": KEY}},
        "networkConfig": {"enableNetworkIsolation": True, "enableInterContainerTrafficEncryption": True},
        "stoppingCondition": {"maxRuntimeInSeconds": 1800},
    }
    for path, value in changes.items():
        node = inputs
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return b.add("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition", "churn", inputs,
                 deps={"dataQualityJobInput": [endpoint]} if endpoint is not None else None)


def schedule(b: PlanBuilder, definition: Any) -> Any:
    return b.add("aws:sagemaker/monitoringSchedule:MonitoringSchedule", "churn", {
        "name": "mlops-prod-churn-monitor", "monitoringScheduleConfig": {
            "monitoringJobDefinitionName": definition.inputs["name"], "monitoringType": "DataQuality",
            "scheduleConfig": {"scheduleExpression": "cron(0 * ? * * *)"}}},
        deps={"monitoringScheduleConfig": [definition]})


def guard(b: PlanBuilder, concurrency: Any = 1, **variables: Any) -> Any:
    env = {"PIPELINE_NAME": "mlops-shared-churn", "RETRAIN_ENABLED": "true", "RETRAIN_COOLDOWN_MINUTES": "720",
           "RETRAIN_MAX_RUNS_PER_DAY": "2"}
    for key, value in variables.items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value
    inputs = {"name": "mlops-shared-churn-retrain-guard", "runtime": "python3.13",
              "role": arn("iam", "role/mlops-shared-churn-retrain-guard"), "environment": {"variables": env}}
    if concurrency is not None:
        inputs["reservedConcurrentExecutions"] = concurrency
    return b.add("aws:lambda/function:Function", "churn-guard", inputs)


def monitored(b: PlanBuilder) -> None:
    endpoint = endpoint_with_capture(b)
    schedule(b, job_definition(b, endpoint))
    guard(b)


def _run(build: Callable[[PlanBuilder], None], env: str = "prod") -> list[str]:
    b = PlanBuilder(stack=env)
    build(b)
    return [v.message for v in of(run(b.plan(), env), RULE)]


def test_a_monitored_endpoint_and_a_guarded_retraining_pass() -> None:
    assert _run(monitored) == []
    assert _run(monitored, "staging") == []


def test_an_endpoint_without_capture_needs_no_monitor() -> None:
    assert _run(lambda b: endpoint_with_capture(b, capture=False)) == []


def _unmonitored(b: PlanBuilder) -> None:
    endpoint_with_capture(b)


def _schedule_for_another_endpoint(b: PlanBuilder) -> None:
    endpoint_with_capture(b)
    schedule(b, job_definition(b, None, **{"dataQualityJobInput.endpointInput.endpointName": "mlops-prod-other"}))


def _definition_without_schedule(b: PlanBuilder) -> None:
    job_definition(b, endpoint_with_capture(b))


HOSTILE: dict[str, tuple[Callable[[PlanBuilder], None], str]] = {
    "unmonitored": (_unmonitored, "captures data but no data-quality monitoring schedule"),
    "another endpoint": (_schedule_for_another_endpoint, "captures data but no data-quality monitoring schedule"),
    "no schedule": (_definition_without_schedule, "captures data but no data-quality monitoring schedule"),
    "not isolated": (lambda b: schedule(b, job_definition(b, endpoint_with_capture(
        b), **{"networkConfig.enableNetworkIsolation": False})), "does not enable network isolation"),
    "plain traffic": (lambda b: schedule(b, job_definition(b, endpoint_with_capture(
        b), **{"networkConfig.enableInterContainerTrafficEncryption": False})), "inter-container traffic"),
    "no volume key": (lambda b: schedule(b, job_definition(b, endpoint_with_capture(
        b), **{"jobResources.clusterConfig.volumeKmsKeyId": None})), "no customer-managed KMS key for its volume"),
    "no output key": (lambda b: schedule(b, job_definition(b, endpoint_with_capture(
        b), **{"dataQualityJobOutputConfig.kmsKeyId": None})), "no customer-managed KMS key for its output"),
    "unbounded": (lambda b: schedule(b, job_definition(b, endpoint_with_capture(
        b), **{"stoppingCondition": None})), "has no stoppingCondition.maxRuntimeInSeconds"),
    "too long": (lambda b: schedule(b, job_definition(b, endpoint_with_capture(
        b), **{"stoppingCondition.maxRuntimeInSeconds": 7200})), "may run 7200 s"),
    "no kill switch": (lambda b: guard(b, RETRAIN_ENABLED=None), "lacks RETRAIN_ENABLED"),
    "no cool-down": (lambda b: guard(b, RETRAIN_COOLDOWN_MINUTES=None), "lacks RETRAIN_COOLDOWN_MINUTES"),
    "no cap": (lambda b: guard(b, RETRAIN_MAX_RUNS_PER_DAY=None), "lacks RETRAIN_MAX_RUNS_PER_DAY"),
    "odd switch": (lambda b: guard(b, RETRAIN_ENABLED="yes"), "must be 'true' or 'false'"),
    "short cool-down": (lambda b: guard(b, RETRAIN_COOLDOWN_MINUTES="5"), "below the minimum"),
    "big cap": (lambda b: guard(b, RETRAIN_MAX_RUNS_PER_DAY="50"), "daily cap 50 is outside"),
    "zero cap": (lambda b: guard(b, RETRAIN_MAX_RUNS_PER_DAY="0"), "daily cap 0 is outside"),
    "parallel": (lambda b: guard(b, concurrency=5), "one at a time"),
    "unreserved": (lambda b: guard(b, concurrency=None), "one at a time"),
}


def _alarm_straight_to_pipeline(b: PlanBuilder) -> None:
    rule = b.add("aws:cloudwatch/eventRule:EventRule", "drift", {"name": "mlops-prod-drift", "eventPattern": json.dumps(
        {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]})})
    b.add("aws:cloudwatch/eventTarget:EventTarget", "drift", {
        "rule": "mlops-prod-drift", "arn": arn("sagemaker", "pipeline/mlops-shared-churn"),
        "sagemakerPipelineTarget": {"pipelineParameterLists": []}}, deps={"rule": [rule]})


HOSTILE["alarm to pipeline"] = (_alarm_straight_to_pipeline, "past the retraining guards")


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_each_hostile_plan_is_refused_with_its_reason(name: str) -> None:
    build, expected = HOSTILE[name]
    messages = _run(build)
    assert any(expected in m for m in messages), messages


def test_a_schedule_on_a_definition_still_unknown_at_preview_counts() -> None:
    def build(b: PlanBuilder) -> None:
        endpoint = endpoint_with_capture(b)
        schedule(b, job_definition(b, endpoint, **{"dataQualityJobInput.endpointInput.endpointName": UNKNOWN}))
    assert _run(build) == []


def test_a_scheduled_retraining_rule_is_not_mistaken_for_an_alarm_path() -> None:
    def build(b: PlanBuilder) -> None:
        rule = b.add("aws:cloudwatch/eventRule:EventRule", "weekly",
                     {"name": "w", "scheduleExpression": "rate(7 days)"})
        b.add("aws:cloudwatch/eventTarget:EventTarget", "weekly", {
            "rule": "w", "arn": arn("sagemaker", "pipeline/p"), "sagemakerPipelineTarget": {}}, deps={"rule": [rule]})
    assert _run(build) == []


def test_dev_does_not_require_monitoring() -> None:
    b = PlanBuilder(stack="dev")
    _unmonitored(b)
    assert of(run(b.plan(), "dev"), RULE) == []


def _compliant_with_the_whole_pack(b: PlanBuilder) -> None:
    endpoint_stack(b)  # a compliant endpoint of the shared fixture carries its monitor
    guard(b)


def _pack_endpoint_without_monitor(b: PlanBuilder) -> None:
    parts = endpoint_stack(b)
    b.resources = [r for r in b.resources if r is not parts["schedule"]]


def test_the_shared_compliant_endpoint_carries_its_monitor_and_loses_it_loudly() -> None:
    assert _run(_compliant_with_the_whole_pack) == []
    assert any("no data-quality monitoring schedule" in m for m in _run(_pack_endpoint_without_monitor))


MONITORING_CASES_COMPLIANT = _compliant_with_the_whole_pack
MONITORING_CASES_VIOLATING = _pack_endpoint_without_monitor
