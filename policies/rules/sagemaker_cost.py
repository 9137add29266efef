"""SageMaker cost guard: endpoints, jobs, pipeline steps and endpoint autoscaling use only the environment's
allowed instance types and stay under its instance-count ceiling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .knobs import int_knob, strings_knob
from .sagemaker import (
    ENDPOINT_CONFIG,
    PIPELINE,
    SCALABLE_TARGET,
    TRAINING_JOB,
    TUNING_JOB,
    is_serverless,
    variants,
)
from .sagemaker_jobs import pipeline_definition, pipeline_parameters, pipeline_steps, resolve
from .values import as_list, dig, fmt_number, is_unknown, number

# --- cost guard: instance types and counts ------------------------------------------------------------


def _instances(resource: ResourceView) -> Iterator[tuple[str, Any, Any]]:
    """(where, instance type, instance count) for everything the resource would run on."""
    props = resource.props
    if resource.type == ENDPOINT_CONFIG:
        for variant in variants(props):
            if is_unknown(variant) or is_serverless(variant):
                continue
            where = (
                f"endpoint configuration '{resource.name}' variant "
                f"'{dig(variant, 'variantName', default='?')}'"
            )
            yield where, dig(variant, "instanceType"), dig(variant, "initialInstanceCount")
    elif resource.type == PIPELINE:
        definition = pipeline_definition(resource)
        if not isinstance(definition, dict):
            return
        parameters = pipeline_parameters(definition)
        for step in pipeline_steps(definition.get("Steps")):
            arguments = step.get("Arguments")
            if not isinstance(arguments, dict):
                continue
            where = f"pipeline '{resource.name}' step '{step.get('Name', '?')}'"
            kind = step.get("Type")
            paths: list[tuple[str, ...]] = []
            if kind == "Training":
                paths = [("ResourceConfig",)]
            elif kind == "Processing":
                paths = [("ProcessingResources", "ClusterConfig")]
            elif kind == "Transform":
                paths = [("TransformResources",)]
            elif kind == "Tuning":
                jobs = as_list(arguments.get("TrainingJobDefinition")) + as_list(
                    arguments.get("TrainingJobDefinitions")
                )
                for job in jobs:
                    yield (
                        where,
                        resolve(dig(job, "ResourceConfig", "InstanceType"), parameters),
                        resolve(dig(job, "ResourceConfig", "InstanceCount"), parameters),
                    )
            for path in paths:
                yield (
                    where,
                    resolve(dig(arguments, *path, "InstanceType"), parameters),
                    resolve(dig(arguments, *path, "InstanceCount"), parameters),
                )
    elif resource.type == TRAINING_JOB:
        config = props.get("resourceConfig")
        if config is not None:
            yield (
                f"training job '{resource.name}'",
                dig(config, "instanceType"),
                dig(config, "instanceCount"),
            )
    elif resource.type == TUNING_JOB:
        for key in ("trainingJobDefinition", "trainingJobDefinitions"):
            for job in as_list(props.get(key)):
                yield (
                    f"tuning job '{resource.name}'",
                    dig(job, "resourceConfig", "instanceType"),
                    dig(job, "resourceConfig", "instanceCount"),
                )
    elif resource.type == SCALABLE_TARGET and props.get("serviceNamespace") == "sagemaker":
        yield f"scalable target '{resource.name}' (maxCapacity)", None, props.get("maxCapacity")


def _cost_guard(resource: ResourceView) -> Iterator[str]:
    allowed = resource.config["allowedInstanceTypes"]
    ceiling = resource.config["maxInstanceCount"]
    for where, instance_type, count in _instances(resource):
        if isinstance(instance_type, str) and instance_type not in allowed:
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
        resource_types=[ENDPOINT_CONFIG, PIPELINE, TRAINING_JOB, TUNING_JOB, SCALABLE_TARGET],
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
