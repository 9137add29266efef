"""GitHubOidcProvider and CiRoles, each declared alone with hand-made args."""

from __future__ import annotations

import pytest
from declare import ACCOUNT, NAMING, PARTITION, REGION, declare
from planned import one, policy_of

from infra.components.ci_roles import CiRoles, CiRolesArgs
from infra.components.github_oidc import GitHubOidcProvider
from infra.plan.model import PlanResult

PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
REPOSITORY = "acme/ml-platform"


def test_oidc_provider_trusts_github_tokens_for_the_sts_audience_only() -> None:
    plan = declare(lambda: GitHubOidcProvider("github"))
    provider = one(plan, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert provider.outputs["arn"] == PROVIDER_ARN


def declare_ci_roles(kind: str = "environment") -> PlanResult:
    return declare(lambda: CiRoles("ci", CiRolesArgs(naming=NAMING, oidc_provider_arn=PROVIDER_ARN,
                                                     repository=REPOSITORY, environment="staging",
                                                     account_id=ACCOUNT, region=REGION, partition=PARTITION,
                                                     dns_suffix="amazonaws.com", kind=kind,
                                                     manages_oidc_provider=False)))


@pytest.fixture(scope="module")
def ci_plan() -> PlanResult:
    return declare_ci_roles()


@pytest.mark.parametrize(("kind", "role", "name", "subject", "session"), [
    ("environment", "ci-preview", "mlops-test-ci-preview", "repo:acme/ml-platform:pull_request", 3600),
    ("environment", "ci-deploy", "mlops-test-ci-deploy", "repo:acme/ml-platform:environment:staging", 3 * 3600),
    ("shared", "ci-release", "mlops-test-ci-release", "repo:acme/ml-platform:environment:staging-release", 5 * 3600),
])
def test_each_ci_role_trusts_exactly_one_github_subject(ci_plan: PlanResult, kind: str, role: str, name: str,
                                                        subject: str, session: int) -> None:
    plan = ci_plan if kind == "environment" else declare_ci_roles("shared")
    resource = one(plan, "aws:iam/role:Role", role)
    assert resource.inputs["name"] == name
    assert resource.inputs["maxSessionDuration"] == session
    (statement,) = policy_of(resource, "assumeRolePolicy")["Statement"]
    assert statement == {
        "Sid": "GitHubActionsOidc", "Effect": "Allow", "Principal": {"Federated": PROVIDER_ARN},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                       "token.actions.githubusercontent.com:sub": subject}},
    }


def test_preview_role_reads_metadata_but_is_denied_data_reads(ci_plan: PlanResult) -> None:
    attachment = one(ci_plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ci-preview")
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    (deny,) = policy_of(one(ci_plan, "aws:iam/rolePolicy:RolePolicy", "ci-preview"))["Statement"]
    assert deny["Effect"] == "Deny" and deny["Resource"] == "*"
    assert {"s3:GetObject", "secretsmanager:GetSecretValue", "sagemaker:InvokeEndpoint"} <= set(deny["Action"])


def test_deploy_role_passes_and_manages_only_this_stacks_roles(ci_plan: PlanResult) -> None:
    statements = policy_of(one(ci_plan, "aws:iam/rolePolicy:RolePolicy", "ci-deploy"))["Statement"]
    assert all(s["Effect"] == "Allow" for s in statements)
    assert all(a != "*" and not a.endswith(":*") for s in statements for a in s["Action"])
    pass_role = [s for s in statements if "iam:PassRole" in s["Action"]]
    assert [s["Resource"] for s in pass_role] == [[f"arn:aws:iam::{ACCOUNT}:role/mlops-test-*"]]
    assert not any("s3:GetObject" in s["Action"] for s in statements)


def test_only_the_shared_stack_has_a_release_role(ci_plan: PlanResult) -> None:
    assert sorted(r.name for r in ci_plan.resources if r.type == "aws:iam/role:Role") == ["ci-deploy", "ci-preview"]
    shared = declare_ci_roles("shared")
    assert sorted(r.name for r in shared.resources if r.type == "aws:iam/role:Role") == [
        "ci-deploy", "ci-preview", "ci-release"]


def test_deploy_role_manages_buckets_only_where_the_stack_declares_them(ci_plan: PlanResult) -> None:
    """An environment's deploy role gets no bucket rights; the shared stack's gets them on its own names only."""
    environment = {s["Sid"]: s for s in policy_of(one(ci_plan, "aws:iam/rolePolicy:RolePolicy", "ci-deploy"))[
        "Statement"]}
    assert "ManageStackBuckets" not in environment
    shared_plan = declare_ci_roles("shared")
    shared = {s["Sid"]: s for s in policy_of(one(shared_plan, "aws:iam/rolePolicy:RolePolicy", "ci-deploy"))[
        "Statement"]}
    assert shared["ManageStackBuckets"]["Resource"] == ["arn:aws:s3:::mlops-test-*"]
    assert shared["ManageKeysTaggedForThisStack"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/pulumi-stack": "test"}}
