"""SageMakerEndpoint declared alone with hand-made args: what a release of one model in one environment is."""

from __future__ import annotations

from typing import Any

import pytest
from declare import ACCOUNT, KEY_ARN, NAMING, PARTITION, REGION, declare
from planned import depends_on, of_type, one, policy_of, statements_by_sid

from infra.components.sagemaker_endpoint import SageMakerEndpoint, SageMakerEndpointArgs, SharedRegistry
from infra.config import Network, SageMakerDeploy
from infra.plan.model import PlanResult

SHARED_ACCOUNT = "111111111111"
SHARED_KEY = f"arn:aws:kms:{REGION}:{SHARED_ACCOUNT}:key/5a5a5a5a-1111-2222-3333-444444444444"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:mlops-test-alarms"
SHARED = SharedRegistry(
    account_id=SHARED_ACCOUNT, region=REGION, kms_key_arn=SHARED_KEY, artifacts_bucket="mlops-shared-artifacts",
    capture_bucket="mlops-shared-capture", package_group_name="mlops-shared-churn",
    serving_repository_arn=f"arn:aws:ecr:{REGION}:{SHARED_ACCOUNT}:repository/mlops-shared-churn-serving",
)
# A prod-like release: four instances, a one-instance canary baked longer than the alarms need to fire.
RELEASE = {
    "target": "sagemaker", "approvedVersion": 3, "instanceType": "ml.c5.xlarge", "instanceCount": 4,
    "rollout": {"strategy": "canary", "stepPercent": 25, "waitSeconds": 600},
    "autoscaling": {"minCapacity": 2, "maxCapacity": 8, "targetInvocationsPerInstance": 300},
    "dataCapturePercent": 20,
    "shadow": {"approvedVersion": 4, "instanceType": "ml.m5.large", "instanceCount": 1},
    "alarms": {"latencyP99Ms": 250, "serverErrors": 3, "modelErrors": 4, "periodSeconds": 60,
               "evaluationPeriods": 2},
}
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def endpoint(deploy: dict[str, Any], network: Network | None = None) -> PlanResult:
    config = SageMakerDeploy.model_validate(deploy)
    return declare(lambda: SageMakerEndpoint("churn", SageMakerEndpointArgs(
        naming=NAMING, model="churn", environment="prod", deploy=config, network=network or Network(),
        account_id=ACCOUNT, region=REGION, partition=PARTITION, kms_key_arn=KEY_ARN, alarm_topic_arn=TOPIC,
        shared=SHARED)))


def release(**changes: Any) -> dict[str, Any]:
    return {key: value for key, value in {**RELEASE, **changes}.items() if value is not None}


@pytest.fixture(scope="module")
def prod() -> PlanResult:
    return endpoint(RELEASE)


def test_volumes_are_encrypted_with_the_environment_key(prod: PlanResult) -> None:
    assert one(prod, ENDPOINT_CONFIG).inputs["kmsKeyArn"] == KEY_ARN


def test_data_capture_goes_to_the_shared_bucket_under_env_and_model_with_the_shared_key(prod: PlanResult) -> None:
    capture = one(prod, ENDPOINT_CONFIG).inputs["dataCaptureConfig"]
    assert capture == {
        "enableCapture": True, "initialSamplingPercentage": 20,
        "destinationS3Uri": "s3://mlops-shared-capture/prod/churn/", "kmsKeyId": SHARED_KEY,
        "captureOptions": [{"captureMode": "Input"}, {"captureMode": "Output"}],
        "captureContentTypeHeader": {"csvContentTypes": ["text/csv"], "jsonContentTypes": ["application/json"]},
    }
    by_sid = statements_by_sid(one(prod, "aws:iam/rolePolicy:RolePolicy"))
    assert by_sid["WriteDataCapture"]["Resource"] == ["arn:aws:s3:::mlops-shared-capture/prod/churn/*"]
    assert by_sid["EncryptDataCapture"]["Resource"] == [SHARED_KEY]


def test_without_capture_there_is_no_capture_config_and_no_capture_permission() -> None:
    plan = endpoint(release(dataCapturePercent=0))
    assert "dataCaptureConfig" not in one(plan, ENDPOINT_CONFIG).inputs
    assert not {"WriteDataCapture", "EncryptDataCapture"} & set(
        statements_by_sid(one(plan, "aws:iam/rolePolicy:RolePolicy")))


