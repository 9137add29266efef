"""The AWS rules added for what trusted baselines cover, both ways: security group ingress, SageMaker notebooks,
domains and models, public ECR policies, S3 replication out of the stack, permissions boundaries."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from policy_factory import ACCOUNT, UNKNOWN, PlanBuilder, of, policy_json, run

from policies.rules.security_groups import public_cidr

SG = "ec2-no-public-ingress"


def sg_violations(type_: str, inputs: dict[str, Any], env: str = "prod") -> list[str]:
    b = PlanBuilder(stack=env)
    b.add(type_, "web", inputs)
    return [v.message for v in of(run(b.plan(), env), SG)]


WORLD_SPELLINGS = ["0.0.0.0/0", "::/0", "0::0/0", "0.0.0.0/1", "128.0.0.0/1", "8.0.0.0/5", " 0.0.0.0/0 ",
                   "1.2.3.4/0", "2000::/3"]
PRIVATE = ["10.0.0.0/8", "10.20.0.0/16", "172.16.0.0/12", "192.168.1.0/24", "fd00::/8", "203.0.113.7/32"]


@pytest.mark.parametrize("cidr", WORLD_SPELLINGS)
@pytest.mark.parametrize("shape", ["inline", "default-group", "rule", "vpc-ingress-rule"])
def test_ingress_from_the_internet_is_refused_however_it_is_declared(cidr: str, shape: str) -> None:
    v6 = ":" in cidr
    block = {"protocol": "tcp", "fromPort": 443, "toPort": 443,
             "ipv6CidrBlocks" if v6 else "cidrBlocks": [cidr]}
    type_, inputs = {
        "inline": ("aws:ec2/securityGroup:SecurityGroup", {"ingress": [block]}),
        "default-group": ("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", {"ingress": [block]}),
        "rule": ("aws:ec2/securityGroupRule:SecurityGroupRule", {"type": "ingress", **block}),
        "vpc-ingress-rule": ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                             {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443,
                              "cidrIpv6" if v6 else "cidrIpv4": cidr}),
    }[shape]
    found = sg_violations(type_, inputs)
    assert len(found) == 1 and "port 443" in found[0]


@pytest.mark.parametrize("cidr", PRIVATE)
def test_private_and_narrow_sources_are_allowed(cidr: str) -> None:
    v6 = ":" in cidr
    block = {"protocol": "-1", "fromPort": 0, "toPort": 0, "ipv6CidrBlocks" if v6 else "cidrBlocks": [cidr]}
    assert sg_violations("aws:ec2/securityGroup:SecurityGroup", {"ingress": [block]}) == []


def test_egress_rules_and_unknown_blocks_are_not_ingress() -> None:
    assert sg_violations("aws:ec2/securityGroupRule:SecurityGroupRule",
                         {"type": "egress", "protocol": "-1", "fromPort": 0, "toPort": 0,
                          "cidrBlocks": ["0.0.0.0/0"]}) == []
    assert sg_violations("aws:ec2/securityGroup:SecurityGroup", {"ingress": UNKNOWN}) == []


@given(st.ip_addresses(v=4), st.integers(min_value=0, max_value=15))
def test_any_public_ipv4_range_wider_than_a_16_is_the_internet(address, prefix: int) -> None:
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    assert public_cidr(f"{address}/{prefix}", 16, 48) == (not network.is_private)


@given(st.integers(min_value=8, max_value=32), st.integers(min_value=0, max_value=2**24 - 1))
def test_no_subnet_of_10_slash_8_is_ever_the_internet(prefix: int, offset: int) -> None:
    address = ipaddress.ip_address(int(ipaddress.ip_address("10.0.0.0")) + offset)
    assert not public_cidr(f"{address}/{prefix}", 16, 48)


# --- SageMaker --------------------------------------------------------------------------------------------

NOTEBOOK_RULE, MODEL_RULE = "sagemaker-notebook-no-internet-or-root", "sagemaker-model-network-isolation"


def sm(type_: str, inputs: dict[str, Any], env: str, rule: str) -> list[Any]:
    b = PlanBuilder(stack=env)
    b.add(type_, "thing", inputs)
    return of(run(b.plan(), env), rule)


@pytest.mark.parametrize(("inputs", "problems"), [
    ({"directInternetAccess": "Disabled", "rootAccess": "Disabled", "subnetId": "subnet-1"}, []),
    ({}, ["direct internet access", "root"]),  # both default to Enabled
    ({"directInternetAccess": "Enabled", "rootAccess": "Disabled"}, ["direct internet access"]),
    ({"directInternetAccess": "disabled", "rootAccess": "Enabled"}, ["root"]),
])
def test_notebook_instances_need_internet_and_root_disabled(inputs: dict, problems: list[str]) -> None:
    found = sm("aws:sagemaker/notebookInstance:NotebookInstance", {"instanceType": "ml.t3.medium", **inputs},
               "prod", NOTEBOOK_RULE)
    assert len(found) == len(problems) and all(p in v.message for p, v in zip(problems, found, strict=True))


def test_a_notebook_in_dev_is_advisory_and_a_studio_domain_must_stay_in_the_vpc() -> None:
    assert [v.enforcement for v in sm("aws:sagemaker/notebookInstance:NotebookInstance", {}, "dev",
                                      NOTEBOOK_RULE)] == ["advisory", "advisory"]
    assert sm("aws:sagemaker/domain:Domain", {"appNetworkAccessType": "VpcOnly"}, "prod", NOTEBOOK_RULE) == []
    assert len(sm("aws:sagemaker/domain:Domain", {}, "prod", NOTEBOOK_RULE)) == 1


@pytest.mark.parametrize(("env", "isolation", "expected"), [
    ("prod", True, []), ("prod", False, ["mandatory"]), ("prod", None, ["mandatory"]),
    ("staging", False, ["advisory"]), ("dev", None, ["advisory"]), ("prod", UNKNOWN, []),
])
def test_models_need_network_isolation_in_prod(env: str, isolation: Any, expected: list[str]) -> None:
    inputs = {} if isolation is None else {"enableNetworkIsolation": isolation}
    assert [v.enforcement for v in sm("aws:sagemaker/model:Model", inputs, env, MODEL_RULE)] == expected


# --- ECR --------------------------------------------------------------------------------------------------

ECR = "ecr-policy-not-public"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


@pytest.mark.parametrize(("principal", "condition", "public"), [
    ("*", None, True),
    ({"AWS": "*"}, None, True),
    ({"AWS": ["arn:aws:iam::*:root"]}, None, True),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, None, False),
    ("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}, False),
    ("*", {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}}, True),  # a negation pins nothing
    ("*", {"StringLike": {"aws:PrincipalAccount": "*"}}, True),  # a wildcard value names no one
    ("*", {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}}, False),  # roles of one account
])
@pytest.mark.parametrize(("type_", "field"), [
    ("aws:ecr/repositoryPolicy:RepositoryPolicy", "policy"),
    ("aws:ecr/registryPolicy:RegistryPolicy", "policy"),
    ("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate", "repositoryPolicy"),
    ("aws:ecrpublic/repositoryPolicy:RepositoryPolicy", "policy"),
])
def test_ecr_policies_that_let_everyone_in_are_refused(type_: str, field: str, principal: Any,
                                                       condition: dict | None, public: bool) -> None:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": PULL}
    if condition:
        statement["Condition"] = condition
    b = PlanBuilder()
    b.add(type_, "repo", {field: policy_json(statement)})
    assert bool(of(run(b.plan()), ECR)) == public


def test_a_repository_in_the_public_gallery_is_public_by_nature() -> None:
    b = PlanBuilder()
    b.add("aws:ecrpublic/repository:Repository", "gallery", {"repositoryName": "model-server"})
    assert len(of(run(b.plan()), ECR)) == 1


# --- S3 replication ---------------------------------------------------------------------------------------

REPLICATION = "s3-replication-in-stack-accounts"


def replication(destination: dict[str, Any], *, own_bucket: bool = False, allowed: list[str] | None = None,
                unknown_target_from_stack: bool = False) -> list[Any]:
    b = PlanBuilder()
    if allowed is not None:
        b.resources[0] = b.replace(b.provider, inputs={**b.provider.inputs,
                                                       "allowedAccountIds": json.dumps(allowed)})
    source = b.add("aws:s3/bucket:Bucket", "data", {"bucket": "mlops-data-prod"})
    replica = b.add("aws:s3/bucket:Bucket", "replica", {"bucket": "mlops-replica-prod"}) if own_bucket else None
    deps = {"rules": [replica]} if unknown_target_from_stack and replica else None
    b.add("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "data-replication",
          {"bucket": "mlops-data-prod", "role": "arn:aws:iam::444444444444:role/r",
           "rules": [{"id": "all", "status": "Enabled", "destination": destination}]},
          deps={"bucket": [source], **(deps or {})})
    return of(run(b.plan()), REPLICATION)


def test_replication_to_the_stacks_own_bucket_or_pinned_account_passes() -> None:
    assert replication({"bucket": "arn:aws:s3:::mlops-replica-prod"}, own_bucket=True) == []
    assert replication({"bucket": UNKNOWN}, own_bucket=True, unknown_target_from_stack=True) == []
    assert replication({"bucket": "arn:aws:s3:::dr-copy", "account": "555555555555"},
                       allowed=["444444444444", "555555555555"]) == []


@pytest.mark.parametrize("destination", [
    {"bucket": "arn:aws:s3:::someone-elses-bucket"},  # not declared, owner not pinned
    {"bucket": "arn:aws:s3:::dr-copy", "account": "999999999999"},  # a foreign account
    {"bucket": UNKNOWN},  # computed from nothing in this stack
])
def test_replication_out_of_the_stack_is_refused(destination: dict[str, Any]) -> None:
    assert len(replication(destination, allowed=["444444444444"])) == 1


def test_inline_replication_of_bucket_v2_is_read_too() -> None:
    b = PlanBuilder()
    b.add("aws:s3/bucketV2:BucketV2", "data", {"bucket": "mlops-data-prod", "replicationConfigurations": [
        {"role": "r", "rules": [{"status": "Enabled", "destinations": [
            {"bucket": "arn:aws:s3:::elsewhere", "accountId": "999999999999"}]}]}]})
    assert "999999999999" in of(run(b.plan()), REPLICATION)[0].message


# --- permissions boundaries -------------------------------------------------------------------------------

BOUNDARY = "iam-permissions-boundary-bounded"
ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


def bounded(document: dict[str, Any] | None, managed: str | None = None, *, by_dependency: bool = False,
            sso: bool = False) -> list[Any]:
    b = PlanBuilder()
    policy = None
    if document is not None:
        policy = b.add("aws:iam/policy:Policy", "boundary", {"name": "ci-boundary", "path": "/",
                                                             "policy": json.dumps(document)},
                       {"arn": f"arn:aws:iam::{ACCOUNT}:policy/ci-boundary"})
    arn = managed or (UNKNOWN if by_dependency else f"arn:aws:iam::{ACCOUNT}:policy/ci-boundary")
    if sso:
        reference = {"managedPolicyArn": managed} if managed else {
            "customerManagedPolicyReference": {"name": "ci-boundary", "path": "/"}}
        b.add("aws:ssoadmin/permissionsBoundaryAttachment:PermissionsBoundaryAttachment", "ps",
              {"instanceArn": "i", "permissionSetArn": "p", "permissionsBoundary": reference})
    else:
        b.add("aws:iam/role:Role", "deployer", {"assumeRolePolicy": policy_json(), "permissionsBoundary": arn},
              deps={"permissionsBoundary": [policy]} if by_dependency and policy else None)
    return of(run(b.plan()), BOUNDARY)


@pytest.mark.parametrize("document", [
    {"Version": "2012-10-17", "Statement": [ALLOW_ALL]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["*:*"], "Resource": ["arn:*:*:*:*:*"]}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": ["zz:none"], "NotResource": ["x"]}]},
])
@pytest.mark.parametrize("how", ["arn", "dependency", "sso"])
def test_a_boundary_that_allows_everything_is_refused(document: dict, how: str) -> None:
    found = bounded(document, by_dependency=how == "dependency", sso=how == "sso")
    assert len(found) == 1 and "bounds nothing" in found[0].message


@pytest.mark.parametrize("document", [
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sagemaker:*"], "Resource": "*"}]},
    {"Version": "2012-10-17", "Statement": [ALLOW_ALL, {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]},
    {"Version": "2012-10-17", "Statement": [{**ALLOW_ALL, "Condition": {
        "StringEquals": {"aws:RequestedRegion": "eu-west-1"}}}]},
])
def test_a_boundary_that_bounds_something_passes(document: dict) -> None:
    assert bounded(document) == []


def test_administrator_access_as_a_boundary_is_refused_for_roles_and_permission_sets() -> None:
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    assert len(bounded(None, admin)) == 1 and len(bounded(None, admin, sso=True)) == 1
    assert bounded(None, "arn:aws:iam::aws:policy/ReadOnlyAccess") == []
    assert bounded(None, "arn:aws:iam::aws:policy/PowerUserAccess") == []  # excludes IAM: it bounds something
