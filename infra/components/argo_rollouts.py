"""Argo Rollouts, from the official chart at a pinned version, and the canary steps a model server follows.

`canary_steps` maps the stack config's `rollout` section (the same one the push path gives SageMaker) to the
steps of the model server's `Rollout` in `gitops/<env>/<model>/`. CI checks that every overlay declares
exactly these steps, so `rollout` means the same on both paths:

* `canary` with `stepPercent` p: p %, then 100 %; `linear` with p: p, 2p, ... below 100, then 100 %;
  `all-at-once`: 100 % (after a one-pod smoke gate, see below).
* At every weight the smoke analysis runs against the canary pods, then the bake time (`waitSeconds`)
  passes, then the smoke analysis runs again. A failed analysis aborts the rollout: Argo Rollouts scales the
  canary down and all traffic returns to the stable version.
* The first traffic a new version gets is the smallest step (one pod for `all-at-once`): a version that
  fails its smoke check never takes more than that, and never all of it.

This mapping is local to the pull path for now; the lead will unify it with the push path's effective steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.config import Rollout

CHART = "argo-rollouts"
CHART_VERSION = "2.41.0"
"""The argo-rollouts chart version (app v1.9.0); the vendored CRDs in tests/gitops/crds/ are from this version."""
CHART_REPOSITORY = "https://argoproj.github.io/argo-helm"
NAMESPACE = "argo-rollouts"
ANALYSIS_TEMPLATE = "model-server-smoke"
"""The AnalysisTemplate in gitops/base/model-server that smoke-tests the canary service."""
CANARY_SERVICE = "model-server-canary"
SMOKE_GATE_WEIGHT = 1
"""For all-at-once: the weight (rounded up to one pod) at which the smoke check runs before full traffic."""


def traffic_weights(rollout: Rollout) -> list[int]:
    """The traffic percentages a new version passes through, ending at 100."""
    if rollout.strategy == "all-at-once" or rollout.step_percent is None:
        return [100]
    if rollout.strategy == "canary":
        return [rollout.step_percent, 100]
    return [*range(rollout.step_percent, 100, rollout.step_percent), 100]


def canary_steps(rollout: Rollout) -> list[dict[str, Any]]:
    """The `spec.strategy.canary.steps` of a model server's Rollout for this `rollout` config."""
    analysis = {"analysis": {"templates": [{"templateName": ANALYSIS_TEMPLATE}],
                             "args": [{"name": "service", "value": CANARY_SERVICE}]}}
    steps: list[dict[str, Any]] = []
    if rollout.strategy == "all-at-once":
        steps += [{"setWeight": SMOKE_GATE_WEIGHT}, analysis]
    for weight in traffic_weights(rollout):
        steps += [{"setWeight": weight}, analysis]
        if rollout.wait_seconds:
            steps += [{"pause": {"duration": f"{rollout.wait_seconds}s"}}, analysis]
    return steps


@dataclass(frozen=True)
class ArgoRolloutsInstallArgs:
    provider: k8s.Provider
    high_availability: bool


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
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        self.register_outputs({"release": self.release.name})


def rollouts_values(high_availability: bool) -> dict[str, Any]:
    """Chart values: CRDs kept on uninstall, no dashboard, two controller replicas (leader election) in HA."""
    return {
        "installCRDs": True,
        "keepCRDs": True,
        "dashboard": {"enabled": False},
        "controller": {"replicas": 2 if high_availability else 1,
                       "pdb": {"enabled": high_availability, "minAvailable": 1}},
        "notifications": {"notifiers": {}},
    }
