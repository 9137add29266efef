"""The facts of drift monitoring that the program, the release tool and the tests must agree on: where a served
version's baseline lives, what the monitor job is told, which metric the drift alarm watches, and which
EventBridge event a drift alarm becomes. Pure: strings and dicts in and out. See docs/monitoring.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from infra.config import Monitoring
from infra.core.naming import Naming

InputKind = Literal["endpoint", "capture"]
"""`endpoint`: a SageMaker endpoint's own data capture (EndpointInput); `capture`: files a model server wrote to
the capture bucket in the same format, judged as BatchTransformInput (DataCapturedDestinationS3Uri)."""

METRIC_NAMESPACES: dict[InputKind, str] = {
    "endpoint": "/aws/sagemaker/Endpoint/data-metrics",
    "capture": "/aws/sagemaker/ModelMonitoring/data-metrics",
}
"""Where SageMaker publishes a bring-your-own-container monitor's metrics, by input kind (it sets the namespace;
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-cloudwatch.html)."""
METRIC_MAX_PSI = "max_feature_psi"  # model_code.monitor.METRIC_MAX_PSI
METRIC_FEATURE_PSI = "feature_psi"  # model_code.monitor.METRIC_FEATURE_PSI
FEATURE_SET = "all"  # model_code.monitor.FEATURE_SET
BASELINE_FILES = ("statistics.json", "constraints.json")  # model_code.monitor STATISTICS_FILE, CONSTRAINTS_FILE


def baseline_prefix(artifacts_bucket: str, model: str, version: int) -> str:
    """Where the baseline of an approved package version is published (by `infra.release approve`, from the
    package's DriftCheckBaselines) for the monitors of every environment that pins that version."""
    return f"s3://{artifacts_bucket}/{model}/baselines/v{version}/"


def job_environment(model: str, monitoring: Monitoring) -> dict[str, str]:
    """What the monitor job is told beyond the Model Monitor contract (model_code.monitor reads these)."""
    return {"MODEL_NAME": model, "PSI_THRESHOLD": f"{monitoring.psi_threshold:g}"}


PROCESSING_ROOT = "/opt/ml/processing"
REPORTS_PREFIX = "monitoring"
"""Reports go to s3://<capture bucket>/monitoring/<env>/<model>/: never under the capture prefix they judge."""


def reports_prefix(environment: str, model: str) -> str:
    return f"{REPORTS_PREFIX}/{environment}/{model}/"


@dataclass(frozen=True)
class MonitorJob:
    """What one model's data-quality job definition and schedule say, on BOTH SageMaker paths: the Pulumi
    component (`infra.components.model_monitor`, push) and the ACK objects (`infra.core.ack`, pull) read these
    values and nothing else, so the same `monitoring` block means the same job wherever the model is served
    (tests/gitops/test_ack_monitor.py holds the two against each other)."""

    schedule_expression: str
    max_runtime_seconds: int
    instance_type: str
    instance_count: int
    volume_size_gb: int
    environment: dict[str, str]
    enable_network_isolation: bool = True
    enable_inter_container_traffic_encryption: bool = True
    monitoring_type: str = "DataQuality"
    local_input: str = f"{PROCESSING_ROOT}/input"
    local_output: str = f"{PROCESSING_ROOT}/output"
    s3_input_mode: str = "File"
    s3_data_distribution_type: str = "FullyReplicated"
    s3_upload_mode: str = "EndOfJob"


def monitor_job(model: str, monitoring: Monitoring) -> MonitorJob:
    return MonitorJob(
        schedule_expression=monitoring.schedule_expression(),
        max_runtime_seconds=monitoring.max_runtime_seconds,
        instance_type=monitoring.instance_type,
        instance_count=monitoring.instance_count,
        volume_size_gb=monitoring.volume_size_gb,
        environment=job_environment(model, monitoring),
    )


@dataclass(frozen=True)
class DriftAlarm:
    """The drift alarm of one model in one environment: max PSI over the feature set above the threshold."""

    name: str
    namespace: str
    metric_name: str
    dimensions: dict[str, str]
    threshold: float
    period_seconds: int
    evaluation_periods: int


def drift_alarm(naming: Naming, model: str, monitoring: Monitoring, kind: InputKind) -> DriftAlarm:
    return DriftAlarm(
        name=naming.drift_alarm(model),
        namespace=METRIC_NAMESPACES[kind],
        metric_name=METRIC_MAX_PSI,
        dimensions={"MonitoringSchedule": naming.monitoring_schedule(model), "Model": model,
                    "FeatureSet": FEATURE_SET},
        threshold=monitoring.psi_threshold,
        period_seconds=monitoring.period_seconds(),
        evaluation_periods=monitoring.alarm_evaluation_periods,
    )


def drift_event_pattern(alarm_name: str) -> str:
    """The EventBridge pattern of one drift alarm going to ALARM: "CloudWatch Alarm State Change" from
    `aws.cloudwatch` (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html).
    """
    return json.dumps({
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"alarmName": [alarm_name], "state": {"value": ["ALARM"]}},
    }, sort_keys=True)
