"""ECR policies that open images to everyone: repository, registry and creation-template policies, and
repositories in the ECR Public gallery.

A statement is public when it allows a principal that is everyone (`"*"`, `{"AWS": "*"}`, an account wildcard,
NotPrincipal; iam_model.Statement.public_principal) without a condition that limits the caller to named
accounts, ARNs, an organization or a VPC endpoint (callers.restricts_callers: a wildcard value names no one).
Every action counts: public pull leaks a model server's image and its baked-in model, public push replaces it.
"""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .callers import CALLER_ACCOUNT_KEYS, CALLER_ARN_KEYS, CALLER_NETWORK_KEYS, CALLER_ORG_KEYS, restricts_callers
from .iam_model import statements
from .values import has_unknown, parse_json_document

POLICY_FIELDS = {
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
    "aws:ecr/registryPolicy:RegistryPolicy": "policy",
    "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate": "repositoryPolicy",
    "aws:ecrpublic/repositoryPolicy:RepositoryPolicy": "policy",
}
"""Every provider type that carries an ECR resource policy, and the property that holds it."""
PUBLIC_GALLERY = "aws:ecrpublic/repository:Repository"

CALLER_KEYS = (*CALLER_ACCOUNT_KEYS, *CALLER_ARN_KEYS, *CALLER_ORG_KEYS, *CALLER_NETWORK_KEYS)
"""Condition keys that can limit a statement with Principal '*' to known callers (the same set as S3's)."""


def _public(resource: ResourceView) -> Iterator[str]:
    if resource.type == PUBLIC_GALLERY:
        yield (
            f"'{resource.name}' is a repository in the ECR Public gallery: anyone can pull its images "
            "(use a private aws.ecr.Repository)"
        )
        return
    field = POLICY_FIELDS[resource.type]
    try:
        document = parse_json_document(resource.props.get(field))
    except ValueError:
        yield f"'{resource.name}': {field} is not JSON, so what it allows cannot be judged"
        return
    if document is None or has_unknown(document):
        return
    for statement in statements(document):
        if statement.allows and statement.public_principal() and not restricts_callers(statement, CALLER_KEYS):
            actions = ", ".join(statement.actions or ()) or f"NotAction {list(statement.not_actions or ())}"
            yield (
                f"'{resource.name}' {field} {statement.label} allows everyone ({actions}) without a condition "
                "pinning the caller's account, organization or source"
            )


RULES = [
    resource_rule(
        name="ecr-policy-not-public",
        description="No ECR repository, registry or creation-template policy, and no ECR Public repository, lets "
        "everyone pull or push images.",
        rationale=(
            "Model-server and training images carry code, dependencies and sometimes model weights: public "
            "pull leaks them and public push lets anyone replace what the next deployment runs."
        ),
        severity=Severity.CRITICAL,
        remediation=(
            "Name the accounts (or roles) that may pull in Principal, or keep Principal '*' only with a "
            "condition such as StringEquals aws:PrincipalOrgID; use private repositories."
        ),
        resource_types=[*POLICY_FIELDS, PUBLIC_GALLERY],
        check=_public,
        tags=["ecr", "supply-chain", "access-control"],
    ),
]
