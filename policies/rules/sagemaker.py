"""SageMaker rules on what an endpoint serves: endpoint encryption, data capture, pinned models; and the helpers
every SageMaker rule shares (resource types, variants). Jobs and pipelines: `sagemaker_jobs`; cost:
`sagemaker_cost`.

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
from .values import UNKNOWN, as_list, dig, fmt_number, is_true, is_unknown, number

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
]
