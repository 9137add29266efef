"""k8s-pod-security-restricted and k8s-service-not-exposed, both ways: every restricted-profile control on a
compliant pod and its violating twin, in every kind that embeds a pod spec (core workloads, Jobs, CronJobs,
Argo Rollouts, AnalysisTemplates, CRDs such as KServe and Kubeflow), and Services by exposure."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from policy_factory import PlanBuilder, of, run

from infra.manifests.judge import judge

RULE = "k8s-pod-security-restricted"


def pod_spec(**pod: Any) -> dict[str, Any]:
    """The restricted profile's compliant pod, as gitops/base/model-server/rollout.yaml writes it."""
    container = {
        "name": "server", "image": "model-server:1.4.2",
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": True},
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
    }
    spec = {"securityContext": {"runAsNonRoot": True, "runAsUser": 10001,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container], "volumes": [{"name": "tmp", "emptyDir": {}}]}
    spec.update(pod)
    return spec


def template(spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "m"}}, "spec": spec}


# Every place a kind keeps its pod spec: (type, object builder).
KINDS = {
    "Pod": ("kubernetes:core/v1:Pod", lambda s: {"spec": s}),
    "Deployment": ("kubernetes:apps/v1:Deployment", lambda s: {"spec": {"template": template(s)}}),
    "StatefulSet": ("kubernetes:apps/v1:StatefulSet", lambda s: {"spec": {"template": template(s)}}),
    "DaemonSet": ("kubernetes:apps/v1:DaemonSet", lambda s: {"spec": {"template": template(s)}}),
    "ReplicaSet": ("kubernetes:apps/v1:ReplicaSet", lambda s: {"spec": {"template": template(s)}}),
    "Job": ("kubernetes:batch/v1:Job", lambda s: {"spec": {"template": template(s)}}),
    "CronJob": ("kubernetes:batch/v1:CronJob",
                lambda s: {"spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": template(s)}}}}),
    "Rollout": ("kubernetes:argoproj.io/v1alpha1:Rollout", lambda s: {"spec": {"template": template(s)}}),
    "AnalysisTemplate": ("kubernetes:argoproj.io/v1alpha1:AnalysisTemplate", lambda s: {"spec": {"metrics": [
        {"name": "smoke", "provider": {"job": {"spec": {"template": template(s)}}}}]}}),
    "InferenceService": ("kubernetes:serving.kserve.io/v1beta1:InferenceService",
                         lambda s: {"spec": {"predictor": s}}),
    "PyTorchJob": ("kubernetes:kubeflow.org/v1:PyTorchJob", lambda s: {"spec": {"pytorchReplicaSpecs": {
        "Worker": {"replicas": 2, "template": template(s)}}}}),
}


def violations(type_: str, obj: dict[str, Any], env: str = "prod", rule: str = RULE) -> list[str]:
    b = PlanBuilder(stack=env)
    b.add(type_, "workload", {"apiVersion": "v1", "kind": type_.rsplit(":", 1)[1],
                              "metadata": {"name": "workload", "namespace": "ml"}, **obj})
    return [v.message for v in of(run(b.plan(), env), rule)]


def mutate(path: str, value: Any, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = copy.deepcopy(spec or pod_spec())
    target: Any = spec
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target.setdefault(key, {})
    if value is _DELETE:
        target.pop(keys[-1], None)
    else:
        target[keys[-1]] = value
    return spec


_DELETE = object()
# (what the twin does, path in the pod spec, value, words the message must contain)
TWINS = [
    ("privileged", "containers.0.securityContext.privileged", True, "is privileged"),
    ("host network", "hostNetwork", True, "hostNetwork"),
    ("host PID", "hostPID", True, "hostPID"),
    ("host IPC", "hostIPC", True, "hostIPC"),
    ("hostPath", "volumes", [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}], "hostPath"),
    ("nfs volume", "volumes", [{"name": "data", "nfs": {"server": "fs", "path": "/"}}], "nfs volume"),
    ("host port", "containers.0.ports", [{"containerPort": 8080, "hostPort": 8080}], "host port 8080"),
    ("escalation allowed", "containers.0.securityContext.allowPrivilegeEscalation", True, "privilege escalation"),
    ("escalation unset", "containers.0.securityContext.allowPrivilegeEscalation", _DELETE, "allowPrivilegeEscalation"),
    ("added capability", "containers.0.securityContext.capabilities.add", ["SYS_ADMIN"], "SYS_ADMIN"),
    ("nothing dropped", "containers.0.securityContext.capabilities.drop", ["NET_RAW"], "drop ALL"),
    ("unconfined seccomp", "securityContext.seccompProfile.type", "Unconfined", "Unconfined"),
    ("no seccomp anywhere", "securityContext.seccompProfile", _DELETE, "seccompProfile"),
    ("runAsNonRoot false", "securityContext.runAsNonRoot", False, "runAsNonRoot to false"),
    ("runAsNonRoot nowhere", "securityContext.runAsNonRoot", _DELETE, "may run as root"),
    ("container root", "containers.0.securityContext.runAsUser", 0, "user 0"),
    ("unmasked proc", "containers.0.securityContext.procMount", "Unmasked", "procMount"),
    ("windows host process", "securityContext.windowsOptions", {"hostProcess": True}, "HostProcess"),
]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_compliant_pod_passes_in_every_kind(kind: str) -> None:
    type_, build = KINDS[kind]
    assert violations(type_, build(pod_spec())) == []


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(("what", "path", "value", "words"), TWINS, ids=[t[0] for t in TWINS])
def test_each_restricted_control_is_enforced_in_every_kind(kind: str, what: str, path: str, value: Any,
                                                           words: str) -> None:
    type_, build = KINDS[kind]
    found = violations(type_, build(mutate(path, value)))
    assert len(found) == 1 and words in found[0], found


