"""Entry point the Pulumi CLI runs (`pulumi preview --policy-pack policies`): it only constructs the pack.

Every rule defaults to advisory; `--policy-pack-config policies/config/<env>.json` sets each rule's
enforcement level and knobs for the environment.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import ALL_POLICIES

PolicyPack(
    name="mlops-guardrails",
    policies=ALL_POLICIES,
    enforcement_level=EnforcementLevel.ADVISORY,
    description=(
        "Security, reliability and cost guardrails for the MLOps platform's AWS and GitOps resources."
    ),
)
