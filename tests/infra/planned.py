"""Helpers to find resources in a plan and read their policy documents."""

from __future__ import annotations

import json

from infra.plan.model import PlannedResource, PlanResult
from infra.plan.project import load_stack
from infra.plan.runner import PROJECT_ROOT


def of_type(plan: PlanResult, type_: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type == type_]


def one(plan: PlanResult, type_: str, name: str | None = None) -> PlannedResource:
    matches = [r for r in of_type(plan, type_) if name is None or r.name == name]
    assert len(matches) == 1, f"expected one {type_} {name or ''}, found {[r.name for r in matches]}"
    return matches[0]


def policy_of(resource: PlannedResource, key: str = "policy") -> dict:
    """A policy document input; the provider takes it as a JSON string, and only as one."""
    document = resource.inputs[key]
    assert isinstance(document, str), f"{resource.urn}: {key} is {type(document).__name__}, not a JSON string"
    return json.loads(document)


def statements_by_sid(resource: PlannedResource, key: str = "policy") -> dict[str, dict]:
    return {s["Sid"]: s for s in policy_of(resource, key)["Statement"]}


def provider_json(resource: PlannedResource, key: str) -> object:
    """A nested provider input: the engine hands provider config over as JSON strings, never as objects."""
    value = resource.inputs[key]
    assert isinstance(value, str), f"{resource.urn}: {key} is {type(value).__name__}, not a JSON string"
    return json.loads(value)


def children_of(plan: PlanResult, component: PlannedResource) -> list[PlannedResource]:
    return [r for r in plan.resources if r.parent == component.urn]


def depends_on(resource: PlannedResource, other: PlannedResource) -> bool:
    return other.urn in resource.dependencies


def stack_models(stack: str) -> dict:
    return json.loads(load_stack(PROJECT_ROOT, stack).config["mlops:models"])
