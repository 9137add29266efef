"""The rules of the mlops-guardrails pack, one module per area; ALL_POLICIES is what the pack enforces.

Modules use relative imports only, so the package works both as `rules` (the Pulumi CLI runs the pack with
`policies/` as the working directory) and as `policies.rules` (tests and the offline verdict).

The rule modules are imported on first use of ALL_POLICIES (PEP 562 module `__getattr__`), not when the package
is: `infra.plan` imports the pure cost model (`policies.rules.cost_model`) and should not pay for importing every
rule (the IAM model alone takes seconds to build its action table).
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, Policy

ALL_POLICIES: list[Policy]


def _all_policies() -> list[Policy]:
    from . import (
        argocd,
        budget,
        ecr,
        ecr_policy,
        iam,
        iam_boundary,
        kms,
        kubernetes,
        kubernetes_network,
        monitoring,
        operability,
        pod_security,
        protection,
        rollout,
        s3,
        s3_replication,
        sagemaker,
        sagemaker_access,
        sagemaker_cost,
        sagemaker_jobs,
        security_groups,
        tags,
        trust,
    )

    return [
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
        *pod_security.RULES,
        *kubernetes_network.RULES,
        *security_groups.RULES,
        *sagemaker_access.RULES,
        *ecr_policy.RULES,
        *s3_replication.RULES,
        *iam_boundary.RULES,
        *budget.RULES,
        *monitoring.RULES,
    ]


def __getattr__(name: str) -> Any:
    if name == "ALL_POLICIES":
        policies = _all_policies()
        globals()["ALL_POLICIES"] = policies  # built once; later reads find the module attribute
        return policies
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


PACK_ENFORCEMENT_LEVEL = EnforcementLevel.ADVISORY
"""The level of a rule that no policy config names (the environments' configs set "all": "mandatory")."""

__all__ = ["ALL_POLICIES", "PACK_ENFORCEMENT_LEVEL"]
