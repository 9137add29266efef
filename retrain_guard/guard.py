"""Whether a drift alarm may start a training run: the guards, as a pure function of settings, time and history.

A drift alarm can fire every evaluation period for hours (a real shift does not go away by itself), and an alarm
storm or a flapping alarm can fire many times a minute. Each training run costs instance hours, so every ALARM
passes four guards, in this order, and the first that refuses decides:

1. **kill switch** (`enabled: false` in the shared stack's `retrainOnDrift`): an operator stops all
   drift-triggered runs at once, by a one-line config change, without touching alarms or schedules;
2. **one run at a time**: no start while any execution of the pipeline is executing (whatever started it), so
   two runs never race to register on the same data;
3. **daily cap**: at most `max_runs_per_day` drift-triggered runs started in the current UTC day
   (00:00:00 inclusive to 24:00:00 exclusive); UTC has no daylight saving, so every day is 24 hours long;
4. **cool-down**: at least `cooldown` between the start of the last drift-triggered run and this one, across
   midnight too (the cap resets at 00:00 UTC, the cool-down does not).

The history is the pipeline's own executions (ListPipelineExecutions): a drift-triggered run is marked by its
display name (`DRIFT_PREFIX`), so the guard keeps no state of its own that could disagree with SageMaker.
A run whose start lies in the future (clock skew between the caller and SageMaker) counts as just started.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DRIFT_PREFIX = "drift-"
"""Display-name prefix of the pipeline executions a drift alarm started."""
ACTIVE_STATUSES = frozenset({"Executing", "Stopping"})
"""PipelineExecutionStatus values of a run that still holds the pipeline (API_PipelineExecutionSummary)."""


@dataclass(frozen=True)
class GuardSettings:
    """The shared stack's `retrainOnDrift` section of one model."""

    enabled: bool
    cooldown: timedelta
    max_runs_per_day: int

    def __post_init__(self) -> None:
        if self.cooldown <= timedelta(0):
            raise ValueError(f"cooldown must be positive, got {self.cooldown}")
        if self.max_runs_per_day < 1:
            raise ValueError(f"max_runs_per_day must be >= 1, got {self.max_runs_per_day}")


@dataclass(frozen=True)
class Execution:
    """One past or running pipeline execution, as ListPipelineExecutions reports it."""

    started_at: datetime
    status: str
    display_name: str = ""

    @property
    def drift_triggered(self) -> bool:
        return self.display_name.startswith(DRIFT_PREFIX)


@dataclass(frozen=True)
class Decision:
    """What the guard decided and why; `guard` names the guard that refused (`none` when the run may start)."""

    start: bool
    guard: str
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"start": self.start, "guard": self.guard, "reason": self.reason}


def _utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (a naive time is ambiguous), got {moment!r}")
    return moment.astimezone(UTC)


def utc_day_start(now: datetime) -> datetime:
    """00:00:00 UTC of the UTC day `now` falls in."""
    now = _utc(now, "now")
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def decide(settings: GuardSettings, now: datetime, history: Iterable[Execution]) -> Decision:
    """May a drift alarm start a run at `now`, given the pipeline's executions? See the module docstring."""
    now = _utc(now, "now")
    runs = [(_utc(e.started_at, "an execution's start"), e) for e in history]
    if not settings.enabled:
        return Decision(False, "kill-switch", "retrainOnDrift.enabled is false: drift-triggered runs are switched off")
    active = [e for _, e in runs if e.status in ACTIVE_STATUSES]
    if active:
        names = ", ".join(sorted(e.display_name or "(unnamed)" for e in active))
        return Decision(False, "one-at-a-time", f"an execution is still running ({names})")
    drift_starts = sorted(started for started, e in runs if e.drift_triggered)
    day_start = utc_day_start(now)
    today = [s for s in drift_starts if s >= day_start]
    if len(today) >= settings.max_runs_per_day:
        return Decision(False, "daily-cap", f"{len(today)} drift-triggered run(s) started since "
                        f"{day_start:%Y-%m-%dT%H:%M:%SZ}; the cap is {settings.max_runs_per_day} per UTC day")
    if drift_starts:
        last = drift_starts[-1]
        ready = min(last, now) + settings.cooldown  # a start in the future counts as now
        if now < ready:
            return Decision(False, "cool-down", f"the last drift-triggered run started at "
                            f"{last:%Y-%m-%dT%H:%M:%SZ}; the next may start at {ready:%Y-%m-%dT%H:%M:%SZ}")
    return Decision(True, "none", "no guard refused")


_DISPLAY_SAFE = re.compile(r"[^a-zA-Z0-9]+")


def execution_display_name(alarm_name: str, now: datetime) -> str:
    """`drift-<UTC time>-<alarm>`: marks the run as drift-triggered and says which alarm; fits the API's
    PipelineExecutionDisplayName pattern `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}` (82 characters at most)."""
    stamp = _utc(now, "now").strftime("%Y%m%dT%H%M%SZ")
    alarm = _DISPLAY_SAFE.sub("-", alarm_name).strip("-")
    return f"{DRIFT_PREFIX}{stamp}-{alarm}"[:82].rstrip("-")
