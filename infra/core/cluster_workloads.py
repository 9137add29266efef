"""The pods the program itself runs in a cluster, with the requests it gives them: one home for the chart values
(`resources.requests` of each release) and for the capacity check's system pods (`infra.core.capacity`).

Where a chart sets no requests by default, the program sets the example its own values.yaml carries, so the
scheduler (and this check) reserves what the chart's authors suggest:
- argo-cd 10.1.1 `values.yaml`: controller 250m/256Mi, server 50m/64Mi, repoServer 10m/64Mi, applicationSet and
  notifications 100m/128Mi, redis 100m/64Mi (the last also given to the redis-ha 4.38.0 subchart's `redis`,
  `sentinel` and `haproxy` containers in HA, which ship `resources: {}`);
- argo-rollouts 2.41.0: controller 50m/64Mi;
- cluster-autoscaler 9.51.0: 100m/300Mi (its values.yaml example);
- metrics-server 3.13.1: 100m/200Mi (the chart's default);
- the ACK controller's own values (`infra.core.ack_controller`): 50m/64Mi.
EKS add-ons run with their own requests: CoreDNS 100m/70Mi x 2 replicas (the upstream manifest
kubernetes/kubernetes `cluster/addons/dns/coredns/coredns.yaml.base`; EKS runs two replicas, managing-coredns.adoc),
and on every node aws-node 25m CPU (aws/amazon-vpc-cni-k8s `charts/aws-vpc-cni/values.yaml`) and kube-proxy 100m CPU
(upstream kube-proxy manifest; the EKS add-on's manifest is not published, so this is the upstream figure).
"""

from __future__ import annotations

from typing import Any

from infra.core.capacity import PodSet, Resources

ARGOCD = {
    "controller": Resources(250, 256),
    "server": Resources(50, 64),
    "repoServer": Resources(10, 64),
    "applicationSet": Resources(100, 128),
    "notifications": Resources(100, 128),
    "redis": Resources(100, 64),
}
REDIS_HA_CONTAINERS = ("redis", "sentinel")
"""Containers of each redis-ha server pod given the argo-cd chart's redis example request."""
ROLLOUTS_CONTROLLER = Resources(50, 64)
ACK_CONTROLLER = Resources(50, 64)
METRICS_SERVER = Resources(100, 200)
CLUSTER_AUTOSCALER = Resources(100, 300)
COREDNS = PodSet("coredns", 2, Resources(100, 70))
PER_NODE = (PodSet("aws-node (vpc-cni)", 1, Resources(25, 0)), PodSet("kube-proxy", 1, Resources(100, 0)))
"""DaemonSet pods every node runs."""

MODEL_SERVER_INIT = (Resources(100, 128), Resources(100, 128))
"""The init containers of gitops/base/model-server/rollout.yaml (fetch-model, unpack-model); a test holds them."""
SMOKE_JOB = Resources(50, 64)
"""The smoke Job of gitops/base/model-server/analysistemplate.yaml; one runs at a time per rollout."""


def requests(r: Resources) -> dict[str, Any]:
    """A `resources` block that requests `r` (chart values and manifests spell it this way)."""
    return {"requests": {"cpu": f"{r.cpu_m}m", "memory": f"{r.memory_mi}Mi"}}


def argocd_replicas(high_availability: bool) -> dict[str, int]:
    """Replicas per Argo CD component as `infra.components.argocd.argocd_values` sets them."""
    two = 2 if high_availability else 1
    return {"controller": 1, "server": two, "repoServer": two, "applicationSet": two, "notifications": 1,
            "redis": 0 if high_availability else 1}


REDIS_HA_REPLICAS = 3
"""redis-ha 4.38.0 `replicas: 3` and `haproxy.replicas: 3`."""


def system_pods(high_availability: bool, ack: bool, autoscaler: bool) -> list[PodSet]:
    """Every pod (not per node) the program and the EKS add-ons run, with its request."""
    pods = [PodSet(f"argocd {name}", n, ARGOCD[name]) for name, n in argocd_replicas(high_availability).items() if n]
    if high_availability:
        pods += [PodSet("argocd redis-ha", REDIS_HA_REPLICAS, ARGOCD["redis"].times(len(REDIS_HA_CONTAINERS))),
                 PodSet("argocd redis-ha haproxy", REDIS_HA_REPLICAS, ARGOCD["redis"])]
    pods.append(PodSet("argo-rollouts controller", 2 if high_availability else 1, ROLLOUTS_CONTROLLER))
    if ack:
        pods.append(PodSet("ack-sagemaker-controller", 1, ACK_CONTROLLER))
    pods.append(PodSet("metrics-server", 1, METRICS_SERVER))
    if autoscaler:
        pods.append(PodSet("cluster-autoscaler", 1, CLUSTER_AUTOSCALER))
    pods.append(COREDNS)
    return pods


def pod_request(container: Resources) -> Resources:
    """A model server pod's effective request: the larger of its container and any init container, per resource
    (init containers run one at a time, before the server)."""
    init = max((r.cpu_m for r in MODEL_SERVER_INIT), default=0), max((r.memory_mi for r in MODEL_SERVER_INIT),
                                                                      default=0)
    return Resources(max(container.cpu_m, init[0]), max(container.memory_mi, init[1]))


def model_pods(model: str, container: Resources, max_replicas: int) -> list[PodSet]:
    """A model server at its peak: maxReplicas, plus the rollout's one extra pod (`maxSurge: 1` in the base; the
    all-at-once smoke gate's pod runs before any surge, never beside it), plus its smoke Job."""
    each = pod_request(container)
    return [PodSet(f"{model} at maxReplicas", max_replicas, each), PodSet(f"{model} rollout surge", 1, each),
            PodSet(f"{model} smoke job", 1, SMOKE_JOB)]
