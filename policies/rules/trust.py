"""Accounts and trust (stack rules): every AWS provider pins its accounts, role trust stays inside the stack's
accounts, and a GitHub OIDC role that can change anything is tied to an environment or a protected ref.

Why stack rules: which accounts a stack may trust is a fact of the whole stack (the union of its AWS providers'
`allowedAccountIds`), not of the one provider a role happens to use; judged per role, a second provider that
pins nothing turned the cross-account check off. Likewise whether a GitHub-trusted role deploys depends on the
policies attached to it, which are other resources.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from policyuniverse.action_categories import categories_for_actions
from pulumi_policy import Severity

from .builders import Provider, StackResource, StackView, stack_rule
from .iam_model import Statement, allow_statements, statements
from .knobs import bool_knob, strings_knob
from .values import UNKNOWN, as_list, has_unknown, is_unknown, iter_strings, parse_json_document

AWS_PROVIDER = "pulumi:providers:aws"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
    "aws:iam/policyAttachment:PolicyAttachment",
)
MANAGED_POLICY = "aws:iam/policy:Policy"
GITHUB_ISSUER = "token.actions.githubusercontent.com"
_ACCOUNT = re.compile(r"^\d{12}$")
# Access levels (policyuniverse's service data) that read without changing anything.
_READ_LEVELS = frozenset({"List", "Read"})
# The AWS-managed policies that read the whole account and change nothing (ReadOnlyAccess, ViewOnlyAccess).
_READ_ONLY_MANAGED = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(?:job-function/)?(?:ReadOnlyAccess|ViewOnlyAccess)$")


# --- the stack's accounts --------------------------------------------------------------------------------


def pinned_accounts(provider: Provider | StackResource) -> Any:
    """A provider's `allowedAccountIds` (the SDK may send it as JSON text): a set, or UNKNOWN."""
    value = provider.props.get("allowedAccountIds")
    if is_unknown(value) or has_unknown(value):
        return UNKNOWN
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = [value]
    return {v.strip() for v in iter_strings(value)}


def aws_providers(stack: StackView) -> list[Provider | StackResource]:
    """Every AWS provider of the stack: those declared as resources and those resources name (deduplicated)."""
    found: dict[str, Provider | StackResource] = {p.urn: p for p in stack.of_type(AWS_PROVIDER)}
    for resource in stack.resources:
        if resource.provider is not None and resource.provider.type == AWS_PROVIDER:
            found.setdefault(resource.provider.urn, resource.provider)
    return list(found.values())


def stack_accounts(stack: StackView) -> set[str]:
    """The union of the accounts every AWS provider of the stack is pinned to (known values only)."""
    accounts: set[str] = set()
    for provider in aws_providers(stack):
        pinned = pinned_accounts(provider)
        if not is_unknown(pinned):
            accounts |= {a for a in pinned if _ACCOUNT.match(a)}
    return accounts


def _providers_pinned(stack: StackView) -> Iterator[tuple[str, str | None]]:
    if not stack.config["requireAllowedAccountIds"]:
        return
    for provider in aws_providers(stack):
        pinned = pinned_accounts(provider)
        if is_unknown(pinned):
            continue
        bad = sorted(a for a in pinned if not _ACCOUNT.match(a))
        if not pinned:
            yield (
                f"AWS provider '{provider.name}' sets no allowedAccountIds, so it would deploy into whatever "
                "account its credentials reach, and the stack's trust checks cannot know its account",
                provider.urn,
            )
        elif bad:
            yield (f"AWS provider '{provider.name}' lists {bad} in allowedAccountIds; each must be a 12-digit "
                   "account id", provider.urn)


# --- role trust inside the stack's accounts -----------------------------------------------------------


def _principal_accounts(statement: Statement) -> set[str]:
    """Accounts named by the statement's AWS principals and by its federated principals' ARNs."""
    accounts = statement.aws_accounts()
    for kind, values in statement.principals.items():
        if kind.lower() == "federated":
            for value in values:
                fields = value.strip().split(":")
                if len(fields) > 4 and _ACCOUNT.match(fields[4]):
                    accounts.add(fields[4])
    return accounts


