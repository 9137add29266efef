"""IAM documents normalised for judging what they mean, not how they are spelled.

A policy statement can say the same thing in many ways: `"Action": "*"` or `["S3:*", "*:*"]`, a string or a
list, `Principal: "*"` or `{"AWS": ["*"]}`, `Action` or its complement `NotAction`. The rules first turn
each statement into a `Statement` with positive or negative action and resource sets, principals by kind
and conditions read for their meaning, and only then ask questions of it ("does it grant iam:PassRole on
any role?"). Actions are matched against the IAM action list that `policyuniverse` ships (offline, in its
wheel) with IAM's own wildcard rules: `*` and `?`, case-insensitive for actions, case-sensitive for ARNs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from policyuniverse import all_permissions
from policyuniverse.action_categories import categories_for_actions
from policyuniverse.arn import ARN

from .managed_policies import ADMIN_LIKE, JUDGED
from .values import as_list, is_unknown

ALL_ACTIONS: frozenset[str] = frozenset(a.lower() for a in all_permissions)
"""Every IAM action known to policyuniverse's service data, lower case (`service:action`)."""

_BY_SERVICE: dict[str, frozenset[str]] = {}
for _action in ALL_ACTIONS:
    _BY_SERVICE.setdefault(_action.split(":", 1)[0], frozenset())
_BY_SERVICE = {s: frozenset(a for a in ALL_ACTIONS if a.startswith(s + ":")) for s in _BY_SERVICE}

@functools.cache
def read_only_services() -> frozenset[str]:
    """Services whose every known action has the List or Read access level (policyuniverse's categories); an
    action without a known level counts as a write."""
    levels = categories_for_actions(sorted(ALL_ACTIONS))
    return frozenset(s for s, found in levels.items() if found and found <= {"List", "Read"})


# Services whose every action amounts to control over identities or the organisation.
PRIVILEGE_SERVICES = frozenset({"iam", "sts", "organizations", "sso", "identitystore"})

# Sample resources of an arbitrary name: a pattern matching them matches resources nobody named.
_SAMPLE_NAME = "x7q-unnamed"


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcard matching: `*` any run of characters, `?` one character, everything else literal."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def action_matches(pattern: str, action: str) -> bool:
    return _compiled(pattern.strip(), True).fullmatch(action) is not None


def arn_matches(pattern: str, arn: str) -> bool:
    return _compiled(pattern.strip(), False).fullmatch(arn) is not None


@functools.lru_cache(maxsize=1024)
def _expand(patterns: tuple[str, ...]) -> frozenset[str]:
    """The known actions any of the patterns matches."""
    found: set[str] = set()
    for pattern in patterns:
        pattern = pattern.strip().lower()
        if "*" in pattern or "?" in pattern:
            found.update(a for a in ALL_ACTIONS if action_matches(pattern, a))
        elif pattern in ALL_ACTIONS:
            found.add(pattern)
    return frozenset(found)


@dataclass(frozen=True)
class Condition:
    """One `operator: {key: values}` entry, with the operator read for its meaning."""

    operator: str  # as written
    base: str  # without set qualifier and IfExists, lower case, e.g. "stringequals"
    key: str  # lower case: condition keys are case-insensitive
    values: tuple[str, ...]
    if_exists: bool
    qualifier: str | None  # "forallvalues" | "foranyvalue" | None

    @property
    def negated(self) -> bool:
        return self.base.startswith(("stringnot", "arnnot", "numericnot", "datenot")) or self.base == "null"

    @property
    def positive(self) -> bool:
        """A positive match that holds only when the key is present and equals/matches a value."""
        return (
            not self.negated
            and not self.if_exists
            and self.qualifier is None
            and self.base in ("stringequals", "stringlike", "stringequalsignorecase", "arnequals", "arnlike")
        )

    @property
    def reads_globs(self) -> bool:
        """Whether the operator reads `*` and `?` in its values as wildcards.

        StringLike does, and so do both ARN operators: "ArnEquals, ArnLike: each of the six colon-delimited
        components of the ARN is checked separately and each can include multi-character match wildcards (*)
        or single-character match wildcards (?)" (IAM User Guide, Condition operators, ARN condition operators).
        """
        return self.base in ("stringlike", "arnlike", "arnequals")

    def literal(self, value: str) -> bool:
        """Whether `value` admits exactly itself under this operator (no wildcard it would expand)."""
        return not (self.reads_globs and set(value) & set("*?"))

    def admits_only(self, within: Callable[[str, bool], bool]) -> bool:
        """Whether the set of values this condition admits is provably inside the set `within` accepts.

        Only a positive condition restricts at all; each of its values must then be accepted by `within`,
        which is told whether the operator expands wildcards in it (`reads_globs`): a value with a wildcard
        the operator expands admits values nobody named, so it proves nothing however narrow it looks,
        unless `within` can show that every expansion stays inside (an ARN whose account field is literal).
        """
        return self.positive and bool(self.values) and all(within(v, self.reads_globs) for v in self.values)


