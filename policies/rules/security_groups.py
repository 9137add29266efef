"""Security group ingress open to the internet, wherever the ingress is declared.

Ingress reaches a security group four ways in the AWS provider: inline `ingress` blocks of
`aws.ec2.SecurityGroup` and `aws.ec2.DefaultSecurityGroup` (cidrBlocks, ipv6CidrBlocks), a separate
`aws.ec2.SecurityGroupRule` with type `ingress` (cidrBlocks, ipv6CidrBlocks), and
`aws.vpc.SecurityGroupIngressRule` (cidrIpv4, cidrIpv6). A CIDR is judged by the addresses it admits, not by
its spelling: `0.0.0.0/0`, `::/0`, `0::0/0` or `8.0.0.0/5` all admit a large part of the internet. Private and
reserved ranges (RFC 1918, ULA, link-local: Python's `ipaddress.is_private`) are not the internet; a public range
narrower than the knobs' prefix (a partner's /24, say) is a deliberate, reviewable choice and is allowed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .knobs import int_knob
from .values import as_list, dig, is_unknown, iter_strings, number

INLINE_TYPES = ("aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
RULE_TYPE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE_TYPE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def public_cidr(cidr: str, min_prefix_v4: int, min_prefix_v6: int) -> bool:
    """Whether the CIDR admits public addresses and is wider than the allowed prefix (False for non-CIDRs)."""
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return False  # not a CIDR: AWS refuses it, there is nothing open to judge
    if network.is_private or network.is_link_local or network.is_loopback:
        return False
    limit = min_prefix_v4 if network.version == 4 else min_prefix_v6
    return network.prefixlen < limit


def _ports(protocol: Any, from_port: Any, to_port: Any) -> str:
    if isinstance(protocol, str) and protocol.strip().lower() in ("-1", "all"):
        return "all ports"
    low, high = number(from_port), number(to_port)
    if low is None or high is None:
        return "some ports"
    return f"port {int(low)}" if low == high else f"ports {int(low)}-{int(high)}"


def _open(cidrs: Any, resource: ResourceView) -> list[str]:
    config = resource.config
    return [c for c in iter_strings(as_list(cidrs))
            if public_cidr(c, config["minPublicPrefixIpv4"], config["minPublicPrefixIpv6"])]


def _ingress(resource: ResourceView) -> Iterator[str]:
    props = resource.props
    entries: list[tuple[str, Any, Any, Any, list[Any]]] = []
    if resource.type in INLINE_TYPES:
        blocks = props.get("ingress")
        if is_unknown(blocks):
            return
        for index, block in enumerate(as_list(blocks)):
            entries.append((f"ingress[{index}]", dig(block, "protocol"), dig(block, "fromPort"), dig(block, "toPort"),
                            [dig(block, "cidrBlocks"), dig(block, "ipv6CidrBlocks")]))
    elif resource.type == RULE_TYPE:
        if props.get("type") != "ingress":
            return
        entries.append(("rule", props.get("protocol"), props.get("fromPort"), props.get("toPort"),
                        [props.get("cidrBlocks"), props.get("ipv6CidrBlocks")]))
    else:
        entries.append(("rule", props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"),
                        [props.get("cidrIpv4"), props.get("cidrIpv6")]))
    for where, protocol, low, high, cidr_lists in entries:
        opened = [c for cidrs in cidr_lists for c in _open(cidrs, resource)]
        if opened:
            yield (
                f"security group {where} of '{resource.name}' admits {', '.join(opened)} (the internet) on "
                f"{_ports(protocol, low, high)}"
            )


RULES = [
    resource_rule(
        name="ec2-no-public-ingress",
        description="No security group ingress from the internet (0.0.0.0/0, ::/0 or any wide public range).",
        rationale=(
            "Training, serving and cluster nodes are reached through load balancers, VPC endpoints or the "
            "cluster's ingress; a security group open to the internet exposes whatever listens behind it to "
            "every scanner."
        ),
        severity=Severity.CRITICAL,
        remediation=(
            "Allow ingress from the load balancer's or the VPC's security group (source_security_group_id / "
            "referenced_security_group_id) or from private CIDRs, never from 0.0.0.0/0 or ::/0."
        ),
        resource_types=[*INLINE_TYPES, RULE_TYPE, INGRESS_RULE_TYPE],
        check=_ingress,
        knobs={
            "minPublicPrefixIpv4": int_knob(
                "Narrowest IPv4 prefix length still judged as 'the internet' when public (/16 admits 65,536 "
                "public addresses).", 16, 0, 32),
            "minPublicPrefixIpv6": int_knob("As minPublicPrefixIpv4, for IPv6.", 48, 0, 128),
        },
        tags=["network", "ec2"],
    ),
]
