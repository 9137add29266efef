"""A model-server overlay (over `gitops/base/model-server`) against its stack config: where the rendered objects
differ from `models.<m>.deploy` (target `kubernetes`), and the generated patches that restate it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infra.config import KubernetesDeploy
from infra.core.arns import Arns
from infra.core.canary import canary_steps
from infra.core.naming import Naming
from infra.manifests.objects import annotations, label, metadata, namespace_problems, region_problems
from infra.manifests.overlays import Overlay, generated_yaml


def _of_kind(manifests: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in manifests if m.get("kind") == kind]


def _dig(value: Any, *path: str | int) -> Any:
    for step in path:
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and -len(value) <= step < len(value) else None
        else:
            value = value.get(step) if isinstance(value, dict) else None
    return value


def _rollout_problems(where: str, rollout: dict[str, Any], deploy: KubernetesDeploy) -> list[str]:
    problems = []
    name = label(rollout)
    if _dig(rollout, "spec", "strategy", "canary", "steps") != canary_steps(deploy.rollout):
        problems.append(f"{where}: {name} steps differ from those of the stack's rollout config "
                        f"({deploy.rollout.strategy}, step {deploy.rollout.step_percent}, wait "
                        f"{deploy.rollout.wait_seconds}s)")
    if _dig(rollout, "spec", "replicas") != deploy.replicas:
        problems.append(f"{where}: {name} replicas differ from the stack's replicas ({deploy.replicas})")
    containers = _dig(rollout, "spec", "template", "spec", "containers")
    server = next((c for c in containers or [] if isinstance(c, dict) and c.get("name") == "model-server"), {})
    r = deploy.resources
    wanted = {"requests": {"cpu": r.cpu_request, "memory": r.memory_request},
              "limits": {"cpu": r.cpu_limit, "memory": r.memory_limit}}
    if server.get("resources") != wanted:
        problems.append(f"{where}: {name} model-server resources {server.get('resources')} differ from the stack's "
                        f"{wanted}")
    return problems


def _hpa_problems(where: str, hpa: dict[str, Any], rollouts: list[str], deploy: KubernetesDeploy) -> list[str]:
    """One HPA against the stack config: every HPA, since any of them would scale what it targets."""
    problems = []
    name = label(hpa)
    target = _dig(hpa, "spec", "scaleTargetRef")
    if _dig(target, "kind") != "Rollout" or _dig(target, "name") not in rollouts:
        problems.append(f"{where}: {name} scales {_dig(target, 'kind')} {_dig(target, 'name')!r}, not the "
                        "overlay's Rollout")
    if _dig(hpa, "spec", "minReplicas") != deploy.replicas:
        problems.append(f"{where}: {name} minReplicas differs from the stack's replicas ({deploy.replicas})")
    if _dig(hpa, "spec", "maxReplicas") != deploy.max_replicas:
        problems.append(f"{where}: {name} maxReplicas differs from the stack's maxReplicas ({deploy.max_replicas})")
    metrics = _dig(hpa, "spec", "metrics")
    targets = [_dig(m, "resource", "target", "averageUtilization") for m in metrics or []]
    if targets != [deploy.target_cpu_percent]:
        problems.append(f"{where}: {name} scales on {targets or 'nothing'}; the stack's target is CPU at "
                        f"{deploy.target_cpu_percent} %")
    return problems


def disagreements(overlay: Overlay, manifests: Sequence[dict[str, Any]], deploy: KubernetesDeploy,
                  naming: Naming, arns: Arns | None, region: str | None = None) -> list[str]:
    """Where the rendered overlay does not say what the stack config says; empty when they agree. Every object of
    a kind the stack config describes is compared, not the first one found.

    `arns`: the environment's account (None when its stack file names no account: the role is not compared);
    `region`: the stack's region, which an ACK region annotation must name (None: not compared)."""
    where = f"{overlay.environment}/{overlay.model}"
    rollouts, hpas = _of_kind(manifests, "Rollout"), _of_kind(manifests, "HorizontalPodAutoscaler")
    if len(rollouts) != 1 or not hpas:
        return [f"{where}: the overlay renders {len(rollouts)} Rollout(s) and {len(hpas)} HorizontalPodAutoscaler(s); "
                "expected one Rollout and its autoscaler"]
    problems = _rollout_problems(where, rollouts[0], deploy)
    rollout_names = [metadata(r).get("name") for r in rollouts]
    for hpa in hpas:
        problems += _hpa_problems(where, hpa, rollout_names, deploy)
    problems += namespace_problems(where, manifests, naming.model_namespace(overlay.model))
    if region is not None:
        problems += region_problems(where, manifests, region)
    if arns is not None:
        role = arns.role(naming.k8s_serving_role(overlay.model))
        for account in _of_kind(manifests, "ServiceAccount"):
            actual = annotations(account).get("eks.amazonaws.com/role-arn")
            if actual != role:
                problems.append(f"{where}: {label(account)} role {actual!r} is not the stack's IRSA role {role!r}")
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
