"""Renders a plan (and its policy verdict) as a table for people, JSON for machines, Mermaid for docs.

The JSON document is a stable contract (`schemaVersion` 1): keys are only ever added, never renamed.
It is always strict JSON: a program may produce values JSON cannot hold, so non-finite numbers become the
strings "NaN", "Infinity" and "-Infinity", and any other non-JSON value its `str()`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pulumi
from pulumi.output import Unknown as OutputUnknown

from infra.core.paths import PROJECT_ROOT
from infra.plan.model import SECRET_PLACEHOLDER, PlannedResource, PlanResult

SCHEMA_VERSION = 1
_STACK = "pulumi:pulumi:Stack"


def to_document(plan: PlanResult, violations: Sequence[Any] = (), policy: dict[str, Any] | None = None,
                cost: Any = None) -> dict:
    """The JSON document: every resource with its inputs and options, the outputs, the verdict.

    `cost` (an infra.plan.cost CostReport) adds the top-level `cost` summary and each resource's `cost`.
    """
    by_urn = {r.urn: r for r in cost.resources} if cost is not None else {}
    document = {
        "schemaVersion": SCHEMA_VERSION,
        "project": plan.project,
        "stack": plan.stack,
        "summary": {
            "resourceCount": len(plan.resources),
            "byType": dict(sorted(Counter(r.type for r in plan.resources).items())),
        },
        "resources": [_resource_document(r, by_urn.get(r.urn)) for r in plan.resources],
        "outputs": _mask(plan.outputs, plan.secret_outputs),
        "policy": _policy_document(violations, policy),
    }
    if cost is not None:
        document["cost"] = cost.summary()
    return document


def render_json(plan: PlanResult, violations: Sequence[Any] = (), policy: dict[str, Any] | None = None,
                cost: Any = None, extra: dict[str, Any] | None = None) -> str:
    return _dumps({**to_document(plan, violations, policy, cost), **(extra or {})}, indent=2) + "\n"


def _dumps(value: Any, indent: int | None = None) -> str:
    """Strict JSON (`allow_nan=False`): non-finite numbers and other non-JSON values made representable."""
    return json.dumps(_json_safe(value), indent=indent, sort_keys=True, allow_nan=False, default=str)


_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


UNKNOWN_PLACEHOLDER = "[unknown until created]"
"""How a value that only the deployment will know (an ARN without a known format, say) is shown."""


def _json_safe(value: Any) -> Any:
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return _asset_document(value)
    if isinstance(value, OutputUnknown):
        return UNKNOWN_PLACEHOLDER
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE[repr(value)]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _asset_document(value: pulumi.Asset | pulumi.Archive) -> dict[str, Any]:
    """An asset or archive as what it holds, the same on every run and in every checkout: a file by its path
    relative to the project and the SHA-256 of its bytes (the engine too tells a change by content), text as
    itself, an archive by its members. Never the object's repr, which carries a memory address."""
    if isinstance(value, pulumi.AssetArchive):
        return {"assetArchive": {name: _asset_document(member) for name, member in sorted(value.assets.items())}}
    if isinstance(value, (pulumi.FileAsset, pulumi.FileArchive)):
        path = Path(value.path)
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        except OSError:
            digest = None
        shown = path.resolve().relative_to(PROJECT_ROOT) if path.resolve().is_relative_to(PROJECT_ROOT) else path
        kind = "fileAsset" if isinstance(value, pulumi.FileAsset) else "fileArchive"
        return {kind: str(shown), "sha256": digest}
    if isinstance(value, pulumi.StringAsset):
        return {"stringAsset": value.text}
    if isinstance(value, (pulumi.RemoteAsset, pulumi.RemoteArchive)):
        return {"remoteAsset" if isinstance(value, pulumi.RemoteAsset) else "remoteArchive": value.uri}
    return {"asset": type(value).__name__}


def render_table(plan: PlanResult, violations: Sequence[Any] = (), policy: dict[str, Any] | None = None,
                 cost_lines: Sequence[str] = ()) -> str:
    """Resources grouped under the components that declared them, with counts; then outputs and verdict."""
    children = _children_of(plan)
    components = sum(1 for r in plan.resources if not r.custom and r.type != _STACK)
    lines = [
        f"Plan of stack {plan.stack} (project {plan.project}): "
        f"{sum(1 for r in plan.resources if r.custom)} resources in {components} components",
        "",
    ]

    def walk(resource: PlannedResource, depth: int) -> None:
        indent = "  " * depth
        if resource.custom:
            flags = " [protected]" if resource.protect else ""
            flags += " [retained on delete]" if resource.retain_on_delete else ""
            lines.append(f"{indent}{resource.type:<{max(1, 62 - len(indent))}} {resource.name}{flags}")
            return
        count = _count_custom(resource.urn, children)
        lines.append(f"{indent}{resource.type} {resource.name}  ({count} resources)")
        for child in sorted(children[resource.urn], key=lambda r: (not r.custom, r.type, r.name)):
            walk(child, depth + 1)

    for root in sorted(children[None], key=lambda r: (r.custom, r.type, r.name)):
        walk(root, 0)
    if plan.outputs:
        lines += ["", "Outputs:"]
        for key, value in sorted(_mask(plan.outputs, plan.secret_outputs).items()):
            lines.append(f"  {key:<24} {_dumps(value)}")
    if cost_lines:
        lines += ["", *cost_lines]
    if policy is not None:
        lines += ["", *_verdict_lines(violations, policy)]
    return "\n".join(lines) + "\n"


