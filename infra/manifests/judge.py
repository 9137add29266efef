"""Judge rendered manifests with the policy pack's own rule code, as `pulumi preview --policy-pack` would judge
the same objects declared in a Pulumi program: each object becomes the resource the Kubernetes provider would
register, an ACK SageMaker object also the SageMaker resource it creates."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from infra.core.paths import PROJECT_ROOT
from infra.manifests.objects import metadata
from infra.manifests.overlays import ManifestError
from infra.manifests.sagemaker_view import sagemaker_view
from infra.plan.model import PlannedResource, PlanResult
from infra.plan.pack import load_pack
from infra.plan.policy_config import default_policy_config_path, load_policy_config
from infra.plan.verdict import Violation, evaluate

PACK_DIR = PROJECT_ROOT / "policies"
KUBERNETES_RULE_PREFIXES = ("helm-", "argocd-", "k8s-")
SAGEMAKER_RULES = ("sagemaker-endpoint-kms", "sagemaker-data-capture", "sagemaker-endpoint-safe-deployment",
                   "sagemaker-model-pinned-package", "sagemaker-instance-cost-guard",
                   "sagemaker-model-network-isolation", "drift-monitoring-and-retrain-guards")
"""The pack's SageMaker rules that judge one endpoint's own objects, so they also judge ACK objects (through
`infra.manifests.sagemaker_view`): with `drift-monitoring-and-retrain-guards`, a pulled endpoint that captures data
must carry its monitor in its overlay (where its policy config requires monitoring: staging, prod) and the monitor
must run isolated, encrypted and bounded. The rules that need the rest of a stack (alarms, scaling, tags,
protection) judge the Pulumi side, where those resources are declared."""


def rules_for_manifests(rule_names: Sequence[str]) -> set[str]:
    """The pack's rules that judge rendered manifests, checked against the pack's own rule names.

    These names cross the product boundary (the pack is a separate product that imports nothing from infra): a
    rule renamed in the pack would otherwise silently drop out of the GitOps check. So a `SAGEMAKER_RULES` name
    the pack lacks, or a prefix that matches none of its rules, stops the judge with the name (exit 2).
    """
    names = set(rule_names)
    missing = sorted(set(SAGEMAKER_RULES) - names)
    unmatched = sorted(p for p in KUBERNETES_RULE_PREFIXES if not any(n.startswith(p) for n in names))
    if missing or unmatched:
        raise ManifestError(
            "infra/manifests/judge.py names rules the policy pack does not have: "
            + "; ".join([*(f"SAGEMAKER_RULES {n!r}" for n in missing),
                         *(f"KUBERNETES_RULE_PREFIXES {p!r} matches no rule" for p in unmatched)])
            + f"; the pack's rules: {', '.join(sorted(names))}"
        )
    return {n for n in names if n.startswith(KUBERNETES_RULE_PREFIXES) or n in SAGEMAKER_RULES}


def resource_type(manifest: dict[str, Any]) -> str:
    """The Pulumi type token the Kubernetes provider gives this object (`kubernetes:core/v1:Service`)."""
    api_version = str(manifest.get("apiVersion", ""))
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{manifest.get('kind')}"


def as_plan(manifests: Sequence[dict[str, Any]], environment: str, model: str) -> PlanResult:
    """The manifests as the resources a Pulumi program declaring them would register."""
    resources = []
    for manifest in manifests:
        name = str(metadata(manifest).get("name", "?"))
        type_ = resource_type(manifest)
        resources.append(PlannedResource(
            urn=f"urn:pulumi:{environment}::gitops::{type_}::{model}/{name}",
            type=type_, name=name, custom=True, parent=None, inputs=manifest, outputs=manifest,
        ))
        view = sagemaker_view(manifest)
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
    judging = rules_for_manifests([p.name for p in pack.policies])
    config_path = default_policy_config_path(PACK_DIR, environment)
    config = load_policy_config(pack, config_path if config_path.is_file() else None)
    for name, settings in config.items():
        if name not in judging:
            settings["enforcementLevel"] = "disabled"
    return evaluate(pack, as_plan(manifests, environment, model), config)
