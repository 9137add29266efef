"""The EKS add-ons every created cluster runs, at pinned versions per Kubernetes minor: the VPC CNI (with network
policy enforcement on), CoreDNS and kube-proxy. Pure data, so config validation, the cluster component and the
tests read one home.

Versions are the latest EKS add-on type versions for Kubernetes 1.33 in the Amazon EKS User Guide:
- vpc-cni `v1.20.1-eksbuild.3`, coredns `v1.12.3-eksbuild.1`: awsdocs/amazon-eks-user-guide
  `latest/ug/networking/managing-vpc-cni.adoc` and `managing-coredns.adoc` (commit 057948d9);
- kube-proxy `v1.33.5-eksbuild.2`: https://docs.aws.amazon.com/eks/latest/userguide/managing-kube-proxy.html.
Network policy: "Enter the JSON key `"enableNetworkPolicy":` and value `"true"` in *Configuration values*"
(`cni-network-policy-configure.adoc`, VPC CNI 1.14 or later; the EKS optimized AL2023 AMIs have the kernel and BPF
file system it needs). Without it a NetworkPolicy object is accepted and enforced by nothing.
"""

from __future__ import annotations

import json

VPC_CNI = "vpc-cni"
COREDNS = "coredns"
KUBE_PROXY = "kube-proxy"

ADDON_VERSIONS: dict[str, dict[str, str]] = {
    "1.33": {VPC_CNI: "v1.20.1-eksbuild.3", COREDNS: "v1.12.3-eksbuild.1", KUBE_PROXY: "v1.33.5-eksbuild.2"},
}
"""Kubernetes minor -> add-on -> pinned EKS add-on version."""

BEFORE_NODES = (VPC_CNI, KUBE_PROXY)
"""Add-ons that must be in place before a node joins (its pods get their network, and its policy agent, from them);
CoreDNS is a Deployment and becomes ACTIVE only once nodes run it, so it comes after the node group."""


def configuration_values(addon: str) -> str | None:
    """The add-on's `configurationValues` (JSON text, as the EKS API takes it), or None for its defaults."""
    if addon == VPC_CNI:
        return json.dumps({"enableNetworkPolicy": "true"})
    return None


def supported_versions() -> list[str]:
    return sorted(ADDON_VERSIONS)
