"""Who and what can reach SageMaker's interactive and serving containers: notebooks, Studio domains, models.

Defaults from the provider schema (pulumi_aws sagemaker NotebookInstance, Domain, Model docs): a notebook
instance has `directInternetAccess` Enabled and `rootAccess` Enabled unless set to Disabled; a Studio domain's
`appNetworkAccessType` is PublicInternetOnly unless VpcOnly; a model's container may call the network unless
`enableNetworkIsolation` is true. The rules therefore need the safe value written, not merely no unsafe one.
"""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .knobs import bool_knob
from .values import is_true, is_unknown

NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
DOMAIN = "aws:sagemaker/domain:Domain"
MODEL = "aws:sagemaker/model:Model"


def _disabled(value: object) -> bool | None:
    if is_unknown(value):
        return None
    return isinstance(value, str) and value.strip().lower() == "disabled"


def _interactive(resource: ResourceView) -> Iterator[str]:
    props, name = resource.props, resource.name
    if resource.type == NOTEBOOK:
        if _disabled(props.get("directInternetAccess")) is False:
            yield (
                f"notebook instance '{name}' has direct internet access (directInternetAccess is Enabled by "
                "default; set Disabled with a subnet and security groups)"
            )
        if resource.config["requireRootAccessDisabled"] and _disabled(props.get("rootAccess")) is False:
            yield f"notebook instance '{name}' gives its users root (rootAccess is Enabled by default)"
    elif resource.type == DOMAIN:
        access = props.get("appNetworkAccessType")
        if not is_unknown(access) and access != "VpcOnly":
            yield (
                f"SageMaker domain '{name}' sends app traffic over the public internet (appNetworkAccessType "
                f"{access or 'PublicInternetOnly (the default)'}; set VpcOnly)"
            )


def _model_isolation(resource: ResourceView) -> Iterator[str]:
    isolation = resource.props.get("enableNetworkIsolation")
    if resource.config["requireNetworkIsolation"] and not is_unknown(isolation) and not is_true(isolation):
        yield (
            f"SageMaker model '{resource.name}' lets its container make network calls "
            "(set enableNetworkIsolation: true)"
        )


RULES = [
    resource_rule(
        name="sagemaker-notebook-no-internet-or-root",
        description=(
            "SageMaker notebook instances have no direct internet access and no root access; Studio domains "
            "keep app traffic in the VPC."
        ),
        rationale=(
            "A notebook holds an execution role with access to training data and the model registry: direct "
            "internet access is an exfiltration path that bypasses the VPC's controls, and root lets any "
            "notebook user change the instance's software and its credentials' reach."
        ),
        severity=Severity.HIGH,
        remediation=(
            "On aws.sagemaker.NotebookInstance set direct_internet_access='Disabled' (with subnet_id and "
            "security_groups) and root_access='Disabled'; on aws.sagemaker.Domain set "
            "app_network_access_type='VpcOnly'."
        ),
        resource_types=[NOTEBOOK, DOMAIN],
        check=_interactive,
        knobs={"requireRootAccessDisabled": bool_knob("Require rootAccess: Disabled on notebooks.", True)},
        tags=["sagemaker", "network", "access-control"],
    ),
    resource_rule(
        name="sagemaker-model-network-isolation",
        description="SageMaker models run their containers with network isolation.",
        rationale=(
            "A served model's container handles untrusted requests; with network isolation it cannot call out, "
            "so a compromised or malicious model artifact cannot exfiltrate data or fetch code."
        ),
        severity=Severity.HIGH,
        remediation="Set enable_network_isolation=True on the aws.sagemaker.Model (and enableNetworkIsolation on "
        "an ACK Model).",
        resource_types=[MODEL],
        check=_model_isolation,
        knobs={"requireNetworkIsolation": bool_knob("Require enableNetworkIsolation: true.", True)},
        tags=["sagemaker", "network"],
    ),
]
