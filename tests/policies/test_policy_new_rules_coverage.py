"""The new rules read every provider type that carries what they judge, derived from the installed pulumi-aws SDK
(as policies/tools/gen_taggable.py derives taggable types): a provider upgrade that adds such a type fails here
until the rule reads it."""

from __future__ import annotations

import functools
import re
from importlib import util
from pathlib import Path

import pytest

from policies.rules import ecr_policy, iam_boundary, s3_replication, sagemaker_access, security_groups

SDK = Path(util.find_spec("pulumi_aws").origin).parent
_TOKEN = re.compile(r"super\((\w+), __self__\).__init__\(\s*'(aws:[^']+)'")


@functools.cache
def _inputs_by_type() -> dict[str, frozenset[str]]:
    """Every resource type of the SDK with the property getters of its Args class (its inputs)."""
    found: dict[str, frozenset[str]] = {}
    for path in sorted(SDK.rglob("*.py")):
        if path.name.startswith(("_", "get_")) or path.name in ("outputs.py", "provider.py"):
            continue
        source = path.read_text(encoding="utf-8")
        for class_name, token in _TOKEN.findall(source):
            body = re.search(rf"^class {re.escape(class_name)}Args:\n(.*?)(?=^\S)", source, re.DOTALL | re.MULTILINE)
            if body:
                found[token] = frozenset(re.findall(r"^    def (\w+)\(self\)", body.group(1), re.MULTILINE))
    return found


def _types_with(*getters: str) -> set[str]:
    """Resource types whose inputs include any of the given properties (snake_case)."""
    return {t for t, inputs in _inputs_by_type().items() if inputs & set(getters)}


def test_every_type_with_a_permissions_boundary_is_read() -> None:
    read = {*iam_boundary.PRINCIPAL_TYPES, iam_boundary.SSO_BOUNDARY}
    assert _types_with("permissions_boundary") <= read


NOT_ACCESS_POLICIES = {"aws:ecr/lifecyclePolicy:LifecyclePolicy": "an image expiry policy, not an access policy"}


def test_every_type_that_carries_an_ecr_policy_is_read() -> None:
    carriers = {t for t in _types_with("policy", "repository_policy") if t.startswith(("aws:ecr/", "aws:ecrpublic/"))}
    assert carriers and carriers - set(NOT_ACCESS_POLICIES) <= set(ecr_policy.POLICY_FIELDS)


def test_every_type_with_replication_is_read() -> None:
    carriers = {t for t in _types_with("replication_configuration", "replication_configurations")
                if t.startswith("aws:s3/")}
    carriers |= {t for t in _types_with("rules") if t.startswith("aws:s3/") and "eplication" in t}
    read = {s3_replication.REPLICATION_CONFIG, *s3_replication.BUCKET_TYPES}
    assert carriers and carriers <= read


def test_every_notebook_and_domain_network_setting_is_read() -> None:
    carriers = {t for t in _types_with("direct_internet_access", "root_access", "app_network_access_type")
                if t.startswith("aws:sagemaker/")}
    assert carriers and carriers <= {sagemaker_access.NOTEBOOK, sagemaker_access.DOMAIN}


# Security-group types that carry no ingress from addresses: egress only, or a group-to-group association.
NOT_INGRESS = {
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "egress only",
    "aws:vpc/securityGroupVpcAssociation:SecurityGroupVpcAssociation": "associates a group with a VPC",
    "aws:ec2/securityGroupAssociation:SecurityGroupAssociation": "associates a group with a VPC endpoint",
    "aws:ec2/networkInterfaceSecurityGroupAttachment:NetworkInterfaceSecurityGroupAttachment": "attaches a group",
    "aws:ec2/vpcSecurityGroupRulesExclusive:VpcSecurityGroupRulesExclusive": "lists rule ids; each rule is judged",
}


def test_every_security_group_type_with_ingress_is_read() -> None:
    groups = {t for t in _types_with("ingress", "cidr_ipv4", "cidr_blocks", "security_group_id", "vpc_id")
              if re.match(r"aws:(ec2|vpc)/\w*[sS]ecurityGroup\w*:", t)}
    read = {*security_groups.INLINE_TYPES, security_groups.RULE_TYPE, security_groups.INGRESS_RULE_TYPE}
    unread = sorted(groups - read - set(NOT_INGRESS))
    assert groups and unread == []


@pytest.mark.parametrize("typ", sorted(NOT_INGRESS))
def test_the_types_left_out_really_carry_no_address_ingress(typ: str) -> None:
    assert typ not in _types_with("ingress", "cidr_ipv4", "cidr_blocks") or "egress" in NOT_INGRESS[typ]
