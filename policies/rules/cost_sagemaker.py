"""SageMaker pricers: endpoints (instance and serverless variants, shadows, autoscaling range), pipelines
(training and processing steps x max runtime x scheduled runs), monitoring schedules, MLflow tracking servers.

Every figure is a range: `min` is what the declared configuration costs at rest (declared instance count; no
job run), `max` the upper bound the configuration allows (autoscaling maximum; every scheduled run lasting its
maximum runtime).
"""

from __future__ import annotations

from typing import Any

from .cost_types import CostInput, Graph, ResourceCost, amount
from .pricing import PriceBook, runs_per_month
from .values import as_list, dig, is_unknown, parse_json_document

ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
SCALABLE_TARGET = "aws:appautoscaling/target:Target"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
JOB_DEFINITIONS = (
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition",
    "aws:sagemaker/modelQualityJobDefinition:ModelQualityJobDefinition",
    "aws:sagemaker/modelBiasJobDefinition:ModelBiasJobDefinition",
    "aws:sagemaker/modelExplainabilityJobDefinition:ModelExplainabilityJobDefinition",
)

SERVERLESS_REQUESTS_PER_MONTH = 1_000_000
SERVERLESS_SECONDS_PER_REQUEST = 1.0
"""The stated request assumption for serverless variants: 1 million requests a month of 1 s each."""

MLFLOW_DEFAULT_SIZE = "Small"  # the provider's documented default trackingServerSize


def _known_name(resource: CostInput, key: str = "name") -> str | None:
    value = resource.props.get(key)
    return value if isinstance(value, str) and value else None


# --- endpoints --------------------------------------------------------------------------------------------


def price_endpoint(endpoint: CostInput, graph: Graph, prices: PriceBook, cost: ResourceCost) -> None:
    config = _endpoint_config(endpoint, graph)
    if config is None:
        cost.add_missing("its endpoint configuration is not in the plan")
        return
    production, shadow = config.props.get("productionVariants"), config.props.get("shadowProductionVariants")
    if is_unknown(production) or is_unknown(shadow):
        cost.add_missing("its variants are unknown until apply")
        return
    for kind, variants in (("variant", production), ("shadow variant", shadow)):
        for variant in as_list(variants):
            _price_variant(endpoint, graph, prices, cost, kind, variant)


def _endpoint_config(endpoint: CostInput, graph: Graph) -> CostInput | None:
    """The configuration the endpoint uses: by property dependency, else by its known name."""
    found = graph.referenced(endpoint, "endpointConfigName", ENDPOINT_CONFIG) or graph.named(
        ENDPOINT_CONFIG, "name", endpoint.props.get("endpointConfigName"))
    return found[0] if found else None


def _price_variant(endpoint: CostInput, graph: Graph, prices: PriceBook, cost: ResourceCost, kind: str,
                   variant: Any) -> None:
    name = dig(variant, "variantName")
    label = f"{kind} {name}" if isinstance(name, str) else kind
    serverless = dig(variant, "serverlessConfig")
    if serverless is not None:
        _price_serverless(label, serverless, prices, cost)
        return
    instance_type, count = dig(variant, "instanceType"), amount(dig(variant, "initialInstanceCount"))
    if not isinstance(instance_type, str) or count is None:
        cost.add_missing(f"{label}: instance type or count unknown")
        return
    high = count
    target = _scalable_target(endpoint, graph, name)
    if target is not None:
        maximum = amount(target.props.get("maxCapacity"))
        if maximum is None:
            cost.add_missing(f"{label}: autoscaling maxCapacity unknown")
        else:
            high = max(count, maximum)
    what = f"{label} {instance_type} (declared count" + (" to autoscaling max)" if target is not None else ")")
    cost.hourly(f"sagemaker:hosting:{instance_type}", count, high, prices, what)