def _trust_restricted(stack: StackView) -> Iterator[tuple[str, str | None]]:
    allowed = stack_accounts(stack) | set(stack.config["trustedAccounts"])
    for role in stack.of_type(ROLE):
        try:
            document = parse_json_document(role.props.get("assumeRolePolicy"))
        except ValueError:
            continue  # reported by iam-github-oidc-trust-pinned
        if document is None or has_unknown(document):
            continue
        for statement in allow_statements(document):
            where = f"role '{role.name}' trust {statement.label}"
            if statement.public_principal():
                yield f"{where} lets any AWS principal assume the role (Principal '*' or NotPrincipal)", role.urn
                continue
            foreign = sorted(_principal_accounts(statement) - allowed) if allowed else []
            if foreign:
                yield (
                    f"{where} trusts account(s) {', '.join(foreign)}, which the stack does not list (the union "
                    f"of its AWS providers' allowedAccountIds and trustedAccounts: {', '.join(sorted(allowed))})",
                    role.urn,
                )


# --- GitHub deploy roles: subject tied to an environment or a protected ref ---------------------------


def _names(resource: StackResource) -> set[str]:
    return {n for n in (resource.props.get("name"), resource.props.get("id"), resource.name) if isinstance(n, str)}


def _document(value: Any) -> Any:
    """A policy document, UNKNOWN when it cannot be read (unknown at preview, or not JSON)."""
    try:
        return parse_json_document(value)
    except ValueError:
        return UNKNOWN


def _role_documents(stack: StackView, role: StackResource) -> Iterator[Any]:
    """Every identity policy document the role gets; UNKNOWN for one that cannot be read (a managed policy
    outside the stack, a document unknown at preview), None for an AWS-managed read-only policy."""
    for item in as_list(role.props.get("inlinePolicies")):
        yield _document(item.get("policy")) if isinstance(item, dict) else UNKNOWN
    names = _names(role)
    for policy in stack.of_type(ROLE_POLICY):
        if policy.depends_on(role, "role") or policy.props.get("role") in names:
            yield _document(policy.props.get("policy"))
    arns = list(iter_strings(role.props.get("managedPolicyArns")))
    for attachment in stack.of_type(*ROLE_ATTACHMENTS):
        roles = as_list(attachment.props.get("role")) + as_list(attachment.props.get("roles"))
        if attachment.depends_on(role, "role", "roleName", "roles") or any(r in names for r in roles):
            arns += list(iter_strings(attachment.props.get("policyArn")))
            arns += list(iter_strings(attachment.props.get("policyArns")))
    managed = {p.props.get("arn"): p for p in stack.of_type(MANAGED_POLICY)}
    for arn in arns:
        policy = managed.get(arn)
        yield _document(policy.props.get("policy")) if policy is not None else _aws_managed(arn)


def _aws_managed(arn: str) -> Any:
    """An AWS-managed policy is known to read only when it is the account-wide read-only or view-only policy;
    any other (or unknown) managed policy is taken as able to write."""
    if _READ_ONLY_MANAGED.match(arn.strip()):
        return None
    return UNKNOWN


def _writes(statement: Statement) -> bool:
    """Whether an Allow statement grants an action whose access level is not List or Read."""
    if statement.not_actions is not None:
        return True
    actions = statement.actions_granted()
    if not actions:
        return bool(statement.actions)  # only actions the pinned service data does not know: assume a write
    levels = categories_for_actions(sorted(actions))
    return any(level not in _READ_LEVELS for found in levels.values() for level in found)


def can_write(stack: StackView, role: StackResource) -> bool:
    """Whether the role may change anything: any of its documents allows a write, or cannot be read."""
    for document in _role_documents(stack, role):
        if document is None:
            continue
        if is_unknown(document) or has_unknown(document):
            return True
        if any(_writes(s) for s in allow_statements(document)):
            return True
    return False


_PINNED_CONTEXT = re.compile(r"^repo:[^/:*?]+/[^/:*?]+:(?P<kind>environment|ref):(?P<value>[^*?]+)$")


def _subject_context_problem(subject: str, literal: bool, protected_refs: list[str]) -> str | None:
    match = _PINNED_CONTEXT.match(subject) if literal else None
    if match is None:
        return (f"subject {subject!r} does not name one environment or one protected ref "
                "(repo:<owner>/<repo>:environment:<name> or :ref:<protected ref>, no wildcard)")
    if match["kind"] == "ref" and match["value"] not in protected_refs:
        return f"subject {subject!r} names ref {match['value']!r}, not a protected ref ({', '.join(protected_refs)})"
    return None


