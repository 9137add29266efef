"""IAM rules: no admin wildcards, no PassRole on every role, GitHub OIDC trust pinned to the repository.

Policy documents arrive as JSON text (`policy`, `assumeRolePolicy`, `inlinePolicies[].policy`). A document
built from outputs of other resources is unknown during a real preview; it is then skipped (and checked
by the offline verdict, where the plan knows it, and on the `pulumi up` that creates it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .iam_model import PRIVILEGE_SERVICES, Statement, allow_statements, arn_matches, managed_policy_grant, statements
from .knobs import strings_knob
from .values import as_list, has_unknown, is_unknown, iter_strings, parse_json_document

ROLE = "aws:iam/role:Role"
# Resources that carry one identity-based policy document: type -> the input holding it. IAM Identity Center
# permission sets become roles in every member account, so their inline policy is an identity policy too.
IDENTITY_POLICY_PROPERTY = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
    "aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy": "inlinePolicy",
}
IDENTITY_POLICY_TYPES = tuple(IDENTITY_POLICY_PROPERTY)
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
GITHUB_ISSUER = "token.actions.githubusercontent.com"

USER_ACCESS_KEY = "aws:iam/accessKey:AccessKey"
# Resources that attach managed policies by ARN: (type, property holding one ARN or a list of them).
ATTACHMENTS = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "policyArns",
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": "policyArns",
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": "policyArns",
    ROLE: "managedPolicyArns",
    "aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment": "managedPolicyArn",
    "aws:ssoadmin/managedPolicyAttachmentsExclusive:ManagedPolicyAttachmentsExclusive": "managedPolicyArns",
}
"""A customer-managed policy attached to a permission set by name (ssoadmin CustomerManagedPolicyAttachment) is an
aws.iam.Policy in each member account, judged as such where it is declared; a permissions boundary grants nothing."""

_SAMPLE_ROLE = "x7q-any-role"


def identity_documents(resource: ResourceView) -> Iterator[tuple[str, Any]]:
    """(label, document) for each identity-based policy a resource carries; document may be UNKNOWN.

    Raises ValueError for a document that is not JSON.
    """
    if resource.type in IDENTITY_POLICY_PROPERTY:
        yield "policy", parse_json_document(resource.props.get(IDENTITY_POLICY_PROPERTY[resource.type]))
    elif resource.type == ROLE:
        inline = resource.props.get("inlinePolicies")
        for index, item in enumerate(as_list(inline)):
            if is_unknown(item) or not isinstance(item, dict):
                continue
            name = item.get("name")
            label = f"inline policy '{name if isinstance(name, str) and name else index}'"
            yield label, parse_json_document(item.get("policy"))


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
        for statement, grant in admin_grants(document):
            yield f"'{resource.name}' {label}: {statement.label} {grant}"


def admin_grants(document: Any) -> Iterator[tuple[Statement, str]]:
    """(statement, what it grants) for each Allow statement that amounts to administrator access or a service's
    every action: NotAction with Allow, '*' on '*', or `service:*` beyond one named resource. The same judgment
    decides which AWS-managed policies are administrator-like (policies/tools/gen_managed_policies.py)."""
    for statement in allow_statements(document):
        if statement.not_actions is not None:
            yield statement, (
                f"allows every action except {list(statement.not_actions)} (NotAction with Allow); "
                "list the actions it allows instead"
            )
        elif statement.grants_every_action() and statement.every_resource():
            yield statement, "allows every action ('*') on every resource ('*')"
        else:
            yield from ((statement, grant) for grant in _service_wide(statement))


def _service_wide(statement: Statement) -> Iterator[str]:
    """Every action of a service (`s3:*` in any spelling) on resources that are not one named resource."""
    for service in statement.services_fully_granted():
        if statement.every_resource_of(service):
            reach = "on every resource of it"
        elif service in PRIVILEGE_SERVICES:
            reach = "which controls identities, whatever the resource"
        else:
            shared = statement.shared_resources_of(service)
            if not shared:
                continue
            reach = f"on resources a wildcard shares ({', '.join(shared[:3])})"
        yield f"allows every action of a service ({service}:*) {reach}; name the actions and the resources"


def _role_samples(pattern: str) -> list[str]:
    """Role ARNs nobody named, in the partition and account the pattern names (if it names them)."""
    fields = pattern.split(":")
    partition = fields[1] if len(fields) > 1 and fields[1] and not set(fields[1]) & set("*?") else "aws"
    account = fields[4] if len(fields) > 4 and fields[4].isdigit() else "123456789012"
    return [f"arn:{partition}:iam::{account}:role/{p}{_SAMPLE_ROLE}" for p in ("", "admin/", "a/b/")]


def _no_pass_role_wildcard(resource: ResourceView) -> Iterator[str]:
    for item in _documents(resource):
        if isinstance(item, str):
            yield item
            continue
        label, document = item
        for statement in allow_statements(document):
            if not statement.grants("iam:PassRole"):
                continue
            if statement.not_resources is not None:
                wide = [f"every role but {list(statement.not_resources)} (NotResource)"]
            else:
                wide = [repr(r) for r in statement.resources or () if any(arn_matches(r, s) for s in _role_samples(r))]
            if wide:
                yield (
                    f"'{resource.name}' {label}: {statement.label} allows iam:PassRole on "
                    f"{', '.join(wide)}; name the roles that may be passed"
                )


def _is_github_trust(statement: Statement) -> bool:
    if not statement.allows or not statement.grants("sts:AssumeRoleWithWebIdentity"):
        return False
    federated = [v for kind, values in statement.principals.items() if kind.lower() == "federated" for v in values]
    if any(GITHUB_ISSUER in f for f in federated):
        return True
    return any(c.key.startswith(GITHUB_ISSUER) for c in statement.conditions)


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
    for statement in statements(document):
        if not _is_github_trust(statement):
            continue
        where = f"role '{resource.name}' trust {statement.label}"
        # Conditions are ANDed: extra conditions only narrow, so what counts is one positive pin.
        aud = statement.condition(f"{GITHUB_ISSUER}:aud")
        if not aud:
            yield f"{where} does not pin {GITHUB_ISSUER}:aud to {audience!r}"
        elif not any(c.base == "stringequals" and c.positive and set(c.values) == {audience} for c in aud):
            got = {c.operator: list(c.values) for c in aud}
            yield f"{where} must require StringEquals {GITHUB_ISSUER}:aud = {audience!r}; got {got}"
        sub = statement.condition(f"{GITHUB_ISSUER}:sub")
        positive = [c for c in sub if c.positive and c.values]
        if not sub:
            yield f"{where} does not restrict {GITHUB_ISSUER}:sub, so any GitHub repository could assume it"
        elif not positive:
            operators = ", ".join(sorted({c.operator for c in sub}))
            yield (
                f"{where}: {operators} on {GITHUB_ISSUER}:sub is not a positive match (use StringEquals or "
                "StringLike, without Not, IfExists or a set qualifier), so other repositories pass it"
            )
        for subject in (v for c in positive for v in c.values):
            problem = _subject_problem(subject, allowed)
            if problem:
                yield f"{where}: {problem}"


def _no_admin_managed_policy(resource: ResourceView) -> Iterator[str]:
    arns = resource.props.get(ATTACHMENTS[resource.type])
    for arn in iter_strings(arns):
        grant = managed_policy_grant(arn)
        if grant:
            kind = resource.type.split(":")[-1]
            yield f"{kind} '{resource.name}' attaches {arn}, which {grant}"


def _no_access_keys(resource: ResourceView) -> Iterator[str]:
    user = resource.props.get("user")
    shown = f" for user '{user}'" if isinstance(user, str) else ""
    yield (
        f"access key '{resource.name}'{shown} is a long-lived credential; use a role (OIDC federation for CI, "
        "an instance or task role for workloads)"
    )


RULES = [
    resource_rule(
        name="iam-no-admin-wildcard",
        description=(
            "No IAM policy statement allows every action on every resource, every action but a few (NotAction "
            "with Allow), or every action of a service on every resource of it (e.g. s3:* on *)."
        ),
        rationale=(
            "'*' on '*' is full administrator access: one leaked credential or compromised workload would "
            "own the account."
        ),
        severity=Severity.CRITICAL,
        remediation=(
            "Replace the statement with the specific actions the principal needs on the specific resource "
            "ARNs "
            "(see the statements built with infra.core.iam.allow)."
        ),
        resource_types=[ROLE, *IDENTITY_POLICY_TYPES],
        check=_no_admin,
        tags=["iam", "least-privilege"],
    ),
    resource_rule(
        name="iam-no-passrole-wildcard",
        description=(
            "No IAM policy allows iam:PassRole on every role ('*', role/*, a bare role* prefix, any account, or "
            "NotResource)."
        ),
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
            "configured repository (no wildcard owner or repository) and :aud to sts.amazonaws.com, with positive "
            "operators (StringEquals/StringLike; no Not, IfExists or set qualifiers)."
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
    resource_rule(
        name="iam-no-admin-managed-policy",
        description=(
            "No role, user, group or permission set gets an AWS-managed policy whose document is administrator-like "
            "(NotAction with Allow, '*' on '*', or a service's every action beyond one resource), or one the pack's "
            "snapshot of AWS-managed policies does not know."
        ),
        rationale=(
            "An AWS-managed policy is judged by its statements, as an inline one would be (whatever its name "
            "says); attaching an administrator-like one bypasses every check on inline statements."
        ),
        severity=Severity.CRITICAL,
        remediation=(
            "Attach a customer-managed or inline policy with the specific actions and resource ARNs the "
            "principal needs (ReadOnlyAccess where read access is the point)."
        ),
        resource_types=list(ATTACHMENTS),
        check=_no_admin_managed_policy,
        tags=["iam", "least-privilege"],
    ),
    resource_rule(
        name="iam-no-user-access-keys",
        description="No IAM user gets an access key: people and machines use roles, CI uses OIDC federation.",
        rationale=(
            "An access key is a long-lived secret that leaks through logs, laptops and CI variables and works "
            "from anywhere until someone rotates it; roles hand out short-lived credentials instead."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Remove the aws.iam.AccessKey; let CI assume a role through GitHub OIDC (infra.components.ci) and "
            "workloads use their execution roles."
        ),
        resource_types=[USER_ACCESS_KEY],
        check=_no_access_keys,
        tags=["iam", "credentials"],
    ),
]
