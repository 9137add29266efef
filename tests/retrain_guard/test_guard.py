"""The retraining guards as a pure function: alarm storms, overlapping runs, the daily cap, the kill switch, and
the clock's edges (midnight UTC, times given in other zones, a local DST change, a start in the future)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrain_guard.guard import (
    DRIFT_PREFIX,
    Execution,
    GuardSettings,
    decide,
    execution_display_name,
    utc_day_start,
)

ON = GuardSettings(enabled=True, cooldown=timedelta(hours=6), max_runs_per_day=2)
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def drift_run(started: datetime, status: str = "Succeeded") -> Execution:
    return Execution(started_at=started, status=status, display_name=f"{DRIFT_PREFIX}{started:%H%M%S}-x")


def simulate(guard: GuardSettings, alarms: list[datetime], run_length: timedelta) -> list[datetime]:
    """Feed alarms in time order to the guard; a started run executes for `run_length`. Returns the starts."""
    starts: list[datetime] = []
    for moment in sorted(alarms):
        history = [drift_run(s, "Executing" if moment < s + run_length else "Succeeded") for s in starts]
        if decide(guard, moment, history).start:
            starts.append(moment)
    return starts


# --------------------------------------------------------------------------- each guard


def test_a_first_alarm_starts_a_run() -> None:
    decision = decide(ON, T0, [])
    assert decision.start and decision.guard == "none"


def test_the_kill_switch_refuses_even_with_no_history() -> None:
    decision = decide(GuardSettings(False, timedelta(hours=1), 5), T0, [])
    assert not decision.start and decision.guard == "kill-switch"


@pytest.mark.parametrize("status", ["Executing", "Stopping"])
def test_no_second_run_while_one_executes_whatever_started_it(status: str) -> None:
    manual = Execution(started_at=T0 - timedelta(days=3), status=status, display_name="manual-run")
    decision = decide(ON, T0, [manual])
    assert not decision.start and decision.guard == "one-at-a-time" and "manual-run" in decision.reason


@pytest.mark.parametrize("status", ["Succeeded", "Failed", "Stopped"])
def test_a_finished_run_does_not_block(status: str) -> None:
    other = Execution(started_at=T0 - timedelta(minutes=1), status=status, display_name="scheduled")
    assert decide(ON, T0, [other]).start


def test_the_cool_down_refuses_until_it_has_passed_and_not_a_second_later() -> None:
    history = [drift_run(T0)]
    assert decide(ON, T0 + ON.cooldown - timedelta(seconds=1), history).guard == "cool-down"
    assert decide(ON, T0 + ON.cooldown, history).start


def test_runs_not_started_by_drift_do_not_start_the_cool_down_or_count_to_the_cap() -> None:
    scheduled = [Execution(T0 - timedelta(minutes=m), "Succeeded", "weekly") for m in range(1, 10)]
    assert decide(ON, T0, scheduled).start


def test_the_daily_cap_counts_drift_runs_of_the_current_utc_day() -> None:
    guard = GuardSettings(True, timedelta(minutes=10), 2)
    history = [drift_run(T0.replace(hour=1)), drift_run(T0.replace(hour=2))]
    decision = decide(guard, T0, history)
    assert not decision.start and decision.guard == "daily-cap"


# --------------------------------------------------------------------------- the clock's edges


def test_the_cap_resets_at_midnight_utc_but_the_cool_down_does_not() -> None:
    guard = GuardSettings(True, timedelta(hours=2), 1)
    history = [drift_run(datetime(2026, 3, 10, 23, 30, tzinfo=UTC))]
    assert decide(guard, datetime(2026, 3, 10, 23, 59, 59, tzinfo=UTC), history).guard == "daily-cap"
    # 00:00:00 is a new day for the cap, but only 30 minutes after the last run: the cool-down refuses.
    assert decide(guard, datetime(2026, 3, 11, 0, 0, tzinfo=UTC), history).guard == "cool-down"
    assert decide(guard, datetime(2026, 3, 11, 1, 30, tzinfo=UTC), history).start


def test_a_run_at_exactly_midnight_counts_to_the_new_day() -> None:
    guard = GuardSettings(True, timedelta(minutes=10), 1)
    midnight = datetime(2026, 3, 11, tzinfo=UTC)
    assert decide(guard, midnight + timedelta(hours=1), [drift_run(midnight)]).guard == "daily-cap"
    assert decide(guard, midnight + timedelta(hours=1), [drift_run(midnight - timedelta(microseconds=1))]).start


def test_times_in_other_zones_are_judged_in_utc() -> None:
    guard = GuardSettings(True, timedelta(minutes=10), 1)
    # 23:30 UTC on the 10th is 01:30 on the 11th in UTC+2: still the 10th for the cap.
    run = drift_run(datetime(2026, 3, 11, 1, 30, tzinfo=timezone(timedelta(hours=2))))
    assert decide(guard, datetime(2026, 3, 10, 23, 50, tzinfo=UTC), [run]).guard == "daily-cap"
    assert decide(guard, datetime(2026, 3, 11, 0, 5, tzinfo=UTC), [run]).start


def test_a_local_dst_change_does_not_shorten_or_lengthen_the_utc_day() -> None:
    """2026-03-08 has 23 hours in New York; the guard's day is the UTC day, always 24 hours."""
    new_york = ZoneInfo("America/New_York")
    now = datetime(2026, 3, 8, 22, 0, tzinfo=new_york)  # 2026-03-09 02:00 UTC
    assert utc_day_start(now) == datetime(2026, 3, 9, tzinfo=UTC)
    for day in range(1, 32):
        start = utc_day_start(datetime(2026, 3, day, 12, tzinfo=new_york))
        assert utc_day_start(start + timedelta(hours=24)) - start == timedelta(hours=24)


