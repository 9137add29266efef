"""Whether the workflows this repository ships can reach the API server of the cluster a stack declares.

Every cluster-side job (`pulumi preview`/`pulumi up` of an environment stack, which talk to the API server through
the Kubernetes provider, and `infra.release verify`, which reads Argo CD's Applications with kubectl) runs on the
runner the stack names in `cluster.ciRunner`. Pure, so config validation refuses an unreachable combination with
the keys that make it so, and the tests can try every combination:

| runner `location` | `endpointAccess: private` | `public-restricted` (private access on too) |
| --- | --- | --- |
| `github-hosted` (changing public addresses) | unreachable | unreachable (no fixed address to allow) |
| `vpc` (a runner inside the cluster's VPC) | reachable | reachable (inside the VPC, private access) |
| `fixed-egress` (leaves from `egressCidrs`) | unreachable | reachable iff each egress CIDR is in publicEndpointCidrs |

EKS: with private access enabled, "Kubernetes API requests within your cluster's VPC ... use the private VPC
endpoint"; the public endpoint admits only `publicAccessCidrs`
(https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Literal

EndpointAccess = Literal["private", "public-restricted"]
RunnerLocation = Literal["github-hosted", "vpc", "fixed-egress"]

GITHUB_HOSTED_LABEL = re.compile(r"^(ubuntu|windows|macos)-(latest|\d[\w.-]*)$")
"""The labels of GitHub's standard hosted runner images (ubuntu-24.04, windows-2025, macos-15, ...-latest)."""


def is_github_hosted_label(label: str) -> bool:
    return bool(GITHUB_HOSTED_LABEL.match(label))


def covered(inner: str, outer: Sequence[str]) -> bool:
    """Whether the CIDR `inner` lies inside one of the CIDRs `outer`."""
    network = ipaddress.ip_network(inner, strict=False)
    return any(network.subnet_of(ipaddress.ip_network(o, strict=False)) for o in outer)


def runner_problems(labels: Sequence[str], location: RunnerLocation, egress_cidrs: Sequence[str]) -> list[str]:
    """Contradictions within `cluster.ciRunner` itself."""
    problems = []
    hosted = [label for label in labels if is_github_hosted_label(label)]
    if location == "github-hosted" and len(hosted) != len(labels):
        problems.append(f"cluster.ciRunner.location 'github-hosted' needs GitHub-hosted image labels (e.g. "
                        f"ubuntu-24.04), got {list(labels)}")
    if location != "github-hosted" and hosted:
        problems.append(f"cluster.ciRunner.labels {hosted} name GitHub's standard hosted runners, which run outside "
                        f"your VPC on changing addresses; cluster.ciRunner.location {location!r} needs the labels of "
                        "your own (self-hosted or larger) runner")
    if (location == "fixed-egress") != bool(egress_cidrs):
        problems.append("cluster.ciRunner.egressCidrs is required with location 'fixed-egress', and only there")
    return problems


def reachability_problems(endpoint_access: EndpointAccess, public_cidrs: Sequence[str], location: RunnerLocation,
                          egress_cidrs: Sequence[str]) -> list[str]:
    """Why the workflows' runner cannot reach this EKS API endpoint (empty when it can)."""
    if location == "vpc":
        return []
    if endpoint_access == "private":
        return [f"cluster.eks.endpointAccess is 'private', which only a runner inside the VPC reaches, but "
                f"cluster.ciRunner.location is {location!r}: the workflows' pulumi preview/up and infra.release verify "
                "could not reach the cluster; use location 'vpc' with your runner's labels, or endpointAccess "
                "'public-restricted' with publicEndpointCidrs covering the runner's egressCidrs"]
    if location == "github-hosted":
        return ["cluster.eks.endpointAccess 'public-restricted' admits only cluster.eks.publicEndpointCidrs, and "
                "cluster.ciRunner.location 'github-hosted' has no fixed address to admit: the workflows could not "
                "reach the cluster; use a runner with location 'fixed-egress' (egressCidrs) or 'vpc'"]
    outside = [c for c in egress_cidrs if not covered(c, public_cidrs)]
    if outside:
        return [f"cluster.ciRunner.egressCidrs {outside} are not inside cluster.eks.publicEndpointCidrs "
                f"{list(public_cidrs)}: the workflows' runner could not reach the public endpoint"]
    return []
