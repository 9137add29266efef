"""The ONE adapter from an ACK SageMaker object to the inputs the policy pack's SageMaker rules read (the
`aws:sagemaker/*` shapes of the push path), so CI judges what Git delivers with the same rule code.
"""

from __future__ import annotations

import re
from typing import Any

from infra.core.ack import API_VERSION

SAGEMAKER_TYPES = {
    "Model": "aws:sagemaker/model:Model",
    "EndpointConfig": "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "Endpoint": "aws:sagemaker/endpoint:Endpoint",
    "DataQualityJobDefinition": "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition",
    "MonitoringSchedule": "aws:sagemaker/monitoringSchedule:MonitoringSchedule",
}
OWN_NAME = {"Model": "modelName", "EndpointConfig": "endpointConfigName", "Endpoint": "endpointName",
            "DataQualityJobDefinition": "jobDefinitionName", "MonitoringSchedule": "monitoringScheduleName"}
_ACRONYM = re.compile(r"(ARN|URI|ID|MB|GB)(s?)$")
_INNER_ACRONYM = re.compile(r"(?<=[a-z])KMS(?=[A-Z])")


def _key(key: str) -> str:
    """ACK's Go-style field names to the Pulumi provider's: `type_` -> `type`, `...ARN`/`URI`/`ID`/`MB`/`GB` ->
    `...Arn`/`Uri`/`Id`/`Mb`/`Gb`, an inner `KMS` -> `Kms` (`volumeKMSKeyID` -> `volumeKmsKeyId`): the provider
    camel-cases acronyms, ACK keeps them upper case."""
    key = _INNER_ACRONYM.sub("Kms", key.removesuffix("_"))
    return _ACRONYM.sub(lambda m: m.group(1).capitalize() + m.group(2), key)


def _renamed(value: Any) -> Any:
    if isinstance(value, dict):
        return {_key(k): _renamed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v) for v in value]
    return value


def sagemaker_view(manifest: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The ONE adapter: an ACK object as (Pulumi type, inputs) in the shape `policies/rules/sagemaker.py` reads,
    or None for any other object.

    Field by field the ACK spec is the SageMaker API, as are the provider's inputs; only spelling differs
    (`_key`), plus three renames the provider makes: the resource's own name field becomes `name`, an endpoint
    configuration's top-level `kmsKeyId` is `kmsKeyArn`, and ACK 1.9.1 has no shadow variants (so
    `shadowProductionVariants` is absent, as in a push config without shadow). A job definition's
    `monitoringOutputs` is a list in the API and one block in the provider (at most one output).
    """
    if manifest.get("apiVersion") != API_VERSION or manifest.get("kind") not in SAGEMAKER_TYPES:
        return None
    kind = manifest["kind"]
    inputs = _renamed(manifest.get("spec") or {})
    inputs["name"] = inputs.pop(OWN_NAME[kind], None)
    if kind == "EndpointConfig" and "kmsKeyId" in inputs:
        inputs["kmsKeyArn"] = inputs.pop("kmsKeyId")
    output = inputs.get("dataQualityJobOutputConfig")
    if kind == "DataQualityJobDefinition" and isinstance(output, dict) \
            and isinstance(output.get("monitoringOutputs"), list) and len(output["monitoringOutputs"]) == 1:
        output["monitoringOutputs"] = output["monitoringOutputs"][0]
    return SAGEMAKER_TYPES[kind], inputs


