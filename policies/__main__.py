"""Entry point the Pulumi CLI runs (`pulumi preview --policy-pack policies`): it only constructs the pack.

Every rule defaults to advisory; `--policy-pack-config policies/config/<env>.json` sets each rule's
enforcement level and knobs for the environment.
"""

from pulumi_policy import PolicyPack
from rules import ALL_POLICIES, PACK_ENFORCEMENT_LEVEL

PolicyPack(
    name="mlops-guardrails",
    policies=ALL_POLICIES,
    enforcement_level=PACK_ENFORCEMENT_LEVEL,
    description=(
        "Security, reliability and cost guardrails for the MLOps platform's AWS and GitOps resources."
    ),
)
