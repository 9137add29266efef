"""What a condition value must be to name known callers: a statement open to everyone (Principal '*') is limited
only by a positive condition whose every admitted value is named (an account, an ARN in one account, an
organization, a VPC endpoint); see `iam_model.Condition.admits_only`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from .iam_model import Statement

_ACCOUNT = re.compile(r"^\d{12}$")
_ORG_ID = re.compile(r"^o-[a-z0-9]+$")
_ORG_PATH = re.compile(r"^o-[a-z0-9]+/r-[0-9a-z]+(?:/ou-[0-9a-z]+-[a-z0-9]+)*/?$")
_VPC_ID = re.compile(r"^vpce?-[0-9a-f]+$")

CALLER_ACCOUNT_KEYS = (
    "kms:calleraccount",
    "aws:principalaccount",
    "aws:sourceaccount",
    "aws:sourceowner",
)
CALLER_ARN_KEYS = ("aws:principalarn", "aws:sourcearn")
CALLER_ORG_KEYS = ("aws:principalorgid", "aws:sourceorgid", "aws:principalorgpaths", "aws:sourceorgpaths")
CALLER_NETWORK_KEYS = ("aws:sourcevpce", "aws:sourcevpc")


def _named(pattern: re.Pattern[str]) -> Callable[[str, bool], bool]:
    """A value that names one thing of the pattern's form: no wildcard the operator expands, and a match."""
    return lambda v, globs: not (globs and set(v) & set("*?")) and bool(pattern.match(v.strip()))


def account_value(accounts: frozenset[str] | None) -> Callable[[str, bool], bool]:
    """A condition value that names one account: twelve digits, inside `accounts` when that is given."""
    named = _named(_ACCOUNT)
    return lambda v, globs: named(v, globs) and (accounts is None or v.strip() in accounts)


def arn_account(arn: str) -> str | None:
    """The account of an ARN value, when every field up to and including the account is literal; else None.

    `arn:aws:iam::444455556666:role/*` names roles of one account (a wildcard in the last field cannot reach
    the account field: ARN operators match field by field, and under StringLike a `*` after the account's
    colon cannot change what precedes it); `arn:aws:iam::*:role/x`, `arn:*:iam::4444?5556666:...` or `*` do not.
    """
    fields = arn.strip().split(":", 5)
    if len(fields) < 6 or fields[0] != "arn" or any(set(f) & set("*?") for f in fields[:5]):
        return None
    return fields[4] if _ACCOUNT.match(fields[4]) else None


def caller_value(key: str, accounts: frozenset[str] | None = None) -> Callable[[str, bool], bool]:
    """What a value of a caller-identifying condition key must be to name known callers only: an account
    (inside `accounts` when given), an ARN in such an account, an organization id or path, a VPC endpoint."""
    key = key.lower()
    if key in CALLER_ACCOUNT_KEYS:
        return account_value(accounts)
    if key in CALLER_ARN_KEYS:
        return lambda v, globs: (found := arn_account(v)) is not None and (accounts is None or found in accounts)
    if key in ("aws:principalorgid", "aws:sourceorgid"):
        return _named(_ORG_ID)
    if key in ("aws:principalorgpaths", "aws:sourceorgpaths"):
        return _named(_ORG_PATH)
    if key in CALLER_NETWORK_KEYS:
        return _named(_VPC_ID)
    return lambda v, globs: False


def restricts_callers(statement: Statement, keys: Iterable[str], accounts: frozenset[str] | None = None) -> bool:
    """Whether a condition on one of the caller-identifying `keys` limits the statement to named callers."""
    return any(statement.restricts(k, caller_value(k, accounts)) for k in keys)
