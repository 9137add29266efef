"""KMS key rules."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .knobs import int_knob
from .values import fmt_number, is_true, is_unknown, number

KMS_KEY = "aws:kms/key:Key"


def _rotation(resource: ResourceView) -> Iterator[str]:
    props = resource.props
    usage = props.get("keyUsage")
    spec = props.get("customerMasterKeySpec")
    if is_unknown(usage) or is_unknown(spec):
        return
    # AWS rotates only symmetric encryption keys; asymmetric and HMAC keys cannot rotate automatically.
    if (usage or "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT" or (
        spec or "SYMMETRIC_DEFAULT"
    ) != "SYMMETRIC_DEFAULT":
        return
    store = props.get("customKeyStoreId")
    if is_unknown(store) or store:
        return  # keys in a custom key store cannot be rotated automatically either
    rotation = props.get("enableKeyRotation")
    if is_unknown(rotation):
        return
    if not is_true(rotation):
        yield (
            f"KMS key '{resource.name}' does not enable automatic key rotation (enableKeyRotation is not "
            "true)"
        )
        return
    period = number(props.get("rotationPeriodInDays"))
    limit = resource.config["maxRotationPeriodDays"]
    if period is not None and period > limit:
        yield (
            f"KMS key '{resource.name}' rotates every {fmt_number(period)} days; "
            f"the limit is {fmt_number(limit)} days"
        )


RULES = [
    resource_rule(
        name="kms-key-rotation",
        description="Every symmetric customer-managed KMS key rotates its key material automatically.",
        rationale=(
            "Rotation limits how much data one key version protects and is required by most compliance "
            "baselines (CIS AWS 3.6)."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Set enable_key_rotation=True on the aws.kms.Key (and rotation_period_in_days no higher than the "
            "configured maximum, if set)."
        ),
        resource_types=[KMS_KEY],
        check=_rotation,
        knobs={
            "maxRotationPeriodDays": int_knob(
                "Longest rotation period allowed when rotationPeriodInDays is set (AWS default: 365).",
                365,
                minimum=90,
                maximum=2560,
            )
        },
        tags=["kms", "encryption"],
    )
]
