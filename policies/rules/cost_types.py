"""The records of the cost model: what it reads (`CostInput`, `Graph`) and what it says (`ResourceCost`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .pricing import HOURS_PER_MONTH, PriceBook
from .values import number


def amount(value: Any) -> float | None:
    """A known, finite, non-negative number (a count, a size, a duration), else None: priced as missing."""
    found = number(value)
    return found if found is not None and math.isfinite(found) and found >= 0 else None


@dataclass(frozen=True)
class CostInput:
    """One planned resource as the cost model sees it (plain values; unknowns are `values.UNKNOWN`)."""

    urn: str
    type: str
    name: str
    parent: str | None
    props: dict[str, Any]
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    custom: bool = True

    def depends_on(self, other: CostInput, *properties: str) -> bool:
        """Whether the named properties (any, if none named) take a value from `other`."""
        keys = properties or tuple(self.property_dependencies)
        return any(other.urn in self.property_dependencies.get(k, ()) for k in keys)


class Graph:
    """The plan's resources indexed for the pricers' look-ups, each answered without scanning the plan.

    By URN and type; by the URNs a resource's property takes its value from (`referenced`), and the reverse
    (`referencing`); by a known string property (`named`). Each resource's nearest enclosing component too.
    """

    def __init__(self, resources: Sequence[CostInput]) -> None:
        self.by_urn = {r.urn: r for r in resources}
        self._by_type: dict[str, list[CostInput]] = {}
        self._referencing: dict[tuple[str, str], list[CostInput]] = {}
        for r in resources:
            self._by_type.setdefault(r.type, []).append(r)
            for prop, urns in r.property_dependencies.items():
                for urn in urns:
                    self._referencing.setdefault((urn, prop), []).append(r)
        self._named: dict[tuple[str, str], dict[str, list[CostInput]]] = {}

    def of_type(self, *types: str) -> list[CostInput]:
        return [r for t in types for r in self._by_type.get(t, ())]

    def referenced(self, resource: CostInput, prop: str, *types: str) -> list[CostInput]:
        """The resources of the given types that `resource`'s property `prop` takes its value from."""
        found = (self.by_urn.get(urn) for urn in resource.property_dependencies.get(prop, ()))
        return [r for r in found if r is not None and r.type in types]

    def referencing(self, resource: CostInput, prop: str, *types: str) -> list[CostInput]:
        """The resources of the given types whose property `prop` takes its value from `resource`."""
        return [r for r in self._referencing.get((resource.urn, prop), ()) if r.type in types]

    def named(self, type_: str, key: str, value: object) -> list[CostInput]:
        """The resources of a type whose string property `key` equals `value` (never matches a non-string)."""
        if not isinstance(value, str):
            return []
        index = self._named.get((type_, key))
        if index is None:
            index = {}
            for r in self.of_type(type_):
                known = r.props.get(key)
                if isinstance(known, str):
                    index.setdefault(known, []).append(r)
            self._named[(type_, key)] = index
        return list(index.get(value, ()))

    def component_of(self, resource: CostInput) -> str:
        """`<type> <name>` of the nearest non-stack component above the resource, else `(stack)`."""
        parent = self.by_urn.get(resource.parent or "")
        while parent is not None:
            if not parent.custom and parent.type != "pulumi:pulumi:Stack":
                return f"{parent.type} {parent.name}"
            parent = self.by_urn.get(parent.parent or "")
        return "(stack)"


@dataclass
class ResourceCost:
    """The monthly estimate of one resource: a USD range, how it was reached, and what is missing."""

    urn: str
    type: str
    name: str
    component: str
    status: str = "none"
    min_usd: float = 0.0
    max_usd: float = 0.0
    assumptions: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)
    _priced_parts: int = 0

    @classmethod
    def for_resource(cls, resource: CostInput, component: str) -> ResourceCost:
        return cls(urn=resource.urn, type=resource.type, name=resource.name, component=component)

    def add(self, low: float, high: float, sources: set[str], assumption: str) -> None:
        self.min_usd += low
        self.max_usd += high
        self.sources |= {s for s in sources if s}
        self.assumptions.append(assumption)
        self._priced_parts += 1

    def hourly(self, key: str, low_count: float, high_count: float, prices: PriceBook, what: str) -> bool:
        """Add `count x price x 730 h` for an hourly price; a missing price is recorded, not zero."""
        price = prices.get(key)
        if price is None:
            self.add_missing(f"no price for {key}")
            return False
        self.add(price.usd * low_count * HOURS_PER_MONTH, price.usd * high_count * HOURS_PER_MONTH,
                 {price.source}, f"{what}: {_count(low_count, high_count)} x ${price.usd:g}/h x {HOURS_PER_MONTH} h")
        return True

    def monthly(self, key: str, low_count: float, high_count: float, prices: PriceBook, what: str) -> bool:
        price = prices.get(key)
        if price is None:
            self.add_missing(f"no price for {key}")
            return False
        self.add(price.usd * low_count, price.usd * high_count, {price.source},
                 f"{what}: {_count(low_count, high_count)} x ${price.usd:g}/month")
        return True

    def assume(self, text: str) -> None:
        self.assumptions.append(text)

    def add_missing(self, text: str) -> None:
        self.missing.append(text)

    def mark(self, status: str, reason: str) -> ResourceCost:
        self.status = status
        self.assumptions.append(reason)
        return self

    def settle(self) -> ResourceCost:
        """The status from what was priced and what was missing; figures rounded to cents."""
        self.min_usd, self.max_usd = round(self.min_usd, 2), round(self.max_usd, 2)
        if self.missing:
            self.status = "partial" if self._priced_parts else "unpriced"
        elif self._priced_parts:
            self.status = "priced"
        return self

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"status": self.status, "component": self.component}
        if self.status in ("priced", "partial"):
            doc["monthlyUsd"] = {"min": self.min_usd, "max": self.max_usd}
        doc["assumptions"] = list(self.assumptions)
        if self.missing:
            doc["unpriced"] = list(self.missing)
        if self.sources:
            doc["sources"] = sorted(self.sources)
        return doc


def _count(low: float, high: float) -> str:
    return f"{low:g}" if low == high else f"{low:g} to {high:g}"
