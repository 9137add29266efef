"""The ACK SageMaker controller that reconciles a pulled endpoint's objects: its pinned chart, its chart values and
its least-privilege IAM, pure (strings and dicts in and out) so the component and the IAM tests read one home.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infra.core.ack import KINDS
from infra.core.arns import Arns
from infra.core.cluster_workloads import ACK_CONTROLLER, requests
from infra.core.naming import Naming
from infra.core.serving import ALARM_SIGNALS, ENDPOINT_ACTIONS, ENDPOINT_CONFIG_ACTIONS, MODEL_ACTIONS

CHART = "oci://public.ecr.aws/aws-controllers-k8s/sagemaker-chart"
CHART_VERSION = "1.9.1"
"""The controller's chart (app 1.9.1, ACK runtime v0.62.0); tests/gitops/crds/ holds its CRDs."""
NAMESPACE = "ack-system"
ACK_TAG_ACTIONS = ("sagemaker:AddTags",)
"""The controller sends tags with each Create call and never lists or removes them (v1.9.1)."""
SERVICE_ACCOUNT = "ack-sagemaker-controller"
"""The chart's service account; the controller's IRSA trust names exactly it."""


def controller_values(region: str, role_arn: Any) -> dict[str, Any]:
    """Chart values: this region, IRSA, only the pulled kinds reconciled, no cross-account or cross-namespace."""
    return {
        "aws": {"region": region},
        "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT,
                           "annotations": {"eks.amazonaws.com/role-arn": role_arn}},
        # Only what a pulled endpoint and its monitor need; the other 21 SageMaker kinds stay unreconciled.
        "reconcile": {"resources": list(KINDS)},
        # CARM would let an annotated namespace act in another account; nothing here needs it.
        "enableCARM": False,
        "enableCrossNamespace": False,
        # Deleting an Endpoint object deletes the endpoint (as `pulumi destroy` would); Model and EndpointConfig
        # objects carry `services.k8s.aws/deletion-policy: retain` in gitops/base/sagemaker-endpoint, because an
        # endpoint SageMaker rolled back stands on the previous configuration (as on the push path).
        "deletionPolicy": "delete",
        "resources": {**requests(ACK_CONTROLLER), "limits": {"memory": "128Mi", "cpu": "100m"}},
    }


MONITOR_JOB_ACTIONS = ("sagemaker:CreateDataQualityJobDefinition", "sagemaker:DescribeDataQualityJobDefinition",
                       "sagemaker:DeleteDataQualityJobDefinition")
"""pkg/resource/data_quality_job_definition/sdk.go (v1.9.1): sdkFind Describe, sdkCreate Create, sdkDelete Delete;
sdkUpdate is NotImplemented (a changed definition is a new object with a new name)."""
MONITOR_SCHEDULE_ACTIONS = ("sagemaker:CreateMonitoringSchedule", "sagemaker:DescribeMonitoringSchedule",
                            "sagemaker:UpdateMonitoringSchedule", "sagemaker:DeleteMonitoringSchedule")
"""pkg/resource/monitoring_schedule/sdk.go (v1.9.1): sdkFind Describe, sdkCreate Create, sdkUpdate Update (after
`requeueUntilCanModify`, hooks.go), sdkDelete Delete."""


