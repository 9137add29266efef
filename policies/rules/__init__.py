"""The rules of the mlops-guardrails pack, one module per area; ALL_POLICIES is what the pack enforces.

Modules use relative imports only, so the package works both as `rules` (the Pulumi CLI runs the pack with
`policies/` as the working directory) and as `policies.rules` (tests and the offline verdict).
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, Policy

from . import (
    argocd,
    ecr,
    iam,
    kms,
    kubernetes,
    monitoring,
    operability,
    protection,
    rollout,
    s3,
    sagemaker,
    sagemaker_cost,
    sagemaker_jobs,
    tags,
    trust,
)

ALL_POLICIES: list[Policy] = [
    *s3.RULES,
    *kms.RULES,
    *ecr.RULES,
    *sagemaker.RULES,
    *sagemaker_jobs.RULES,
    *sagemaker_cost.RULES,
    *rollout.RULES,
    *iam.RULES,
    *trust.RULES,
    *tags.RULES,
    *protection.RULES,
    *operability.RULES,
    *kubernetes.RULES,
    *argocd.RULES,
    *monitoring.RULES,
]

PACK_ENFORCEMENT_LEVEL = EnforcementLevel.ADVISORY
"""The level of a rule that no policy config names (the environments' configs set "all": "mandatory")."""

__all__ = ["ALL_POLICIES", "PACK_ENFORCEMENT_LEVEL"]
