"""The Kubernetes Pod Security Standards' restricted profile, on every pod spec any object embeds.

The checks are the upstream profile's (https://kubernetes.io/docs/concepts/security/pod-security-standards/,
implemented by kubernetes/kubernetes staging/src/k8s.io/pod-security-admission/policy/check_*.go, whose
doc comments list each restricted field and its allowed values):

* baseline: privileged (false/undefined), windowsOptions.hostProcess, hostNetwork/hostPID/hostIPC (false/
  undefined), hostPort (0/undefined), procMount (Default/undefined), hostPath volumes;
* restricted: volume sources only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim,
  projected, secret; allowPrivilegeEscalation set to false on every container; capabilities.drop includes ALL
  and capabilities.add only NET_BIND_SERVICE; seccompProfile.type RuntimeDefault or Localhost on the pod or
  on every container; runAsNonRoot true on the pod or on every container (false anywhere is refused);
  runAsUser never 0. Containers are `containers`, `initContainers` and `ephemeralContainers`.

Not judged here (see docs/policies.md): sysctls, SELinux options, AppArmor profiles, and the user-namespace
relaxation of runAsNonRoot (`hostUsers: false`) - the rule stays stricter than admission there.

A pod spec is found by what it is, not by where one kind keeps it: any object (Deployment, Job, CronJob,
Rollout, an AnalysisTemplate's job, a KServe predictor, any CRD) is searched for mappings with a `containers`
list of container objects. A `*Patch` object (server-side apply patch) sets only some fields: it is judged for
the values it sets, not for the ones it leaves to the object it patches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .knobs import strings_knob
from .values import as_list, dig, has_unknown, is_true, is_unknown

CONTAINER_KEYS = ("initContainers", "containers", "ephemeralContainers")
ALLOWED_VOLUME_SOURCES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
ALLOWED_SECCOMP = frozenset({"RuntimeDefault", "Localhost"})
ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
_NOT_OBJECTS = ("kubernetes:helm.sh/", "kubernetes:yaml/", "kubernetes:kustomize/")


def judges_pod_specs(resource_type: str) -> bool:
    """Every Kubernetes object type (pod specs are found inside it), not Helm/YAML/Kustomize components."""
    return resource_type.startswith("kubernetes:") and not resource_type.startswith(_NOT_OBJECTS)


def pod_specs(value: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every embedded pod spec with its path: a mapping whose `containers` is a list of container objects."""
    if isinstance(value, dict):
        containers = value.get("containers")
        if isinstance(containers, list) and any(isinstance(c, dict) and "image" in c for c in containers):
            yield path or ".", value
            return
        for key, item in value.items():
            if key not in ("metadata", "status"):
                yield from pod_specs(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from pod_specs(item, f"{path}[{index}]")


def _pod_level(pod: dict[str, Any]) -> Iterator[str]:
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if is_true(pod.get(field)):
            yield f"shares the host's namespaces ({field}: true)"
    context = pod.get("securityContext")
    if is_true(dig(context, "windowsOptions", "hostProcess")):
        yield "runs as a Windows HostProcess pod"
    seccomp = dig(context, "seccompProfile", "type")
    if isinstance(seccomp, str) and seccomp not in ALLOWED_SECCOMP:
        yield f"sets the pod's seccompProfile.type to {seccomp!r} (allowed: Localhost, RuntimeDefault)"
    if dig(context, "runAsNonRoot") is False:
        yield "sets the pod's runAsNonRoot to false"
    if _is_zero(dig(context, "runAsUser")):
        yield "runs the pod as user 0 (runAsUser: 0)"
    for volume in as_list(pod.get("volumes")):
        if not isinstance(volume, dict):
            continue
        sources = set(volume) - {"name"}
        bad = sorted(s for s in sources if s not in ALLOWED_VOLUME_SOURCES)
        if bad:
            what = "a hostPath volume" if "hostPath" in bad else f"a {', '.join(bad)} volume"
            yield f"mounts {what} ('{volume.get('name', '?')}'); allowed: {', '.join(sorted(ALLOWED_VOLUME_SOURCES))}"


def _container(container: dict[str, Any], pod: dict[str, Any], partial: bool) -> Iterator[str]:
    context = container.get("securityContext")
    pod_context = pod.get("securityContext")
    if is_unknown(context) or is_unknown(pod_context):
        return
    if is_true(dig(context, "privileged")):
        yield "is privileged"
    if is_true(dig(context, "windowsOptions", "hostProcess")):
        yield "runs as a Windows HostProcess container"
    procmount = dig(context, "procMount")
    if isinstance(procmount, str) and procmount != "Default":
        yield f"sets procMount {procmount!r} (allowed: Default)"
    for port in as_list(container.get("ports")):
        host_port = dig(port, "hostPort")
        if isinstance(host_port, (int, float)) and not isinstance(host_port, bool) and host_port != 0:
            yield f"binds host port {int(host_port)}"
    escalation = dig(context, "allowPrivilegeEscalation")
    if escalation is not None and escalation is not False and not is_unknown(escalation):
        yield "allows privilege escalation (allowPrivilegeEscalation must be false)"
    elif escalation is None and not partial:
        yield "does not set allowPrivilegeEscalation: false"
    yield from _capabilities(dig(context, "capabilities"), partial)
    yield from _inherited(context, pod_context, partial)


def _capabilities(capabilities: Any, partial: bool) -> Iterator[str]:
    if is_unknown(capabilities):
        return
    drop = dig(capabilities, "drop")
    if not has_unknown(drop) and "ALL" not in as_list(drop) and not (partial and drop is None):
        yield 'does not drop ALL capabilities (capabilities.drop: ["ALL"])'
    added = dig(capabilities, "add")
    if not has_unknown(added):
        extra = sorted(str(c) for c in as_list(added) if c not in ALLOWED_ADDED_CAPABILITIES)
        if extra:
            yield f"adds capabilities {', '.join(extra)} (only NET_BIND_SERVICE may be added)"


def _inherited(context: Any, pod_context: Any, partial: bool) -> Iterator[str]:
    """The fields a container may leave to its pod: seccomp profile and runAsNonRoot; runAsUser 0 never."""
    seccomp = dig(context, "seccompProfile", "type")
    pod_seccomp = dig(pod_context, "seccompProfile", "type")
    if isinstance(seccomp, str) and seccomp not in ALLOWED_SECCOMP:
        yield f"sets seccompProfile.type {seccomp!r} (allowed: Localhost, RuntimeDefault)"
    elif seccomp is None and pod_seccomp is None and not partial:  # a bad pod value is reported for the pod
        yield "has no seccompProfile (RuntimeDefault or Localhost) of its own or from its pod"
    non_root = dig(context, "runAsNonRoot")
    pod_non_root = dig(pod_context, "runAsNonRoot")
    if non_root is False:
        yield "sets runAsNonRoot to false"
    elif non_root is None and pod_non_root is None and not partial:  # pod false is reported for the pod
        yield "may run as root (runAsNonRoot: true on neither the container nor its pod)"
    if _is_zero(dig(context, "runAsUser")):
        yield "runs as user 0 (runAsUser: 0)"


def _is_zero(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0


def _restricted(resource: ResourceView) -> Iterator[str]:
    namespace = dig(resource.props, "metadata", "namespace")
    if isinstance(namespace, str) and namespace in resource.config["exemptNamespaces"]:
        return
    partial = resource.type.endswith("Patch")
    for path, pod in pod_specs(resource.props):
        where = f"'{resource.name}' (pod spec at {path})"
        for problem in _pod_level(pod):
            yield f"{where} {problem}"
        for key in CONTAINER_KEYS:
            for container in as_list(pod.get(key)):
                if isinstance(container, dict):
                    for problem in _container(container, pod, partial):
                        yield f"{where}: container '{container.get('name', '?')}' {problem}"


RULES = [
    resource_rule(
        name="k8s-pod-security-restricted",
        description=(
            "Every pod spec, in any Kubernetes object that embeds one (workloads, Jobs, CronJobs, Rollouts, "
            "CRDs), meets the Pod Security Standards' restricted profile."
        ),
        rationale=(
            "A model server or training job runs third-party code on shared nodes: a privileged, root or "
            "host-sharing pod turns one compromised dependency into a node and then a cluster compromise. "
            "The restricted profile is what a namespace enforcing `pod-security.kubernetes.io/enforce: "
            "restricted` would admit, checked before anything reaches the cluster."
        ),
        severity=Severity.HIGH,
        remediation=(
            "In the pod template: securityContext {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}} "
            "and on every container securityContext {allowPrivilegeEscalation: false, capabilities: {drop: "
            "[ALL]}}; no privileged, hostNetwork/hostPID/hostIPC, hostPort, runAsUser 0 or hostPath; volumes "
            "only configMap, secret, emptyDir, projected, downwardAPI, csi, ephemeral or persistentVolumeClaim."
        ),
        resource_types=judges_pod_specs,
        check=_restricted,
        knobs={
            "exemptNamespaces": strings_knob(
                "Namespaces whose pods are not judged (system add-ons that need host access).", []
            ),
        },
        tags=["kubernetes", "runtime-security", "pod-security-standards"],
    ),
]
