"""Continuous-training rule (stack): every served model that captures data is watched for drift, and nothing lets
a drift alarm start training except through the retraining guards.

Monitoring: an endpoint configuration with data capture on must have a data-quality monitoring schedule whose job
definition judges that endpoint (`dataQualityJobInput.endpointInput.endpointName`, by property dependency or
known name), and every data-quality job definition runs isolated, encrypted (volume and output keys) and bounded.

Guards: a retraining guard is a Lambda function with the guard's settings (`PIPELINE_NAME` and the
`RETRAIN_*` variables); each must keep the kill switch (`RETRAIN_ENABLED` present, `true` or `false`), a cool-down
and a daily cap within the configured bounds, and run one at a time (reserved concurrency 1). No EventBridge rule
whose pattern matches CloudWatch alarm state changes may start a SageMaker pipeline directly (an unguarded path).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import StackResource, StackView, stack_rule
from .knobs import bool_knob, int_knob
from .sagemaker import ENDPOINT, ENDPOINT_CONFIG
from .values import dig, is_true, is_unknown, number, parse_json_document

JOB_DEFINITION = "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
SCHEDULE = "aws:sagemaker/monitoringSchedule:MonitoringSchedule"
FUNCTION = "aws:lambda/function:Function"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
GUARD_VARIABLES = ("RETRAIN_ENABLED", "RETRAIN_COOLDOWN_MINUTES", "RETRAIN_MAX_RUNS_PER_DAY")


def _captures(config: StackResource) -> bool:
    return is_true(dig(config.props, "dataCaptureConfig", "enableCapture"))


def _endpoint_of(stack: StackView, config: StackResource) -> StackResource | None:
    for endpoint in stack.of_type(ENDPOINT):
        if endpoint.depends_on(config, "endpointConfigName") or (
            isinstance(config.props.get("name"), str)
            and endpoint.props.get("endpointConfigName") == config.props.get("name")):
            return endpoint
    return None


def _judges(stack: StackView, endpoint: StackResource) -> bool:
    """Whether a scheduled job definition reads this endpoint's capture (unknown names count as a match)."""
    def scheduled_by(schedule: StackResource, definition: StackResource) -> bool:
        named = dig(schedule.props, "monitoringScheduleConfig", "monitoringJobDefinitionName")
        return schedule.depends_on(definition, "monitoringScheduleConfig") or named == definition.props.get("name")

    scheduled = [d for d in stack.of_type(JOB_DEFINITION) if any(scheduled_by(s, d) for s in stack.of_type(SCHEDULE))]
    for definition in scheduled:
        named = dig(definition.props, "dataQualityJobInput", "endpointInput", "endpointName")
        if definition.depends_on(endpoint, "dataQualityJobInput") or is_unknown(named) or (
                isinstance(named, str) and named == endpoint.props.get("name")):
            return True
    return False


def _job_problems(definition: StackResource, max_runtime: float) -> Iterator[str]:
    p, where = definition.props, f"data-quality job definition '{definition.name}'"
    if not is_unknown(dig(p, "networkConfig", "enableNetworkIsolation")) and not is_true(
            dig(p, "networkConfig", "enableNetworkIsolation")):
        yield f"{where} does not enable network isolation"
    if not is_unknown(dig(p, "networkConfig", "enableInterContainerTrafficEncryption")) and not is_true(
            dig(p, "networkConfig", "enableInterContainerTrafficEncryption")):
        yield f"{where} does not encrypt inter-container traffic"
    for path, what in ((("jobResources", "clusterConfig", "volumeKmsKeyId"), "volume"),
                       (("dataQualityJobOutputConfig", "kmsKeyId"), "output")):
        if dig(p, *path) in (None, ""):
            yield f"{where} has no customer-managed KMS key for its {what}"
    runtime = number(dig(p, "stoppingCondition", "maxRuntimeInSeconds"))
    if runtime is None and not is_unknown(dig(p, "stoppingCondition", "maxRuntimeInSeconds")):
        yield f"{where} has no stoppingCondition.maxRuntimeInSeconds"
    elif runtime is not None and runtime > max_runtime:
        yield f"{where} may run {runtime:g} s; at most {max_runtime:g} s allowed"


