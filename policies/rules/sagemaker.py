"""SageMaker rules: endpoint encryption, data capture, safe deployment, pinned models, job isolation, cost.

Environment-specific strictness ("in staging and prod", "in prod") is not hard-coded: each rule has a knob
(e.g. `requireDataCapture`) that the per-environment policy config sets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from .builders import ResourceView, resource_rule
from .knobs import bool_knob, int_knob, strings_knob
from .values import UNKNOWN, as_list, dig, fmt_number, is_true, is_unknown, number, parse_json_document

ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
MODEL = "aws:sagemaker/model:Model"
PIPELINE = "aws:sagemaker/pipeline:Pipeline"
TRAINING_JOB = "aws:sagemaker/trainingJob:TrainingJob"
TUNING_JOB = "aws:sagemaker/hyperParameterTuningJob:HyperParameterTuningJob"
SCALABLE_TARGET = "aws:appautoscaling/target:Target"

# A model package version ARN: arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>
_VERSIONED_PACKAGE = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[^/]+/\d+$")


def variants(props: dict[str, Any]) -> list[Any]:
    """Production and shadow variants of an endpoint configuration (UNKNOWN if either list is unknown)."""
    production, shadow = props.get("productionVariants"), props.get("shadowProductionVariants")
    if is_unknown(production) or is_unknown(shadow):
        return [UNKNOWN]
    return as_list(production) + as_list(shadow)


def is_serverless(variant: Any) -> bool:
    serverless = dig(variant, "serverlessConfig")
    return serverless is not None and not is_unknown(serverless)


def all_serverless(props: dict[str, Any]) -> bool:
    found = variants(props)
    return bool(found) and all(not is_unknown(v) and is_serverless(v) for v in found)


# --- endpoint configuration: KMS ----------------------------------------------------------------------


def _has_local_storage(variant: Any, prefixes: tuple[str, ...]) -> bool:
    instance_type = dig(variant, "instanceType")
    return isinstance(instance_type, str) and instance_type.startswith(prefixes)


def aws_managed_key(key: Any) -> bool:
    """An AWS-managed key (alias/aws/<service>, by alias name or alias ARN): its policy is not ours."""
    return isinstance(key, str) and ("alias/aws/" in key.strip().lower())


def _endpoint_config_kms(resource: ResourceView) -> Iterator[str]:
    props = resource.props
    key = props.get("kmsKeyArn")
    if aws_managed_key(key):
        yield (
            f"endpoint configuration '{resource.name}' encrypts its ML storage volumes with the AWS-managed key "
            f"{key!r}; use a customer-managed key"
        )
    found = variants(props)
    if not is_unknown(key) and not key and not any(is_unknown(v) for v in found):
        exempt = tuple(resource.config["exemptInstanceFamilies"])
        needs_key = [v for v in found if not is_serverless(v) and not _has_local_storage(v, exempt)]
        if needs_key:
            names = ", ".join(str(dig(v, "variantName", default="?")) for v in needs_key)
            yield (
                f"endpoint configuration '{resource.name}' sets no kmsKeyArn, so the ML storage volumes of "
                f"variant(s) {names} are not encrypted with a customer-managed key"
            )
    output_key = dig(props, "asyncInferenceConfig", "outputConfig", "kmsKeyId", default="")
    output_config = dig(props, "asyncInferenceConfig", "outputConfig")
    if (
        output_config is not None
        and not is_unknown(output_config)
        and not is_unknown(output_key)
        and not output_key
    ):
        yield (
            f"endpoint configuration '{resource.name}' writes asynchronous inference results without a "
            "kmsKeyId"
        )
    elif aws_managed_key(output_key):
        yield (
            f"endpoint configuration '{resource.name}' writes asynchronous inference results with the "
            f"AWS-managed key {output_key!r}; use a customer-managed key"
        )


# --- endpoint configuration: data capture -------------------------------------------------------------


def _data_capture(resource: ResourceView) -> Iterator[str]:
    config = resource.config
    if not config["requireDataCapture"]:
        return
    props = resource.props
    if all_serverless(props):
        return  # SageMaker Serverless Inference does not support data capture
    capture = props.get("dataCaptureConfig")
    if is_unknown(capture):
        return
    if capture is None:
        yield (
            f"endpoint configuration '{resource.name}' has no dataCaptureConfig; requests and responses must "
            "be "
            "captured for model monitoring"
        )
        return
    enabled = dig(capture, "enableCapture")
    if enabled is not None and not is_unknown(enabled) and not is_true(enabled):
        yield f"endpoint configuration '{resource.name}' disables data capture (enableCapture is false)"
    sampling = dig(capture, "initialSamplingPercentage")
    value = number(sampling)
    minimum = config["minSamplingPercent"]
    if not is_unknown(sampling) and (value is None or value < minimum):
        shown = fmt_number(value) if value is not None else "not set"
        yield (
            f"endpoint configuration '{resource.name}' captures {shown}% of requests "
            f"(initialSamplingPercentage); the minimum is {fmt_number(minimum)}%"
        )
    destination = dig(capture, "destinationS3Uri")
    if not is_unknown(destination) and not destination:
        yield f"endpoint configuration '{resource.name}' sets no dataCaptureConfig.destinationS3Uri"
    if config["requireCaptureEncryption"]:
        key = dig(capture, "kmsKeyId")
        if not is_unknown(key) and not key:
            yield (
                f"endpoint configuration '{resource.name}' stores captured data without a customer-managed "
                "key "
                "(dataCaptureConfig.kmsKeyId)"
            )
        elif aws_managed_key(key):
            yield (
                f"endpoint configuration '{resource.name}' stores captured data with the AWS-managed key "
                f"{key!r}; use a customer-managed key"
            )
    yield from _capture_modes(resource.name, capture, config["requiredCaptureModes"])


def _capture_modes(name: str, capture: Any, required: list[str]) -> Iterator[str]:
    options = dig(capture, "captureOptions")
    if is_unknown(options) or not required:
        return
    modes: set[str] = set()
    for option in as_list(options):
        mode = dig(option, "captureMode")
        if is_unknown(mode):
            return
        if isinstance(mode, str):
            mode = mode.strip().lower()
            modes.update(("input", "output") if mode == "inputandoutput" else (mode,))
    missing = [m for m in required if m.lower() not in modes]
    if missing:
        shown = ", ".join(sorted(modes)) or "nothing"
        yield (
            f"endpoint configuration '{name}' captures {shown} (captureOptions); the environment requires "
            f"{', '.join(required)}"
        )


# --- model: pinned model package version --------------------------------------------------------------


def _pinned_model(resource: ResourceView) -> Iterator[str]:
    if not resource.config["requirePinnedModelPackage"]:
        return
    props = resource.props
    primary, containers = props.get("primaryContainer"), props.get("containers")
    if is_unknown(primary) or is_unknown(containers):
        return
    all_containers = ([primary] if primary is not None else []) + as_list(containers)
    if not all_containers:
        return
    for index, container in enumerate(all_containers):
        where = "primaryContainer" if primary is not None and index == 0 else f"container {index}"
        package = dig(container, "modelPackageName")
        if is_unknown(package):
            continue
        if not package:
            yield (
                f"model '{resource.name}' {where} is built from an image/model data URL, not from a "
                "registered "
                "model package version (modelPackageName)"
            )
        elif not isinstance(package, str) or not _VERSIONED_PACKAGE.match(package):
            yield (
                f"model '{resource.name}' {where} uses modelPackageName {package!r}, which is not a "
                "versioned "
                "model package ARN (…:model-package/<group>/<version>)"
            )


# --- training / processing / pipeline steps: isolation, encryption, runtime ---------------------------


def _resolve(value: Any, parameters: dict[str, Any]) -> Any:
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


def _pipeline_parameters(definition: dict[str, Any]) -> dict[str, Any]:
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
        return _resolve(dig(job, *path), parameters)

    yield from _job_settings(
        where,
        get("EnableNetworkIsolation"),
        get("EnableInterContainerTrafficEncryption"),
        get("StoppingCondition", "MaxRuntimeInSeconds"),
        limit,
    )


def _definition(resource: ResourceView) -> Any:
    """The pipeline's parsed definition, UNKNOWN, or None when it is not inline (or not JSON)."""
    try:
        return parse_json_document(resource.props.get("pipelineDefinition"))
    except ValueError:
        return None


