"""ECR repository rules: scan on push, immutable tags, KMS encryption."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .knobs import bool_knob
from .values import as_list, dig, is_true, is_unknown

ECR_REPOSITORY = "aws:ecr/repository:Repository"


def _scan_on_push(resource: ResourceView) -> Iterator[str]:
    scan = dig(resource.props, "imageScanningConfiguration", "scanOnPush")
    if not is_unknown(scan) and not is_true(scan):
        yield (
            f"ECR repository '{resource.name}' does not scan images on push "
            "(imageScanningConfiguration.scanOnPush)"
        )


def _immutable_tags(resource: ResourceView) -> Iterator[str]:
    mutability = resource.props.get("imageTagMutability")
    if is_unknown(mutability):
        return
    allowed = {"IMMUTABLE"}
    if resource.config["allowExclusionFilters"]:
        allowed.add("IMMUTABLE_WITH_EXCLUSION")
    if not isinstance(mutability, str) or mutability not in allowed:
        shown = mutability if mutability is not None else "MUTABLE (the default)"
        yield (
            f"ECR repository '{resource.name}' has imageTagMutability {shown}; allowed: "
            f"{', '.join(sorted(allowed))}"
        )


def _kms_encryption(resource: ResourceView) -> Iterator[str]:
    configs = resource.props.get("encryptionConfigurations")
    if is_unknown(configs):
        return
    configs = as_list(configs)
    if not configs:
        yield f"ECR repository '{resource.name}' has no encryptionConfigurations, so it uses AES256, not KMS"
        return
    for config in configs:
        kind = dig(config, "encryptionType")
        if is_unknown(kind):
            continue
        if kind not in ("KMS", "KMS_DSSE"):
            yield f"ECR repository '{resource.name}' encrypts with {kind or 'AES256'}, not KMS"
            continue
        key = dig(config, "kmsKey")
        if resource.config["requireCustomerManagedKey"] and not is_unknown(key) and not key:
            yield (
                f"ECR repository '{resource.name}' uses the AWS-managed key for ECR; "
                "set kmsKey to a customer-managed key"
            )


RULES = [
    resource_rule(
        name="ecr-scan-on-push",
        description="Every ECR repository scans images for vulnerabilities when they are pushed.",
        rationale=(
            "Scanning every pushed image surfaces known CVEs in model-serving and training images before "
            "they are deployed."
        ),
        severity=Severity.MEDIUM,
        remediation="Set image_scanning_configuration={'scan_on_push': True} on the aws.ecr.Repository.",
        resource_types=[ECR_REPOSITORY],
        check=_scan_on_push,
        tags=["ecr", "supply-chain"],
    ),
    resource_rule(
        name="ecr-immutable-tags",
        description="Every ECR repository has immutable tags, so a deployed tag always names the same image.",
        rationale=(
            "A mutable tag can be re-pointed to another image after review; immutable tags make a deployed "
            "tag name exactly one image."
        ),
        severity=Severity.HIGH,
        remediation="Set image_tag_mutability='IMMUTABLE' on the aws.ecr.Repository.",
        resource_types=[ECR_REPOSITORY],
        check=_immutable_tags,
        knobs={
            "allowExclusionFilters": bool_knob(
                "Also accept IMMUTABLE_WITH_EXCLUSION (some tags, such as cache tags, stay mutable).", False
            )
        },
        tags=["ecr", "supply-chain"],
    ),
    resource_rule(
        name="ecr-kms-encryption",
        description=(
            "Every ECR repository encrypts images with KMS (a customer-managed key unless configured)."
        ),
        rationale=(
            "Images contain model code and sometimes weights; a customer-managed key makes pulls auditable "
            "and revocable."
        ),
        severity=Severity.MEDIUM,
        remediation=(
            "Set "
            "encryption_configurations=[{'encryption_type': 'KMS', 'kms_key': <customer-managed key ARN>}] "
            "on the aws.ecr.Repository (encryption can only be chosen when the repository is created)."
        ),
        resource_types=[ECR_REPOSITORY],
        check=_kms_encryption,
        knobs={
            "requireCustomerManagedKey": bool_knob(
                "Require kmsKey to name a customer-managed key rather than the AWS-managed aws/ecr key.", True
            )
        },
        tags=["ecr", "encryption"],
    ),
]
