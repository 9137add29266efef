"""KMS key rules."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .callers import CALLER_ACCOUNT_KEYS, CALLER_ARN_KEYS, CALLER_ORG_KEYS, restricts_callers
from .iam_model import statements
from .knobs import int_knob
from .values import fmt_number, has_unknown, is_true, is_unknown, number, parse_json_document

KMS_KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
EXTERNAL_KEYS = ("aws:kms/externalKey:ExternalKey", "aws:kms/replicaExternalKey:ReplicaExternalKey")
REPLICA_KEY = "aws:kms/replicaKey:ReplicaKey"  # rotates with its primary key, so only its policy is judged here
KEY_TYPES = (KMS_KEY, REPLICA_KEY, *EXTERNAL_KEYS)
"""Every KMS key type of the provider (those with deletionWindowInDays; tests/policies/test_policy_coverage.py)."""

# Keys that, pinned to named values by a positive condition, limit a statement with Principal '*' to known
# callers (a wildcard value such as "*" or "4444?..." names nobody: see iam_model.Condition.admits_only).
_CALLER_PINS = (*CALLER_ACCOUNT_KEYS, *CALLER_ARN_KEYS, *CALLER_ORG_KEYS)


def _rotation(resource: ResourceView) -> Iterator[str]:
    props = resource.props
    if resource.type in EXTERNAL_KEYS:
        yield (
            f"KMS key '{resource.name}' holds imported key material ({resource.type.split(':')[-1]}), which AWS "
            "never rotates automatically"
        )
        return
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
    if isinstance(store, str) and store:
        yield (
            f"KMS key '{resource.name}' lives in a custom key store ({store}), where AWS does not rotate keys "
            "automatically; use the default key store with enableKeyRotation"
        )
        return
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


def _key_policy(resource: ResourceView) -> Iterator[str]:
    try:
        document = parse_json_document(resource.props.get("policy"))
    except ValueError:
        yield f"KMS key policy of '{resource.name}' is not valid JSON"
        return
    if document is None or has_unknown(document):
        return
    for statement in statements(document):
        if not statement.allows or not statement.public_principal():
            continue
        where = f"KMS key policy of '{resource.name}' {statement.label}"
        if "kms" in statement.services_fully_granted():
            yield f"{where} grants every KMS action (kms:*) to everyone (Principal '*')"
        elif not restricts_callers(statement, _CALLER_PINS):
            yield (
                f"{where} grants KMS actions to everyone (Principal '*') without a condition pinning the "
                "caller's account or organization (kms:CallerAccount, aws:PrincipalOrgID, ...)"
            )


RULES = [
    resource_rule(
        name="kms-key-rotation",
        description=(
            "Every symmetric customer-managed KMS key rotates its key material automatically (so no imported "
            "key material and no custom key store)."
        ),
        rationale=(
            "Rotation limits how much data one key version protects and is required by most compliance "
            "baselines (CIS AWS 3.6)."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Set enable_key_rotation=True on the aws.kms.Key (and rotation_period_in_days no higher than the "
            "configured maximum, if set)."
        ),
        resource_types=[KMS_KEY, *EXTERNAL_KEYS],
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
    ),
    resource_rule(
        name="kms-key-policy-restricted",
        description=(
            "No KMS key policy grants kms:* to everyone, or any KMS action to everyone without pinning the "
            "caller's account or organization."
        ),
        rationale=(
            "A key policy is the key's only gate: Principal '*' with kms:* lets any AWS account decrypt the "
            "data and rewrite the policy, whatever IAM says."
        ),
        severity=Severity.CRITICAL,
        remediation=(
            "Grant key administration to the account's root principal (arn:aws:iam::<account>:root) and key use "
            "to named roles or services; where '*' is needed, pin kms:CallerAccount or aws:PrincipalOrgID with "
            "StringEquals."
        ),
        resource_types=[*KEY_TYPES, KEY_POLICY],
        check=_key_policy,
        tags=["kms", "least-privilege"],
    ),
]
