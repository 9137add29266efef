"""IAM rules: no admin wildcards, no PassRole on every role, GitHub OIDC trust pinned to the repository.

Policy documents arrive as JSON text (`policy`, `assumeRolePolicy`, `inlinePolicies[].policy`). A document
built from outputs of other resources is unknown during a real preview; it is then skipped (and checked
by the offline verdict, where the plan knows it, and on the `pulumi up` that creates it).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .knobs import strings_knob
from .values import as_list, has_unknown, is_unknown, iter_strings, parse_json_document

ROLE = "aws:iam/role:Role"
IDENTITY_POLICY_TYPES = (
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
GITHUB_ISSUER = "token.actions.githubusercontent.com"

_ROLE_WILDCARD = re.compile(r"^arn:aws[a-z-]*:iam::[^:]*:(role/(.*/)?)?\*$")


def identity_documents(resource: ResourceView) -> Iterator[tuple[str, Any]]:
    """(label, document) for each identity-based policy a resource carries; document may be UNKNOWN.

    Raises ValueError for a document that is not JSON.
    """
    if resource.type in IDENTITY_POLICY_TYPES:
        yield "policy", parse_json_document(resource.props.get("policy"))
    elif resource.type == ROLE:
        inline = resource.props.get("inlinePolicies")
        for index, item in enumerate(as_list(inline)):
            if is_unknown(item) or not isinstance(item, dict):
                continue
            name = item.get("name")
            label = f"inline policy '{name if isinstance(name, str) and name else index}'"
            yield label, parse_json_document(item.get("policy"))


def allow_statements(document: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    if not isinstance(document, dict):
        return
    for index, statement in enumerate(as_list(document.get("Statement"))):
        if isinstance(statement, dict) and statement.get("Effect") == "Allow":
            yield index, statement


def _label(index: int, statement: dict[str, Any]) -> str:
    sid = statement.get("Sid")
    return f"statement {sid!r}" if isinstance(sid, str) and sid else f"statement #{index + 1}"


def _documents(resource: ResourceView) -> Iterator[tuple[str, Any] | str]:
    try:
        for label, document in identity_documents(resource):
            if document is not None and not has_unknown(document):
                yield label, document
    except ValueError:
        yield f"{resource.type.split(':')[-1]} '{resource.name}' has a policy that is not valid JSON"


def _no_admin(resource: ResourceView) -> Iterator[str]:
    for item in _documents(resource):
        if isinstance(item, str):
            yield item
            continue
        label, document = item
        for index, statement in allow_statements(document):
            actions = list(iter_strings(statement.get("Action")))
            resources = list(iter_strings(statement.get("Resource")))
            if any(a in ("*", "*:*") for a in actions) and "*" in resources:
                yield (
                    f"'{resource.name}' {label}: {_label(index, statement)} allows every action ('*') on "
                    "every "
                    "resource ('*')"
                )


def _allows_pass_role(action: str) -> bool:
    return fnmatch.fnmatchcase("iam:passrole", action.lower())


def _no_pass_role_wildcard(resource: ResourceView) -> Iterator[str]:
    for item in _documents(resource):
        if isinstance(item, str):
            yield item
            continue
        label, document = item
        for index, statement in allow_statements(document):
            if not any(_allows_pass_role(a) for a in iter_strings(statement.get("Action"))):
                continue
            wide = [r for r in iter_strings(statement.get("Resource")) if r == "*" or _ROLE_WILDCARD.match(r)]
            if wide:
                yield (
                    f"'{resource.name}' {label}: {_label(index, statement)} allows iam:PassRole on "
                    f"{', '.join(repr(r) for r in wide)}; name the roles that may be passed"
                )


def _github_condition_values(statement: dict[str, Any], claim: str) -> tuple[list[str], list[str]]:
    """(operators, values) of the conditions on a GitHub OIDC claim, e.g. 'sub' or 'aud'."""
    operators, values = [], []
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return operators, values
    key = f"{GITHUB_ISSUER}:{claim}"
    for operator, block in condition.items():
        if isinstance(block, dict) and key in block:
            operators.append(operator)
            values.extend(str(v) for v in as_list(block[key]))
    return operators, values


def _is_github_trust(statement: dict[str, Any]) -> bool:
    actions = [a.lower() for a in iter_strings(statement.get("Action"))]
    if not any(fnmatch.fnmatchcase("sts:assumerolewithwebidentity", a) for a in actions):
        return False
    principal = statement.get("Principal")
    federated = principal.get("Federated") if isinstance(principal, dict) else None
    if any(GITHUB_ISSUER in f for f in iter_strings(federated)):
        return True
    condition = statement.get("Condition")
    return isinstance(condition, dict) and any(
        isinstance(block, dict) and any(str(k).startswith(GITHUB_ISSUER) for k in block)
        for block in condition.values()
    )


_SUBJECT = re.compile(r"^repo:(?P<owner>[^/:]+)/(?P<repo>[^/:]+):(?P<rest>.+)$")


def _subject_problem(subject: str, allowed: list[str]) -> str | None:
    match = _SUBJECT.match(subject)
    if not match:
        return f"subject {subject!r} does not name a repository (repo:<owner>/<repo>:...)"
    owner, repo = match["owner"], match["repo"]
    if any(c in owner + repo for c in "*?"):
        return f"subject {subject!r} has a wildcard in the owner or repository"
    if allowed and f"{owner}/{repo}".lower() not in {a.lower() for a in allowed}:
        return (
            f"subject {subject!r} names {owner}/{repo}, not the configured repository ({', '.join(allowed)})"
        )
    return None


def _github_oidc(resource: ResourceView) -> Iterator[str]:
    audience = resource.config["audience"]
    if resource.type == OIDC_PROVIDER:
        url = resource.props.get("url")
        if not isinstance(url, str) or GITHUB_ISSUER not in url:
            return
        clients = resource.props.get("clientIdLists")
        if is_unknown(clients) or has_unknown(clients):
            return
        if sorted(iter_strings(clients)) != [audience]:
            yield (
                f"OIDC provider '{resource.name}' for GitHub accepts audiences "
                f"{sorted(iter_strings(clients))}; "
                f"it must accept only {audience!r}"
            )
        return
    try:
        document = parse_json_document(resource.props.get("assumeRolePolicy"))
    except ValueError:
        yield f"role '{resource.name}' has an assumeRolePolicy that is not valid JSON"
        return
    if document is None or has_unknown(document):
        return
    allowed = list(resource.config["allowedRepositories"])
    for index, statement in allow_statements(document):
        if not _is_github_trust(statement):
            continue
        where = f"role '{resource.name}' trust {_label(index, statement)}"
        aud_operators, aud_values = _github_condition_values(statement, "aud")
        if not aud_values:
            yield f"{where} does not pin {GITHUB_ISSUER}:aud to {audience!r}"
        elif any(v != audience for v in aud_values) or not all(op == "StringEquals" for op in aud_operators):
            yield f"{where} must require StringEquals {GITHUB_ISSUER}:aud = {audience!r}; got {aud_values}"
        _, subjects = _github_condition_values(statement, "sub")
        if not subjects:
            yield f"{where} does not restrict {GITHUB_ISSUER}:sub, so any GitHub repository could assume it"
        for subject in subjects:
            problem = _subject_problem(subject, allowed)
            if problem:
                yield f"{where}: {problem}"


RULES = [
    resource_rule(
        name="iam-no-admin-wildcard",
        description="No IAM policy statement allows every action ('*') on every resource ('*').",
        rationale=(
            "'*' on '*' is full administrator access: one leaked credential or compromised workload would "
            "own the account."
        ),
        severity=Severity.CRITICAL,
        remediation=(
            "Replace the statement with the specific actions the principal needs on the specific resource "
            "ARNs "
            "(see the statements built with infra.iam.allow)."
        ),
        resource_types=[ROLE, *IDENTITY_POLICY_TYPES],
        check=_no_admin,
        tags=["iam", "least-privilege"],
    ),
    resource_rule(
        name="iam-no-passrole-wildcard",
        description="No IAM policy allows iam:PassRole on every role ('*' or role/*).",
        rationale=(
            "iam:PassRole on every role lets a principal hand any role, including admin roles, to a service "
            "it controls: a classic privilege escalation."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Limit iam:PassRole to the ARNs of the roles that must be passed (for SageMaker: its execution "
            "roles), ideally with a Condition on iam:PassedToService."
        ),
        resource_types=[ROLE, *IDENTITY_POLICY_TYPES],
        check=_no_pass_role_wildcard,
        tags=["iam", "privilege-escalation"],
    ),
    resource_rule(
        name="iam-github-oidc-trust-pinned",
        description=(
            "A role trusted by GitHub Actions OIDC pins token.actions.githubusercontent.com:sub to the "
            "configured repository (no wildcard owner or repository) and :aud to sts.amazonaws.com."
        ),
        rationale=(
            "Without the sub pin, any GitHub repository (anyone's) can assume the role through GitHub's OIDC "
            "issuer; the aud pin stops tokens minted for other audiences."
        ),
        severity=Severity.CRITICAL,
        remediation=(
            "In the role's trust policy require StringEquals token.actions.githubusercontent.com:aud = "
            "'sts.amazonaws.com' and StringEquals/StringLike token.actions.githubusercontent.com:sub = "
            "'repo:<owner>/<repo>:<ref or environment>' for the configured repository."
        ),
        resource_types=[ROLE, OIDC_PROVIDER],
        check=_github_oidc,
        knobs={
            "allowedRepositories": strings_knob(
                "Repositories (owner/name) whose workflows may assume roles; empty accepts any single, "
                "wildcard-free repository.",
                [],
            ),
            "audience": {
                "type": "string",
                "default": "sts.amazonaws.com",
                "description": "The only audience (aud claim / OIDC client id) accepted.",
            },
        },
        tags=["iam", "ci", "federation"],
    ),
]
