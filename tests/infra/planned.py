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
    return json.loads(resource.inputs[key])


def stack_models(stack: str) -> dict:
    return json.loads(load_stack(PROJECT_ROOT, stack).config["mlops:models"])
