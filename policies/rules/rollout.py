"""Rollout rule (stack): SageMaker endpoints update blue/green in real steps, guarded by their own alarms.

A stack rule, because what makes a rollout safe is a relation between resources: a canary step is only
partial if it is smaller than the fleet of the endpoint's configuration, and an auto-rollback alarm only
guards the update if it is an alarm of this stack on this endpoint. A step of 100 %, or an instance-count
step equal to the fleet, is an all-at-once rollout in disguise.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import StackResource, StackView, stack_rule
from .knobs import bool_knob, int_knob
from .operability import METRIC_ALARM, endpoint_alarms, endpoint_config
from .sagemaker import ENDPOINT, is_serverless
from .values import as_list, dig, fmt_number, is_unknown, number


def _fleet(stack: StackView, endpoint: StackResource) -> float | None:
    """Instances behind the endpoint (its configuration's instance variants), None when unknown."""
    config = endpoint_config(stack, endpoint)
    if config is None:
        return None
    production = config.props.get("productionVariants")
    if is_unknown(production):
        return None
    total = 0.0
    for variant in as_list(production):  # shadow variants take no share of the shifted traffic
        if is_unknown(variant):
            return None
        if is_serverless(variant):
            continue
        count = number(dig(variant, "initialInstanceCount"))
        if count is None:
            return None
        total += count
    return total or None


def _step_problems(name: str, kind: str, step: Any, fleet: float | None, max_percent: float) -> Iterator[str]:
    step_type, value = dig(step, "type"), number(dig(step, "value"))
    if is_unknown(step_type) or value is None:
        return
    if step_type == "CAPACITY_PERCENT":
        if value >= 100:
            yield f"endpoint '{name}' shifts {fmt_number(value)} % in one {kind} step: an all-at-once rollout"
        elif value > max_percent:
            yield (
                f"endpoint '{name}' shifts {fmt_number(value)} % per {kind} step; at most "
                f"{fmt_number(max_percent)} % allowed"
            )
    elif step_type == "INSTANCE_COUNT" and fleet is not None:
        if value >= fleet:
            yield (
                f"endpoint '{name}' shifts {fmt_number(value)} instance(s) per {kind} step, the whole fleet of "
                f"{fmt_number(fleet)}: an all-at-once rollout"
            )
        elif value * 100 / fleet > max_percent:
            yield (
                f"endpoint '{name}' shifts {fmt_number(value)} of {fmt_number(fleet)} instances per {kind} step; "
                f"at most {fmt_number(max_percent)} % allowed"
            )


def _alarm_name(alarm: StackResource) -> str:
    name = alarm.props.get("name")
    return name if isinstance(name, str) else alarm.name


def _rollback_alarms(stack: StackView, endpoint: StackResource, alarms: list[Any]) -> tuple[int, list[str]]:
    """(alarms that guard this endpoint, names of alarms that do not), for the rollback configuration."""
    own = endpoint_alarms(stack, endpoint)
    own_names = {_alarm_name(a) for a in own}
    all_names = {_alarm_name(a) for a in stack.of_type(METRIC_ALARM)}
    guarding, strangers = 0, []
    for entry in alarms:
        alarm_name = dig(entry, "alarmName")
        if is_unknown(entry) or is_unknown(alarm_name):
            guarding += 1  # an output of an alarm not yet created: cannot be judged at preview
        elif not isinstance(alarm_name, str):
            strangers.append(repr(alarm_name))
        elif alarm_name in own_names:
            guarding += 1
        elif alarm_name not in all_names and any(
            endpoint.depends_on(a, "deploymentConfig") for a in own
        ):
            guarding += 1  # named by an output of one of its alarms
        else:
            strangers.append(alarm_name)
    return guarding, strangers


def _safe_deployment(stack: StackView) -> Iterator[tuple[str, str | None]]:
    config = stack.config
    if not config["requireBlueGreen"]:
        return
    for endpoint in stack.of_type(ENDPOINT):
        for message in _endpoint_problems(stack, endpoint, config):
            yield message, endpoint.urn


def _endpoint_problems(stack: StackView, endpoint: StackResource, config: dict[str, Any]) -> Iterator[str]:
    deployment = endpoint.props.get("deploymentConfig")
    if is_unknown(deployment):
        return
    name = endpoint.name
    if deployment is None:
        yield (
            f"endpoint '{name}' has no deploymentConfig; updates must use a blue/green deployment with "
            "auto-rollback alarms"
        )
        return
    blue_green = dig(deployment, "blueGreenUpdatePolicy")
    if blue_green is None:
        yield f"endpoint '{name}' does not use a blueGreenUpdatePolicy in its deploymentConfig"
    elif not is_unknown(blue_green) and config["requireGradualTraffic"]:
        routing = dig(blue_green, "trafficRoutingConfiguration")
        kind = dig(routing, "type")
        fleet = _fleet(stack, endpoint)
        if is_unknown(kind):
            pass
        elif kind == "CANARY":
            if dig(routing, "canarySize") is None:
                yield f"endpoint '{name}' uses CANARY traffic routing without a canarySize"
            yield from _step_problems(name, "canary", dig(routing, "canarySize"), fleet, config["maxStepPercent"])
        elif kind == "LINEAR":
            if dig(routing, "linearStepSize") is None:
                yield f"endpoint '{name}' uses LINEAR traffic routing without a linearStepSize"
            yield from _step_problems(
                name, "linear", dig(routing, "linearStepSize"), fleet, config["maxStepPercent"]
            )
        else:
            yield (
                f"endpoint '{name}' shifts traffic {kind or 'ALL_AT_ONCE'}; use a CANARY or LINEAR "
                "trafficRoutingConfiguration so that a bad model meets only part of the traffic"
            )
    alarms = dig(deployment, "autoRollbackConfiguration", "alarms")
    if is_unknown(alarms):
        return
    guarding, strangers = _rollback_alarms(stack, endpoint, as_list(alarms))
    for stranger in strangers:
        yield (
            f"endpoint '{name}' rolls back on alarm {stranger!r}, which is not an alarm of this stack on the "
            "endpoint's metrics"
        )
    minimum = config["minRollbackAlarms"]
    if guarding < minimum:
        yield (
            f"endpoint '{name}' has {guarding} auto-rollback alarm(s) on its own metrics in "
            "deploymentConfig.autoRollbackConfiguration; "
            f"at least {fmt_number(minimum)} required"
        )


RULES = [
    stack_rule(
        name="sagemaker-endpoint-safe-deployment",
        description=(
            "SageMaker endpoints update blue/green, shifting traffic in canary or linear steps smaller than "
            "the fleet, with auto-rollback on CloudWatch alarms of the endpoint itself (where the environment "
            "requires it)."
        ),
        rationale=(
            "A bad model version should meet a slice of traffic, trip an alarm and roll back by itself, "
            "instead of replacing the whole fleet at once; a 100 % step or an alarm on something else gives "
            "the look of that without the safety."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Set deployment_config on the aws.sagemaker.Endpoint: blue_green_update_policy with "
            "traffic_routing_configuration type CANARY (canary_size) or LINEAR (linear_step_size) below the "
            "configured share of the fleet, and auto_rollback_configuration.alarms naming the endpoint's own "
            "error/latency alarms (aws.cloudwatch.MetricAlarm with dimension EndpointName)."
        ),
        check=_safe_deployment,
        knobs={
            "requireBlueGreen": bool_knob("Require a blue/green deployment configuration.", True),
            "requireGradualTraffic": bool_knob(
                "Require CANARY or LINEAR traffic shifting (not ALL_AT_ONCE).", True
            ),
            "maxStepPercent": int_knob(
                "Largest share of the fleet one canary or linear step may shift (a step of the whole fleet is "
                "always refused).",
                50,
                1,
                99,
            ),
            "minRollbackAlarms": int_knob("Fewest auto-rollback alarms on the endpoint's own metrics.", 1, 0),
        },
        tags=["sagemaker", "release-safety"],
    )
]
