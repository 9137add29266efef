"""The parliament findings on the program's policy documents that are accepted, and why.

The parliament test (tests/policies/test_policy_integration.py) fails on any finding that no entry matches,
and on any entry that matches nothing, so this list and the program cannot drift apart; the docs generator
(policies/tools/docs.py) shows each entry with its reason. A developer tool: the pack never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AcceptedFinding:
    """A parliament finding on the program's policy documents that is accepted, and why.

    The parliament test (tests/policies/test_policy_integration.py) fails on any finding that no entry
    matches, and on any entry that matches nothing, so this list and the program cannot drift apart.
    """

    issue: str
    documents: str  # which documents, in words (shown in the docs)
    resource_types: tuple[str, ...]
    properties: tuple[str, ...]
    reason: str
    resource_names: tuple[str, ...] = ()  # empty: any resource of the types
    detail_contains: tuple[str, ...] = ()  # the finding's detail must contain one of these (empty: any)


ACCEPTED_PARLIAMENT_FINDINGS = (
    AcceptedFinding(
        issue="MALFORMED",
        documents="role trust policies (assumeRolePolicy) and ECR repository policies",
        resource_types=("aws:iam/role:Role", "aws:ecr/repositoryPolicy:RepositoryPolicy"),
        properties=("assumeRolePolicy", "policy"),
        detail_contains=("neither Resource nor NotResource",),
        reason=(
            "parliament reads every document as an identity policy, which needs a Resource element. A trust "
            "policy and an ECR repository policy are attached to the resource they govern and have no "
            "Resource "
            "element by AWS's design (IAM rejects one in a trust policy). parliament stops at this finding, "
            "so "
            "for these documents it only checks principals; the pack's iam-github-oidc-trust-pinned rule "
            "checks the trust conditions."
        ),
    ),
    AcceptedFinding(
        issue="UNKNOWN_FEDERATION_SOURCE",
        documents="trust policies of the GitHub Actions CI roles",
        resource_types=("aws:iam/role:Role",),
        properties=("assumeRolePolicy",),
        detail_contains=(":oidc-provider/", ":open-id-connect-provider/"),
        reason=(
            "parliament 1.6.4 knows SAML providers and four public web identity providers only; an IAM OIDC "
            "provider (here GitHub's token.actions.githubusercontent.com) is a valid federated principal "
            "that "
            "it does not recognise. The trust's aud and sub pinning is checked by "
            "iam-github-oidc-trust-pinned."
        ),
    ),
    AcceptedFinding(
        issue="RESOURCE_STAR",
        documents="KMS key policies",
        resource_types=("aws:kms/key:Key", "aws:kms/keyPolicy:KeyPolicy"),
        properties=("policy",),
        reason=(
            "In a key policy, Resource '*' means the key the policy is attached to; AWS requires exactly "
            "that "
            "form. Who may use the key is limited by the statements' principals and conditions."
        ),
    ),
    AcceptedFinding(
        issue="RESOURCE_POLICY_PRIVILEGE_ESCALATION",
        documents="the inline policy of the CI deploy role (ci-deploy)",
        resource_types=("aws:iam/rolePolicy:RolePolicy",),
        properties=("policy",),
        resource_names=("ci-deploy",),
        reason=(
            "The deploy role runs `pulumi up`, which owns the stack's bucket policies and lifecycle rules, so "
            "it must be allowed s3:PutBucketPolicy and s3:PutLifecycleConfiguration on the stack's buckets "
            "(`<project>-<stack>-*`) without object access; parliament notes that a policy writer could grant "
            "itself object access. The role is assumable only by the pinned repository's workflows running in "
            "the GitHub environment of the same name (required reviewers), and every policy it writes is the "
            "one in Git, judged by this pack (s3-tls-only) before it is applied."
        ),
    ),
)
