"""Kubernetes rules for the GitOps path: pinned Helm charts, a hardened Argo CD, hardened model servers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .knobs import strings_knob
from .values import as_list, dig, is_true, is_unknown

HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v4:Chart")

_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


_ARCHIVE = re.compile(r"^(?P<name>.+?)-(?P<version>v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)\.tgz$")


def chart_reference(props: dict[str, Any]) -> str | None:
    chart = props.get("chart")
    return chart if isinstance(chart, str) else None


def chart_identity(chart: str) -> tuple[str, str | None]:
    """(chart name, version the reference itself pins or None) of any way to name a chart: `argo-cd`,
    `argo/argo-cd`, `oci://ghcr.io/argoproj/argo-helm/argo-cd`, or an archive `.../argo-cd-7.7.3.tgz` (Helm names
    packaged charts `<name>-<version>.tgz`)."""
    last = chart.rstrip("/").rsplit("/", 1)[-1]
    match = _ARCHIVE.match(last)
    if match:
        return match["name"], match["version"]
    return last.removesuffix(".tgz"), None


def _local(chart: str) -> bool:
    """A chart in the repository (a path, not a URL or repo/name): pinned by the commit that holds it."""
    return chart.startswith((".", "/")) and not chart.endswith(".tgz")


def _chart_version(resource: ResourceView) -> Iterator[str]:
    chart = chart_reference(resource.props)
    if chart is None or _local(chart):
        return
    if chart.endswith(".tgz"):
        if chart_identity(chart)[1] is None:
            yield (f"Helm chart archive '{chart}' of '{resource.name}' names no exact version in its file name "
                   "(<name>-<version>.tgz), so the URL may serve another chart tomorrow")
        return
    version = resource.props.get("version")
    if is_unknown(version):
        return
    if not version:
        yield (
            f"Helm chart '{chart}' of '{resource.name}' has no version, so every deployment may install a "
            "newer one"
        )
    elif not isinstance(version, str) or not _EXACT_VERSION.match(version):
        yield (
            f"Helm chart '{chart}' of '{resource.name}' has version {version!r}; pin an exact version (e.g. "
            "7.7.3)"
        )


_VERSION_TAG = re.compile(r"^v?\d+\.\d+(?:\.\d+)*(?:[-+_][0-9A-Za-z.-]+)?$")


def _image_problem(image: str) -> str | None:
    """Why an image reference may name different images over time; None when it names one (a digest) or a
    release (a version tag such as 1.4.0 or v2.3-cuda12, as the remediation asks)."""
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r}, which has no tag (it means 'latest')"
    tag = last.rsplit(":", 1)[1]
    if not _VERSION_TAG.match(tag):
        return f"image {image!r}, which uses the moving tag {tag!r} (not a version or digest)"
    return None


_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def _pod_specs(value: Any, labels: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any],
                                                                                   dict[str, Any]]]:
    """(path, pod spec, labels in force) for every pod spec in an object, wherever its kind keeps it: a Pod's
    spec, the template of a Deployment/ReplicaSet/Job (or of a CronJob's jobTemplate), a *Patch kind, a
    Rollout, an Argo CD AnalysisTemplate's job, a KServe InferenceService component. A pod spec is known by
    what it holds: a list of containers, or (KServe) a model container with a storageUri."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _pod_specs(item, labels, f"{path}[{index}]")
        return
    if not isinstance(value, dict):
        return
    own = dig(value, "metadata", "labels")
    if isinstance(own, dict):
        labels = {**labels, **own}
    if isinstance(value.get("containers"), list) or any(
        isinstance(v, dict) and "storageUri" in v for v in value.values()
    ):
        yield path or "spec", value, labels
    for key, item in value.items():
        if key not in _CONTAINER_LISTS and key != "metadata":
            yield from _pod_specs(item, labels, f"{path}.{key}" if path else key)


def _containers(pod: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in _CONTAINER_LISTS:
        for container in as_list(pod.get(key)):
            if isinstance(container, dict):
                yield container
    for item in pod.values():  # KServe: predictor.model / predictor.sklearn ... run as the model container
        if isinstance(item, dict) and "storageUri" in item:
            yield item


_QUANTITY = re.compile(r"^\s*(?P<number>[+-]?\d*\.?\d+)(?:e[+-]?\d+)?\s*(?P<unit>[A-Za-z]*)\s*$")


def _zero(quantity: Any) -> bool:
    """A resource quantity of zero (0, "0", "0m", "0Gi", "0.0"): the kubelet then applies no limit at all."""
    if isinstance(quantity, bool):
        return False
    if isinstance(quantity, (int, float)):
        return quantity == 0
    match = _QUANTITY.match(quantity) if isinstance(quantity, str) else None
    return match is not None and float(match["number"]) == 0


def _selected(labels: dict[str, Any], selector: dict[str, Any]) -> bool | None:
    if any(is_unknown(v) for v in labels.values()):
        return None
    return all(labels.get(k) == v for k, v in selector.items())


def _run_as_non_root(container: dict[str, Any], pod: Any) -> bool | None:
    for context in (dig(container, "securityContext"), dig(pod, "securityContext")):
        non_root, user = dig(context, "runAsNonRoot"), dig(context, "runAsUser")
        if is_unknown(non_root) or is_unknown(user):
            return None
        if non_root is not None:
            return is_true(non_root)
        if user is not None:
            return isinstance(user, (int, float)) and user > 0
    return False


def _workload(resource: ResourceView) -> Iterator[str]:
    config = resource.config
    required_limits = config["requiredLimits"]
    for path, pod, labels in _pod_specs(resource.props, {}):
        if _selected(labels, config["selectorLabels"]) is not True:
            continue
        for container in _containers(pod):
            where = f"container '{container.get('name', '?')}' of '{resource.name}'"
            for problem in _container_problems(container, pod, required_limits):
                yield f"{where} {problem} [at {path}]"


def _container_problems(container: dict[str, Any], pod: dict[str, Any], required_limits: list[str]
                        ) -> Iterator[str]:
    if _run_as_non_root(container, pod) is False:
        yield "may run as root (set securityContext.runAsNonRoot: true)"
    limits = dig(container, "resources", "limits")
    if not is_unknown(limits):
        missing = [r for r in required_limits if not isinstance(limits, dict) or limits.get(r) is None]
        if missing:
            yield f"sets no resource limit for {', '.join(missing)}"
        zero = [r for r in required_limits if isinstance(limits, dict) and _zero(limits.get(r))]
        if zero:
            yield f"sets a {', '.join(zero)} limit of 0, which the kubelet reads as no limit"
    image = container.get("image")
    if isinstance(image, str):
        problem = _image_problem(image)
        if problem:
            yield f"runs {problem}; pin a version tag or digest"


_NOT_WORKLOADS = ("kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize", "pulumi:providers:")


def _kubernetes_object(resource_type: str) -> bool:
    """every Kubernetes object that holds a pod spec, found by what it holds (any kind, core, patch or custom)"""
    return resource_type.startswith("kubernetes:") and not resource_type.startswith(_NOT_WORKLOADS)


RULES = [
    resource_rule(
        name="helm-chart-version-pinned",
        description="Every Helm release or chart installed by the program pins an exact chart version.",
        rationale=(
            "An unpinned chart installs whatever is newest at deploy time, so two deployments of the same "
            "commit can differ."
        ),
        severity=Severity.MEDIUM,
        remediation="Set version to an exact chart version (e.g. version='7.7.3'), not a range or nothing.",
        resource_types=HELM_TYPES,
        check=_chart_version,
        tags=["kubernetes", "supply-chain"],
    ),
    resource_rule(
        name="k8s-model-server-hardened",
        description=(
            "Model-server containers run as non-root, with resource limits, from a pinned image (no "
            "'latest')."
        ),
        rationale=(
            "A root container turns a model-server exploit into a node compromise, unlimited containers "
            "starve neighbours, and 'latest' makes the running image unknowable."
        ),
        severity=Severity.HIGH,
        remediation=(
            "In the pod template: securityContext.runAsNonRoot: true (pod or container), resources.limits "
            "for "
            "cpu and memory on every container, and images with a version tag or @sha256 digest."
        ),
        resource_types=_kubernetes_object,
        check=_workload,
        knobs={
            "selectorLabels": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "default": {},
                "description": (
                    "Pod template labels that mark a model server; empty applies the rule to every workload."
                ),
            },
            "requiredLimits": strings_knob("Resources every container must limit.", ["cpu", "memory"]),
        },
        tags=["kubernetes", "runtime-security"],
    ),
]