def _price_serverless(label: str, serverless: Any, prices: PriceBook, cost: ResourceCost) -> None:
    memory_mb = amount(dig(serverless, "memorySizeInMb"))
    if memory_mb is None:
        cost.add_missing(f"{label}: serverless memorySizeInMb unknown")
        return
    price = prices.get("sagemaker:serverless:gb-second")
    if price is None:
        cost.add_missing(f"{label}: no price for sagemaker:serverless:gb-second")
        return
    gb_seconds = memory_mb / 1024 * SERVERLESS_SECONDS_PER_REQUEST * SERVERLESS_REQUESTS_PER_MONTH
    cost.add(0.0, gb_seconds * price.usd, {price.source},
             f"{label} serverless {memory_mb:g} MB: 0 at rest to {SERVERLESS_REQUESTS_PER_MONTH:,} requests/month"
             f" x {SERVERLESS_SECONDS_PER_REQUEST:g} s x ${price.usd:g}/GB-s")


def _scalable_target(endpoint: CostInput, graph: Graph, variant: Any) -> CostInput | None:
    """The variant's autoscaling target: its resourceId `endpoint/<name>/variant/<variant>` comes from the
    endpoint (property dependency) or, where the name is known, spells it."""
    if not isinstance(variant, str):
        return None
    for target in graph.referencing(endpoint, "resourceId", SCALABLE_TARGET):
        resource_id = target.props.get("resourceId")
        if isinstance(resource_id, str) and resource_id.endswith(f"/variant/{variant}"):
            return target
    name = _known_name(endpoint)
    found = graph.named(SCALABLE_TARGET, "resourceId", f"endpoint/{name}/variant/{variant}") if name else []
    return found[0] if found else None


# --- pipelines ----------------------------------------------------------------------------------------------


def price_pipeline(pipeline: CostInput, graph: Graph, prices: PriceBook, cost: ResourceCost) -> None:
    try:
        definition = parse_json_document(pipeline.props.get("pipelineDefinition"))
    except ValueError:
        definition = None
    if not isinstance(definition, dict):
        cost.add_missing("its definition is not inline JSON known at preview")
        return
    runs, schedule = _pipeline_runs(pipeline, graph)
    if runs is None:
        cost.add_missing(f"schedule {schedule!r} not understood")
        return
    cost.assume(f"{runs} scheduled run(s)/month at most ({schedule})" if schedule
                else "no schedule: on-demand runs only, 0 scheduled")
    cost.assume("min: no run; max: every scheduled run lasts each step's maximum runtime; "
                "on-demand and drift-triggered runs are extra")
    for step in _steps(definition.get("Steps")):
        _price_step(step, runs, prices, cost)


def _pipeline_runs(pipeline: CostInput, graph: Graph) -> tuple[int | None, str | None]:
    """Scheduled runs per month of a pipeline (0 without a schedule) and the schedule expression."""
    total, expressions = 0, []
    for target in _pipeline_targets(pipeline, graph):
        rules = graph.referenced(target, "rule", EVENT_RULE)
        rules = rules or graph.named(EVENT_RULE, "name", target.props.get("rule"))
        for rule in rules[:1]:
            expression = rule.props.get("scheduleExpression")
            if expression is None:
                continue  # an event pattern rule: runs on events, not counted as scheduled
            runs = runs_per_month(expression)
            if runs is None:
                return None, str(expression)
            total += runs
            expressions.append(str(expression))
    return total, ", ".join(expressions) or None


def _pipeline_targets(pipeline: CostInput, graph: Graph) -> list[CostInput]:
    """The EventBridge targets that start the pipeline: by property dependency, else by its ARN's known name."""
    found = graph.referencing(pipeline, "arn", EVENT_TARGET)
    name = _known_name(pipeline, "pipelineName")
    if name:
        found += [t for t in graph.of_type(EVENT_TARGET) if t not in found
                  and isinstance(t.props.get("arn"), str) and t.props["arn"].endswith(f":pipeline/{name}")]
    return found