def test_a_start_in_the_future_counts_as_just_started() -> None:
    skewed = drift_run(T0 + timedelta(minutes=5))
    decision = decide(ON, T0, [skewed])
    assert decision.guard == "daily-cap" or decision.guard == "cool-down"
    assert not decision.start


@pytest.mark.parametrize("naive_now", [True, False])
def test_naive_times_are_refused_not_guessed(naive_now: bool) -> None:
    naive = datetime(2026, 3, 10, 12, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        if naive_now:
            decide(ON, naive, [])
        else:
            decide(ON, T0, [drift_run(naive)])


@pytest.mark.parametrize(("cooldown", "cap"), [(timedelta(0), 1), (timedelta(-1), 1), (timedelta(hours=1), 0)])
def test_settings_that_would_disable_a_guard_are_refused(cooldown: timedelta, cap: int) -> None:
    with pytest.raises(ValueError):
        GuardSettings(True, cooldown, cap)


# --------------------------------------------------------------------------- alarm storms


def test_an_alarm_storm_starts_one_run() -> None:
    storm = [T0 + timedelta(seconds=s) for s in range(0, 600, 2)]  # every 2 s for 10 minutes
    assert simulate(ON, storm, timedelta(hours=1)) == [T0]


def test_a_day_of_hourly_alarms_starts_at_most_the_cap() -> None:
    hourly = [datetime(2026, 3, 10, h, tzinfo=UTC) for h in range(24)]
    starts = simulate(GuardSettings(True, timedelta(hours=1), 3), hourly, timedelta(minutes=30))
    assert starts == hourly[:3]


@settings(max_examples=300, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=4 * 24 * 3600), min_size=1, max_size=80),
    cooldown_min=st.integers(min_value=10, max_value=24 * 60),
    cap=st.integers(min_value=1, max_value=24),
    run_min=st.integers(min_value=1, max_value=12 * 60),
    enabled=st.booleans(),
)
def test_no_alarm_sequence_gets_past_the_guards(offsets: list[int], cooldown_min: int, cap: int, run_min: int,
                                                 enabled: bool) -> None:
    guard = GuardSettings(enabled, timedelta(minutes=cooldown_min), cap)
    base = datetime(2026, 3, 7, 17, 0, tzinfo=UTC)
    starts = simulate(guard, [base + timedelta(seconds=o) for o in offsets], timedelta(minutes=run_min))
    if not enabled:
        assert starts == []
        return
    assert starts, "the first alarm always starts a run when nothing blocks it"
    for earlier, later in zip(starts, starts[1:], strict=False):
        assert later - earlier >= guard.cooldown
        assert later - earlier >= timedelta(minutes=run_min)  # never while the previous one executes
    days: dict[object, int] = {}
    for s in starts:
        days[s.date()] = days.get(s.date(), 0) + 1
    assert max(days.values()) <= cap


# --------------------------------------------------------------------------- display names


@given(alarm=st.text(min_size=1, max_size=300))
def test_display_names_fit_the_api_pattern_and_mark_the_run(alarm: str) -> None:
    import re

    name = execution_display_name(alarm, T0)
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}", name), name
    assert name.startswith(DRIFT_PREFIX) and len(name) <= 82


def test_the_guard_package_runs_in_lambda_with_the_standard_library_and_boto3_only() -> None:
    """It is shipped alone (infra/components/retrain_guard.py packages this directory): no infra, no model_code,
    no third-party import but boto3 (which the Lambda runtime provides)."""
    import ast
    import sys
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "retrain_guard"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in ("boto3", "retrain_guard", "__future__"), (
                    path.name, name)
