"""Budget rule (stack): the plan's monthly upper bound stays within the environment's `maxMonthlyUsd`.

The figure is the cost model's (`cost_model`, prices from the snapshot in `prices/`), the same the offline
plan prints. Unpriced resources are not in the figure; the message names how many so that a reviewer knows the
bound is partial.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import StackResource, StackView, stack_rule
from .cost_model import CostInput, CostReport, estimate
from .knobs import int_knob
from .pricing import price_book


def _custom(resource_type: str) -> bool:
    """Provider resources carry a module path (`aws:sagemaker/endpoint:Endpoint`); components do not."""
    parts = resource_type.split(":")
    return len(parts) == 3 and "/" in parts[1]


def cost_inputs(resources: list[StackResource]) -> list[CostInput]:
    return [
        CostInput(
            urn=r.urn,
            type=r.type,
            name=r.name,
            parent=r.parent,
            props=r.props,
            property_dependencies={k: tuple(v) for k, v in r.property_dependencies.items()},
            custom=_custom(r.type),
        )
        for r in resources
    ]


def stack_region(resources: list[StackResource]) -> str | None:
    """The AWS region of the stack's AWS resources' provider (the first one that names it)."""
    for r in resources:
        if r.type.startswith("aws:") and r.provider is not None:
            region = r.provider.props.get("region")
            if isinstance(region, str) and region:
                return region
    return None


def stack_estimate(stack: StackView) -> CostReport:
    return estimate(cost_inputs(stack.resources), price_book(stack_region(stack.resources)))


def _budget(stack: StackView) -> Iterator[tuple[str, str | None]]:
    budget: Any = stack.config.get("maxMonthlyUsd")
    if not isinstance(budget, (int, float)) or isinstance(budget, bool):
        return
    report = stack_estimate(stack)
    if report.total_max <= budget:
        return
    top = report.most_expensive(int(stack.config["topResources"]))
    named = "; ".join(f"{r.type.split(':')[-1]} '{r.name}' up to ${r.max_usd:,.2f}" for r in top)
    message = (
        f"the plan may cost up to ${report.total_max:,.2f}/month (from ${report.total_min:,.2f}), over the "
        f"budget of ${budget:,.2f}; most expensive: {named}"
    )
    if report.unpriced:
        message += f"; {len(report.unpriced)} resource(s) unpriced and not counted"
    yield message, top[0].urn if top else None  # shown on the dearest resource, as the CLI lists violations


RULES = [
    stack_rule(
        name="monthly-budget",
        description=(
            "The plan's estimated monthly cost at its upper bound (autoscaling maxima, node groups at max size, "
            "every scheduled job run at its maximum runtime) is within the environment's maxMonthlyUsd."
        ),
        rationale=(
            "A change that multiplies an environment's bill should be seen and decided on in the pull request, "
            "not discovered on the invoice."
        ),
        severity=Severity.MEDIUM,
        remediation=(
            "Lower instance sizes, autoscaling maxima, node group maxSize or schedule frequency, or raise "
            "maxMonthlyUsd in policies/config/<environment>.json with the reviewers' agreement. "
            "See docs/cost.md for what is priced."
        ),
        check=_budget,
        knobs={
            "maxMonthlyUsd": {
                "type": "number",
                "minimum": 0,
                "description": "Monthly budget in USD for the plan's upper bound; unset: the rule judges nothing.",
            },
            "topResources": int_knob("How many of the most expensive resources a violation names.", 3, 1, 20),
        },
        tags=["cost"],
    )
]
