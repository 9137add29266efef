"""ModelMonitor, RetrainGuard and ExperimentTracking, each declared alone with hand-made args."""

from __future__ import annotations

import json

import pytest
from declare import ACCOUNT, KEY_ARN, NAMING, REGION, declare
from planned import one, policy_of
from pydantic import ValidationError

from infra.components.experiment_tracking import ExperimentTracking, ExperimentTrackingArgs
from infra.components.model_monitor import ModelMonitor, ModelMonitorArgs
from infra.components.retrain_guard import RetrainGuard, RetrainGuardArgs
from infra.config import Experiments, Monitoring, Network, RetrainOnDrift

SHARED_KEY = f"arn:aws:kms:{REGION}:111111111111:key/shared"
IMAGE = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/mlops-shared-churn-serving:1.4.0"
GUARD = f"arn:aws:lambda:{REGION}:111111111111:function:mlops-shared-churn-retrain-guard"


def monitor(kind: str = "endpoint", monitoring: Monitoring | None = None, **extra: object) -> ModelMonitorArgs:
    return ModelMonitorArgs(
        naming=NAMING, model="churn", environment="test", monitoring=monitoring or Monitoring(enabled=True),
        kind=kind, approved_version=7, network=Network(), account_id=ACCOUNT, region=REGION, partition="aws",
        environment_kms_key_arn=KEY_ARN, shared_kms_key_arn=SHARED_KEY, capture_bucket="capture-b",
        artifacts_bucket="artifacts-b", image_uri=IMAGE, image_repository_arn="arn:aws:ecr:repo",
        alarm_topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms",
        endpoint_name="mlops-test-churn" if kind == "endpoint" else None, retrain_guard_arn=GUARD, **extra)


def test_an_endpoint_monitor_judges_the_endpoint_isolated_encrypted_bounded_by_the_pinned_baseline() -> None:
    plan = declare(lambda: ModelMonitor("churn", monitor()))
    d = one(plan, "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition").inputs
    assert d["name"] == "mlops-test-churn-monitor"
    assert d["dataQualityJobInput"] == {"endpointInput": {
        "endpointName": "mlops-test-churn", "localPath": "/opt/ml/processing/input",
        "s3DataDistributionType": "FullyReplicated", "s3InputMode": "File"}}
    assert d["dataQualityBaselineConfig"] == {
        "statisticsResource": {"s3Uri": "s3://artifacts-b/churn/baselines/v7/statistics.json"},
        "constraintsResource": {"s3Uri": "s3://artifacts-b/churn/baselines/v7/constraints.json"}}
    assert d["networkConfig"] == {"enableNetworkIsolation": True, "enableInterContainerTrafficEncryption": True}
    assert d["jobResources"]["clusterConfig"] == {"instanceCount": 1, "instanceType": "ml.m5.large",
                                                  "volumeSizeInGb": 20, "volumeKmsKeyId": KEY_ARN}
    assert d["dataQualityJobOutputConfig"]["kmsKeyId"] == SHARED_KEY
    # Reports never land under the capture prefix the next run reads.
    assert d["dataQualityJobOutputConfig"]["monitoringOutputs"]["s3Output"]["s3Uri"] == \
        "s3://capture-b/monitoring/test/churn/"
    assert d["stoppingCondition"] == {"maxRuntimeInSeconds": 1800}
    assert d["dataQualityAppSpecification"] == {"imageUri": IMAGE,
                                                "environment": {"MODEL_NAME": "churn", "PSI_THRESHOLD": "0.2"}}
    s = one(plan, "aws:sagemaker/monitoringSchedule:MonitoringSchedule").inputs
    assert s["monitoringScheduleConfig"] == {"monitoringJobDefinitionName": "mlops-test-churn-monitor",
                                             "monitoringType": "DataQuality",
                                             "scheduleConfig": {"scheduleExpression": "cron(0 * ? * * *)"}}


def test_a_kubernetes_monitor_judges_the_model_servers_capture_files() -> None:
    plan = declare(lambda: ModelMonitor("fraud", monitor("capture")))
    d = one(plan, "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition").inputs
    batch = d["dataQualityJobInput"]["batchTransformInput"]
    assert batch["dataCapturedDestinationS3Uri"] == "s3://capture-b/test/churn/"
    assert batch["datasetFormat"] == {"json": {"line": True}}
    alarm = one(plan, "aws:cloudwatch/metricAlarm:MetricAlarm").inputs
    assert alarm["namespace"] == "/aws/sagemaker/ModelMonitoring/data-metrics"