def test_the_model_serves_the_pinned_package_of_the_shared_registry_in_isolation(prod: PlanResult) -> None:
    model = one(prod, "aws:sagemaker/model:Model", "churn")
    assert model.inputs["primaryContainer"] == {
        "modelPackageName": f"arn:aws:sagemaker:{REGION}:{SHARED_ACCOUNT}:model-package/mlops-shared-churn/3"}
    assert model.inputs["enableNetworkIsolation"] is True
    assert model.inputs["executionRoleArn"] == one(prod, "aws:iam/role:Role").outputs["arn"]
    (variant,) = one(prod, ENDPOINT_CONFIG).inputs["productionVariants"]
    assert variant == {"variantName": "AllTraffic", "modelName": model.outputs["name"],
                       "instanceType": "ml.c5.xlarge", "initialInstanceCount": 4, "initialVariantWeight": 1}


def test_blue_green_canary_rolls_back_automatically_on_every_alarm(prod: PlanResult) -> None:
    endpoint_resource = one(prod, "aws:sagemaker/endpoint:Endpoint")
    assert endpoint_resource.inputs["name"] == "mlops-test-churn"
    assert endpoint_resource.inputs["endpointConfigName"] == one(prod, ENDPOINT_CONFIG).outputs["name"]
    config = endpoint_resource.inputs["deploymentConfig"]
    policy = config["blueGreenUpdatePolicy"]
    assert policy["trafficRoutingConfiguration"] == {
        "type": "CANARY", "canarySize": {"type": "INSTANCE_COUNT", "value": 1}, "waitIntervalInSeconds": 600}
    alarms = of_type(prod, ALARM)
    assert sorted(a["alarmName"] for a in config["autoRollbackConfiguration"]["alarms"]) == sorted(
        a.inputs["name"] for a in alarms) == ["mlops-test-churn-5xx-errors", "mlops-test-churn-latency-p99",
                                              "mlops-test-churn-model-errors"]
    # The rollback alarms exist before the first deployment names them.
    assert all(depends_on(endpoint_resource, alarm) for alarm in alarms)


@pytest.mark.parametrize(("rollout", "traffic"), [
    ({"strategy": "linear", "stepPercent": 25, "waitSeconds": 600},
     {"type": "LINEAR", "linearStepSize": {"type": "INSTANCE_COUNT", "value": 1}, "waitIntervalInSeconds": 600}),
    ({"strategy": "all-at-once", "waitSeconds": 600}, {"type": "ALL_AT_ONCE", "waitIntervalInSeconds": 600}),
])
def test_each_rollout_strategy_maps_to_its_traffic_routing(rollout: dict, traffic: dict) -> None:
    plan = endpoint(release(rollout=rollout))
    config = one(plan, "aws:sagemaker/endpoint:Endpoint").inputs["deploymentConfig"]
    assert config["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"] == traffic
    assert len(config["autoRollbackConfiguration"]["alarms"]) == 3


def test_alarms_watch_this_endpoints_variant_and_page_the_alarm_topic(prod: PlanResult) -> None:
    by_metric = {a.inputs["metricName"]: a.inputs for a in of_type(prod, ALARM)}
    assert set(by_metric) == {"Invocation5XXErrors", "InvocationModelErrors", "ModelLatency"}
    for alarm in by_metric.values():
        assert alarm["dimensions"] == {"EndpointName": "mlops-test-churn", "VariantName": "AllTraffic"}
        assert alarm["alarmActions"] == [TOPIC] and alarm["okActions"] == [TOPIC]
        assert (alarm["period"], alarm["evaluationPeriods"]) == (60, 2)
    assert by_metric["ModelLatency"]["threshold"] == 250_000  # microseconds
    assert by_metric["ModelLatency"]["extendedStatistic"] == "p99"
    assert by_metric["Invocation5XXErrors"]["threshold"] == 3
    assert by_metric["InvocationModelErrors"]["threshold"] == 4


def test_shadow_variant_runs_the_next_candidate_on_its_own_model(prod: PlanResult) -> None:
    (shadow,) = one(prod, ENDPOINT_CONFIG).inputs["shadowProductionVariants"]
    shadow_model = one(prod, "aws:sagemaker/model:Model", "churn-shadow")
    assert shadow == {"variantName": "Shadow", "modelName": shadow_model.outputs["name"],
                      "instanceType": "ml.m5.large", "initialInstanceCount": 1, "initialVariantWeight": 1}
    assert shadow_model.inputs["primaryContainer"]["modelPackageName"].endswith("/mlops-shared-churn/4")