def _job_isolation(resource: ResourceView) -> Iterator[str]:
    limit = resource.config["maxRuntimeSeconds"]
    props = resource.props
    if resource.type == PIPELINE:
        raw = props.get("pipelineDefinition")
        definition = _definition(resource)
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
        parameters = _pipeline_parameters(definition)
        for step in pipeline_steps(definition.get("Steps")):
            kind, arguments = step.get("Type"), step.get("Arguments")
            where = f"pipeline '{resource.name}' step '{step.get('Name', '?')}' ({kind})"
            if not isinstance(arguments, dict):
                continue
            if kind == "Training":
                yield from _training_definition(where, arguments, parameters, limit)
            elif kind == "Processing":
                yield from _job_settings(
                    where,
                    _resolve(dig(arguments, "NetworkConfig", "EnableNetworkIsolation"), parameters),
                    _resolve(
                        dig(arguments, "NetworkConfig", "EnableInterContainerTrafficEncryption"), parameters
                    ),
                    _resolve(dig(arguments, "StoppingCondition", "MaxRuntimeInSeconds"), parameters),
                    limit,
                )
            elif kind == "Tuning":
                definitions = as_list(arguments.get("TrainingJobDefinition")) + as_list(
                    arguments.get("TrainingJobDefinitions")
                )
                for job in definitions:
                    yield from _training_definition(where, job, parameters, limit)
    elif resource.type == TRAINING_JOB:
        yield from _job_settings(
            f"training job '{resource.name}'",
            props.get("enableNetworkIsolation"),
            props.get("enableInterContainerTrafficEncryption"),
            dig(props, "stoppingCondition", "maxRuntimeInSeconds"),
            limit,
        )
    elif resource.type == TUNING_JOB:
        definitions = props.get("trainingJobDefinition"), props.get("trainingJobDefinitions")
        if any(is_unknown(d) for d in definitions):
            return
        for job in as_list(definitions[0]) + as_list(definitions[1]):
            yield from _job_settings(
                f"tuning job '{resource.name}'",
                dig(job, "enableNetworkIsolation"),
                dig(job, "enableInterContainerTrafficEncryption"),
                dig(job, "stoppingCondition", "maxRuntimeInSeconds"),
                limit,
            )


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
        definition = _definition(resource)
        if not isinstance(definition, dict):
            return
        parameters = _pipeline_parameters(definition)
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
                        _resolve(dig(job, "ResourceConfig", "InstanceType"), parameters),
                        _resolve(dig(job, "ResourceConfig", "InstanceCount"), parameters),
                    )
            for path in paths:
                yield (
                    where,
                    _resolve(dig(arguments, *path, "InstanceType"), parameters),
                    _resolve(dig(arguments, *path, "InstanceCount"), parameters),
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
        name="sagemaker-endpoint-kms",
        description=(
            "SageMaker endpoint configurations encrypt their ML storage volumes (and async inference output) "
            "with a customer-managed KMS key."
        ),
        rationale=(
            "Endpoint instances store the model and request payloads on ML storage volumes; a "
            "customer-managed key keeps them under the platform's key policy."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Set kms_key_arn on the aws.sagemaker.EndpointConfiguration to a customer-managed key (and "
            "async_inference_config.output_config.kms_key_id when using async inference)."
        ),
        resource_types=[ENDPOINT_CONFIG],
        check=_endpoint_config_kms,
        knobs={
            "exemptInstanceFamilies": strings_knob(
                "Instance type prefixes with local NVMe instance storage, which SageMaker encrypts in "
                "hardware "
                "and for which it rejects a KmsKeyId (serverless variants, having no ML storage volume, are "
                "always exempt).",
                ["ml.c5d.", "ml.m5d.", "ml.r5d.", "ml.g4dn.", "ml.p3dn.", "ml.p4d.", "ml.p4de."],
            )
        },
        tags=["sagemaker", "encryption"],
    ),
    resource_rule(
        name="sagemaker-data-capture",
        description=(
            "SageMaker endpoint configurations capture request and response data (at a minimum sampling "
            "percentage, KMS-encrypted) where the environment requires it."
        ),
        rationale=(
            "Model monitoring, drift detection and incident forensics need a sample of real requests and "
            "predictions; encrypted, because they contain customer data."
        ),
        severity=Severity.MEDIUM,
        remediation=(
            "Set data_capture_config on the aws.sagemaker.EndpointConfiguration: enable_capture=True, "
            "initial_sampling_percentage at or above the configured minimum, destination_s3_uri and "
            "kms_key_id."
        ),
        resource_types=[ENDPOINT_CONFIG],
        check=_data_capture,
        knobs={
            "requireDataCapture": bool_knob("Require data capture on every (non-serverless) endpoint.", True),
            "minSamplingPercent": int_knob("Lowest initialSamplingPercentage accepted.", 10, 0, 100),
            "requireCaptureEncryption": bool_knob(
                "Require dataCaptureConfig.kmsKeyId (a customer-managed key, not alias/aws/...).", True
            ),
            "requiredCaptureModes": {
                "type": "array",
                "items": {"type": "string", "enum": ["Input", "Output"]},
                "uniqueItems": True,
                "default": ["Input", "Output"],
                "description": "What must be captured (captureOptions captureMode; InputAndOutput is both).",
            },
        },
        tags=["sagemaker", "monitoring"],
    ),
    resource_rule(
        name="sagemaker-model-pinned-package",
        description=(
            "SageMaker models are created from a pinned model package version of the model registry (where "
            "the "
            "environment requires it), never from a loose image or model artifact."
        ),
        rationale=(
            "Serving only approved, versioned model packages ties every prediction to a reviewed model with "
            "its lineage and metrics, and makes rollbacks exact."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Create the aws.sagemaker.Model with primary_container.model_package_name set to the ARN of an "
            "approved model package version (arn:aws:sagemaker:<region>:<account>:model-package/<group>/<n>)."
        ),
        resource_types=[MODEL],
        check=_pinned_model,
        knobs={"requirePinnedModelPackage": bool_knob("Require modelPackageName with a version ARN.", True)},
        tags=["sagemaker", "supply-chain"],
    ),
    resource_rule(
        name="sagemaker-job-isolation",
        description=(
            "SageMaker training, tuning and processing jobs (and such steps of a pipeline) enable network "
            "isolation and inter-container traffic encryption and stop after a maximum runtime."
        ),
        rationale=(
            "Network isolation stops training code from exfiltrating data or pulling untrusted code, "
            "encryption protects distributed training traffic, and a maximum runtime caps the cost of a "
            "stuck job."
        ),
        severity=Severity.HIGH,
        remediation=(
            "Set EnableNetworkIsolation and EnableInterContainerTrafficEncryption to true (for processing: "
            "NetworkConfig.EnableNetworkIsolation and NetworkConfig.EnableInterContainerTrafficEncryption) "
            "and "
            "StoppingCondition.MaxRuntimeInSeconds at or below the configured maximum."
        ),
        resource_types=[PIPELINE, TRAINING_JOB, TUNING_JOB],
        check=_job_isolation,
        knobs={
            "maxRuntimeSeconds": int_knob("Longest MaxRuntimeInSeconds accepted.", 86400, 1, 2419200),
        },
        tags=["sagemaker", "network", "cost"],
    ),
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
