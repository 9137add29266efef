"""The rules of the mlops-guardrails pack, one module per area; ALL_POLICIES is what the pack enforces.

Modules use relative imports only, so the package works both as `rules` (the Pulumi CLI runs the pack with
`policies/` as the working directory) and as `policies.rules` (tests and the offline verdict).
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, Policy

from . import ecr, iam, kms, kubernetes, monitoring, operability, protection, rollout, s3, sagemaker, tags

ALL_POLICIES: list[Policy] = [
    *s3.RULES,
    *kms.RULES,
    *ecr.RULES,
    *sagemaker.RULES,
    *rollout.RULES,
    *iam.RULES,
    *tags.RULES,
    *protection.RULES,
    *operability.RULES,
    *kubernetes.RULES,
    *monitoring.RULES,
]

PACK_ENFORCEMENT_LEVEL = EnforcementLevel.ADVISORY
"""The level of a rule that no policy config names (the environments' configs set "all": "mandatory")."""

__all__ = ["ALL_POLICIES", "PACK_ENFORCEMENT_LEVEL"]
