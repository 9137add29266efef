"""The plan's monthly cost: the pack's cost model (`policies.rules.cost_model`) applied to a PlanResult.

Prices have one home, the snapshot under `policies/rules/prices/`, read by `policies.rules.pricing`; the pack
(which imports nothing from infra) and this module use the same code and file, so the plan's figure and the
`monthly-budget` rule's cannot disagree. This module only adapts the plan's records, renders the estimate,
and compares it with a previous plan's JSON (`--cost-diff`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.plan.model import PlanResult
from policies.rules.cost_model import CostInput, CostReport, estimate
from policies.rules.pricing import PriceBook, price_book

AWS_PROVIDER = "pulumi:providers:aws"


def plan_region(plan: PlanResult) -> str | None:
    """The region of the plan's AWS provider (the program's default provider carries `aws:region`)."""
    for r in plan.resources:
        if r.type == AWS_PROVIDER:
            region = r.inputs.get("region")
            if isinstance(region, str) and region:
                return region
    return None


def plan_cost(plan: PlanResult, prices: PriceBook | None = None) -> CostReport:
    """The plan priced with the snapshot's prices for the plan's region (or the given price book)."""
    inputs = [
        CostInput(
            urn=r.urn,
            type=r.type,
            name=r.name,
            parent=r.parent,
            props={**r.inputs, **r.outputs},
            property_dependencies=dict(r.property_dependencies),
            custom=r.custom,
        )
        for r in plan.resources
    ]
    return estimate(inputs, prices if prices is not None else price_book(plan_region(plan)))


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _range(low: float, high: float) -> str:
    return _usd(low) if low == high else f"{_usd(low)} - {_usd(high)}"


def cost_lines(report: CostReport) -> list[str]:
    """The table section: total range, by component, then what is unpriced or usage-based."""
    lines = [
        f"Monthly cost estimate (USD, {report.region or 'region unknown'}, prices of {report.snapshot_date}, "
        f"730 h/month): {_range(report.total_min, report.total_max)}"
    ]
    for component, (low, high) in report.by_component().items():
        lines.append(f"  {component:<60} {_range(low, high)}")
    if report.unpriced:
        lines.append(f"  unpriced, not counted ({len(report.unpriced)}):")
        for r in report.unpriced:
            lines.append(f"    {r.type} {r.name}: {'; '.join(r.missing)}")
    usage = [r for r in report.resources if r.status == "usage-based"]
    if usage:
        kinds = sorted({r.type.split(":")[-1] for r in usage})
        lines.append(f"  usage-based, not estimated ({len(usage)}): {', '.join(kinds)}")
    lines.append("  assumptions per resource: --format json (resources[].cost); see docs/cost.md")
    return lines


class CostDiffError(ValueError):
    """The base document carries no cost to compare with."""


@dataclass(frozen=True)
class CostChange:
    urn: str
    before: tuple[float, float] | None
    after: tuple[float, float] | None


def _figures(resource_doc: dict[str, Any]) -> tuple[float, float] | None:
    usd = (resource_doc.get("cost") or {}).get("monthlyUsd")
    if not isinstance(usd, dict):
        return None
    low, high = usd.get("min"), usd.get("max")
    if not isinstance(low, (int, float)) or not isinstance(high, (int, float)):
        return None
    return float(low), float(high)


def check_cost_base(base: Any) -> None:
    """Raise CostDiffError unless `base` is a plan document (`--format json`) that carries a cost estimate."""
    well_formed = isinstance(base, dict) and isinstance(base.get("resources"), list)
    total = base.get("cost", {}).get("monthlyUsd") if well_formed and isinstance(base.get("cost"), dict) else None
    if not isinstance(total, dict) or not all(isinstance(total.get(k), (int, float)) for k in ("min", "max")):
        raise CostDiffError("carries no cost estimate (cost.monthlyUsd.min/max): not a plan JSON of this "
                            "version (python -m infra.plan --format json)")


def cost_diff(base: Any, current: dict[str, Any]) -> dict[str, Any]:
    """Compare two plan documents (`--format json`); the base must pass `check_cost_base`."""
    check_cost_base(base)
    before = {r.get("urn"): _figures(r) for r in base["resources"] if isinstance(r, dict)}
    after = {r["urn"]: _figures(r) for r in current["resources"]}
    changes = [
        CostChange(urn, before.get(urn), after.get(urn))
        for urn in sorted(set(before) | set(after), key=str)
        if isinstance(urn, str) and before.get(urn) != after.get(urn)
    ]
    base_total = base["cost"]["monthlyUsd"]
    total = current["cost"]["monthlyUsd"]
    return {
        "base": {"min": base_total.get("min"), "max": base_total.get("max")},
        "current": dict(total),
        "delta": {
            key: round(total[key] - float(base_total[key]), 2) for key in ("min", "max")
        },
        "unpricedCount": {"base": base["cost"].get("unpricedCount"), "current": current["cost"]["unpricedCount"]},
        "changes": [
            {"urn": c.urn,
             "before": None if c.before is None else {"min": c.before[0], "max": c.before[1]},
             "after": None if c.after is None else {"min": c.after[0], "max": c.after[1]}}
            for c in changes
        ],
    }


def _signed(value: float) -> str:
    return f"+{_usd(value)}" if value >= 0 else f"-{_usd(-value)}"


def cost_diff_lines(diff: dict[str, Any], base_name: str) -> list[str]:
    delta, base, current = diff["delta"], diff["base"], diff["current"]
    lines = [
        f"Cost change against {base_name}: min {_signed(delta['min'])}, max {_signed(delta['max'])} "
        f"(from {_range(base['min'], base['max'])} to {_range(current['min'], current['max'])}; "
        f"unpriced {diff['unpricedCount']['base']} -> {diff['unpricedCount']['current']})"
    ]
    for change in diff["changes"]:
        name = change["urn"].split("::")[-1]
        kind = change["urn"].split("::")[-2].split("$")[-1] if "::" in change["urn"] else ""
        before = "-" if change["before"] is None else _range(change["before"]["min"], change["before"]["max"])
        after = "-" if change["after"] is None else _range(change["after"]["min"], change["after"]["max"])
        lines.append(f"  {kind} {name}: {before} -> {after}")
    return lines
