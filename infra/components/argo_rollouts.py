"""Argo Rollouts, from the official chart at a pinned version. The steps a model server's Rollout follows are
`infra.core.canary` (pure: CI compares every overlay with them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.core.cluster_workloads import ROLLOUTS_CONTROLLER, requests

CHART = "argo-rollouts"
CHART_VERSION = "2.41.0"
"""The argo-rollouts chart version (app v1.9.0); the vendored CRDs in tests/gitops/crds/ are from this version."""
CHART_REPOSITORY = "https://argoproj.github.io/argo-helm"
NAMESPACE = "argo-rollouts"


@dataclass(frozen=True)
class ArgoRolloutsInstallArgs:
    provider: k8s.Provider
    high_availability: bool
    workload_dependencies: Sequence[pulumi.Resource] = ()
    """What must exist before any pod can run (the node group)."""


class ArgoRolloutsInstall(pulumi.ComponentResource):
    """`mlops:gitops:ArgoRollouts`: the controller and its CRDs, no dashboard (read-only UIs belong in Argo CD)."""

    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: ArgoRolloutsInstallArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:gitops:ArgoRollouts", name, None, opts)
        namespace = k8s.core.v1.Namespace(
            name, metadata=k8s.meta.v1.ObjectMetaArgs(name=NAMESPACE),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        self.release = k8s.helm.v3.Release(
            name,
            name="argo-rollouts",
            chart=CHART,
            version=CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPOSITORY),
            namespace=namespace.metadata.name,
            create_namespace=False,
            values=rollouts_values(args.high_availability),
            atomic=True,
            cleanup_on_fail=True,
            timeout=600,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider,
                                        depends_on=list(args.workload_dependencies)),
        )
        self.register_outputs({"release": self.release.name})


def rollouts_values(high_availability: bool) -> dict[str, Any]:
    """Chart values: CRDs kept on uninstall, no dashboard, two controller replicas (leader election) in HA."""
    return {
        "installCRDs": True,
        "keepCRDs": True,
        "dashboard": {"enabled": False},
        "controller": {"replicas": 2 if high_availability else 1, "resources": requests(ROLLOUTS_CONTROLLER),
                       "pdb": {"enabled": high_availability, "minAvailable": 1}},
        "notifications": {"notifiers": {}},
    }
