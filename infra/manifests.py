"""Guardrails for what Git delivers: render every `gitops/<env>/<model>` overlay and judge it in CI.

Manifests that Argo CD syncs never pass through `pulumi preview`, so the policy pack never sees them there.
This tool renders each overlay with `kubectl kustomize`, turns every object into the resource the Pulumi
Kubernetes provider would register for it (type `kubernetes:<group>/<version>:<Kind>`, the manifest as its
inputs), and runs the policy pack over them through `infra.plan.verdict`, i.e. the pack's own Kubernetes rule
code, loaded and configured exactly as for a plan, with the environment's policy config. Only the pack's
Kubernetes rules run: the others judge AWS resources that manifests never contain.

It also checks that each overlay says what the stack config says (`models.<m>.deploy` with target
`kubernetes`): the canary steps derived from `rollout`, replicas, HPA bounds, resources, namespace and IRSA role.
Overlays over `gitops/base/sagemaker-endpoint` (target `sagemaker`, delivery `pull`) render ACK objects: each is
also judged as the SageMaker resource it creates (`infra.ack.sagemaker_view`) by the pack's SageMaker rules, and
compared with the objects the stack config implies (`infra.pull_overlays`).

    python -m infra.manifests [--format table|json] [--write-patches] [OVERLAY_DIR ...]   (default: all)

`--write-patches` first rewrites each overlay's generated files from the stack config (atomically): a model
server's `rollout-patch.yaml` and `hpa-patch.yaml`, a pulled endpoint's `*-patch.yaml` and
`release-replacements.yaml`.

Exit codes: 0 no violation, 1 a mandatory violation or a disagreement with the stack config, 2 bad input.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra import ack, pull_overlays
from infra.components.argo_rollouts import canary_steps
from infra.config import ConfigError, KubernetesDeploy, parse_stack_config
from infra.naming import Naming
from infra.plan.model import PlannedResource, PlanResult
from infra.plan.pack import load_pack
from infra.plan.policy_config import default_policy_config_path, load_policy_config
from infra.plan.project import ProjectError, load_stack
from infra.plan.runner import PROJECT_ROOT
from infra.plan.verdict import Violation, evaluate, has_mandatory

GITOPS_ROOT = PROJECT_ROOT / "gitops"
PACK_DIR = PROJECT_ROOT / "policies"
PROMOTION_LINE = re.compile(r"^\s*- MODEL_PACKAGE_VERSION=(\d+)(?:\s+#\s*mlops:approvedVersion)?\s*$", re.MULTILINE)
"""The one line of `gitops/<env>/<model>/kustomization.yaml` that promotion changes (see docs/gitops.md); it may
end in the marker comment `# mlops:approvedVersion` by which `infra.release promote` finds it."""
KUBERNETES_RULE_PREFIXES = ("helm-", "argocd-", "k8s-")
SAGEMAKER_RULES = ("sagemaker-endpoint-kms", "sagemaker-data-capture", "sagemaker-endpoint-safe-deployment",
                   "sagemaker-model-pinned-package", "sagemaker-instance-cost-guard")
"""The pack's SageMaker rules that judge one endpoint's own objects, so they also judge ACK objects (through
`infra.ack.sagemaker_view`). The rules that need the rest of a stack (alarms, scaling, tags, protection) judge
the Pulumi side, where those resources are declared."""


class ManifestError(Exception):
    """An overlay that cannot be rendered or read; the message names the directory and the cause."""


@dataclass(frozen=True)
class Overlay:
    """One `gitops/<env>/<model>` directory."""

    path: Path
    environment: str
    model: str


def overlays(root: Path = GITOPS_ROOT) -> list[Overlay]:
    """Every overlay: the directories `<root>/<env>/<model>` that hold a kustomization.yaml."""
    return [
        Overlay(path=p.parent, environment=p.parent.parent.name, model=p.parent.name)
        for p in sorted(root.glob("*/*/kustomization.yaml"))
        if p.parent.parent.name != "base"
    ]


def overlay_of(directory: Path) -> Overlay:
    directory = directory.resolve()
    if not (directory / "kustomization.yaml").is_file():
        raise ManifestError(f"{directory}: no kustomization.yaml (expected gitops/<env>/<model>)")
    return Overlay(path=directory, environment=directory.parent.name, model=directory.name)


@functools.lru_cache(maxsize=64)
def _kustomize(directory: str, stamp: tuple[float, ...]) -> tuple[dict[str, Any], ...]:
    try:
        result = subprocess.run(["kubectl", "kustomize", directory], capture_output=True, text=True, timeout=60,
                                check=False)
    except FileNotFoundError:
        raise ManifestError("kubectl is not installed (needed for `kubectl kustomize`)") from None
    if result.returncode != 0:
        raise ManifestError(f"{directory}: kubectl kustomize failed: {result.stderr.strip()}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def render(directory: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize DIRECTORY` renders (cached while no file under gitops/ changes)."""
    files = sorted(p for p in directory.resolve().parent.parent.rglob("*") if p.is_file())
    stamp = tuple(p.stat().st_mtime for p in files)
    return [json.loads(json.dumps(doc)) for doc in _kustomize(str(directory.resolve()), stamp)]


