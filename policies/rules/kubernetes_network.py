"""Kubernetes Services that expose workloads outside the cluster's network without saying so.

A Service of type LoadBalancer gets a cloud load balancer, and whether it faces the internet depends on which
controller reconciles it and on its version: the in-tree AWS cloud provider makes internet-facing ones by
default, the AWS Load Balancer Controller internal ones since v2.2
(https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/nlb/ "Secure by default";
https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/annotations/:
`aws-load-balancer-scheme` default `internal`, `aws-load-balancer-internal` deprecated in its favour). So the
rule asks for the scheme to be explicit: one of `internalAnnotations` with its internal value. A NodePort
Service opens a port on every node, which no annotation restricts; it is allowed only where `allowNodePort`
says so.
"""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .knobs import bool_knob
from .values import dig, is_unknown

SERVICE_TYPES = ("kubernetes:core/v1:Service", "kubernetes:core/v1:ServicePatch")
DEFAULT_INTERNAL_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
}


def _explicitly_internal(annotations: object, internal: dict[str, str]) -> bool | None:
    if is_unknown(annotations):
        return None
    if not isinstance(annotations, dict):
        return False
    for key, value in internal.items():
        actual = annotations.get(key)
        if is_unknown(actual):
            return None
        if isinstance(actual, str) and actual.strip().lower() == value.lower():
            return True
    return False


def _exposure(resource: ResourceView) -> Iterator[str]:
    kind = dig(resource.props, "spec", "type")
    if is_unknown(kind) or kind not in ("LoadBalancer", "NodePort"):
        return
    name = resource.name
    if kind == "NodePort":
        if not resource.config["allowNodePort"]:
            yield f"Service '{name}' is of type NodePort: it opens a port on every node of the cluster"
        return
    internal = resource.config["internalAnnotations"]
    verdict = _explicitly_internal(dig(resource.props, "metadata", "annotations"), internal)
    if verdict is False:
        wanted = " or ".join(f"{k}: {v!r}" for k, v in internal.items())
        yield (
            f"Service '{name}' is of type LoadBalancer without saying it is internal ({wanted}); depending on the "
            "controller it gets an internet-facing load balancer"
        )


RULES = [
    resource_rule(
        name="k8s-service-not-exposed",
        description=(
            "No Service of type LoadBalancer unless it is explicitly internal, and no NodePort Service unless "
            "the environment allows it."
        ),
        rationale=(
            "A model server is reached through the cluster's ingress or from inside the VPC; a Service that "
            "silently gets an internet-facing load balancer, or a port on every node, bypasses the ingress's "
            "TLS and authentication."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Use type ClusterIP behind the ingress, or annotate the LoadBalancer Service with "
            "service.beta.kubernetes.io/aws-load-balancer-scheme: internal."
        ),
        resource_types=SERVICE_TYPES,
        check=_exposure,
        knobs={
            "allowNodePort": bool_knob("Allow Services of type NodePort.", False),
            "internalAnnotations": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "default": DEFAULT_INTERNAL_ANNOTATIONS,
                "description": "Annotations (name: value) any one of which marks a LoadBalancer Service internal.",
            },
        },
        tags=["kubernetes", "network"],
    ),
]