def _guard_problems(function: StackResource, config: dict[str, Any]) -> Iterator[str]:
    variables = dig(function.props, "environment", "variables") or {}
    where = f"retraining guard '{function.name}'"
    missing = [v for v in GUARD_VARIABLES if v not in variables]
    if missing:
        yield f"{where} lacks {', '.join(missing)} (kill switch, cool-down and daily cap must all be set)"
        return
    if not is_unknown(variables["RETRAIN_ENABLED"]) and variables["RETRAIN_ENABLED"] not in ("true", "false"):
        yield f"{where}: RETRAIN_ENABLED must be 'true' or 'false', got {variables['RETRAIN_ENABLED']!r}"
    cooldown, cap = number(variables["RETRAIN_COOLDOWN_MINUTES"]), number(variables["RETRAIN_MAX_RUNS_PER_DAY"])
    if cooldown is not None and cooldown < config["minCooldownMinutes"]:
        yield f"{where}: cool-down {cooldown:g} min is below the minimum {config['minCooldownMinutes']:g} min"
    if cap is not None and not 1 <= cap <= config["maxRunsPerDay"]:
        yield f"{where}: daily cap {cap:g} is outside 1-{config['maxRunsPerDay']:g}"
    concurrency = function.props.get("reservedConcurrentExecutions")
    if not is_unknown(concurrency) and concurrency != 1:
        yield f"{where} must run one at a time (reservedConcurrentExecutions 1), got {concurrency!r}"


def _alarm_rules(stack: StackView) -> list[StackResource]:
    found = []
    for rule in stack.of_type(EVENT_RULE):
        pattern = parse_json_document(rule.props.get("eventPattern"))
        if isinstance(pattern, dict) and "aws.cloudwatch" in (pattern.get("source") or []):
            found.append(rule)
    return found


def _continuous_training(stack: StackView) -> Iterator[tuple[str, str | None]]:
    config = stack.config
    if config["requireMonitoring"]:
        for endpoint_config in (c for c in stack.of_type(ENDPOINT_CONFIG) if _captures(c)):
            endpoint = _endpoint_of(stack, endpoint_config)
            if endpoint is not None and not _judges(stack, endpoint):
                yield (f"endpoint '{endpoint.name}' captures data but no data-quality monitoring schedule judges "
                       "it", endpoint.urn)
    for definition in stack.of_type(JOB_DEFINITION):
        for problem in _job_problems(definition, config["maxMonitoringRuntimeSeconds"]):
            yield problem, definition.urn
    if not config["requireRetrainGuards"]:
        return
    for function in stack.of_type(FUNCTION):
        variables = dig(function.props, "environment", "variables") or {}
        if isinstance(variables, dict) and "PIPELINE_NAME" in variables:
            for problem in _guard_problems(function, config):
                yield problem, function.urn
    for rule in _alarm_rules(stack):
        for target in stack.of_type(EVENT_TARGET):
            if target.depends_on(rule, "rule") and target.props.get("sagemakerPipelineTarget") is not None:
                yield (f"rule '{rule.name}' starts a SageMaker pipeline straight from an alarm, past the "
                       "retraining guards", target.urn)


RULES = [
    stack_rule(
        name="drift-monitoring-and-retrain-guards",
        description=(
            "Every endpoint with data capture has a data-quality monitoring schedule; monitoring jobs run isolated, "
            "encrypted and bounded; every retraining guard keeps its kill switch, cool-down, daily cap and "
            "one-at-a-time concurrency; no alarm starts a pipeline except through a guard."
        ),
        rationale=(
            "Captured data nobody judges is cost without protection, and a drift alarm wired straight to training "
            "turns an alarm storm into a bill: the guards bound how often a model retrains."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Enable `monitoring` for every model with dataCapturePercent > 0 (aws.sagemaker.DataQualityJobDefinition "
            "+ aws.sagemaker.MonitoringSchedule); give retraining guards RETRAIN_ENABLED, RETRAIN_COOLDOWN_MINUTES "
            "and RETRAIN_MAX_RUNS_PER_DAY within bounds and reserved concurrency 1; send alarms to a guard, not to "
            "a pipeline (docs/monitoring.md)."
        ),
        check=_continuous_training,
        knobs={
            "requireMonitoring": bool_knob("Require a monitoring schedule for every endpoint that captures data.",
                                           True),
            "requireRetrainGuards": bool_knob("Require guards on every drift-triggered retraining.", True),
            "minCooldownMinutes": int_knob("Shortest cool-down between drift-triggered runs, in minutes.", 60, 1),
            "maxRunsPerDay": int_knob("Most drift-triggered runs per UTC day a guard may allow.", 4, 1),
            "maxMonitoringRuntimeSeconds": int_knob("Longest a monitoring job may run, in seconds.", 3600, 60,
                                                    86400),
        },
        tags=["sagemaker", "monitoring", "cost"],
    )
]