def test_the_drift_alarm_watches_max_psi_and_reaches_the_guard_through_its_own_rule() -> None:
    plan = declare(lambda: ModelMonitor("churn", monitor(monitoring=Monitoring(
        enabled=True, schedule="daily", psi_threshold=0.3, alarm_evaluation_periods=3, max_runtime_seconds=7200))))
    alarm = one(plan, "aws:cloudwatch/metricAlarm:MetricAlarm").inputs
    assert (alarm["name"], alarm["metricName"], alarm["threshold"]) == ("mlops-test-churn-drift", "max_feature_psi",
                                                                        0.3)
    assert alarm["dimensions"] == {"MonitoringSchedule": "mlops-test-churn-monitor", "Model": "churn",
                                   "FeatureSet": "all"}
    assert (alarm["period"], alarm["evaluationPeriods"], alarm["statistic"]) == (86400, 3, "Maximum")
    assert alarm["treatMissingData"] == "notBreaching" and alarm["comparisonOperator"] == "GreaterThanThreshold"
    rule = one(plan, "aws:cloudwatch/eventRule:EventRule").inputs
    assert json.loads(rule["eventPattern"]) == {
        "source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"alarmName": ["mlops-test-churn-drift"], "state": {"value": ["ALARM"]}}}
    target = one(plan, "aws:cloudwatch/eventTarget:EventTarget").inputs
    assert target["arn"] == GUARD and target["retryPolicy"]["maximumEventAgeInSeconds"] == 3600
    (statement,) = policy_of(one(plan, "aws:iam/rolePolicy:RolePolicy", "churn-drift-forward"))["Statement"]
    assert (statement["Action"], statement["Resource"]) == (["lambda:InvokeFunction"], [GUARD])


@pytest.mark.parametrize(("settings", "needle"), [
    ({"enabled": True, "schedule": "hourly", "maxRuntimeSeconds": 3601}, "must be <= 3600"),
    ({"psiThreshold": 0}, "psiThreshold"),
    ({"schedule": "weekly"}, "schedule"),
    ({"alarmEvaluationPeriods": 0}, "alarmEvaluationPeriods"),
])
def test_monitoring_settings_are_refused_at_the_edge(settings: dict, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        Monitoring.model_validate(settings)


def test_the_guard_function_is_packaged_from_the_repository_serialized_and_scoped_to_its_pipeline() -> None:
    pipeline = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/mlops-test-churn"
    plan = declare(lambda: RetrainGuard("churn", RetrainGuardArgs(
        naming=NAMING, model="churn", settings=RetrainOnDrift(enabled=True, cooldown_minutes=90, max_runs_per_day=3),
        account_id=ACCOUNT, region=REGION, partition="aws", pipeline_name="mlops-test-churn", pipeline_arn=pipeline,
        invoker_account_ids=["222222222222"])))
    function = one(plan, "aws:lambda/function:Function").inputs
    assert (function["name"], function["handler"], function["runtime"]) == (
        "mlops-test-churn-retrain-guard", "retrain_guard.handler.handler", "python3.13")
    assert function["reservedConcurrentExecutions"] == 1
    assert function["environment"]["variables"] == {"PIPELINE_NAME": "mlops-test-churn", "RETRAIN_ENABLED": "true",
                                                    "RETRAIN_COOLDOWN_MINUTES": "90", "RETRAIN_MAX_RUNS_PER_DAY": "3"}
    permissions = {p.inputs["principal"]: p.inputs for p in plan.resources
                   if p.type == "aws:lambda/permission:Permission"}
    assert set(permissions) == {"events.amazonaws.com", "222222222222"}
    assert permissions["events.amazonaws.com"]["sourceAccount"] == ACCOUNT
    log_group = one(plan, "aws:cloudwatch/logGroup:LogGroup").inputs
    assert (log_group["name"], log_group["retentionInDays"]) == ("/aws/lambda/mlops-test-churn-retrain-guard", 365)


def test_the_guard_archive_holds_exactly_the_guard_package() -> None:
    from infra.components.retrain_guard import GUARD_FILES, guard_code

    assets = guard_code().assets
    assert sorted(assets) == sorted(f"retrain_guard/{f}" for f in GUARD_FILES)
    for path, asset in assets.items():
        assert asset.path.endswith(path)


def test_the_tracking_server_stores_artifacts_in_the_artifacts_bucket_at_the_configured_size() -> None:
    plan = declare(lambda: ExperimentTracking("experiments", ExperimentTrackingArgs(
        naming=NAMING, settings=Experiments(enabled=True, size="Medium"), account_id=ACCOUNT, region=REGION,
        partition="aws",
        artifacts_bucket="artifacts-b", kms_key_arn=KEY_ARN)))
    server = one(plan, "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer").inputs
    assert server["trackingServerName"] == "mlops-test-mlflow"
    assert server["artifactStoreUri"] == "s3://artifacts-b/mlflow/"
    assert (server["trackingServerSize"], server["automaticModelRegistration"]) == ("Medium", False)


def test_a_monitor_whose_schedule_is_in_git_declares_only_role_alarm_and_forwarding() -> None:
    """SageMaker by pull: the job definition and schedule are ACK objects in the overlay (infra.core.ack)."""
    plan = declare(lambda: ModelMonitor("churn", monitor(schedule_in_git=True)))
    types = sorted({r.type for r in plan.resources if r.custom})
    assert "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition" not in types
    assert "aws:sagemaker/monitoringSchedule:MonitoringSchedule" not in types
    assert {"aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:cloudwatch/metricAlarm:MetricAlarm",
            "aws:cloudwatch/eventRule:EventRule"} <= set(types)
    # The alarm still watches the schedule the overlay names (Naming.monitoring_schedule).
    alarm = one(plan, "aws:cloudwatch/metricAlarm:MetricAlarm").inputs
    assert alarm["dimensions"]["MonitoringSchedule"] == "mlops-test-churn-monitor"
    with pytest.raises(ValueError, match="only an endpoint's monitor"):
        ModelMonitor("fraud", monitor("capture", schedule_in_git=True))
