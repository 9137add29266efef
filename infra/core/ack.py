"""SageMaker by pull: what the ACK SageMaker controller is given, pure (strings and dicts in and out).

A model with `deploy.target: sagemaker` and `delivery: pull` is served by ACK objects (`Model`,
`EndpointConfig`, `Endpoint`, `sagemaker.services.k8s.aws/v1alpha1`) that Argo CD syncs from
`gitops/<env>/<model>/`. This module holds everything about them that must agree between the program, the
overlays and CI, so that each is written once:

- `expected_objects`: the three objects the stack config implies, for `python -m infra.manifests
  --write-patches` to write into the overlay's generated patch, and for CI to compare with the rendered overlay.
  ACK cannot update a `Model` or an `EndpointConfig`, so their names carry a digest of their content and, last,
  the package version (`...-v<n>`): a release makes new ones and the `Endpoint` switches `endpointConfigName`.
  The version comes from the overlay's promotion line through Kustomize replacements (`version_replacements`),
  so promotion stays one line while the digest covers everything else.

The controller that reconciles them is `infra.core.ack_controller`; how Argo CD judges their health is
`infra.core.argocd_health`; how CI judges them with the pack's SageMaker rules is `infra.manifests.sagemaker_view`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from infra.config import SageMakerDeploy
from infra.core import bucket_layout
from infra.core.arns import Arns
from infra.core.naming import Naming, model_tags, stack_tags
from infra.core.rollout import describe_steps
from infra.core.serving import (
    ALARM_SIGNALS,
    CAPTURE_CSV_CONTENT_TYPES,
    CAPTURE_JSON_CONTENT_TYPES,
    CAPTURE_MODES,
    ROUTING_TYPE,
    VARIANT,
)

API_VERSION = "sagemaker.services.k8s.aws/v1alpha1"
GROUP = "sagemaker.services.k8s.aws"
KINDS = ("Model", "EndpointConfig", "Endpoint")
"""The ACK kinds a pulled endpoint's directory holds; Argo CD's project allows exactly these (and no others)."""
VERSION_PLACEHOLDER = "VERSION"
"""Stands for the package version in the generated patch; the promotion line replaces it when rendering."""


@dataclass(frozen=True)
class PullFacts:
    """What an overlay needs that the environment's stack config alone does not say."""

    environment: str
    region: str
    account_id: str
    shared_account_id: str
    shared_region: str
    capture_kms_key_arn: str
    """The shared stack's key (`pulumi stack output kms_key_arn -s shared`): captured data is written with it."""
    shared_stack: str
    """The environment's `mlops:sharedStack` (org/project/stack): whose package groups and buckets these are."""
    owner: str = "ml-platform"
    cost_center: str = "ml-0000"


def digest(content: Any) -> str:
    """A short stable digest of an object's content (without the version), for its immutable name."""
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:10]


def _tags(naming: Naming, model: str, facts: PullFacts, extra: dict[str, str] | None = None) -> list[dict[str, str]]:
    tags = {**stack_tags(stack=naming.stack, environment=facts.environment, owner=facts.owner,
                         cost_center=facts.cost_center), **model_tags(model), **(extra or {})}
    tags["managed-by"] = "argocd-ack"
    del tags["pulumi-stack"]  # Not Pulumi's: the deploy role's tag-scoped rights must not reach these.
    return [{"key": k, "value": v} for k, v in sorted(tags.items())]


