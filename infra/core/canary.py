"""The canary steps a model server follows (an Argo Rollouts `Rollout` in `gitops/<env>/<model>/`).

`canary_steps` maps the stack config's `rollout` section (the same one the push path gives SageMaker) to the
steps of the model server's `Rollout` in `gitops/<env>/<model>/`. CI checks that every overlay declares
exactly these steps, so `rollout` means the same on both paths:

* `canary` with `stepPercent` p: p %, then 100 %; `linear` with p: p, 2p, ... below 100, then 100 %;
  `all-at-once`: 100 %, after a smoke gate that takes no client traffic (see below).
* At every weight the smoke analysis runs against the canary pods, then the bake time (`waitSeconds`)
  passes, then the smoke analysis runs again. A failed analysis aborts the rollout: Argo Rollouts scales the
  canary down and all traffic returns to the stable version.
* The first traffic a new version gets is the smallest step: a version that fails its smoke check never takes
  more than that, and never all of it. For `all-at-once` that is none at all: the smoke gate is an Argo Rollouts
  Experiment step, one pod of the new version labelled `app.kubernetes.io/name: model-server-gate` behind its
  own Service `model-server-gate`, which neither the clients' `model-server` Service nor the Rollout selects
  (argo-rollouts v1.9.0 `rollout/experiment.go` writes a template's `metadata.labels` over the pod template's
  and the selector's). The smoke analysis runs against it (`requiredForCompletion`); a failed analysis fails the
  Experiment and "If the Experiment fails or errors, the Rollout will abort" (docs/features/experiment.md).
  A `setWeight` gate could not do this without a traffic router: on one replica, Rollouts' basic canary
  (`approximateWeightedCanaryStableReplicaCounts` in utils/replicaset/canary.go) runs 1 canary beside 1 stable
  pod behind one Service, i.e. half of the traffic.

This mapping is local to the pull path for now; the lead will unify it with the push path's effective steps.
"""

from __future__ import annotations

from typing import Any

from infra.config import Rollout

ANALYSIS_TEMPLATE = "model-server-smoke"
"""The AnalysisTemplate in gitops/base/model-server that smoke-tests the canary service."""
CANARY_SERVICE = "model-server-canary"
GATE = "model-server-gate"
"""For all-at-once: the label value (`app.kubernetes.io/name`) and Service name of the smoke gate's one pod."""


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
        steps.append(smoke_gate())
    for weight in traffic_weights(rollout):
        steps += [{"setWeight": weight}, analysis]
        if rollout.wait_seconds:
            steps += [{"pause": {"duration": f"{rollout.wait_seconds}s"}}, analysis]
    return steps


def smoke_gate() -> dict[str, Any]:
    """The all-at-once smoke gate: an Experiment step running one pod of the new version that no client reaches."""
    return {"experiment": {
        "templates": [{"name": "gate", "specRef": "canary", "replicas": 1,
                       "metadata": {"labels": {"app.kubernetes.io/name": GATE}}, "service": {"name": GATE}}],
        "analyses": [{"name": "smoke", "templateName": ANALYSIS_TEMPLATE, "requiredForCompletion": True,
                      "args": [{"name": "service", "value": GATE}]}],
    }}
