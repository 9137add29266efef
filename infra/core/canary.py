"""The canary steps a model server follows (an Argo Rollouts `Rollout` in `gitops/<env>/<model>/`).

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

from typing import Any

from infra.config import Rollout

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
