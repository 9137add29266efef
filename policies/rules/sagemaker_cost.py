"""SageMaker cost guard: endpoints, jobs, pipeline steps and endpoint autoscaling use only the environment's
allowed instance types and stay under its instance-count ceiling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .knobs import int_knob, strings_knob
from .sagemaker import (
    PIPELINE,
    SCALABLE_TARGET,
)
from .sagemaker_jobs import pipeline_definition, pipeline_parameters, pipeline_steps, resolve
from .values import fmt_number, number

# Where SageMaker reads what to run on: an instance type, and the counts (initial, fixed, or the most that managed
# scaling may reach) beside it. Keys are matched case-insensitively, so the provider's camelCase inputs and a
# pipeline definition's PascalCase API shapes read alike, wherever they sit: a variant, an instance group, a tuning
# job's HyperParameterTuningResourceConfig.InstanceConfigs, a monitoring job's ClusterConfig, a Studio app's
# resource spec, a debugger rule's evaluation job.
_TYPE_KEY = "instancetype"
_COUNT_KEYS = ("instancecount", "initialinstancecount", "maxinstancecount")
_NOT_AN_INSTANCE = ("system",)  # Studio's JupyterServer default "instance" runs on no billed instance


def _nodes(value: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, mapping) for every mapping in a value, depth first."""
    if isinstance(value, dict):
        yield path, value
        for key, item in value.items():
            yield from _nodes(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nodes(item, f"{path}[{index}]")


def _sizing(where: str, tree: Any, parameters: dict[str, Any] | None) -> Iterator[tuple[str, Any, Any]]:
    def value(raw: Any) -> Any:
        return resolve(raw, parameters) if parameters is not None else raw

    for path, node in _nodes(tree):
        keys = {k.lower(): v for k, v in node.items() if isinstance(k, str)}
        counts = [keys[k] for k in _COUNT_KEYS if k in keys]
        if _TYPE_KEY not in keys and not counts:
            continue
        label = f"{where} ({path})" if path else where
        yield label, value(keys.get(_TYPE_KEY)), None
        for count in counts:
            yield label, None, value(count)


def _instances(resource: ResourceView) -> Iterator[tuple[str, Any, Any]]:
    """(where, instance type, instance count) for everything the resource would run on, found wherever it sits."""
    props = resource.props
    kind = resource.type.rsplit(":", 1)[-1]
    if resource.type == PIPELINE:
        definition = pipeline_definition(resource)
        if not isinstance(definition, dict):
            return
        parameters = pipeline_parameters(definition)
        for step in pipeline_steps(definition.get("Steps")):
            if step.get("Type") == "Condition":
                continue  # its branches are steps of their own
            where = f"pipeline '{resource.name}' step '{step.get('Name', '?')}'"
            yield from _sizing(where, step.get("Arguments"), parameters)
    elif resource.type == SCALABLE_TARGET:
        if props.get("serviceNamespace") == "sagemaker":
            yield f"scalable target '{resource.name}' (maxCapacity)", None, props.get("maxCapacity")
    else:
        yield from _sizing(f"{kind} '{resource.name}'", props, None)


def _judged(resource_type: str) -> bool:
    """every SageMaker resource (whatever carries an instance type or count, wherever), and autoscaling targets"""
    return resource_type.startswith("aws:sagemaker/") or resource_type == SCALABLE_TARGET


def _cost_guard(resource: ResourceView) -> Iterator[str]:
    allowed = resource.config["allowedInstanceTypes"]
    ceiling = resource.config["maxInstanceCount"]
    for where, instance_type, count in _instances(resource):
        if isinstance(instance_type, str) and instance_type not in allowed and instance_type not in _NOT_AN_INSTANCE:
            yield (
                f"{where} uses instance type {instance_type!r}, which is not allowed in this environment; "
                f"allowed: {', '.join(allowed) or 'none'}"
            )
        value = number(count)
        if value is not None and value > ceiling:
            yield f"{where} asks for {fmt_number(value)} instances; the ceiling is {fmt_number(ceiling)}"


RULES = [
    resource_rule(
        name="sagemaker-instance-cost-guard",
        description=(
            "SageMaker endpoints, jobs, pipeline steps and endpoint autoscaling use only the environment's "
            "allowed instance types and stay under its instance-count ceiling."
        ),
        rationale=(
            "GPU and large instances cost hundreds of dollars a day; an allow-list and a count ceiling per "
            "environment turn an expensive typo into a failed preview."
        ),
        severity=Severity.MEDIUM,
        remediation=(
            "Use an instance type from the environment's allowedInstanceTypes and an instance count (or "
            "autoscaling max_capacity) no higher than maxInstanceCount, or change the environment's policy "
            "config with a reviewed budget decision."
        ),
        resource_types=_judged,
        check=_cost_guard,
        knobs={
            "allowedInstanceTypes": strings_knob(
                "Instance types allowed for endpoints, jobs and pipeline steps.",
                ["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge", "ml.c5.large", "ml.c5.xlarge"],
            ),
            "maxInstanceCount": int_knob(
                "Highest instance count of a variant, job or step, and highest autoscaling maxCapacity.", 2, 1
            ),
        },
        tags=["sagemaker", "cost"],
    ),
]
