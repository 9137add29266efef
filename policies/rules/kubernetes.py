"""Kubernetes rules for the GitOps path: pinned Helm charts, a hardened Argo CD, hardened model servers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .knobs import bool_knob, strings_knob
from .values import as_list, dig, is_false, is_true, is_unknown, iter_strings

HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v4:Chart")
WORKLOAD_TYPES = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:argoproj.io/v1alpha1:Rollout",  # Argo Rollouts: the model server of the GitOps path
)

_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def _chart_name(props: dict[str, Any]) -> str | None:
    chart = props.get("chart")
    return chart if isinstance(chart, str) else None


def _chart_version(resource: ResourceView) -> Iterator[str]:
    chart = _chart_name(resource.props)
    if chart is None:
        return
    if chart.startswith((".", "/")) or chart.endswith(".tgz"):
        return  # a local chart or a chart archive URL is pinned by its path
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


def _tls_in_front(values: dict[str, Any]) -> bool:
    ingress = dig(values, "server", "ingress")
    if not isinstance(ingress, dict) or not is_true(ingress.get("enabled")):
        return False
    if is_true(ingress.get("tls")) or as_list(ingress.get("extraTls")):
        return True
    annotations = ingress.get("annotations")
    return isinstance(annotations, dict) and "alb.ingress.kubernetes.io/certificate-arn" in annotations


def _argocd(resource: ResourceView) -> Iterator[str]:
    chart = _chart_name(resource.props)
    if chart is None or chart.rstrip("/").split("/")[-1] not in resource.config["chartNames"]:
        return
    values = resource.props.get("values")
    if is_unknown(values):
        return
    values = values if isinstance(values, dict) else {}
    name = resource.name
    insecure_param = dig(values, "configs", "params", "server.insecure")
    insecure_flag = "--insecure" in list(iter_strings(dig(values, "server", "extraArgs")))
    if (is_true(insecure_param) or insecure_flag) and not _tls_in_front(values):
        yield (
            f"Argo CD '{name}' runs the API server insecure (server.insecure) without an ingress terminating "
            "TLS in front of it (server.ingress.enabled with tls/extraTls)"
        )
    if resource.config["requireAdminDisabled"]:
        admin = dig(values, "configs", "cm", "admin.enabled")
        if not is_unknown(admin) and (admin is None or not is_false(admin)):
            yield (
                f"Argo CD '{name}' keeps the built-in admin account enabled (set "
                "configs.cm['admin.enabled']: false)"
            )
    default_role = dig(values, "configs", "rbac", "policy.default", default="")
    allowed = resource.config["allowedDefaultRoles"]
    if isinstance(default_role, str) and default_role not in allowed:
        yield (
            f"Argo CD '{name}' grants every user the default role {default_role!r} "
            f"(configs.rbac['policy.default']); allowed: {', '.join(repr(r) for r in allowed)}"
        )


def _image_problem(image: str) -> str | None:
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag (it means 'latest')"
    if last.rsplit(":", 1)[1] == "latest":
        return f"image {image!r} uses the moving tag 'latest'"
    return None


def _matches(resource: ResourceView, selector: dict[str, Any]) -> bool | None:
    if not selector:
        return True
    merged: dict[str, Any] = {}
    for labels in (
        dig(resource.props, "metadata", "labels"),
        dig(resource.props, "spec", "template", "metadata", "labels"),
    ):
        if is_unknown(labels):
            return None
        if isinstance(labels, dict):
            merged.update(labels)
    return all(merged.get(k) == v for k, v in selector.items())


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
    if _matches(resource, config["selectorLabels"]) is not True:
        return
    pod = dig(resource.props, "spec", "template", "spec")
    if is_unknown(pod) or not isinstance(pod, dict):
        return
    required_limits = config["requiredLimits"]
    for key in ("initContainers", "containers"):
        for container in as_list(pod.get(key)):
            if not isinstance(container, dict):
                continue
            where = f"container '{container.get('name', '?')}' of '{resource.name}'"
            if _run_as_non_root(container, pod) is False:
                yield f"{where} may run as root (set securityContext.runAsNonRoot: true)"
            limits = dig(container, "resources", "limits")
            if not is_unknown(limits):
                missing = [
                    r for r in required_limits if not isinstance(limits, dict) or limits.get(r) is None
                ]
                if missing:
                    yield f"{where} sets no resource limit for {', '.join(missing)}"
            image = container.get("image")
            if isinstance(image, str):
                problem = _image_problem(image)
                if problem:
                    yield f"{where}: {problem}; pin a version tag or digest"


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
        name="argocd-hardened",
        description=(
            "The Argo CD installation serves its API only behind TLS, disables the built-in admin account "
            "(where required) and gives users no default role wider than read-only."
        ),
        rationale=(
            "Argo CD can change everything in the cluster: its API must not be exposed in clear text, the "
            "shared admin password must not be usable in production, and users must not get write access by "
            "default."
        ),
        severity=Severity.HIGH,
        remediation=(
            "In the argo-cd chart values: keep configs.params['server.insecure'] false unless "
            "server.ingress terminates TLS; set configs.cm['admin.enabled']: false and use SSO; set "
            "configs.rbac['policy.default'] to '' or 'role:readonly'."
        ),
        resource_types=HELM_TYPES,
        check=_argocd,
        knobs={
            "chartNames": strings_knob("Chart names that install Argo CD.", ["argo-cd"]),
            "requireAdminDisabled": bool_knob("Require configs.cm['admin.enabled'] to be false.", True),
            "allowedDefaultRoles": strings_knob(
                "Values allowed for configs.rbac['policy.default'] ('' means no default role).",
                ["", "role:readonly"],
            ),
        },
        tags=["kubernetes", "gitops", "access-control"],
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
        resource_types=WORKLOAD_TYPES,
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