def expected_objects(naming: Naming, model: str, deploy: SageMakerDeploy, facts: PullFacts) -> dict[str, dict]:
    """kind -> {"name": ..., "spec": ...} of the three ACK objects, with VERSION where the version goes."""
    shared, arns = Naming.of_stack(facts.shared_stack), Arns.for_region(facts.region, facts.account_id)
    package = arns.in_account(facts.shared_account_id, facts.shared_region).model_package(
        shared.package_group(model), VERSION_PLACEHOLDER)
    model_spec: dict[str, Any] = {
        "executionRoleARN": arns.role(naming.serving_role(model)),
        "primaryContainer": {"modelPackageName": package},
        "enableNetworkIsolation": True,
    }
    model_name = naming.pulled_model(model, digest(model_spec), VERSION_PLACEHOLDER)
    model_spec = {"modelName": model_name, **model_spec, "tags": _tags(naming, model, facts)}

    if deploy.serverless is not None:
        variant: dict[str, Any] = {"variantName": VARIANT, "modelName": model_name,
                                   "serverlessConfig": {"memorySizeInMB": deploy.serverless.memory_size_mb,
                                                        "maxConcurrency": deploy.serverless.max_concurrency}}
    else:
        variant = {"variantName": VARIANT, "modelName": model_name, "instanceType": deploy.instance_type,
                   "initialInstanceCount": deploy.release_instance_count(), "initialVariantWeight": 1}
    config_spec: dict[str, Any] = {"productionVariants": [variant]}
    if deploy.serverless is None:
        # The environment key, by alias ARN (same account): SageMaker accepts an alias for KmsKeyId.
        config_spec["kmsKeyID"] = arns.kms(naming.kms_alias())
    if deploy.data_capture_percent:
        bucket = shared.bucket("capture", facts.shared_account_id)
        config_spec["dataCaptureConfig"] = {
            "enableCapture": True,
            "initialSamplingPercentage": deploy.data_capture_percent,
            "destinationS3URI": bucket_layout.s3_uri(bucket, bucket_layout.capture_prefix(facts.environment, model)),
            "kmsKeyID": facts.capture_kms_key_arn,
            "captureOptions": [{"captureMode": mode} for mode in CAPTURE_MODES],
            "captureContentTypeHeader": {"csvContentTypes": list(CAPTURE_CSV_CONTENT_TYPES),
                                         "jsonContentTypes": list(CAPTURE_JSON_CONTENT_TYPES)},
        }
    config_name = naming.pulled_endpoint_config(model, digest(config_spec), VERSION_PLACEHOLDER)
    config_spec = {"endpointConfigName": config_name, **config_spec, "tags": _tags(naming, model, facts)}

    endpoint_spec: dict[str, Any] = {"endpointName": naming.endpoint(model), "endpointConfigName": config_name}
    extra_tags = {}
    if deploy.serverless is None:
        rollout, steps = deploy.rollout, deploy.traffic_steps()
        routing: dict[str, Any] = {"type_": ROUTING_TYPE[rollout.strategy],
                                   "waitIntervalInSeconds": rollout.wait_seconds}
        if rollout.strategy != "all-at-once":
            size = {"type_": "INSTANCE_COUNT", "value": steps[0].instances}
            routing["canarySize" if rollout.strategy == "canary" else "linearStepSize"] = size
        endpoint_spec["deploymentConfig"] = {
            "blueGreenUpdatePolicy": {
                "trafficRoutingConfiguration": routing,
                "terminationWaitInSeconds": rollout.termination_wait_seconds,
                "maximumExecutionTimeoutInSeconds": rollout.max_execution_seconds,
            },
            # The alarms are Pulumi's (SageMakerEndpoint declares them for both deliveries); only names go here.
            "autoRollbackConfiguration": {"alarms": [{"alarmName": naming.alarm(model, signal)}
                                                     for signal in ALARM_SIGNALS]},
        }
        extra_tags = {"release-instance-count": str(deploy.release_instance_count()),
                      "traffic-steps": describe_steps(steps)}
    endpoint_spec["tags"] = _tags(naming, model, facts, extra_tags)
    return {
        "Model": {"name": model_name, "spec": model_spec},
        "EndpointConfig": {"name": config_name, "spec": config_spec},
        "Endpoint": {"name": naming.endpoint(model), "spec": endpoint_spec},
    }


def with_version(objects: dict[str, dict], version: int) -> dict[str, dict]:
    """The objects as the overlay renders them once the promotion line says `version`."""
    text = json.dumps(objects).replace(f"-v{VERSION_PLACEHOLDER}", f"-v{version}")
    return json.loads(text.replace(f"/{VERSION_PLACEHOLDER}", f"/{version}"))


def version_replacements(objects: dict[str, dict]) -> list[dict[str, Any]]:
    """Kustomize replacements that carry the promotion line's version into every place it belongs.

    A replacement with a delimiter splits the target string and replaces one part: names end in `-v<n>`, so the
    part after the last `-v` is the version; the package ARN ends in `/<n>`.
    """
    def suffix(name: str) -> dict[str, Any]:
        return {"delimiter": "-v", "index": name.count("-v")}

    model, config = objects["Model"]["name"], objects["EndpointConfig"]["name"]
    return [{
        "source": {"kind": "ConfigMap", "name": "release", "fieldPath": "data.MODEL_PACKAGE_VERSION"},
        "targets": [
            {"select": {"kind": "Model"}, "fieldPaths": ["spec.primaryContainer.modelPackageName"],
             "options": {"delimiter": "/", "index": 2}},
            {"select": {"kind": "Model"}, "fieldPaths": ["metadata.name", "spec.modelName"], "options": suffix(model)},
            {"select": {"kind": "EndpointConfig"}, "fieldPaths": ["spec.productionVariants.0.modelName"],
             "options": suffix(model)},
            {"select": {"kind": "EndpointConfig"}, "fieldPaths": ["metadata.name", "spec.endpointConfigName"],
             "options": suffix(config)},
            {"select": {"kind": "Endpoint"}, "fieldPaths": ["spec.endpointConfigName"], "options": suffix(config)},
        ],
    }]


def patch_operations(objects: dict[str, dict]) -> dict[str, list[dict[str, Any]]]:
    """kind -> the JSON patch that turns the base's skeleton into this model's object."""
    return {kind: [{"op": "replace", "path": "/metadata/name", "value": o["name"]},
                   {"op": "replace", "path": "/spec", "value": o["spec"]}]
            for kind, o in objects.items()}
