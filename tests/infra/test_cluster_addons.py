"""What a created cluster runs before any workload: EKS add-ons (the CNI enforcing NetworkPolicies, kube-proxy,
CoreDNS) at pinned versions, in order around the node group, and Helm releases that wait for them."""

from __future__ import annotations

import json

import pytest
from planned import of_type, one

from infra.core.eks_addons import ADDON_VERSIONS
from infra.manifests import overlays as manifest_overlays
from infra.plan.model import PlanResult

ENVS = ("dev", "staging", "prod")
RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.mark.parametrize("env", ENVS)
def test_network_policies_are_enforced_wherever_one_is_rendered(plans: dict[str, PlanResult], env: str) -> None:
    """Issue 16 §5: a NetworkPolicy without an enforcing CNI is accepted and does nothing. Wherever an overlay of
    the environment renders one, the plan manages the VPC CNI as an EKS add-on with network policy on, in place
    before any node joins; CoreDNS and kube-proxy are managed at pinned versions too."""
    plan = plans[env]
    policies = [o for overlay in manifest_overlays.overlays() if overlay.environment == env
                for o in manifest_overlays.render(overlay.path) if o["kind"] == "NetworkPolicy"]
    addons = {a.inputs["addonName"]: a for a in of_type(plan, "aws:eks/addon:Addon")}
    cluster = one(plan, "aws:eks/cluster:Cluster")
    assert {name: a.inputs["addonVersion"] for name, a in addons.items()} == ADDON_VERSIONS[cluster.inputs["version"]]
    if policies:
        assert json.loads(addons["vpc-cni"].inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    node_group = one(plan, "aws:eks/nodeGroup:NodeGroup")
    assert {addons["vpc-cni"].urn, addons["kube-proxy"].urn} <= set(node_group.dependencies)
    assert node_group.urn in addons["coredns"].dependencies
    assert {a.inputs["resolveConflictsOnCreate"] for a in addons.values()} == {"OVERWRITE"}


@pytest.mark.parametrize("env", ENVS)
def test_every_helm_release_waits_for_the_node_group(plans: dict[str, PlanResult], env: str) -> None:
    """Issue 16 §8: a release applied before any node exists waits for pods that cannot schedule (atomic, 600-900 s
    timeouts) and rolls back; every release depends on the node group its pods run on."""
    plan = plans[env]
    node_group = one(plan, "aws:eks/nodeGroup:NodeGroup")
    releases = [r for r in plan.resources if r.type == RELEASE]
    assert len(releases) >= 2
    assert [r.name for r in releases if node_group.urn not in r.dependencies] == []