def resource_type(manifest: dict[str, Any]) -> str:
    """The Pulumi type token the Kubernetes provider gives this object (`kubernetes:core/v1:Service`)."""
    api_version = str(manifest.get("apiVersion", ""))
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{manifest.get('kind')}"


def as_plan(manifests: Sequence[dict[str, Any]], environment: str, model: str) -> PlanResult:
    """The manifests as the resources a Pulumi program declaring them would register."""
    resources = []
    for manifest in manifests:
        name = str((manifest.get("metadata") or {}).get("name", "?"))
        type_ = resource_type(manifest)
        resources.append(PlannedResource(
            urn=f"urn:pulumi:{environment}::gitops::{type_}::{model}/{name}",
            type=type_, name=name, custom=True, parent=None, inputs=manifest, outputs=manifest,
        ))
        view = ack.sagemaker_view(manifest)
        if view is not None:  # An ACK object also as the SageMaker resource it creates, for the SageMaker rules.
            aws_type, inputs = view
            resources.append(PlannedResource(
                urn=f"urn:pulumi:{environment}::gitops::{aws_type}::{model}/{name}",
                type=aws_type, name=name, custom=True, parent=None, inputs=inputs, outputs=inputs,
            ))
    return PlanResult(project="gitops", stack=environment, resources=tuple(resources), outputs={})


