"""Operability rule (stack): every SageMaker endpoint is watched, routed to people, and scales.

An endpoint is paired with the resources that serve it through property dependencies first (an alarm's
`dimensions`, a scalable target's `resourceId` take their value from the endpoint), because during a
preview the endpoint's name may be unknown; known names are compared as a fallback.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import StackResource, StackView, stack_rule
from .knobs import bool_knob, int_knob
from .sagemaker import ENDPOINT, ENDPOINT_CONFIG, all_serverless, variants
from .values import as_list, dig, is_false, is_true, is_unknown, iter_strings

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SNS_TOPIC = "aws:sns/topic:Topic"
SCALABLE_TARGET = "aws:appautoscaling/target:Target"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"


def _known_name(resource: StackResource) -> str | None:
    name = resource.props.get("name")
    return name if isinstance(name, str) and name else None


def endpoint_config(stack: StackView, endpoint: StackResource) -> StackResource | None:
    for config in stack.of_type(ENDPOINT_CONFIG):
        if endpoint.depends_on(config, "endpointConfigName"):
            return config
    wanted = endpoint.props.get("endpointConfigName")
    if isinstance(wanted, str):
        for config in stack.of_type(ENDPOINT_CONFIG):
            if _known_name(config) == wanted:
                return config
    return None


def _alarm_endpoint_names(alarm: StackResource) -> list[Any]:
    names = [dig(alarm.props, "dimensions", "EndpointName")]
    for query in as_list(alarm.props.get("metricQueries")):
        names.append(dig(query, "metric", "dimensions", "EndpointName"))
    return [n for n in names if isinstance(n, str)]


# Where SageMaker publishes an endpoint's metrics: invocation metrics in AWS/SageMaker, instance and container
# utilisation in /aws/sagemaker/Endpoints (and /aws/sagemaker/InferenceComponents), Model Monitor's data metrics in
# /aws/sagemaker/Endpoints/data-metrics (SageMaker Developer Guide: "Amazon SageMaker AI metrics in Amazon
# CloudWatch", "Metrics for multi-container endpoints", Model Monitor "CloudWatch Metrics"). An alarm on
# EndpointName in any other namespace watches a metric that never exists.
SAGEMAKER_NAMESPACES = ("AWS/SageMaker",)
SAGEMAKER_NAMESPACE_PREFIXES = ("AWS/SageMaker/", "/aws/sagemaker/")


def _watches_sagemaker(alarm: StackResource) -> bool:
    """Whether one of the alarm's metrics is in a namespace where SageMaker publishes (unknown counts as yes)."""
    namespaces = [alarm.props.get("namespace")]
    namespaces += [dig(q, "metric", "namespace") for q in as_list(alarm.props.get("metricQueries"))]
    return any(is_unknown(n) or n in SAGEMAKER_NAMESPACES or str(n).startswith(SAGEMAKER_NAMESPACE_PREFIXES)
               for n in namespaces if n is not None)


def endpoint_alarms(stack: StackView, endpoint: StackResource) -> list[StackResource]:
    """The alarms that watch the endpoint's own metrics: paired by the EndpointName dimension (a dependency or the
    known name) and in a namespace where SageMaker publishes them."""
    name = _known_name(endpoint)
    return [
        alarm
        for alarm in stack.of_type(METRIC_ALARM)
        if (alarm.depends_on(endpoint, "dimensions", "metricQueries")
            or (name is not None and name in _alarm_endpoint_names(alarm)))
        and _watches_sagemaker(alarm)
    ]


def _routes_to_sns(stack: StackView, alarm: StackResource) -> bool | None:
    """Whether the alarm notifies an SNS topic; None when its actions are unknown. An alarm whose actions are
    disabled (actionsEnabled false) notifies nobody, whatever it lists."""
    enabled = alarm.props.get("actionsEnabled")
    if is_unknown(enabled):
        return None
    if enabled is not None and is_false(enabled):
        return False
    actions = alarm.props.get("alarmActions")
    if is_unknown(actions):
        return None
    topics = [t for t in stack.of_type(SNS_TOPIC) if alarm.depends_on(t, "alarmActions")]
    if topics:
        return True
    known = list(iter_strings(actions))
    if any(":sns:" in a for a in known):
        return True
    if any(is_unknown(a) for a in as_list(actions)):
        return None
    return False


def scalable_targets(stack: StackView, endpoint: StackResource) -> list[StackResource]:
    name = _known_name(endpoint)
    found = []
    for target in stack.of_type(SCALABLE_TARGET):
        if target.props.get("serviceNamespace") not in ("sagemaker",) and not is_unknown(
            target.props.get("serviceNamespace")
        ):
            continue
        resource_id = target.props.get("resourceId")
        if target.depends_on(endpoint, "resourceId") or (
            name is not None and isinstance(resource_id, str) and resource_id.startswith(f"endpoint/{name}/")
        ):
            found.append(target)
    return found


