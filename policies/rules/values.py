"""Plain property values and unknowns: what every rule reads before it judges.

Every rule reads resource properties by their wire (camelCase) names, exactly as the Pulumi CLI sends them
to the policy pack. During `pulumi preview` many values are unknown (outputs of resources not yet created);
pulumi_policy raises `UnknownValueError` when a rule touches one. Left alone, that error makes the whole
policy report "can't run during preview" for the resource (or, for a stack rule, for the entire stack). So
each rule first copies the properties into plain Python values with `plain()`, where every unknown becomes
the `UNKNOWN` marker, and then decides explicitly what an unknown value means: a rule never reports a
violation because of a value it cannot see.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Self

from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)


class _Unknown:
    """The marker for a value that is not known until the deployment runs."""

    _instance: _Unknown | None = None

    def __new__(cls) -> Self:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:
        raise TypeError("an unknown value has no truth value; test it with is_unknown() first")


UNKNOWN: Any = _Unknown()
"""Stands in for any value that is unknown at preview time."""

# The sentinels the engine puts on the wire for unknown values, as pulumi_policy.proxy defines them.
_UNKNOWN_SENTINELS = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def plain(value: Any) -> Any:
    """A plain copy of a (proxied) property value, with `UNKNOWN` wherever the value is not yet known."""
    if isinstance(value, str):
        return UNKNOWN if value in _UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in list(value):
            try:
                out[key] = plain(value[key])
            except UnknownValueError:
                out[key] = UNKNOWN
        return out
    if isinstance(value, Sequence):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def dig(value: Any, *path: str | int, default: Any = None) -> Any:
    """`value[path[0]][path[1]]...`, or `default` when a step is missing; `UNKNOWN` if a step is unknown."""
    for step in path:
        if is_unknown(value):
            return UNKNOWN
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return default
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                return default
            value = value[step]
        if value is None:
            return default
    return value


def as_list(value: Any) -> list[Any]:
    """A list for a value that may be a single item, a list, None or unknown (unknown stays one item)."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def is_true(value: Any) -> bool:
    """True for a known boolean true (also the strings "true"/"True", as JSON documents may carry them)."""
    if is_unknown(value):
        return False
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def is_false(value: Any) -> bool:
    """True for a known boolean false, a missing value or the string "false"."""
    if is_unknown(value):
        return False
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() == "false"
    return value is False


def has_unknown(value: Any) -> bool:
    """Whether a value or anything nested in it is unknown."""
    if is_unknown(value):
        return True
    if isinstance(value, dict):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknown(v) for v in value)
    return False


def parse_json_document(value: Any) -> Any:
    """A JSON document given as text (IAM policies, pipeline definitions) or already as an object.

    Returns `UNKNOWN` for an unknown value and raises ValueError for text that is not JSON.
    """
    if is_unknown(value) or value is None:
        return value
    if isinstance(value, str):
        return json.loads(value)
    return value


def number(value: Any) -> float | None:
    """A known number (the CLI sends every number as a float), else None."""
    if isinstance(value, bool) or is_unknown(value):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def iter_strings(values: Any) -> Iterator[str]:
    """The known strings among a value that may be a string, a list of them, or unknown."""
    for value in as_list(values):
        if isinstance(value, str):
            yield value