def _conditions(raw: Any) -> tuple[Condition, ...]:
    found: list[Condition] = []
    if not isinstance(raw, Mapping):
        return ()
    for operator, block in raw.items():
        if not isinstance(operator, str) or not isinstance(block, Mapping):
            continue
        name = operator.strip()
        qualifier = None
        for prefix in ("ForAllValues:", "ForAnyValue:"):
            if name.lower().startswith(prefix.lower()):
                qualifier, name = prefix[:-1].lower(), name[len(prefix) :]
        if_exists = name.lower().endswith("ifexists")
        base = name[: -len("IfExists")] if if_exists else name
        for key, values in block.items():
            found.append(
                Condition(
                    operator=operator,
                    base=base.lower(),
                    key=str(key).strip().lower(),
                    values=tuple(str(v) for v in as_list(values) if not is_unknown(v)),
                    if_exists=if_exists,
                    qualifier=qualifier,
                )
            )
    return tuple(found)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in as_list(value) if isinstance(v, str))


@dataclass(frozen=True)
class Statement:
    """One policy statement with positive or negative action and resource sets."""

    index: int
    sid: str | None
    effect: str  # "allow" | "deny" | whatever else was written, lower case
    actions: tuple[str, ...] | None  # Action patterns, or None when the statement uses NotAction
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None  # Resource patterns, or None when the statement uses NotResource
    not_resources: tuple[str, ...] | None
    principals: Mapping[str, tuple[str, ...]]  # kind ("AWS", "Service", "Federated", "*") -> values
    not_principal: bool
    conditions: tuple[Condition, ...]

    @property
    def label(self) -> str:
        return f"statement {self.sid!r}" if self.sid else f"statement #{self.index + 1}"

    @property
    def allows(self) -> bool:
        return self.effect == "allow"

    @property
    def denies(self) -> bool:
        return self.effect == "deny"

    # --- actions ---------------------------------------------------------------------------------------

    def grants(self, action: str) -> bool:
        """Whether the statement's action set includes `action` (e.g. "iam:PassRole")."""
        if self.not_actions is not None:
            return not any(action_matches(p, action) for p in self.not_actions)
        return any(action_matches(p, action) for p in self.actions or ())

    def actions_granted(self) -> frozenset[str]:
        """The known actions in the statement's action set."""
        if self.not_actions is not None:
            return ALL_ACTIONS - _expand(self.not_actions)
        return _expand(self.actions or ())

    def grants_every_action(self) -> bool:
        return self.not_actions is None and self.actions_granted() >= ALL_ACTIONS and self.grants("zz:unknown")

    def services_fully_granted(self) -> list[str]:
        """Services that can change something whose every known action the statement grants (e.g. "s3" for
        `s3:*`); a service whose every action only reads (List/Read access level) is not one: all of it is
        what a read-only grant gives."""
        granted = self.actions_granted()
        return sorted(
            s for s, actions in _BY_SERVICE.items() if actions and actions <= granted and s not in read_only_services()
        )

    # --- resources -------------------------------------------------------------------------------------

    def covers(self, arn: str) -> bool:
        """Whether the statement's resource set includes `arn`."""
        if self.not_resources is not None:
            return not any(arn_matches(p, arn) for p in self.not_resources)
        return any(arn_matches(p, arn) for p in self.resources or ())

    def every_resource(self) -> bool:
        """Resources of any service and any name: `*`, `arn:*:*:*:*:*`, `arn:aws:*`, or NotResource."""
        if self.not_resources is not None:
            return True
        samples = (
            f"arn:aws:s3:::{_SAMPLE_NAME}",
            f"arn:aws:iam::123456789012:role/{_SAMPLE_NAME}",
            f"arn:aws:kms:us-east-1:123456789012:key/{_SAMPLE_NAME}",
        )
        return sum(self.covers(s) for s in samples) >= 2

    def every_resource_of(self, service: str) -> bool:
        """Any resource of `service` (e.g. `arn:aws:s3:::*`), including every resource at all."""
        if self.every_resource():
            return True
        samples = (
            f"arn:aws:{service}:::{_SAMPLE_NAME}",
            f"arn:aws:{service}:us-east-1:123456789012:{_SAMPLE_NAME}",
            f"arn:aws:{service}::123456789012:{_SAMPLE_NAME}",
            f"arn:aws:{service}:us-east-1:123456789012:{_SAMPLE_NAME}/{_SAMPLE_NAME}",
        )
        return any(self.covers(s) for s in samples)

    def shared_resources_of(self, service: str) -> list[str]:
        """The statement's patterns that reach several resources of `service` through a wildcard in the
        resource's name (e.g. `arn:aws:s3:::mlops-*`; a trailing `/*`, the objects of one bucket, is not
        one) or in its account; NotResource counts as one."""
        if self.not_resources is not None:
            return [f"NotResource {list(self.not_resources)}"]
        shared = []
        for pattern in self.resources or ():
            fields = pattern.split(":", 5)
            if len(fields) < 6:
                if set(pattern) & set("*?"):
                    shared.append(pattern)
                continue
            if not action_matches(fields[2], service):  # the pattern's service field, e.g. s3 or *
                continue
            name = fields[5].removesuffix("/*")
            if set(name) & set("*?") or set(fields[4]) & set("*?"):  # several names, or any account
                shared.append(pattern)
        return shared

    def wide_resource_patterns(self, too_wide: Iterable[str]) -> list[str]:
        """The resource patterns (or NotResource) of the statement that match any of `too_wide`."""
        if self.not_resources is not None:
            return [f"NotResource {list(self.not_resources)}"]
        samples = list(too_wide)
        return [p for p in self.resources or () if any(arn_matches(p, s) for s in samples)]

    # --- principals and conditions ---------------------------------------------------------------------

    def public_principal(self) -> bool:
        """Everyone: `"*"`, `{"AWS": "*"}` in any form, an account wildcard, or NotPrincipal with Allow."""
        if self.not_principal:
            return True
        for kind, values in self.principals.items():
            for value in values:
                if value.strip() == "*":
                    return True
                if kind.lower() in ("aws", "*") and ("*" in value or "?" in value):
                    return True
        return False

    def aws_accounts(self) -> set[str]:
        """The accounts named by the statement's AWS principals (account ids or ARNs)."""
        accounts = set()
        for kind, values in self.principals.items():
            if kind.lower() != "aws":
                continue
            for value in values:
                parsed = ARN(value.strip())
                if parsed.account_number and parsed.account_number.isdigit():
                    accounts.add(parsed.account_number)
        return accounts

    def condition(self, key: str) -> list[Condition]:
        return [c for c in self.conditions if c.key == key.lower()]

    def pinned(self, key: str) -> bool:
        """Whether a positive condition (StringEquals/Like, ArnEquals/Like, no IfExists) names `key` at all.

        Says nothing about what the values admit: use `restricts` to know whether the pin narrows anything.
        """
        return any(c.positive and c.values for c in self.condition(key))

    def restricts(self, key: str, within: Callable[[str, bool], bool]) -> bool:
        """Whether some condition on `key` admits only values `within` accepts (conditions are ANDed, so one
        such condition restricts the statement whatever the others say)."""
        return any(c.admits_only(within) for c in self.condition(key))


