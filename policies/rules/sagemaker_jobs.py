"""SageMaker job rule: training, tuning and processing jobs, model-monitor job definitions and the steps of a
pipeline run network-isolated, encrypt inter-container traffic and stop after a maximum runtime.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .knobs import int_knob, strings_knob
from .sagemaker import PIPELINE, TRAINING_JOB, TUNING_JOB
from .values import UNKNOWN, as_list, dig, fmt_number, is_true, is_unknown, number, parse_json_document

# --- training / processing / pipeline steps: isolation, encryption, runtime ---------------------------


def resolve(value: Any, parameters: dict[str, Any]) -> Any:
    """A pipeline value: a literal as is, {"Get": "Parameters.X"} as X's default, else UNKNOWN."""
    if isinstance(value, dict):
        reference = value.get("Get")
        if isinstance(reference, str) and reference.startswith("Parameters."):
            return parameters.get(reference.removeprefix("Parameters."), UNKNOWN)
        return UNKNOWN
    return value


def pipeline_steps(steps: Any) -> Iterator[dict[str, Any]]:
    """Every step of a pipeline definition, including those nested in condition steps."""
    for step in as_list(steps):
        if not isinstance(step, dict):
            continue
        yield step
        arguments = step.get("Arguments")
        if step.get("Type") == "Condition" and isinstance(arguments, dict):
            yield from pipeline_steps(arguments.get("IfSteps"))
            yield from pipeline_steps(arguments.get("ElseSteps"))


def pipeline_parameters(definition: dict[str, Any]) -> dict[str, Any]:
    return {
        p["Name"]: p.get("DefaultValue", UNKNOWN)
        for p in as_list(definition.get("Parameters"))
        if isinstance(p, dict) and isinstance(p.get("Name"), str)
    }


def _job_settings(where: str, isolation: Any, encryption: Any, runtime: Any, limit: float) -> Iterator[str]:
    if not is_unknown(isolation) and not is_true(isolation):
        yield f"{where} does not enable network isolation"
    if not is_unknown(encryption) and not is_true(encryption):
        yield f"{where} does not encrypt inter-container traffic"
    if is_unknown(runtime):
        return
    seconds = number(runtime)
    if seconds is None:
        yield f"{where} sets no maximum runtime (StoppingCondition.MaxRuntimeInSeconds)"
    elif seconds > limit:
        yield f"{where} may run {fmt_number(seconds)} s; the maximum runtime allowed is {fmt_number(limit)} s"


def _training_definition(where: str, job: Any, parameters: dict[str, Any], limit: float) -> Iterator[str]:
    def get(*path: str) -> Any:
        return resolve(dig(job, *path), parameters)

    yield from _job_settings(
        where,
        get("EnableNetworkIsolation"),
        get("EnableInterContainerTrafficEncryption"),
        get("StoppingCondition", "MaxRuntimeInSeconds"),
        limit,
    )


def pipeline_definition(resource: ResourceView) -> Any:
    """The pipeline's parsed definition, UNKNOWN, or None when it is not inline (or not JSON)."""
    try:
        return parse_json_document(resource.props.get("pipelineDefinition"))
    except ValueError:
        return None


DATA_QUALITY_JOB = "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
MONITORING_SCHEDULE = "aws:sagemaker/monitoringSchedule:MonitoringSchedule"
JOBS = {
    TRAINING_JOB: "training job",
    TUNING_JOB: "tuning job",
    DATA_QUALITY_JOB: "data quality job definition",
    MONITORING_SCHEDULE: "monitoring schedule",
}
"""Every provider resource that defines a job SageMaker runs (the pulumi-aws types whose inputs carry
enableNetworkIsolation, except Model, which runs no job: tests/policies/test_policy_coverage.py derives the list
from the installed SDK and fails when a new one appears)."""
_MONITOR = (("networkConfig", "enableNetworkIsolation"), ("networkConfig", "enableInterContainerTrafficEncryption"),
            ("stoppingCondition", "maxRuntimeInSeconds"))
_TRAINING = (("enableNetworkIsolation",), ("enableInterContainerTrafficEncryption",),
             ("stoppingCondition", "maxRuntimeInSeconds"))
_Path = tuple[str, ...]
_JOB_FIELDS: dict[str, tuple[tuple[_Path, ...], _Path, _Path, _Path]] = {
    # type: (paths of the inputs holding the job(s), () for the resource itself; isolation; encryption; runtime)
    TRAINING_JOB: (((),), *_TRAINING),
    TUNING_JOB: ((("trainingJobDefinition",), ("trainingJobDefinitions",)), *_TRAINING),
    DATA_QUALITY_JOB: (((),), *_MONITOR),
    MONITORING_SCHEDULE: ((("monitoringScheduleConfig", "monitoringJobDefinition"),), *_MONITOR),
}


