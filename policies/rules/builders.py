"""Rule builders: turn a plain `check` function into a CrossGuard resource or stack policy.

A builder copies what the engine sends into plain views (`ResourceView`, `StackView`, see values.plain),
fills in the rule's knob defaults, and reports each message the check yields. Rules stay plain functions
that tests can call without the analyzer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from .values import plain


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