def _steps(steps: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for step in as_list(steps):
        if isinstance(step, dict):
            found.append(step)
            arguments = step.get("Arguments")
            if step.get("Type") == "Condition" and isinstance(arguments, dict):
                found += _steps(arguments.get("IfSteps")) + _steps(arguments.get("ElseSteps"))
    return found


def _price_step(step: dict[str, Any], runs: int, prices: PriceBook, cost: ResourceCost) -> None:
    arguments, kind = step.get("Arguments"), step.get("Type")
    if not isinstance(arguments, dict):
        arguments = {}
    if kind == "Training":
        usage, cluster = "training", dig(arguments, "ResourceConfig")
    elif kind == "Processing":
        usage, cluster = "processing", dig(arguments, "ProcessingResources", "ClusterConfig")
    else:
        return
    label = f"step {step.get('Name')} ({usage})"
    instance_type, count = dig(cluster, "InstanceType"), amount(dig(cluster, "InstanceCount"))
    seconds = amount(dig(arguments, "StoppingCondition", "MaxRuntimeInSeconds"))
    if not isinstance(instance_type, str) or count is None or seconds is None:
        cost.add_missing(f"{label}: instance type, count or MaxRuntimeInSeconds not a literal")
        return
    _price_job(label, usage, instance_type, count, seconds, runs, prices, cost)
    volume = amount(dig(cluster, "VolumeSizeInGB"))
    if volume:
        cost.add_missing(f"{label}: {volume:g} GB ML storage volume (no storage price in the snapshot)")


def _price_job(label: str, usage: str, instance_type: str, count: float, seconds: float, runs: int,
               prices: PriceBook, cost: ResourceCost) -> None:
    price = prices.get(f"sagemaker:{usage}:{instance_type}")
    if price is None:
        cost.add_missing(f"{label}: no price for sagemaker:{usage}:{instance_type}")
        return
    hours = seconds / 3600
    cost.add(0.0, price.usd * count * hours * runs, {price.source},
             f"{label}: {count:g} x {instance_type} x ${price.usd:g}/h x {hours:g} h max x {runs} run(s)")


# --- monitoring schedules -------------------------------------------------------------------------------------


def price_monitoring_schedule(schedule: CostInput, graph: Graph, prices: PriceBook, cost: ResourceCost) -> None:
    config = schedule.props.get("monitoringScheduleConfig")
    expression = dig(config, "scheduleConfig", "scheduleExpression")
    runs = runs_per_month(expression)
    if runs is None:
        cost.add_missing(f"schedule {expression!r} not understood")
        return
    definition = _job_definition(schedule, graph, dig(config, "monitoringJobDefinitionName"))
    if definition is None:
        cost.add_missing("its job definition is not in the plan")
        return
    cluster = dig(definition.props, "jobResources", "clusterConfig")
    instance_type, count = dig(cluster, "instanceType"), amount(dig(cluster, "instanceCount"))
    seconds = amount(dig(definition.props, "stoppingCondition", "maxRuntimeInSeconds"))
    if not isinstance(instance_type, str) or count is None or seconds is None:
        cost.add_missing("job definition: instance type, count or maxRuntimeInSeconds unknown")
        return
    cost.assume(f"{runs} run(s)/month at most ({expression}); min: no run, max: every run lasts its maximum runtime")
    _price_job(f"monitoring job {definition.name}", "processing", instance_type, count, seconds, runs, prices, cost)
    volume = amount(dig(cluster, "volumeSizeInGb"))
    if volume:
        cost.add_missing(f"{volume:g} GB ML storage volume per run (no storage price in the snapshot)")


def _job_definition(schedule: CostInput, graph: Graph, wanted: Any) -> CostInput | None:
    found = graph.referenced(schedule, "monitoringScheduleConfig", *JOB_DEFINITIONS)
    for type_ in JOB_DEFINITIONS:
        found = found or graph.named(type_, "name", wanted)
    return found[0] if found else None


# --- MLflow ------------------------------------------------------------------------------------------------------


def price_mlflow(server: CostInput, graph: Graph, prices: PriceBook, cost: ResourceCost) -> None:
    size = server.props.get("trackingServerSize")
    if size is None:
        size = MLFLOW_DEFAULT_SIZE
        cost.assume(f"trackingServerSize not set: the provider's default {MLFLOW_DEFAULT_SIZE}")
    if not isinstance(size, str) or not size:
        cost.add_missing("trackingServerSize unknown")
        return
    cost.hourly(f"sagemaker:mlflow:{size.lower()}", 1, 1, prices, f"MLflow tracking server {size}")
    cost.assume("artifact storage (S3) and metadata storage are not priced")
