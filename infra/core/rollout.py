"""Rollout arithmetic: what a canary or linear step really is on a fleet of whole instances, and whether the
bake time lets the rollback alarms fire at all. Pure functions, shared by the config layer (which rejects what
AWS would reject or what cannot roll back), the SageMaker endpoint component (which sends the step as an
instance count) and the GitOps renderer (which turns the same steps into Argo Rollouts `setWeight` steps).

SageMaker's rules, from the API reference of `TrafficRoutingConfig`
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html):
- `CanarySize` "must be less than or equal to 50% of the variant's total instance count";
- `LinearStepSize` "must be 10-50% of the variant's total instance count";
- a `CapacitySize` is either `INSTANCE_COUNT` or `CAPACITY_PERCENT`, value >= 1
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CapacitySize.html).
A percentage turns into whole instances: a "10 % canary" on two instances is one instance, i.e. 50 % of the
traffic. So the config says `stepPercent` (what people think in), this module rounds it to the nearest whole
instance of the release fleet, and the program sends AWS that instance count (`INSTANCE_COUNT`), so what AWS
does is exactly what the plan shows. A percentage that no whole number of instances matches (within one
percentage point) is refused, listing the percentages that the fleet can express.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Strategy = Literal["all-at-once", "canary", "linear"]

METRIC_DELAY_SECONDS = 60
"""Time allowed for a metric datapoint to reach CloudWatch and be evaluated after its period ends. SageMaker
publishes endpoint invocation metrics once a minute, so an alarm learns of a period up to a minute late."""

LINEAR_MIN_PERCENT = 10
LINEAR_MAX_PERCENT = 50
CANARY_MAX_PERCENT = 50
PERCENT_TOLERANCE = 1.0
"""How far (in percentage points) the whole-instance share may be from the stepPercent the config asks for."""


@dataclass(frozen=True)
class TrafficStep:
    """The state after one traffic shift: green instances taking traffic, and their share of the traffic."""

    instances: int
    fleet: int

    @property
    def percent(self) -> float:
        return 100.0 * self.instances / self.fleet


def step_instances(step_percent: int, fleet: int) -> int:
    """The whole number of instances nearest to `step_percent` of `fleet` (halves round up), at least one."""
    return max(1, (step_percent * fleet + 50) // 100)


def traffic_steps(strategy: Strategy, step_percent: int | None, fleet: int) -> list[TrafficStep]:
    """Every traffic shift of a release onto a green fleet of `fleet` instances, in order; the last is 100 %."""
    if fleet < 1:
        raise ValueError(f"a fleet needs at least one instance, got {fleet}")
    if strategy == "all-at-once" or step_percent is None:
        return [TrafficStep(fleet, fleet)]
    size = min(step_instances(step_percent, fleet), fleet)
    if strategy == "canary":
        return [TrafficStep(size, fleet), TrafficStep(fleet, fleet)] if size < fleet else [TrafficStep(fleet, fleet)]
    return [TrafficStep(min(n, fleet), fleet) for n in range(size, fleet + size, size)]


def describe_steps(steps: list[TrafficStep]) -> str:
    """`1/4 4/4`: green instances out of the fleet after each shift (a tag value AWS accepts)."""
    return " ".join(f"{s.instances}/{s.fleet}" for s in steps)


def achievable_percents(strategy: Strategy, fleet: int) -> list[int]:
    """The stepPercent values that a fleet of `fleet` instances can honour for `strategy`, within AWS's limits."""
    low, high = (1, CANARY_MAX_PERCENT) if strategy == "canary" else (LINEAR_MIN_PERCENT, LINEAR_MAX_PERCENT)
    shares = (100.0 * k / fleet for k in range(1, fleet))
    return sorted({round(s) for s in shares if low <= s <= high})


def step_problems(strategy: Strategy, step_percent: int | None, fleet: int) -> list[str]:
    """Why a canary or linear step cannot mean what it says on `fleet` instances (empty when it can)."""
    if strategy == "all-at-once" or step_percent is None:
        return []
    if fleet < 2:
        return [f"a {strategy} rollout needs a fleet of at least 2 instances to shift part of the traffic, "
                f"got {fleet}; use strategy 'all-at-once' or more instances"]
    size = step_instances(step_percent, fleet)
    share = 100.0 * size / fleet
    allowed = achievable_percents(strategy, fleet)
    hint = (f"stepPercent values this fleet can honour: {', '.join(map(str, allowed))}" if allowed
            else f"no {strategy} step fits {fleet} instances; use more instances")
    if abs(share - step_percent) >= PERCENT_TOLERANCE:
        return [f"stepPercent {step_percent} of {fleet} instances is {size} instance(s), i.e. {share:.0f} % of "
                f"the traffic, not {step_percent} %; {hint}"]
    if strategy == "canary" and share > CANARY_MAX_PERCENT:
        return [f"a canary of {size} of {fleet} instances ({share:.0f} %) exceeds SageMaker's limit of "
                f"{CANARY_MAX_PERCENT} % of the fleet; {hint}"]
    if strategy == "linear" and not LINEAR_MIN_PERCENT <= share <= LINEAR_MAX_PERCENT:
        return [f"a linear step of {size} of {fleet} instances ({share:.0f} %) is outside SageMaker's "
                f"{LINEAR_MIN_PERCENT}-{LINEAR_MAX_PERCENT} % of the fleet; {hint}"]
    return []


def within_aws_limits(strategy: Strategy, step_percent: int | None, fleet: int) -> bool:
    """Whether SageMaker accepts the step of `step_percent` (rounded to whole instances) on `fleet` instances: the
    exactness `step_problems` asks of a declared fleet is not asked of a fleet autoscaling chose."""
    if strategy == "all-at-once" or step_percent is None:
        return fleet >= 1
    if fleet < 2:
        return False
    share = 100.0 * step_instances(step_percent, fleet) / fleet
    if strategy == "canary":
        return share <= CANARY_MAX_PERCENT
    return LINEAR_MIN_PERCENT <= share <= LINEAR_MAX_PERCENT


def alarm_detection_seconds(period_seconds: int, evaluation_periods: int) -> int:
    """The least time after a release starts misbehaving before a rollback alarm can be in ALARM."""
    return period_seconds * evaluation_periods + METRIC_DELAY_SECONDS


def bake_problems(wait_seconds: int, period_seconds: int, evaluation_periods: int) -> list[str]:
    """A bake time shorter than the alarms need to fire lets a bad release through before any can roll it back."""
    needed = alarm_detection_seconds(period_seconds, evaluation_periods)
    if wait_seconds >= needed:
        return []
    return [f"rollout.waitSeconds ({wait_seconds}) is shorter than the rollback alarms need to fire: "
            f"alarms.periodSeconds ({period_seconds}) x alarms.evaluationPeriods ({evaluation_periods}) + "
            f"{METRIC_DELAY_SECONDS} s metric delay = {needed} s; wait at least {needed} s or alarm sooner"]