def test_init_and_ephemeral_containers_are_judged_too() -> None:
    bad = {"name": "debug", "image": "busybox:1.36", "securityContext": {"privileged": True}}
    for key in ("initContainers", "ephemeralContainers"):
        found = violations("kubernetes:core/v1:Pod", {"spec": pod_spec(**{key: [bad]})})
        assert any("container 'debug' is privileged" in m for m in found)


def test_container_settings_may_come_from_the_pod_or_the_container() -> None:
    spec = mutate("securityContext", {})  # nothing at pod level ...
    spec["containers"][0]["securityContext"].update(
        {"runAsNonRoot": True, "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}})
    assert violations("kubernetes:core/v1:Pod", {"spec": spec}) == []  # ... everything on the container


@given(st.lists(st.sampled_from(["NET_BIND_SERVICE", "NET_RAW", "SYS_ADMIN", "CHOWN", "SYS_PTRACE", "ALL"]),
                max_size=4))
def test_only_net_bind_service_may_be_added(added: list[str]) -> None:
    found = violations("kubernetes:core/v1:Pod",
                       {"spec": mutate("containers.0.securityContext.capabilities.add", added)})
    assert bool(found) == bool(set(added) - {"NET_BIND_SERVICE"})


def test_a_patch_is_judged_for_what_it_sets_not_for_what_it_leaves_out() -> None:
    partial = {"spec": {"template": {"spec": {"containers": [{"name": "server", "image": "model-server:1.4.3"}]}}}}
    assert violations("kubernetes:apps/v1:DeploymentPatch", partial) == []
    partial["spec"]["template"]["spec"]["hostNetwork"] = True
    assert "hostNetwork" in violations("kubernetes:apps/v1:DeploymentPatch", partial)[0]


def test_an_exempt_namespace_is_not_judged_and_unknown_contexts_are_not_guessed() -> None:
    b = PlanBuilder()
    b.add("kubernetes:core/v1:Pod", "node-agent", {"metadata": {"name": "a", "namespace": "kube-system"},
                                                   "spec": pod_spec(hostNetwork=True)})
    found = of(run(b.plan(), "prod", {RULE: {"exemptNamespaces": ["kube-system"]}}), RULE)
    assert found == []
    unknown = mutate("containers.0.securityContext", "04da6b54-80e4-46f7-96ec-b56ff0331ba9")
    assert violations("kubernetes:core/v1:Pod", {"spec": unknown}) == []


def test_the_rendered_overlays_are_judged_by_the_rule(tmp_path) -> None:
    """The manifest judge runs the k8s- rules on what Argo CD syncs: a privileged Rollout fails there."""
    _, build = KINDS["Rollout"]
    rollout = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "model-server"},
               **build(mutate("containers.0.securityContext.privileged", True))}
    assert [v.policy_name for v in judge([rollout], "prod") if v.policy_name == RULE] == [RULE]


# --- Services ---------------------------------------------------------------------------------------------

SERVICE = "k8s-service-not-exposed"


def service(kind: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "s", "annotations": annotations or {}},
            "spec": {"type": kind, "selector": {"app": "m"}, "ports": [{"port": 80}]}}


@pytest.mark.parametrize(("kind", "annotations", "env", "exposed"), [
    ("ClusterIP", None, "prod", False),
    ("LoadBalancer", None, "prod", True),
    ("LoadBalancer", {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"}, "prod", True),
    ("LoadBalancer", {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}, "prod", False),
    ("LoadBalancer", {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}, "prod", False),
    ("LoadBalancer", {"service.beta.kubernetes.io/aws-load-balancer-internal": "false"}, "prod", True),
    ("NodePort", None, "prod", True),
    ("NodePort", None, "dev", False),  # dev allows NodePort (policies/config/dev.json)
])
def test_services_are_judged_by_exposure(kind: str, annotations: dict | None, env: str, exposed: bool) -> None:
    found = violations("kubernetes:core/v1:Service", service(kind, annotations), env, SERVICE)
    assert bool(found) == exposed, found