def _suspended(target: StackResource) -> str:
    """The dynamic scaling a target suspends (suspendedState), as words; empty when it scales."""
    state = target.props.get("suspendedState")
    flags = {"dynamicScalingInSuspended": "scaling in", "dynamicScalingOutSuspended": "scaling out"}
    return " and ".join(words for flag, words in flags.items() if is_true(dig(state, flag)))


def _scaling_policies(stack: StackView, target: StackResource) -> list[StackResource]:
    resource_id = target.props.get("resourceId")
    return [
        policy
        for policy in stack.of_type(SCALING_POLICY)
        if policy.depends_on(target)
        or (isinstance(resource_id, str) and policy.props.get("resourceId") == resource_id)
    ]


def _operability(stack: StackView) -> Iterator[tuple[str, str | None]]:
    config = stack.config
    for endpoint in stack.of_type(ENDPOINT):
        alarms = endpoint_alarms(stack, endpoint)
        if len(alarms) < config["minAlarms"]:
            yield (
                (
                    f"endpoint '{endpoint.name}' has {len(alarms)} CloudWatch alarm(s) on its metrics "
                    f"(dimension EndpointName); at least {config['minAlarms']:g} required"
                ),
                endpoint.urn,
            )
        if config["requireAlarmRoute"]:
            for alarm in alarms:
                if _routes_to_sns(stack, alarm) is False:
                    yield (
                        (
                            f"alarm '{alarm.name}' of endpoint '{endpoint.name}' notifies no SNS topic "
                            "(alarmActions, with actionsEnabled), so nobody hears of it"
                        ),
                        alarm.urn,
                    )
        if not config["requireAutoscaling"]:
            continue
        endpoint_cfg = endpoint_config(stack, endpoint)
        if endpoint_cfg is not None and all_serverless(endpoint_cfg.props):
            continue  # serverless endpoints scale by themselves
        targets = scalable_targets(stack, endpoint)
        if not targets:
            yield (
                (
                    f"endpoint '{endpoint.name}' has no application autoscaling target "
                    "(aws.appautoscaling.Target, resource id endpoint/<name>/variant/<variant>)"
                ),
                endpoint.urn,
            )
            continue
        for target in targets:
            suspended = _suspended(target)
            if suspended:
                yield (
                    f"autoscaling target '{target.name}' of endpoint '{endpoint.name}' suspends {suspended}, so it "
                    "never scales",
                    target.urn,
                )
            if not _scaling_policies(stack, target):
                yield (
                    (
                        f"autoscaling target '{target.name}' of endpoint '{endpoint.name}' has no scaling "
                        "policy "
                        "(aws.appautoscaling.Policy)"
                    ),
                    target.urn,
                )
        if endpoint_cfg is None:
            continue
        resource_ids = [t.props.get("resourceId") for t in targets]
        if not all(isinstance(r, str) for r in resource_ids):
            continue
        for variant in variants(endpoint_cfg.props):
            variant_name = dig(variant, "variantName")
            if (
                is_unknown(variant)
                or not isinstance(variant_name, str)
                or dig(variant, "serverlessConfig") is not None
            ):
                continue
            if not any(r.endswith(f"/variant/{variant_name}") for r in resource_ids):
                yield (
                    f"variant '{variant_name}' of endpoint '{endpoint.name}' has no autoscaling target",
                    endpoint.urn,
                )


RULES = [
    stack_rule(
        name="sagemaker-endpoint-operability",
        description=(
            "Every SageMaker endpoint has CloudWatch alarms routed to an SNS topic, and application "
            "autoscaling with a scaling policy (serverless endpoints excepted from autoscaling)."
        ),
        rationale=(
            "An endpoint nobody is alerted about fails silently, and one without autoscaling either drops "
            "traffic under load or overpays at rest."
        ),
        severity=Severity.MEDIUM,
        remediation=(
            "For each endpoint create aws.cloudwatch.MetricAlarm(s) with dimensions "
            "EndpointName/VariantName and "
            "alarm_actions=[<SNS topic ARN>], an aws.appautoscaling.Target for each variant "
            "(resource_id endpoint/<name>/variant/<variant>) and an aws.appautoscaling.Policy on it."
        ),
        check=_operability,
        knobs={
            "minAlarms": int_knob("Fewest CloudWatch alarms per endpoint.", 1, 0),
            "requireAlarmRoute": bool_knob("Require every endpoint alarm to notify an SNS topic.", True),
            "requireAutoscaling": bool_knob("Require autoscaling for non-serverless endpoints.", True),
        },
        tags=["sagemaker", "operability"],
    )
]
