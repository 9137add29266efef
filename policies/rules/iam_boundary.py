"""Permissions boundaries that bound nothing.

A boundary is the ceiling of what a role or user can ever do, whatever policies it gets later: that is why
CI roles that create roles are told to attach one. A boundary that allows every action on every resource is
no ceiling. Boundaries are set on `aws.iam.Role` and `aws.iam.User` (`permissionsBoundary`, a policy ARN) and
on IAM Identity Center permission sets (`aws.ssoadmin.PermissionsBoundaryAttachment`: a `managedPolicyArn` or
a `customerManagedPolicyReference` by name and path).

The boundary policy is judged by what it allows: an `aws.iam.Policy` of the stack (found by ARN, by name, or
by the property dependency a preview records) whose Allow statements grant every action on every resource
with no condition and that no Deny narrows; or an AWS-managed policy whose document (as the pack's snapshot
judges it) allows every action on every resource. A boundary the rule cannot see (another stack's policy) is not judged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import StackResource, StackView, stack_rule
from .iam_model import ALL_ACTIONS, Statement, managed_policy_grant, statements
from .values import dig, has_unknown, is_unknown, parse_json_document

_EVERYTHING_VERDICT = "allows every action ('*') on every resource"
"""How iam_model.managed_policy_grant describes an AWS-managed policy that allows everything (AdministratorAccess);
a boundary that only excludes some services (PowerUserAccess without IAM) still bounds something."""

PRINCIPAL_TYPES = ("aws:iam/role:Role", "aws:iam/user:User")
SSO_BOUNDARY = "aws:ssoadmin/permissionsBoundaryAttachment:PermissionsBoundaryAttachment"
POLICY = "aws:iam/policy:Policy"


_SAMPLE_ARNS = (
    "arn:aws:s3:::x7q-any-bucket",
    "arn:aws:iam::123456789012:role/x7q-any-role",
    "arn:aws:sagemaker:us-east-1:123456789012:endpoint/x7q-any-endpoint",
)


def _every_action(statement: Statement) -> bool:
    """Every known action and actions not known yet (`*`, `*:*`, NotAction naming nothing real, ...)."""
    return statement.actions_granted() >= ALL_ACTIONS and statement.grants("zz7q:AnyFutureAction")


def _every_resource(statement: Statement) -> bool:
    return all(statement.covers(arn) for arn in _SAMPLE_ARNS)


def allows_everything(document: Any) -> bool:
    """Whether a policy allows every action on every resource unconditionally, with no Deny to narrow it."""
    parsed = list(statements(document))
    if any(s.denies for s in parsed):
        return False
    return any(s.allows and not s.conditions and _every_action(s) and _every_resource(s) for s in parsed)


def _policy_name_path(policy: StackResource) -> tuple[str | None, str]:
    name = policy.props.get("name")
    path = policy.props.get("path") or "/"
    return (name if isinstance(name, str) else None), (path if isinstance(path, str) else "/")


def _stack_policy(stack: StackView, holder: StackResource, prop: str, arn: Any,
                  name: Any = None, path: Any = None) -> StackResource | None:
    for policy in stack.of_type(POLICY):
        if holder.depends_on(policy, prop):
            return policy
        if isinstance(arn, str) and arn and arn == policy.props.get("arn"):
            return policy
        policy_name, policy_path = _policy_name_path(policy)
        if isinstance(name, str) and name == policy_name and (path or "/") == policy_path:
            return policy
    return None


def _verdict(stack: StackView, holder: StackResource, prop: str, arn: Any,
             name: Any = None, path: Any = None) -> str | None:
    if isinstance(arn, str):
        grant = managed_policy_grant(arn)  # the pack's verdict on the AWS-managed policy's document
        if grant is not None and grant.startswith(_EVERYTHING_VERDICT):
            return f"the AWS-managed policy {arn}, which {grant}"
    policy = _stack_policy(stack, holder, prop, arn, name, path)
    if policy is None:
        return None
    try:
        document = parse_json_document(policy.props.get("policy"))
    except ValueError:
        return None  # reported by the IAM rules
    if document is None or has_unknown(document):
        return None
    if allows_everything(document):
        return f"policy '{policy.name}', which allows every action on every resource"
    return None


def _unbounded(stack: StackView) -> Iterator[tuple[str, str | None]]:
    for principal in stack.of_type(*PRINCIPAL_TYPES):
        arn = principal.props.get("permissionsBoundary")
        if arn is None or is_unknown(arn) and not stack.of_type(POLICY):
            continue
        problem = _verdict(stack, principal, "permissionsBoundary", None if is_unknown(arn) else arn)
        if problem:
            yield f"'{principal.name}' has the permissions boundary {problem}: it bounds nothing", principal.urn
    for attachment in stack.of_type(SSO_BOUNDARY):
        boundary = attachment.props.get("permissionsBoundary")
        if is_unknown(boundary):
            continue
        managed = dig(boundary, "managedPolicyArn")
        reference = dig(boundary, "customerManagedPolicyReference")
        problem = _verdict(stack, attachment, "permissionsBoundary", None if is_unknown(managed) else managed,
                           dig(reference, "name"), dig(reference, "path"))
        if problem:
            yield (f"permission set boundary '{attachment.name}' is {problem}: it bounds nothing",
                   attachment.urn)


RULES = [
    stack_rule(
        name="iam-permissions-boundary-bounded",
        description="No role, user or permission set has a permissions boundary that allows everything.",
        rationale=(
            "A permissions boundary is the ceiling on what an identity can ever do, whatever policies it is "
            "given later; one that allows every action on every resource makes the ceiling look present while "
            "bounding nothing."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Make the boundary allow only the services and resources the identity's job needs (and deny "
            "iam:DeletePermissionsBoundary / iam:PutRolePermissionsBoundary on itself); never AdministratorAccess."
        ),
        check=_unbounded,
        tags=["iam", "access-control"],
    ),
]