def as_core_workloads(manifests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The manifests with each Argo Rollouts object replaced by the core object it runs, for scanners (checkov)
    that know Deployments and Jobs but not Rollouts: a Rollout's pod template as a Deployment, each Job metric
    of an AnalysisTemplate as the Job it starts. Nothing else changes."""
    out: list[dict[str, Any]] = []
    for manifest in manifests:
        kind, metadata, spec = manifest.get("kind"), manifest.get("metadata", {}), manifest.get("spec", {})
        if kind == "Rollout":
            out.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
                        "spec": {"replicas": spec.get("replicas"), "selector": spec.get("selector"),
                                 "template": spec.get("template")}})
        elif kind == "AnalysisTemplate":
            for metric in spec.get("metrics", []):
                job = (metric.get("provider") or {}).get("job")
                if job:
                    out.append({"apiVersion": "batch/v1", "kind": "Job",
                                "metadata": {**metadata, "name": f"{metadata.get('name')}-{metric['name']}"},
                                "spec": job["spec"]})
        else:
            out.append(manifest)
    return out


@functools.lru_cache(maxsize=1)
def _pack() -> Any:
    return load_pack(PACK_DIR)


def judge(manifests: Sequence[dict[str, Any]], environment: str, model: str = "model") -> list[Violation]:
    """The pack's Kubernetes rules over rendered manifests, under the environment's policy config."""
    pack = _pack()
    config_path = default_policy_config_path(PACK_DIR, environment)
    config = load_policy_config(pack, config_path if config_path.is_file() else None)
    for name, settings in config.items():
        if not name.startswith(KUBERNETES_RULE_PREFIXES) and name not in SAGEMAKER_RULES:
            settings["enforcementLevel"] = "disabled"
    return evaluate(pack, as_plan(manifests, environment, model), config)


def promoted_version(overlay: Overlay) -> int:
    """The package version on the overlay's promotion line; exactly one such line must exist."""
    text = (overlay.path / "kustomization.yaml").read_text()
    found = PROMOTION_LINE.findall(text)
    if len(found) != 1:
        raise ManifestError(f"{overlay.path}/kustomization.yaml: expected exactly one promotion line "
                            f"'- MODEL_PACKAGE_VERSION=<n>', found {len(found)}")
    return int(found[0])


def _one(manifests: Sequence[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((m for m in manifests if m.get("kind") == kind), None)


def disagreements(overlay: Overlay, manifests: Sequence[dict[str, Any]], deploy: KubernetesDeploy,
                  naming: Naming, account_id: str | None) -> list[str]:
    """Where the rendered overlay does not say what the stack config says; empty when they agree."""
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
    if account_id and account is not None:
        role = f"arn:aws:iam::{account_id}:role/{naming.k8s_serving_role(overlay.model)}"
        actual = (account["metadata"].get("annotations") or {}).get("eks.amazonaws.com/role-arn")
        if actual != role:
            problems.append(f"{where}: service account role {actual!r} is not the stack's IRSA role {role!r}")
    return problems


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


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
    head = (f"# Generated from stacks/Pulumi.{environment}.yaml (models.{model}.deploy) by "
            "`python -m infra.manifests --write-patches`; CI fails if they differ.\n")
    return {name: head + yaml.dump(ops, Dumper=_NoAliases, sort_keys=False)
            for name, ops in (("rollout-patch.yaml", rollout), ("hpa-patch.yaml", hpa))}


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    temporary.replace(path)


def write_patches(overlay: Overlay) -> list[Path]:
    """Rewrite the overlay's patches from its stack config; returns the files that changed."""
    stack = load_stack(PROJECT_ROOT, overlay.environment)
    config = parse_stack_config(stack.config)
    pulled = config.pulled_sagemaker_models().get(overlay.model)
    deploy = config.kubernetes_models().get(overlay.model)
    if pulled is not None:
        try:
            files = pull_overlays.generated_files(overlay.environment, overlay.model,
                                                  Naming(stack.project, overlay.environment), pulled,
                                                  pull_overlays.facts(config, overlay.path))
        except pull_overlays.OverlayError as exc:
            raise ManifestError(f"{overlay.environment}/{overlay.model}: {exc}") from None
    elif deploy is not None:
        files = patch_files(overlay.environment, overlay.model, deploy)
    else:
        raise ManifestError(f"{overlay.environment}/{overlay.model}: the stack config does not serve this model "
                            "with target kubernetes or with target sagemaker and delivery pull")
    changed = []
    for name, text in files.items():
        path = overlay.path / name
        if not path.is_file() or path.read_text() != text:
            _write_atomic(path, text)
            changed.append(path)
    return changed


def check(overlay: Overlay) -> tuple[list[Violation], list[str]]:
    """Render, judge and compare one overlay with its environment's stack config."""
    manifests = render(overlay.path)
    violations = judge(manifests, overlay.environment, overlay.model)
    problems: list[str] = []
    promoted_version(overlay)
    try:
        stack = load_stack(PROJECT_ROOT, overlay.environment)
        config = parse_stack_config(stack.config)
    except (ProjectError, ConfigError) as exc:
        return violations, [f"{overlay.environment}/{overlay.model}: {exc}"]
    naming = Naming(stack.project, overlay.environment)
    if pull_overlays.is_pull_overlay(overlay.path):
        where = f"{overlay.environment}/{overlay.model}"
        pulled = config.pulled_sagemaker_models().get(overlay.model)
        if pulled is None:
            return violations, [f"{where}: the stack config does not serve this model with target sagemaker and "
                                "delivery pull, so its AppProject will refuse to sync it"]
        try:
            pull = pull_overlays.facts(config, overlay.path)
        except (pull_overlays.OverlayError, ProjectError, ConfigError) as exc:
            return violations, [f"{where}: {exc}"]
        return violations, pull_overlays.disagreements(where, manifests, naming, overlay.model, pulled, pull,
                                                       promoted_version(overlay))
    deploy = config.kubernetes_models().get(overlay.model)
    if deploy is None:
        problems.append(f"{overlay.environment}/{overlay.model}: the stack config does not serve this model with "
                        "target kubernetes, so its AppProject will refuse to sync it")
    else:
        problems += disagreements(overlay, manifests, deploy, naming, config.account_id)
    return violations, problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.manifests", description=__doc__.split("\n\n")[0])
    parser.add_argument("overlays", nargs="*", type=Path, help="gitops/<env>/<model> directories (default: all)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--write-patches", action="store_true",
                        help="rewrite rollout-patch.yaml and hpa-patch.yaml from the stack config, then check")
    args = parser.parse_args(argv)
    try:
        chosen = [overlay_of(p) for p in args.overlays] if args.overlays else overlays()
        if args.write_patches:
            for overlay in chosen:
                for path in write_patches(overlay):
                    print(f"wrote {path}", file=sys.stderr)
        results = {f"{o.environment}/{o.model}": check(o) for o in chosen}
    except (ManifestError, ProjectError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = any(has_mandatory(v) or problems for v, problems in results.values())
    if args.format == "json":
        print(json.dumps({name: {"violations": [x.as_dict() for x in v], "problems": p}
                          for name, (v, p) in results.items()}, indent=2))
    else:
        for name, (violations, problems) in results.items():
            verdict = "FAIL" if has_mandatory(violations) or problems else "ok"
            print(f"{name}: {verdict}")
            for v in violations:
                print(f"  [{v.enforcement}] {v.policy_name}: {v.resource_name}: {v.message}")
            for p in problems:
                print(f"  [config] {p}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