def _job_isolation(resource: ResourceView) -> Iterator[str]:
    limit = resource.config["maxRuntimeSeconds"]
    props = resource.props
    if resource.type == PIPELINE:
        raw = props.get("pipelineDefinition")
        definition = pipeline_definition(resource)
        if is_unknown(definition):
            return
        if not isinstance(definition, dict):
            if raw is None and props.get("pipelineDefinitionS3Location") is not None:
                yield (
                    f"pipeline '{resource.name}' keeps its definition in S3 (pipelineDefinitionS3Location), "
                    "so its "
                    "steps cannot be checked; pass the definition inline as pipelineDefinition"
                )
            else:
                yield f"pipeline '{resource.name}' has a pipelineDefinition that is not a JSON object"
            return
        parameters = pipeline_parameters(definition)
        for step in pipeline_steps(definition.get("Steps")):
            kind, arguments = step.get("Type"), step.get("Arguments")
            where = f"pipeline '{resource.name}' step '{step.get('Name', '?')}' ({kind})"
            if not isinstance(arguments, dict):
                continue
            if kind == "Training":
                yield from _training_definition(where, arguments, parameters, limit)
            elif kind == "Processing":
                isolation = resolve(dig(arguments, "NetworkConfig", "EnableNetworkIsolation"), parameters)
                if step.get("Name") in resource.config["networkedSteps"] and is_false(isolation):
                    yield from networked_step_shape(where, step, props.get("roleArn"),
                                                    resource.config["networkedStepInputs"])
                    isolation = True  # judged by its shape instead; encryption and runtime still apply
                yield from _job_settings(
                    where,
                    isolation,
                    resolve(
                        dig(arguments, "NetworkConfig", "EnableInterContainerTrafficEncryption"), parameters
                    ),
                    resolve(dig(arguments, "StoppingCondition", "MaxRuntimeInSeconds"), parameters),
                    limit,
                )
            elif kind == "Tuning":
                definitions = as_list(arguments.get("TrainingJobDefinition")) + as_list(
                    arguments.get("TrainingJobDefinitions")
                )
                for job in definitions:
                    yield from _training_definition(where, job, parameters, limit)
    elif resource.type in JOBS:
        where, (holders, isolation, encryption, runtime) = JOBS[resource.type], _JOB_FIELDS[resource.type]
        for holder in holders:
            found = dig(props, *holder) if holder else props
            if is_unknown(found):
                continue
            for job in as_list(found):  # a job that is absent (None) is not run here: nothing to judge
                yield from _job_settings(
                    f"{where} '{resource.name}'" + (f" ({'.'.join(holder)})" if holder else ""),
                    dig(job, *isolation),
                    dig(job, *encryption),
                    dig(job, *runtime),
                    limit,
                )

def is_false(value: Any) -> bool:
    """Known and not true: a step that turns isolation off (unknown stays unknown)."""
    return not is_unknown(value) and not is_true(value)


_STEP_OUTPUT = re.compile(r"^Steps\.([^.]+)\.ProcessingOutputConfig\.Outputs\['([^']+)'\]\.S3Output\.S3Uri$")


def networked_step_shape(where: str, step: dict[str, Any], pipeline_role: Any,
                         allowed_inputs: list[str]) -> Iterator[str]:
    """The one exception to isolation: an experiment-logging step (`networkedSteps`) that reaches a tracking server.

    Allowed only in this shape: inside a VPC (subnets and security groups, so its traffic stays on private
    subnets and their endpoints), under a role other than the pipeline's (which reads the training data), and
    reading nothing but other steps' outputs named in `networkedStepInputs` (the evaluation report): no literal
    or parameter-supplied S3 URI, no dataset query, no data split, no model.
    """
    arguments = step.get("Arguments") or {}
    vpc = dig(arguments, "NetworkConfig", "VpcConfig")
    if not is_unknown(vpc) and not (isinstance(vpc, dict) and as_list(vpc.get("Subnets"))
                                    and as_list(vpc.get("SecurityGroupIds"))):
        yield f"{where} turns network isolation off outside a VPC (NetworkConfig.VpcConfig subnets and security groups)"
    role = arguments.get("RoleArn")
    if is_unknown(role) or is_unknown(pipeline_role):
        pass
    elif not isinstance(role, str) or role == pipeline_role:
        yield f"{where} turns network isolation off under the pipeline's own role; give it a role of its own"
    for entry in as_list(arguments.get("ProcessingInputs")):
        uri = dig(entry, "S3Input", "S3Uri") if isinstance(entry, dict) else None
        name = entry.get("InputName", "?") if isinstance(entry, dict) else "?"
        reference = uri.get("Get") if isinstance(uri, dict) else None
        found = _STEP_OUTPUT.match(reference) if isinstance(reference, str) else None
        if found is None or found.group(2) not in allowed_inputs:
            yield (f"{where} turns network isolation off and reads input '{name}', which is not one of "
                   f"{', '.join(allowed_inputs) or 'no'} output(s) of another step (networkedStepInputs)")


RULES = [
    resource_rule(
        name="sagemaker-job-isolation",
        description=(
            "SageMaker training, tuning, processing and model-monitoring jobs (and such steps of a pipeline) "
            "enable network isolation and inter-container traffic encryption and stop after a maximum runtime."
        ),
        rationale=(
            "Network isolation stops training code from exfiltrating data or pulling untrusted code, "
            "encryption protects distributed training traffic, and a maximum runtime caps the cost of a "
            "stuck job. The one exception, a pipeline's experiment-logging step, must reach its tracking server: it "
            "is allowed only in a VPC, under its own role, reading only the evaluation report."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Set EnableNetworkIsolation and EnableInterContainerTrafficEncryption to true (for processing: "
            "NetworkConfig.EnableNetworkIsolation and NetworkConfig.EnableInterContainerTrafficEncryption) "
            "and "
            "StoppingCondition.MaxRuntimeInSeconds at or below the configured maximum."
        ),
        resource_types=[PIPELINE, *JOBS],
        check=_job_isolation,
        knobs={
            "maxRuntimeSeconds": int_knob("Longest MaxRuntimeInSeconds accepted.", 86400, 1, 2419200),
            "networkedSteps": strings_knob(
                "Pipeline processing steps that may turn network isolation off, and only in the experiment-logging "
                "shape: in a VPC, under a role of their own, reading only `networkedStepInputs`.", ["LogExperiment"]),
            "networkedStepInputs": strings_knob(
                "The only step outputs a networked step may read (the evaluation report).", ["evaluation"]),
        },
        tags=["sagemaker", "network", "cost"],
    ),
]
