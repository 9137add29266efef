"""A model-server overlay (over `gitops/base/model-server`) against its stack config: where the rendered objects
differ from `models.<m>.deploy` (target `kubernetes`), and the generated patches that restate it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infra.config import KubernetesDeploy
from infra.core.arns import Arns
from infra.core.canary import canary_steps
from infra.core.naming import Naming
from infra.manifests.overlays import Overlay, generated_yaml


def _one(manifests: Sequence[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((m for m in manifests if m.get("kind") == kind), None)


def disagreements(overlay: Overlay, manifests: Sequence[dict[str, Any]], deploy: KubernetesDeploy,
                  naming: Naming, arns: Arns | None) -> list[str]:
    """Where the rendered overlay does not say what the stack config says; empty when they agree.

    `arns`: the environment's account (None when its stack file names no account: the role is not compared)."""
    where = f"{overlay.environment}/{overlay.model}"
    problems = []
    rollout, hpa = _one(manifests, "Rollout"), _one(manifests, "HorizontalPodAutoscaler")
    if rollout is None or hpa is None:
        return [f"{where}: the overlay renders no Rollout or no HorizontalPodAutoscaler"]
    spec = rollout["spec"]
    if spec.get("strategy", {}).get("canary", {}).get("steps") != canary_steps(deploy.rollout):
        problems.append(f"{where}: Rollout steps differ from those of the stack's rollout config "
                        f"({deploy.rollout.strategy}, step {deploy.rollout.step_percent}, wait "
                        f"{deploy.rollout.wait_seconds}s)")
    if spec.get("replicas") != deploy.replicas or hpa["spec"].get("minReplicas") != deploy.replicas:
        problems.append(f"{where}: replicas / HPA minReplicas differ from the stack's replicas ({deploy.replicas})")
    if hpa["spec"].get("maxReplicas") != deploy.max_replicas:
        problems.append(f"{where}: HPA maxReplicas differs from the stack's maxReplicas ({deploy.max_replicas})")
    server = next((c for c in spec["template"]["spec"]["containers"] if c.get("name") == "model-server"), {})
    r = deploy.resources
    wanted = {"requests": {"cpu": r.cpu_request, "memory": r.memory_request},
              "limits": {"cpu": r.cpu_limit, "memory": r.memory_limit}}
    if server.get("resources") != wanted:
        problems.append(f"{where}: model-server resources {server.get('resources')} differ from the stack's {wanted}")
    namespace = naming.model_namespace(overlay.model)
    off = sorted({m["metadata"].get("namespace") for m in manifests} - {namespace})
    if off:
        problems.append(f"{where}: objects outside the namespace {namespace}: {off}")
    account = _one(manifests, "ServiceAccount")
    if arns is not None and account is not None:
        role = arns.role(naming.k8s_serving_role(overlay.model))
        actual = (account["metadata"].get("annotations") or {}).get("eks.amazonaws.com/role-arn")
        if actual != role:
            problems.append(f"{where}: service account role {actual!r} is not the stack's IRSA role {role!r}")
    return problems


def patch_files(environment: str, model: str, deploy: KubernetesDeploy) -> dict[str, str]:
    """The overlay's patches that restate the stack config: file name -> content (JSON patches as YAML)."""
    r = deploy.resources
    rollout = [
        {"op": "replace", "path": "/spec/replicas", "value": deploy.replicas},
        {"op": "replace", "path": "/spec/strategy/canary/steps", "value": canary_steps(deploy.rollout)},
        {"op": "replace", "path": "/spec/template/spec/containers/0/resources",
         "value": {"requests": {"cpu": r.cpu_request, "memory": r.memory_request},
                   "limits": {"cpu": r.cpu_limit, "memory": r.memory_limit}}},
    ]
    hpa = [
        {"op": "replace", "path": "/spec/minReplicas", "value": deploy.replicas},
        {"op": "replace", "path": "/spec/maxReplicas", "value": deploy.max_replicas},
        {"op": "replace", "path": "/spec/metrics/0/resource/target/averageUtilization",
         "value": deploy.target_cpu_percent},
    ]
    return {name: generated_yaml(environment, model, ops)
            for name, ops in (("rollout-patch.yaml", rollout), ("hpa-patch.yaml", hpa))}
