"""Offline evaluation of identity policies, as AWS decides one request: is this action on this ARN allowed?

moto's IAM evaluator (`moto.iam.access_control.IAMPolicyStatement`) matches each statement's Action/NotAction
and Resource (with IAM wildcards) and says whether an Allow or a Deny applies. It does not decide conditions
the way AWS does: it ignores operators other than StringEquals and passes a condition whose key the request
lacks. So statements go to moto without their Condition, and the conditions are decided here, strictly: a key
the request does not carry fails the condition (as in AWS, for the operators without `IfExists`), and an
operator this module does not know is an error, never a silent pass. An explicit Deny wins over any Allow.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from parliament import expand_action

Context = Mapping[str, str | Sequence[str]]


def statements(documents: Iterable[str | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every statement of the documents (JSON text or parsed), refusing what this evaluator cannot judge."""
    result = []
    for document in documents:
        parsed = json.loads(document) if isinstance(document, str) else document
        body = parsed["Statement"]
        for statement in [body] if isinstance(body, dict) else body:
            unsupported = {"NotResource", "Principal", "NotPrincipal"} & set(statement)
            if unsupported:
                raise ValueError(f"statement {statement.get('Sid')!r}: {sorted(unsupported)} is not evaluated here")
            result.append(statement)
    return result


def is_allowed(documents: Iterable[str | Mapping[str, Any]], action: str, resource: str,
               context: Context | None = None) -> bool:
    """Whether the identity policies allow `action` on `resource` in a request carrying `context`."""
    allowed = False
    for statement in statements(documents):
        verdict = IAMPolicyStatement(_for_moto(statement)).is_action_permitted(action.lower(), resource)
        if verdict is PermissionResult.NEUTRAL or not _conditions_hold(statement.get("Condition"), context or {}):
            continue
        if verdict is PermissionResult.DENIED:
            return False
        allowed = True
    return allowed


def granted_actions(documents: Iterable[str | Mapping[str, Any]]) -> set[str]:
    """Every action an Allow statement names, wildcards expanded through parliament's IAM action database."""
    granted: set[str] = set()
    for statement in statements(documents):
        if statement["Effect"] != "Allow":
            continue
        if "NotAction" in statement:
            raise ValueError(f"statement {statement.get('Sid')!r}: NotAction grants too much to enumerate")
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            granted.update(f"{a['service']}:{a['action']}".lower() for a in expand_action(action))
    return granted


def _for_moto(statement: Mapping[str, Any]) -> dict[str, Any]:
    """The statement without its condition, actions lower-cased (IAM compares actions case-insensitively), and
    every pattern made literal but for its wildcards: moto turns `*` into `.*` and hands the rest to `re`, where
    a `.` in an ARN would match any character and a `?` would be a quantifier, not IAM's single character."""
    clean = {k: v for k, v in statement.items() if k != "Condition"}
    for key in ("Action", "NotAction", "Resource"):
        if key in clean:
            value = clean[key]
            patterns = [value] if isinstance(value, str) else list(value)
            clean[key] = [_literal(p.lower() if key != "Resource" else p) for p in patterns]
    return clean


def _literal(pattern: str) -> str:
    return "".join("." if c == "?" else c if c == "*" else re.escape(c) for c in pattern)


def _conditions_hold(condition: Mapping[str, Mapping[str, Any]] | None, context: Context) -> bool:
    """Every operator block and every key in it must hold (AND); the values of one key are alternatives (OR)."""
    for operator, pairs in (condition or {}).items():
        for key, expected in pairs.items():
            wanted = [expected] if isinstance(expected, (str, bool, int)) else list(expected)
            if key not in context:
                return False
            actual = context[key]
            values = [actual] if isinstance(actual, str) else list(actual)
            if not any(_compare(operator, value, str(w)) for value in values for w in wanted):
                return False
    return True


def _compare(operator: str, actual: str, expected: str) -> bool:
    if operator in ("StringEquals", "ArnEquals"):
        return actual == expected
    if operator in ("StringLike", "ArnLike"):
        return fnmatch.fnmatchcase(actual, expected)
    if operator == "Bool":
        return actual.lower() == expected.lower()
    raise ValueError(f"condition operator {operator!r} is not evaluated here; add it to tests/infra/iam_eval.py")
