"""A model-server overlay (over `gitops/base/model-server`) against its stack config: where the rendered objects
differ from `models.<m>.deploy` (target `kubernetes`), and the generated patches that restate it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.config import KubernetesDeploy, StackConfig, parse_stack_config
from infra.core import capture_sidecar
from infra.core.arns import Arns, partition_of
from infra.core.canary import canary_steps
from infra.core.naming import Naming
from infra.core.paths import PROJECT_ROOT
from infra.manifests.objects import annotations, label, metadata, namespace_problems, region_problems
from infra.manifests.overlays import ManifestError, Overlay, generated_yaml
from infra.manifests.pull_overlays import KMS_KEY_ARN, capture_key
from infra.plan.project import load_stack


@dataclass(frozen=True)
class CaptureFacts:
    """Where a capturing model server ships to (from the stack files) and with which key (the overlay's line)."""

    uri: str
    shared_region: str
    shared_account_id: str
    kms_key_arn: str


def capture_facts(config: StackConfig, model: str, directory: Path,
                  project_root: Path = PROJECT_ROOT) -> CaptureFacts | None:
    """None when the model does not capture; the shared stack's account and region come from its stack file."""
    deploy = config.kubernetes_models().get(model)
    if deploy is None or not deploy.data_capture_percent:
        return None
    shared = parse_stack_config(load_stack(project_root, Naming.of_stack(config.shared_stack).stack).config)
    if not shared.account_id:
        raise ManifestError(f"{config.environment}/{model}: data capture needs accountId in the shared stack file "
                            "(the capture bucket is named after it)")
    return CaptureFacts(uri=capture_sidecar.destination(config.shared_stack, shared.account_id, config.environment,
                                                        model),
                        shared_region=shared.region, shared_account_id=shared.account_id,
                        kms_key_arn=capture_key(directory))


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


def _named(items: Any, name: str) -> dict[str, Any]:
    return next((i for i in items or [] if isinstance(i, dict) and i.get("name") == name), {})


def _shutdown_seconds(server: dict[str, Any], shipper: dict[str, Any]) -> float:
    """What a capturing pod's shutdown takes, read from the rendered containers: the server's preStop sleep, its
    drain (MODEL_SERVER_GRACEFUL_TIMEOUT, default 20 s, plus the master's 5 s), then the shipper's whole flush."""
    def number(container: dict[str, Any], name: str, default: float) -> float:
        value = next((e.get("value") for e in container.get("env") or [] if e.get("name") == name), None)
        try:
            return float(value) if value is not None else default
        except (TypeError, ValueError):
            return default

    pre_stop = _dig(server, "lifecycle", "preStop", "sleep", "seconds")
    pre_stop = pre_stop if isinstance(pre_stop, int | float) else 0
    return (pre_stop + number(server, "MODEL_SERVER_GRACEFUL_TIMEOUT", 20) + 5
            + number(shipper, "CAPTURE_FLUSH_SECONDS", 15))


def _capture_problems(where: str, rollout: dict[str, Any], deploy: KubernetesDeploy,
                      capture: CaptureFacts | None) -> list[str]:
    """The rendered pod against the capture the stack config asks for: the volume, the server's settings, the
    shipper sidecar, the termination budget and the key; or no capture at all when it asks for none."""
    pod = _dig(rollout, "spec", "template", "spec") or {}
    server = _named(pod.get("containers"), "model-server")
    shipper = _named(pod.get("initContainers"), "capture-shipper")
    env = {e.get("name"): e.get("value") for e in server.get("env") or [] if isinstance(e, dict)}
    if capture is None:
        if shipper or "MODEL_SERVER_CAPTURE_PERCENT" in env:
            return [f"{where}: the overlay captures requests but the stack's dataCapturePercent is 0"]
        return []
    problems = []
    wanted = {e["name"]: e["value"] for e in capture_sidecar.server_env(deploy)}
    if {k: env.get(k) for k in wanted} != wanted:
        problems.append(f"{where}: model-server capture settings {({k: env.get(k) for k in wanted})} differ from "
                        f"the stack's {wanted}")
    expected = capture_sidecar.shipper_container(capture.uri, capture.shared_region)
    fields = ("restartPolicy", "command", "env", "resources", "securityContext", "volumeMounts")
    if not shipper or any(shipper.get(f) != expected[f] for f in fields):
        problems.append(f"{where}: the capture-shipper sidecar is missing or differs from the one that ships to "
                        f"{capture.uri}; run `python -m infra.manifests --write-patches`")
    volume = _named(pod.get("volumes"), capture_sidecar.VOLUME)
    if _dig(volume, "emptyDir", "sizeLimit") != f"{capture_sidecar.VOLUME_SIZE_LIMIT_MIB}Mi":
        problems.append(f"{where}: the capture volume must be an emptyDir with sizeLimit "
                        f"{capture_sidecar.VOLUME_SIZE_LIMIT_MIB}Mi")
    needed = _shutdown_seconds(server, shipper)
    if not isinstance(pod.get("terminationGracePeriodSeconds"), int) or pod["terminationGracePeriodSeconds"] <= needed:
        problems.append(f"{where}: terminationGracePeriodSeconds ({pod.get('terminationGracePeriodSeconds')}) must "
                        f"exceed the server's preStop and drain plus the shipper's flush ({needed:g} s), or the "
                        "kubelet kills the shipper before the last capture is shipped")
    match = KMS_KEY_ARN.match(capture.kms_key_arn)
    if match is None or (match["partition"], match["region"], match["account"]) != (
            partition_of(capture.shared_region), capture.shared_region, capture.shared_account_id):
        problems.append(f"{where}: CAPTURE_KMS_KEY_ARN must be the shared stack's key ARN "
                        f"(arn:{partition_of(capture.shared_region)}:kms:{capture.shared_region}:"
                        f"{capture.shared_account_id}:key/<id>); got {capture.kms_key_arn or 'no such line'}")
    return problems


def disagreements(overlay: Overlay, manifests: Sequence[dict[str, Any]], deploy: KubernetesDeploy,
                  naming: Naming, arns: Arns | None, region: str | None = None,
                  capture: CaptureFacts | None = None) -> list[str]:
    """Where the rendered overlay does not say what the stack config says; empty when they agree. Every object of
    a kind the stack config describes is compared, not the first one found.

    `arns`: the environment's account (None when its stack file names no account: the role is not compared);
    `region`: the stack's region, which an ACK region annotation must name (None: not compared)."""
    where = f"{overlay.environment}/{overlay.model}"
    rollouts, hpas = _of_kind(manifests, "Rollout"), _of_kind(manifests, "HorizontalPodAutoscaler")
    if len(rollouts) != 1 or not hpas:
        return [f"{where}: the overlay renders {len(rollouts)} Rollout(s) and {len(hpas)} HorizontalPodAutoscaler(s); "
                "expected one Rollout and its autoscaler"]
    problems = _rollout_problems(where, rollouts[0], deploy) + _capture_problems(where, rollouts[0], deploy, capture)
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


def patch_files(environment: str, model: str, deploy: KubernetesDeploy,
                capture: CaptureFacts | None = None) -> dict[str, str]:
    """The overlay's patches that restate the stack config: file name -> content (JSON patches as YAML); with
    capture on, the Rollout patch also adds the capture volume, the server's settings and the shipper sidecar."""
    r = deploy.resources
    rollout = [
        {"op": "replace", "path": "/spec/replicas", "value": deploy.replicas},
        {"op": "replace", "path": "/spec/strategy/canary/steps", "value": canary_steps(deploy.rollout)},
        {"op": "replace", "path": "/spec/template/spec/containers/0/resources",
         "value": {"requests": {"cpu": r.cpu_request, "memory": r.memory_request},
                   "limits": {"cpu": r.cpu_limit, "memory": r.memory_limit}}},
    ]
    if capture is not None:
        rollout += capture_sidecar.rollout_operations(deploy, capture.uri, capture.shared_region)
    hpa = [
        {"op": "replace", "path": "/spec/minReplicas", "value": deploy.replicas},
        {"op": "replace", "path": "/spec/maxReplicas", "value": deploy.max_replicas},
        {"op": "replace", "path": "/spec/metrics/0/resource/target/averageUtilization",
         "value": deploy.target_cpu_percent},
    ]
    return {name: generated_yaml(environment, model, ops)
            for name, ops in (("rollout-patch.yaml", rollout), ("hpa-patch.yaml", hpa))}
