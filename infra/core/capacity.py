"""Plan-time capacity: do the pods an environment runs at its peak fit on its node group at `nodeMax`?

Pure arithmetic, in the spirit of `infra.core.rollout`: config validation refuses a cluster that cannot hold every
model at `maxReplicas` plus its rollout surge plus the system pods, with the numbers in the message, because the
alternative is a canary pod that stays Pending until the rollout aborts at its progress deadline.

Allocatable per node is computed as the EKS AMI's `nodeadm` configures the kubelet (awslabs/amazon-eks-ami,
`nodeadm/internal/kubelet/config.go` at 81fec2e, and `eni_max_pods.go`):
- `maxPods` = ENIs x (IPv4 addresses per ENI - 1) + 2 (`calculateStandardMaxPods`; ENIs and addresses per type from
  `nodeadm/internal/kubelet/instance-info.jsonl`);
- `kubeReserved.cpu`: 6 % of the first core, 1 % of the second, 0.5 % of cores 3-4, 0.25 % of the rest
  (`getCPUMillicoresToReserve`);
- `kubeReserved.memory` = 11 MiB x maxPods + 255 MiB (`getMemoryMebibytesToReserve`);
- `evictionHard` `memory.available: 100Mi`.
vCPUs and memory per type: https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html. The kernel keeps a little
of the nominal memory for itself, so a real node's allocatable memory is somewhat lower than computed here; the
CPU figures are exact. Requests are what the scheduler packs, so that is what is counted (not limits).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Resources:
    """A request: millicores and MiB."""

    cpu_m: int
    memory_mi: int

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m + other.cpu_m, self.memory_mi + other.memory_mi)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m - other.cpu_m, self.memory_mi - other.memory_mi)

    def times(self, n: int) -> Resources:
        return Resources(self.cpu_m * n, self.memory_mi * n)

    def fits_in(self, other: Resources) -> bool:
        return self.cpu_m <= other.cpu_m and self.memory_mi <= other.memory_mi

    def __str__(self) -> str:
        return f"{self.cpu_m / 1000:.2f} vCPU / {self.memory_mi / 1024:.1f} GiB"


NOTHING = Resources(0, 0)


@dataclass(frozen=True)
class PodSet:
    """`count` pods of one kind, each requesting `each`."""

    name: str
    count: int
    each: Resources

    @property
    def total(self) -> Resources:
        return self.each.times(self.count)


@dataclass(frozen=True)
class InstanceType:
    vcpus: int
    memory_gib: int
    enis: int
    ips_per_eni: int

    @property
    def max_pods(self) -> int:
        return self.enis * (self.ips_per_eni - 1) + 2


_M = {"large": (2, 8, 3, 10), "xlarge": (4, 16, 4, 15), "2xlarge": (8, 32, 4, 15), "4xlarge": (16, 64, 8, 30)}
INSTANCE_TYPES: dict[str, InstanceType] = {
    f"{family}.{size}": InstanceType(*spec) for family in ("m5", "m6i", "m7i") for size, spec in _M.items()
}
"""General purpose types the check knows (vCPU, GiB; ENIs, IPv4 per ENI from instance-info.jsonl)."""

EVICTION_HARD_MEMORY_MI = 100


def kube_reserved_cpu_m(vcpus: int) -> int:
    total, reserved = vcpus * 1000, 0
    for start, end, basis_points in ((0, 1000, 600), (1000, 2000, 100), (2000, 4000, 50), (4000, total, 25)):
        if total > start:
            reserved += (min(total, end) - start) * basis_points // 10000
    return reserved


def kube_reserved_memory_mi(max_pods: int) -> int:
    return 11 * max_pods + 255


def allocatable(instance_type: str) -> Resources:
    """What the kubelet offers pods on one node of this type."""
    t = INSTANCE_TYPES[instance_type]
    return Resources(t.vcpus * 1000 - kube_reserved_cpu_m(t.vcpus),
                     t.memory_gib * 1024 - kube_reserved_memory_mi(t.max_pods) - EVICTION_HARD_MEMORY_MI)


def cpu_m(quantity: str) -> int:
    """A Kubernetes CPU quantity ('500m', '2', '0.5') in millicores, rounded up."""
    if quantity.endswith("m"):
        return int(float(quantity[:-1]) + 0.999)
    return int(float(quantity) * 1000 + 0.999)


_MEMORY_UNITS = {"": 1 / 2**20, "Ki": 1 / 1024, "Mi": 1, "Gi": 1024}


def memory_mi(quantity: str) -> int:
    """A Kubernetes memory quantity ('512Mi', '1Gi', '1048576') in MiB, rounded up."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi)?", quantity)
    if match is None:
        raise ValueError(f"not a memory quantity this check reads: {quantity!r}")
    value = float(match.group(1)) * _MEMORY_UNITS[match.group(2) or ""]
    return int(value + 0.999)


@dataclass(frozen=True)
class CapacityReport:
    """The numbers of one environment's check (shown in errors and in docs/gitops.md)."""

    instance_type: str
    node_max: int
    per_node: Resources
    """Allocatable of one node after its DaemonSet pods."""
    demand: Resources
    pods: tuple[PodSet, ...]
    unplaced: tuple[str, ...]
    """Pods first-fit-decreasing could not place on `node_max` nodes (empty when everything fits)."""

    @property
    def capacity(self) -> Resources:
        return self.per_node.times(self.node_max)

    def summary(self) -> str:
        return (f"{self.node_max} x {self.instance_type} offer {self.capacity} to pods after DaemonSets "
                f"({self.per_node} per node); the peak asks {self.demand}")


def check(instance_types: Sequence[str], node_max: int, per_node_pods: Sequence[PodSet],
          pods: Sequence[PodSet]) -> CapacityReport:
    """Place every pod of `pods` on `node_max` nodes of the smallest listed type (the autoscaler may get any of
    them), first-fit-decreasing by CPU then memory: a packing that fits means the scheduler can fit it too."""
    smallest = min(instance_types, key=allocatable)
    per_node = allocatable(smallest) - sum((p.total for p in per_node_pods), NOTHING)
    free = [per_node] * node_max
    unplaced = []
    for pod_set, request in sorted(((s, s.each) for s in pods for _ in range(s.count)),
                                   key=lambda item: item[1], reverse=True):
        slot = next((i for i, room in enumerate(free) if request.fits_in(room)), None)
        if slot is None:
            unplaced.append(pod_set.name)
        else:
            free[slot] = free[slot] - request
    return CapacityReport(smallest, node_max, per_node, sum((p.total for p in pods), NOTHING), tuple(pods),
                          tuple(unplaced))


def capacity_problems(report: CapacityReport) -> list[str]:
    if not report.unplaced:
        return []
    counts = {name: report.unplaced.count(name) for name in dict.fromkeys(report.unplaced)}
    left = ", ".join(f"{n} x {name}" for name, n in counts.items())
    return [f"cluster.eks cannot hold this environment's peak: {report.summary()}; left Pending: {left}. Raise "
            "cluster.eks.nodeMax or use larger nodeInstanceTypes, or lower maxReplicas / resources"]