def test_autoscaling_tracks_invocations_per_instance_for_each_variant(prod: PlanResult) -> None:
    targets = {t.inputs["resourceId"]: t.inputs for t in of_type(prod, "aws:appautoscaling/target:Target")}
    assert {k: (v["minCapacity"], v["maxCapacity"]) for k, v in targets.items()} == {
        "endpoint/mlops-test-churn/variant/AllTraffic": (2, 8),
        "endpoint/mlops-test-churn/variant/Shadow": (1, 8),
    }
    policies = of_type(prod, "aws:appautoscaling/policy:Policy")
    assert sorted(p.inputs["resourceId"] for p in policies) == sorted(targets)
    for policy in policies:
        tracking = policy.inputs["targetTrackingScalingPolicyConfiguration"]
        assert tracking["targetValue"] == 300
        assert tracking["predefinedMetricSpecification"] == {
            "predefinedMetricType": "SageMakerVariantInvocationsPerInstance"}


def test_no_autoscaling_unless_asked() -> None:
    plan = endpoint(release(autoscaling=None, shadow=None))
    assert of_type(plan, "aws:appautoscaling/target:Target") == []
    assert "shadowProductionVariants" not in one(plan, ENDPOINT_CONFIG).inputs


def test_serverless_variant_has_no_volume_key_no_blue_green_and_no_autoscaling() -> None:
    plan = endpoint({"target": "sagemaker", "approvedVersion": 3,
                     "serverless": {"memorySizeMb": 2048, "maxConcurrency": 5}})
    config = one(plan, ENDPOINT_CONFIG).inputs
    assert "kmsKeyArn" not in config
    assert config["productionVariants"][0]["serverlessConfig"] == {"memorySizeInMb": 2048, "maxConcurrency": 5}
    assert "deploymentConfig" not in one(plan, "aws:sagemaker/endpoint:Endpoint").inputs
    assert of_type(plan, "aws:appautoscaling/target:Target") == []
    assert len(of_type(plan, ALARM)) == 3  # still paged


def test_serving_role_reads_only_this_models_artifacts_and_pulls_only_the_serving_image(prod: PlanResult) -> None:
    role = one(prod, "aws:iam/role:Role")
    assert role.inputs["name"] == "mlops-test-churn-serving"
    (trust,) = policy_of(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    by_sid = statements_by_sid(one(prod, "aws:iam/rolePolicy:RolePolicy"))
    assert by_sid["ReadModelArtifacts"]["Resource"] == ["arn:aws:s3:::mlops-shared-artifacts/churn/*"]
    assert by_sid["PullServingImage"]["Resource"] == [SHARED.serving_repository_arn]


def test_private_network_reaches_the_models_and_the_role() -> None:
    network = Network(subnet_ids=["subnet-0123456789abcdef0"], security_group_ids=["sg-0123456789abcdef0"])
    plan = endpoint(release(shadow=None, autoscaling=None), network)
    assert one(plan, "aws:sagemaker/model:Model").inputs["vpcConfig"] == {
        "subnets": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"]}
    assert "AttachToVpc" in statements_by_sid(one(plan, "aws:iam/rolePolicy:RolePolicy"))


def config_name(**changes: Any) -> str:
    return one(endpoint(release(**changes)), ENDPOINT_CONFIG).inputs["name"]


def test_endpoint_configuration_name_changes_exactly_when_its_content_changes(prod: PlanResult) -> None:
    baseline = one(prod, ENDPOINT_CONFIG).inputs["name"]
    assert baseline.startswith("mlops-test-churn-")
    assert config_name() == baseline  # same content, same name: no needless replacement
    assert config_name(instanceType="ml.c5.2xlarge") != baseline
    assert config_name(dataCapturePercent=30) != baseline
    assert config_name(approvedVersion=4) != baseline  # a new model version is new content
    # Rollout settings live on the endpoint, not the configuration: they must not replace it.
    assert config_name(rollout={"strategy": "linear", "stepPercent": 50, "waitSeconds": 900}) == baseline