def _github_trust_statements(role: StackResource) -> list[Statement]:
    try:
        document = parse_json_document(role.props.get("assumeRolePolicy"))
    except ValueError:
        return []
    if document is None or has_unknown(document):
        return []
    found = []
    for statement in statements(document):
        if not statement.allows or not statement.grants("sts:AssumeRoleWithWebIdentity"):
            continue
        federated = [v for k, vs in statement.principals.items() if k.lower() == "federated" for v in vs]
        if any(GITHUB_ISSUER in f for f in federated) or any(c.key.startswith(GITHUB_ISSUER) for c in
                                                              statement.conditions):
            found.append(statement)
    return found


def _deploy_subject(stack: StackView) -> Iterator[tuple[str, str | None]]:
    if not stack.config["requirePinnedDeploySubject"]:
        return
    protected = list(stack.config["protectedRefs"])
    for role in stack.of_type(ROLE):
        trusts = _github_trust_statements(role)
        if not trusts or not can_write(stack, role):
            continue
        for statement in trusts:
            pins = [c for c in statement.condition(f"{GITHUB_ISSUER}:sub") if c.positive and c.values]
            where = f"role '{role.name}' (it can change resources) trust {statement.label}"
            if not pins:
                yield f"{where} does not pin {GITHUB_ISSUER}:sub with a positive condition", role.urn
                continue
            # Conditions are ANDed: one pin whose every value is tied to a context is enough.
            problems = [[p for v in c.values if (p := _subject_context_problem(v, c.literal(v), protected))]
                        for c in pins]
            if all(problems):
                yield f"{where}: {problems[0][0]}", role.urn


RULES = [
    stack_rule(
        name="aws-provider-accounts-pinned",
        description="Every AWS provider of the stack pins the accounts it may deploy into (allowedAccountIds).",
        rationale=(
            "A provider without allowedAccountIds deploys wherever its credentials point (a wrong profile puts "
            "prod into another account), and the stack's accounts, which the trust rules compare against, "
            "become unknowable."
        ),
        severity=Severity.HIGH,
        remediation="Set allowed_account_ids=[<account id>] on every aws.Provider (and aws:allowedAccountIds "
        "in the stack config for the default provider).",
        check=_providers_pinned,
        knobs={"requireAllowedAccountIds": bool_knob("Require allowedAccountIds on every AWS provider.", True)},
        tags=["aws", "accounts"],
    ),
    stack_rule(
        name="iam-trust-restricted",
        description=(
            "No role trust policy lets any AWS principal assume the role (Principal '*' in any form, an "
            "account wildcard, NotPrincipal), or trusts an account outside the stack's (the union of its AWS "
            "providers' allowedAccountIds and trustedAccounts)."
        ),
        rationale=(
            "A trust policy is the door to a role: '*' opens it to every AWS account, and an account outside "
            "the platform's own is a standing cross-account grant nobody reviews."
        ),
        severity=Severity.CRITICAL,
        remediation=(
            "Name the principals that may assume the role: a service, the GitHub OIDC provider, or roles of "
            "the accounts in the stack's providers' allowedAccountIds (or this rule's trustedAccounts)."
        ),
        check=_trust_restricted,
        knobs={
            "trustedAccounts": strings_knob(
                "Accounts, besides those of the stack's AWS providers' allowedAccountIds, whose principals a "
                "role may trust.",
                [],
            ),
        },
        tags=["iam", "federation"],
    ),
    stack_rule(
        name="iam-github-deploy-subject-pinned",
        description=(
            "A GitHub OIDC role that can change resources (any attached permission beyond List/Read) pins "
            "token.actions.githubusercontent.com:sub to one environment or one protected ref, without "
            "wildcards."
        ),
        rationale=(
            "repo:<owner>/<repo>:* lets any branch, tag or pull-request workflow of the repository deploy; "
            "an environment (with its required reviewers) or a protected branch is the gate a deployment "
            "should pass."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Trust the deploy role with StringEquals token.actions.githubusercontent.com:sub = "
            "'repo:<owner>/<repo>:environment:<env>' (a GitHub environment with protection rules) or "
            "':ref:refs/heads/main'."
        ),
        check=_deploy_subject,
        knobs={
            "requirePinnedDeploySubject": bool_knob(
                "Require deploy roles' sub to name one environment or a protected ref.", True
            ),
            "protectedRefs": strings_knob("Refs whose workflows may deploy.", ["refs/heads/main"]),
        },
        tags=["iam", "ci", "federation"],
    ),
]