def controller_statements(naming: Naming, shared: Naming, arns: Arns, models: list[str],
                          serving_role_arns: list[Any], kms_key_arn: Any,
                          monitored: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The controller's policy: SageMaker calls on exactly the pulled models' names, PassRole of exactly their
    serving roles, the KMS grant SageMaker makes on the environment key for the endpoint volumes, and a read of the
    rollback alarms the Endpoint's `autoRollbackConfiguration` names.

    The calls are those of sagemaker-controller v1.9.1 (`pkg/resource/{model,endpoint_config,endpoint}/sdk.go`:
    Create/Describe/Delete, plus UpdateEndpoint; the same as `pulumi up` makes, `infra.core.serving`). Tags travel
    in the Create call (tag on create needs AddTags) and this version never lists or removes tags for these kinds,
    so ListTags/DeleteTags are not granted (`ACK_TAG_ACTIONS`). `tests/infra/test_iam_ack_controller.py` holds the
    policy against the rendered ACK objects, both ways.

    `monitored` are the pulled models whose overlay holds their drift monitor (`monitoring.enabled`):
    the job definition and schedule calls of `MONITOR_JOB_ACTIONS`/`MONITOR_SCHEDULE_ACTIONS` on exactly their
    names, and PassRole of exactly their monitor roles (CreateDataQualityJobDefinition passes `RoleArn`, the role
    the jobs run as; the controller never touches the jobs, capture or keys itself).

    `shared` names the shared stack's package groups (`Naming.of_stack(mlops:sharedStack)`); `arns` holds this
    environment's partition, region and account (plain strings)."""
    return [*_endpoint_statements(naming, shared, arns, models, serving_role_arns, kms_key_arn),
            *_monitor_statements(naming, arns, sorted(monitored))]


def _monitor_statements(naming: Naming, arns: Arns, monitored: list[str]) -> list[dict[str, Any]]:
    if not monitored:
        return []
    return [
        {"Sid": "ManagePulledMonitorJobDefinitions", "Effect": "Allow",
         "Action": sorted([*MONITOR_JOB_ACTIONS, *ACK_TAG_ACTIONS]),
         "Resource": [arns.sagemaker(f"data-quality-job-definition/{naming.pulled_monitor_jobs(m)}")
                      for m in monitored]},
        {"Sid": "ManagePulledMonitoringSchedules", "Effect": "Allow",
         "Action": sorted([*MONITOR_SCHEDULE_ACTIONS, *ACK_TAG_ACTIONS]),
         "Resource": [arns.sagemaker(f"monitoring-schedule/{naming.monitoring_schedule(m)}") for m in monitored]},
        {"Sid": "PassMonitorRoles", "Effect": "Allow", "Action": ["iam:PassRole"],
         "Resource": [arns.role(naming.monitor_role(m)) for m in monitored],
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
    ]


def _endpoint_statements(naming: Naming, shared: Naming, arns: Arns, models: list[str],
                         serving_role_arns: list[Any], kms_key_arn: Any) -> list[dict[str, Any]]:
    return [
        {"Sid": "ManagePulledModels", "Effect": "Allow",
         "Action": sorted([*MODEL_ACTIONS, *ACK_TAG_ACTIONS]),
         "Resource": [arns.sagemaker(f"model/{naming.pulled_resources(m)}") for m in models]},
        {"Sid": "ManagePulledEndpointConfigs", "Effect": "Allow",
         "Action": sorted([*ENDPOINT_CONFIG_ACTIONS, *ACK_TAG_ACTIONS]),
         "Resource": [arns.sagemaker(f"endpoint-config/{naming.pulled_resources(m)}") for m in models]},
        {"Sid": "ManagePulledEndpoints", "Effect": "Allow",
         "Action": sorted([*ENDPOINT_ACTIONS, *ACK_TAG_ACTIONS]),
         # CreateEndpoint and UpdateEndpoint are authorized on the endpoint configuration they name as well.
         "Resource": [*(arns.sagemaker(f"endpoint/{naming.endpoint(m)}") for m in models),
                      *(arns.sagemaker(f"endpoint-config/{naming.pulled_resources(m)}") for m in models)]},
        # CreateModel from a package reads the package (registered in the shared stack, maybe another account).
        {"Sid": "ReadRegisteredPackages", "Effect": "Allow", "Action": ["sagemaker:DescribeModelPackage"],
         "Resource": [arns.in_account("*").model_package(shared.package_group(m)) for m in models]},
        {"Sid": "PassServingRoles", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": serving_role_arns,
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        # SageMaker creates a grant on the environment key for the endpoint's volumes, as the caller.
        {"Sid": "LetSageMakerUseTheEnvironmentKey", "Effect": "Allow", "Action": ["kms:CreateGrant"],
         "Resource": [kms_key_arn], "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
        # DescribeKey has no kms:GrantIsForAWSResource context: a statement of its own, on the same key.
        {"Sid": "DescribeTheEnvironmentKey", "Effect": "Allow", "Action": ["kms:DescribeKey"],
         "Resource": [kms_key_arn]},
        # Deployment guardrails read the rollback alarms with the caller's rights: "Ensure that your IAM execution
        # role has permission to perform the cloudwatch:DescribeAlarms action on the auto-rollback alarms you
        # specify" (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html).
        {"Sid": "ReadRollbackAlarms", "Effect": "Allow", "Action": ["cloudwatch:DescribeAlarms"],
         "Resource": [arns.arn("cloudwatch", f"alarm:{naming.alarm(m, signal)}")
                      for m in models for signal in ALARM_SIGNALS]},
    ]


