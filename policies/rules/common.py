"""Shared machinery for the rules: plain property views, unknown values, config defaults, rule builders.

Every rule reads resource properties by their wire (camelCase) names, exactly as the Pulumi CLI sends them
to the policy pack. During `pulumi preview` many values are unknown (outputs of resources not yet created);
pulumi_policy raises `UnknownValueError` when a rule touches one. Left alone, that error makes the whole
policy report "can't run during preview" for the resource (or, for a stack rule, for the entire stack). So
each rule first copies the properties into plain Python values with `plain()`, where every unknown becomes
the `UNKNOWN` marker, and then decides explicitly what an unknown value means: a rule never reports a
violation because of a value it cannot see.

This module must import nothing but the standard library and pulumi_policy: the CLI runs the pack in its
own virtualenv built from `policies/requirements.txt`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError


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

# The sentinels the engine puts on the wire for unknown values (pulumi_policy.proxy uses the same).
_UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
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


# --- rule construction -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    type: str
    name: str
    urn: str
    props: dict[str, Any]


@dataclass(frozen=True)
class ResourceView:
    """What a resource rule sees of one resource: plain properties plus its provider's."""

    type: str
    name: str
    urn: str
    props: dict[str, Any]
    protect: bool
    provider: Provider | None
    config: dict[str, Any]


@dataclass
class StackResource:
    """One resource of the stack, for stack rules: planned properties and its place in the graph."""

    type: str
    name: str
    urn: str
    props: dict[str, Any]
    protect: bool
    provider: Provider | None
    parent: str | None
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]

    def depends_on(self, other: StackResource, *properties: str) -> bool:
        """Whether this resource's given properties (any, if none named) take a value from `other`."""
        if properties:
            return any(other.urn in self.property_dependencies.get(p, ()) for p in properties)
        return other.urn in self.dependencies or any(
            other.urn in urns for urns in self.property_dependencies.values()
        )


@dataclass
class StackView:
    resources: list[StackResource]
    config: dict[str, Any]
    by_urn: dict[str, StackResource] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_urn = {r.urn: r for r in self.resources}

    def of_type(self, *types: str) -> list[StackResource]:
        return [r for r in self.resources if r.type in types]


def _provider(provider: Any) -> Provider | None:
    if provider is None:
        return None
    return Provider(provider.resource_type, provider.name, provider.urn, plain(provider.props))


def _defaults(knobs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {k: schema["default"] for k, schema in knobs.items() if "default" in schema}


def _config(knobs: Mapping[str, Mapping[str, Any]], configured: Mapping[str, Any]) -> dict[str, Any]:
    # The CLI fills in schema defaults before it configures the pack; doing it here as well keeps a rule
    # correct when it is run without any policy config at all.
    return {**_defaults(knobs), **plain(dict(configured))}


def _schema(knobs: Mapping[str, Mapping[str, Any]] | None) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties={k: dict(v) for k, v in knobs.items()}) if knobs else None


Knobs = Mapping[str, Mapping[str, Any]]


def resource_rule(
    *,
    name: str,
    description: str,
    rationale: str,
    severity: Severity,
    remediation: str,
    resource_types: Iterable[str] | Callable[[str], bool],
    check: Callable[[ResourceView], Iterable[str]],
    knobs: Knobs | None = None,
    tags: Sequence[str] = (),
) -> ResourceValidationPolicy:
    """A resource rule: `check` yields one message per violation found on a resource of a matching type."""
    knobs = knobs or {}
    if callable(resource_types):
        applies = resource_types
    else:
        types = frozenset(resource_types)

        def applies(resource_type: str) -> bool:
            return resource_type in types

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not applies(args.resource_type):
            return
        view = ResourceView(
            type=args.resource_type,
            name=args.name,
            urn=args.urn,
            props=plain(args.props),
            protect=bool(args.opts.protect),
            provider=_provider(args.provider),
            config=_config(knobs, args.get_config()),
        )
        for message in check(view):
            report_violation(message, None)

    policy = ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        config_schema=_schema(knobs),
        severity=severity,
        remediation_steps=remediation,
        tags=list(tags) or None,
    )
    return _annotated(policy, rationale, resource_types)


def stack_rule(
    *,
    name: str,
    description: str,
    rationale: str,
    severity: Severity,
    remediation: str,
    check: Callable[[StackView], Iterable[tuple[str, str | None]]],
    knobs: Knobs | None = None,
    tags: Sequence[str] = (),
) -> StackValidationPolicy:
    """A stack rule: `check` yields (message, urn) for each violation among all the stack's resources."""
    knobs = knobs or {}

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            StackResource(
                type=r.resource_type,
                name=r.name,
                urn=r.urn,
                props=plain(r.props),
                protect=bool(r.opts.protect),
                provider=_provider(r.provider),
                parent=r.parent.urn if r.parent is not None else None,
                dependencies=[d.urn for d in r.dependencies],
                property_dependencies={k: [d.urn for d in v] for k, v in r.property_dependencies.items()},
            )
            for r in args.resources
        ]
        view = StackView(resources=resources, config=_config(knobs, args.get_config()))
        for message, urn in check(view):
            report_violation(message, urn)

    policy = StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        config_schema=_schema(knobs),
        severity=severity,
        remediation_steps=remediation,
        tags=list(tags) or None,
    )
    return _annotated(policy, rationale, None)


_P = TypeVar("_P", ResourceValidationPolicy, StackValidationPolicy)


def _annotated(
    policy: _P, rationale: str, resource_types: Iterable[str] | Callable[[str], bool] | None
) -> _P:
    """Attach what the docs show besides the CrossGuard fields: why the rule exists, what it applies to."""
    policy.rationale = rationale  # type: ignore[attr-defined]
    if resource_types is None:
        applies_to: tuple[str, ...] = ("the whole stack",)
    elif callable(resource_types):
        applies_to = (getattr(resource_types, "__doc__", None) or "matching resources",)
    else:
        applies_to = tuple(resource_types)
    policy.applies_to = applies_to  # type: ignore[attr-defined]
    return policy


# --- small schema helpers ----------------------------------------------------------------------------


def bool_knob(description: str, default: bool) -> dict[str, Any]:
    return {"type": "boolean", "default": default, "description": description}


def int_knob(description: str, default: int, minimum: int = 0, maximum: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "integer",
        "default": default,
        "minimum": minimum,
        "description": description,
    }
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def strings_knob(description: str, default: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {"type": "string"},
        "uniqueItems": True,
        "default": list(default),
        "description": description,
    }


def iter_strings(values: Any) -> Iterator[str]:
    """The known strings among a value that may be a string, a list of them, or unknown."""
    for value in as_list(values):
        if isinstance(value, str):
            yield value
