"""The ACK SageMaker controller that reconciles a pulled endpoint's objects: its pinned chart, its chart values and
its least-privilege IAM, pure (strings and dicts in and out) so the component and the IAM tests read one home.
"""

from __future__ import annotations

from typing import Any

from infra.core.ack import KINDS
from infra.core.arns import Arns
from infra.core.naming import Naming
from infra.core.serving import ENDPOINT_ACTIONS, ENDPOINT_CONFIG_ACTIONS, MODEL_ACTIONS, TAG_ACTIONS

CHART = "oci://public.ecr.aws/aws-controllers-k8s/sagemaker-chart"
CHART_VERSION = "1.9.1"
"""The controller's chart (app 1.9.1, ACK runtime v0.62.0); tests/gitops/crds/ holds its CRDs."""
NAMESPACE = "ack-system"
SERVICE_ACCOUNT = "ack-sagemaker-controller"
"""The chart's service account; the controller's IRSA trust names exactly it."""


def controller_values(region: str, role_arn: Any) -> dict[str, Any]:
    """Chart values: this region, IRSA, only the three kinds reconciled, no cross-account or cross-namespace."""
    return {
        "aws": {"region": region},
        "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT,
                           "annotations": {"eks.amazonaws.com/role-arn": role_arn}},
        # Only what a pulled endpoint needs; the other 23 SageMaker kinds stay unreconciled.
        "reconcile": {"resources": list(KINDS)},
        # CARM would let an annotated namespace act in another account; nothing here needs it.
        "enableCARM": False,
        "enableCrossNamespace": False,
        # Deleting an Endpoint object deletes the endpoint (as `pulumi destroy` would); Model and EndpointConfig
        # objects carry `services.k8s.aws/deletion-policy: retain` in gitops/base/sagemaker-endpoint, because an
        # endpoint SageMaker rolled back stands on the previous configuration (as on the push path).
        "deletionPolicy": "delete",
        "resources": {"requests": {"memory": "64Mi", "cpu": "50m"}, "limits": {"memory": "128Mi", "cpu": "100m"}},
    }


def controller_statements(naming: Naming, shared: Naming, arns: Arns, models: list[str],
                          serving_role_arns: list[Any], kms_key_arn: Any) -> list[dict[str, Any]]:
    """The controller's policy: SageMaker calls on exactly the pulled models' names, PassRole of exactly their
    serving roles, and the KMS grant SageMaker makes on the environment key for the endpoint volumes.

    `shared` names the shared stack's package groups (`Naming.of_stack(mlops:sharedStack)`); `arns` holds this
    environment's partition, region and account (plain strings)."""
    return [
        {"Sid": "ManagePulledModels", "Effect": "Allow",
         "Action": sorted([*MODEL_ACTIONS, *TAG_ACTIONS]),
         "Resource": [arns.sagemaker(f"model/{naming.pulled_resources(m)}") for m in models]},
        {"Sid": "ManagePulledEndpointConfigs", "Effect": "Allow",
         "Action": sorted([*ENDPOINT_CONFIG_ACTIONS, *TAG_ACTIONS]),
         "Resource": [arns.sagemaker(f"endpoint-config/{naming.pulled_resources(m)}") for m in models]},
        {"Sid": "ManagePulledEndpoints", "Effect": "Allow",
         "Action": sorted([*ENDPOINT_ACTIONS, *TAG_ACTIONS]),
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
    ]