def _principals(raw: Any) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if isinstance(raw, str | list):
        return {"*": _strings(raw)}
    if isinstance(raw, Mapping):
        return {str(kind): _strings(values) for kind, values in raw.items()}
    return {}


def _key(statement: Mapping[str, Any], name: str) -> Any:
    """A statement element by name; IAM element names are case-sensitive, but be lenient in what we read."""
    if name in statement:
        return statement[name]
    for key, value in statement.items():
        if isinstance(key, str) and key.lower() == name.lower():
            return value
    return None


def _has(statement: Mapping[str, Any], name: str) -> bool:
    return any(isinstance(k, str) and k.lower() == name.lower() for k in statement)


def statements(document: Any) -> Iterator[Statement]:
    """The normalised statements of a policy document (a dict; anything else has none)."""
    if not isinstance(document, Mapping):
        return
    for index, raw in enumerate(as_list(_key(document, "Statement"))):
        if not isinstance(raw, Mapping):
            continue
        effect = _key(raw, "Effect")
        sid = _key(raw, "Sid")
        yield Statement(
            index=index,
            sid=sid if isinstance(sid, str) and sid else None,
            effect=effect.strip().lower() if isinstance(effect, str) else "",
            actions=None if _has(raw, "NotAction") else _strings(_key(raw, "Action")),
            not_actions=_strings(_key(raw, "NotAction")) if _has(raw, "NotAction") else None,
            resources=None if _has(raw, "NotResource") else _strings(_key(raw, "Resource")),
            not_resources=_strings(_key(raw, "NotResource")) if _has(raw, "NotResource") else None,
            principals=_principals(_key(raw, "NotPrincipal") if _has(raw, "NotPrincipal") else _key(raw, "Principal")),
            not_principal=_has(raw, "NotPrincipal"),
            conditions=_conditions(_key(raw, "Condition")),
        )


def allow_statements(document: Any) -> Iterator[Statement]:
    return (s for s in statements(document) if s.allows)


# --- AWS-managed policies, known by what they grant ---------------------------------------------------

_MANAGED = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(?P<rest>.+)$")


def managed_policy_grant(arn: Any) -> str | None:
    """What an AWS-managed policy ARN grants, when that is administrator-like; None otherwise (and for a
    customer-managed policy, which is judged where it is declared).

    Judged from the policy's document, not its name: `managed_policies.py` holds the pack's own verdict
    (`iam.admin_grants`) on the current version of every AWS-managed policy. One the snapshot does not hold (newer
    than it) is reported, because what it grants is unknown.
    """
    if not isinstance(arn, str):
        return None
    match = _MANAGED.match(arn.strip())
    if not match:
        return None
    key = f"arn:aws:iam::aws:policy/{match['rest']}"  # the same policy in every partition
    if key in ADMIN_LIKE:
        return ADMIN_LIKE[key]
    if key not in JUDGED:
        return ("is not in the pack's snapshot of AWS-managed policies, so what it grants is unknown (regenerate "
                "policies/rules/managed_policies.py)")
    return None