def render_mermaid(plan: PlanResult) -> str:
    """A flowchart: components as subgraphs, resources as nodes, property dependencies as edges."""
    ids = {r.urn: f"r{i}" for i, r in enumerate(plan.resources)}
    children = _children_of(plan)
    lines = ["flowchart LR"]

    def walk(resource: PlannedResource, depth: int) -> None:
        pad = "  " * (depth + 1)
        label = f"{resource.type.split(':')[-1]}<br/>{resource.name}".replace('"', "'")
        if resource.custom or not children[resource.urn]:
            lines.append(f'{pad}{ids[resource.urn]}["{label}"]')
            return
        lines.append(f'{pad}subgraph {ids[resource.urn]}["{label}"]')
        for child in children[resource.urn]:
            walk(child, depth + 1)
        lines.append(f"{pad}end")

    for root in children[None]:
        if root.type.startswith("pulumi:providers:"):
            continue
        walk(root, 0)
    edges = set()
    for resource in plan.resources:
        for urns in resource.property_dependencies.values():
            for urn in urns:
                if urn in ids and urn != resource.urn and not urn.split("::")[2].endswith("pulumi:providers:aws"):
                    edges.add((ids[urn], ids[resource.urn]))
    lines += [f"  {a} --> {b}" for a, b in sorted(edges)]
    return "\n".join(lines) + "\n"


def _children_of(plan: PlanResult) -> dict[str | None, list[PlannedResource]]:
    """Resources by parent; the root stack's children (and orphans) are the roots (key None)."""
    stack_urns = {r.urn for r in plan.resources if r.type == _STACK}
    urns = {r.urn for r in plan.resources} - stack_urns
    children: dict[str | None, list[PlannedResource]] = defaultdict(list)
    for resource in plan.resources:
        if resource.type != _STACK:
            children[resource.parent if resource.parent in urns else None].append(resource)
    return children


def _resource_document(resource: PlannedResource, cost: Any = None) -> dict[str, Any]:
    document = {
        "urn": resource.urn,
        "type": resource.type,
        "name": resource.name,
        "custom": resource.custom,
        "parent": resource.parent,
        "provider": resource.provider,
        "inputs": _mask(resource.inputs, resource.secret_keys),
        "options": {
            "protect": resource.protect,
            "retainOnDelete": resource.retain_on_delete,
            "deleteBeforeReplace": resource.delete_before_replace,
            "ignoreChanges": list(resource.ignore_changes),
            "dependencies": sorted(resource.dependencies),
            "propertyDependencies": {k: sorted(v) for k, v in sorted(resource.property_dependencies.items())},
        },
    }
    if cost is not None:
        document["cost"] = cost.document()
    return document


def _policy_document(violations: Sequence[Any], policy: dict[str, Any] | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    if not policy.get("judged", True):
        return {**policy, "mandatoryCount": 0, "advisoryCount": 0, "violations": []}
    return {
        **policy,
        "mandatoryCount": sum(1 for v in violations if v.enforcement == "mandatory"),
        "advisoryCount": sum(1 for v in violations if v.enforcement != "mandatory"),
        "violations": [
            {
                "policy": v.policy_name,
                "enforcement": v.enforcement,
                "severity": v.severity,
                "urn": v.urn,
                "resource": v.resource_name,
                "message": v.message,
                "remediation": v.remediation,
            }
            for v in violations
        ],
    }


def _verdict_lines(violations: Sequence[Any], policy: dict[str, Any]) -> list[str]:
    not_judged = [f"  NOT JUDGED: {n['type']} {n['urn'].rsplit('::', 1)[-1]}: {n['reason']}"
                  for n in policy.get("notJudged", ())]
    if not policy.get("judged", True):
        return [f"NO POLICY JUDGED THIS PLAN: {policy.get('reason')}", *not_judged]
    mandatory = sum(1 for v in violations if v.enforcement == "mandatory")
    lines = [
        f"Policy pack {policy.get('pack')} with {policy.get('config')}: "
        f"{mandatory} mandatory, {len(violations) - mandatory} advisory violations",
        *not_judged,
    ]
    order = {"mandatory": 0, "advisory": 1}
    for v in sorted(violations, key=lambda v: (order.get(v.enforcement, 2), v.policy_name, v.urn or "")):
        lines.append(f"  [{v.enforcement}] {v.policy_name}: {v.resource_name or '(stack)'}")
        lines.append(f"      {v.message}")
        if v.remediation:
            lines.append(f"      remediation: {v.remediation}")
    return lines


def _count_custom(urn: str, children: dict[str | None, list[PlannedResource]]) -> int:
    return sum(1 if c.custom else _count_custom(c.urn, children) for c in children[urn])


def _mask(values: dict[str, Any], secret_keys: frozenset[str]) -> dict[str, Any]:
    return {k: SECRET_PLACEHOLDER if k in secret_keys else v for k, v in values.items()}
