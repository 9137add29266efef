"""The price snapshot and the arithmetic of time: one home for every price the plan and the pack use.

The snapshot (`prices/aws-prices.json` beside this module) is read here and nowhere else: `infra.plan` imports
this module (as `policies.rules.pricing`) and the budget rule imports it relatively, so the pack, which imports
nothing from infra, and the plan price the same resources with the same numbers. Only the standard library is
used, so the Pulumi CLI's pack virtualenv needs nothing more.

A price that is not in the snapshot is None, never zero: callers report the resource as unpriced.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SNAPSHOT_PATH = Path(__file__).resolve().parent / "prices" / "aws-prices.json"

HOURS_PER_MONTH = 730
"""Hours in a month, as the AWS Pricing Calculator counts them (24 x 365 / 12 = 730)."""

LONGEST_MONTH_MINUTES = 31 * 24 * 60
"""Schedules are bounded over a 31-day month: an upper bound, never an average."""


@dataclass(frozen=True)
class Price:
    key: str
    usd: float
    per: str  # "hour" | "month" | "gb-second"
    source: str


class PriceBook:
    """The snapshot's prices for one region, looked up by key (e.g. `sagemaker:hosting:ml.m5.large`)."""

    def __init__(self, snapshot: dict[str, Any], region: str | None) -> None:
        self.snapshot = snapshot
        self.region = region
        self._prices: dict[str, Any] = snapshot.get("prices", {}).get(region or "", {})

    def get(self, key: str) -> Price | None:
        entry = self._prices.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("usd"), (int, float)):
            return None
        return Price(key, float(entry["usd"]), str(entry.get("per", "")), str(entry.get("source", "")))

    def source(self, name: str) -> dict[str, Any]:
        return dict(self.snapshot.get("sources", {}).get(name, {}))

    @property
    def snapshot_date(self) -> str:
        return str(self.snapshot.get("snapshotDate", "unknown"))


@cache
def load_snapshot(path: str | None = None) -> dict[str, Any]:
    """The snapshot file as a dict (cached: the plan and the rule read it once per process)."""
    return json.loads(Path(path or SNAPSHOT_PATH).read_text(encoding="utf-8"))


def price_book(region: str | None, path: str | None = None) -> PriceBook:
    return PriceBook(load_snapshot(path), region)


# --- schedules -------------------------------------------------------------------------------------------

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 24 * 60}
_DAY_NAMES = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


def runs_per_month(expression: Any) -> int | None:
    """The most runs an EventBridge / SageMaker schedule expression can start in a month (31 days).

    `rate(N unit)` and six-field `cron(minutes hours day-of-month month day-of-week year)` are understood;
    anything else is None (the caller reports it unpriced). The month and year fields are ignored, which
    can only raise the bound; a weekday list of k days is bounded by 5k (no month has more than five of a
    weekday).
    """
    if not isinstance(expression, str):
        return None
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        every = int(rate.group(1)) * _UNIT_MINUTES[rate.group(2).rstrip("s")]
        return math.ceil(LONGEST_MONTH_MINUTES / every) if every > 0 else None
    cron = _CRON.match(text)
    if not cron:
        return None
    fields = cron.group(1).split()
    if len(fields) != 6:
        return None
    minutes, hours = _count(fields[0], 0, 59), _count(fields[1], 0, 23)
    days = _days(fields[2], fields[4])
    if minutes is None or hours is None or days is None:
        return None
    return minutes * hours * days


def _days(day_of_month: str, day_of_week: str) -> int | None:
    if day_of_month in ("*", "?") and day_of_week in ("*", "?"):
        return 31
    if day_of_month not in ("*", "?"):
        if day_of_month in ("L", "LW") or day_of_month.endswith("W"):
            return 1
        return _count(day_of_month, 1, 31)
    if "#" in day_of_week or day_of_week.endswith("L"):
        return 1
    weekdays = _count(_numeric_weekdays(day_of_week), 1, 7)
    return None if weekdays is None else min(31, 5 * weekdays)


def _numeric_weekdays(field: str) -> str:
    return re.sub(r"[A-Za-z]{3}", lambda m: str(_DAY_NAMES.get(m.group(0).upper(), "x")), field)


def _count(field: str, low: int, high: int) -> int | None:
    """How many values a cron field selects (lists, ranges, steps, `*`); None if it is not understood."""
    chosen: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        if step_text and not step_text.isdigit():
            return None
        step = int(step_text) if step_text else 1
        if step < 1:
            return None
        if base == "*":
            start, end = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            if not (a.isdigit() and b.isdigit()):
                return None
            start, end = int(a), int(b)
        elif base.isdigit():
            start = int(base)
            end = high if step_text else start
        else:
            return None
        if not low <= start <= end <= high:
            return None
        chosen.update(range(start, end + 1, step))
    return len(chosen) or None
