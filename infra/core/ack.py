"""SageMaker by pull: what the ACK SageMaker controller is given, pure (strings and dicts in and out).

A model with `deploy.target: sagemaker` and `delivery: pull` is served by ACK objects (`Model`,
`EndpointConfig`, `Endpoint`, `sagemaker.services.k8s.aws/v1alpha1`) that Argo CD syncs from
`gitops/<env>/<model>/`. This module holds everything about them that must agree between the program, the
overlays and CI, so that each is written once:

- `expected_objects`: the three objects the stack config implies (five with `monitoring`: the model's
  `DataQualityJobDefinition` and `MonitoringSchedule`, see `monitor_objects`), for `python -m infra.manifests
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
from infra.core.arns import DNS_SUFFIX, Arns, partition_of
from infra.core.monitoring import BASELINE_FILES, baseline_prefix, monitor_job, reports_prefix
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
ENDPOINT_KINDS = ("Model", "EndpointConfig", "Endpoint")
"""The ACK kinds of every pulled endpoint (gitops/base/sagemaker-endpoint)."""
MONITOR_KINDS = ("DataQualityJobDefinition", "MonitoringSchedule")
"""The ACK kinds of a pulled endpoint's drift monitor (gitops/base/sagemaker-monitor), with `monitoring` enabled."""
KINDS = (*ENDPOINT_KINDS, *MONITOR_KINDS)
"""The ACK kinds a pulled model's directory may hold; Argo CD's project allows exactly these (and no others)."""
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
    monitor_image_tag: str = ""
    """The shared stack's `servingImageTag` of the model: the monitor runs the serving image (as on the push path)."""
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    """The environment's `network`: monitoring jobs run in these subnets when set (as on the push path)."""


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
    """kind -> {"name": ..., "spec": ...} of the ACK objects (three, five with monitoring), with VERSION where the
    version goes."""
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
        **monitor_objects(naming, model, deploy, facts),
    }


def monitor_objects(naming: Naming, model: str, deploy: SageMakerDeploy, facts: PullFacts) -> dict[str, dict]:
    """The drift monitor of a pulled endpoint (empty without `monitoring`): the same job as the push path's
    `ModelMonitor` declares (`infra.core.monitoring.monitor_job`), as ACK objects, so promotion moves the baseline.

    The baseline is `<model>/baselines/v<n>/` of the served version (published by `infra.release approve`):
    SageMaker cannot update a job definition (ACK 1.9.1 `sdkUpdate` is NotImplemented), so its name carries a
    digest and the version like the Model's, and the schedule (whose name the drift alarm watches) switches
    `monitoringJobDefinitionName`. The monitor role and the drift alarm stay Pulumi's (`ModelMonitor` with
    `schedule_in_git`); the role's ARN follows from its name like the serving role's. Field names are ACK's
    (CRD `dataqualityjobdefinitions.sagemaker.services.k8s.aws` v1.9.1, tests/gitops/crds/)."""
    monitoring = deploy.monitoring
    if monitoring is None or not monitoring.enabled:
        return {}
    if not facts.monitor_image_tag:
        raise ValueError(f"monitoring {model} by pull needs the shared stack's servingImageTag of {model}")
    job, shared = monitor_job(model, monitoring), Naming.of_stack(facts.shared_stack)
    arns = Arns.for_region(facts.region, facts.account_id)
    artifacts, capture = (shared.bucket(role, facts.shared_account_id) for role in ("artifacts", "capture"))
    baseline = baseline_prefix(artifacts, model, VERSION_PLACEHOLDER)  # type: ignore[arg-type]
    statistics, constraints = BASELINE_FILES
    cluster = {"instanceCount": job.instance_count, "instanceType": job.instance_type,
               "volumeKMSKeyID": arns.kms(naming.kms_alias()), "volumeSizeInGB": job.volume_size_gb}
    network: dict[str, Any] = {"enableInterContainerTrafficEncryption": job.enable_inter_container_traffic_encryption,
                               "enableNetworkIsolation": job.enable_network_isolation}
    if facts.subnet_ids:
        network["vpcConfig"] = {"securityGroupIDs": list(facts.security_group_ids), "subnets": list(facts.subnet_ids)}
    spec: dict[str, Any] = {
        "dataQualityAppSpecification": {"imageURI": monitor_image_uri(facts, shared, model),
                                        "environment": dict(job.environment)},
        "dataQualityBaselineConfig": {"statisticsResource": {"s3URI": baseline + statistics},
                                      "constraintsResource": {"s3URI": baseline + constraints}},
        "dataQualityJobInput": {"endpointInput": {
            "endpointName": naming.endpoint(model), "localPath": job.local_input,
            "s3DataDistributionType": job.s3_data_distribution_type, "s3InputMode": job.s3_input_mode}},
        "dataQualityJobOutputConfig": {
            "kmsKeyID": facts.capture_kms_key_arn,
            "monitoringOutputs": [{"s3Output": {
                "s3URI": bucket_layout.s3_uri(capture, reports_prefix(facts.environment, model)),
                "localPath": job.local_output, "s3UploadMode": job.s3_upload_mode}}]},
        "jobResources": {"clusterConfig": cluster},
        "networkConfig": network,
        "roleARN": arns.role(naming.monitor_role(model)),
        "stoppingCondition": {"maxRuntimeInSeconds": job.max_runtime_seconds},
    }
    job_name = naming.pulled_monitor_job(model, digest(spec), VERSION_PLACEHOLDER)
    schedule_name = naming.monitoring_schedule(model)
    schedule = {
        "monitoringScheduleName": schedule_name,
        "monitoringScheduleConfig": {"monitoringJobDefinitionName": job_name,
                                     "monitoringType": job.monitoring_type,
                                     "scheduleConfig": {"scheduleExpression": job.schedule_expression}},
        "tags": _tags(naming, model, facts),
    }
    return {
        "DataQualityJobDefinition": {"name": job_name, "spec": {"jobDefinitionName": job_name, **spec,
                                                                 "tags": _tags(naming, model, facts)}},
        "MonitoringSchedule": {"name": schedule_name, "spec": schedule},
    }


def monitor_image_uri(facts: PullFacts, shared: Naming, model: str) -> str:
    """The serving image the shared stack registers (`<repository_url>:<servingImageTag>`, as `__main__` forms it
    from the ECR repository's URL: `<account>.dkr.ecr.<region>.<dns suffix>/<name>`)."""
    suffix = DNS_SUFFIX[partition_of(facts.shared_region)]
    return (f"{facts.shared_account_id}.dkr.ecr.{facts.shared_region}.{suffix}/"
            f"{shared.repository(model, 'serving')}:{facts.monitor_image_tag}")


def with_version(objects: dict[str, dict], version: int) -> dict[str, dict]:
    """The objects as the overlay renders them once the promotion line says `version`."""
    text = json.dumps(objects).replace(f"-v{VERSION_PLACEHOLDER}", f"-v{version}")
    text = text.replace(f"/v{VERSION_PLACEHOLDER}/", f"/v{version}/")
    return json.loads(text.replace(f"/{VERSION_PLACEHOLDER}", f"/{version}"))


def version_replacements(objects: dict[str, dict]) -> list[dict[str, Any]]:
    """Kustomize replacements that carry the promotion line's version into every place it belongs.

    A replacement with a delimiter splits the target string and replaces one part: names end in `-v<n>`, so the
    part after the last `-v` is the version; the package ARN ends in `/<n>`.
    """
    def suffix(name: str) -> dict[str, Any]:
        return {"delimiter": "-v", "index": name.count("-v")}

    model, config = objects["Model"]["name"], objects["EndpointConfig"]["name"]
    replacements: list[dict[str, Any]] = [{
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
    if "DataQualityJobDefinition" in objects:
        replacements += _monitor_replacements(objects, suffix)
    return replacements


def _monitor_replacements(objects: dict[str, dict], suffix: Any) -> list[dict[str, Any]]:
    """The monitor's part of `version_replacements`: the job definition's name (and the schedule's reference to
    it) end in `-v<n>` like the Model's; the baseline URIs hold `/v<n>/`, which no delimiter of the bare version
    can reach, so a second replacement takes `v<n>` from the job definition's name once the first has set it
    (replacements apply in order) and puts it in place of the `v<n>` path segment of each baseline URI."""
    job = objects["DataQualityJobDefinition"]
    name, baseline = job["name"], job["spec"]["dataQualityBaselineConfig"]
    segment = baseline["statisticsResource"]["s3URI"].split("/").index(f"v{VERSION_PLACEHOLDER}")
    return [
        {"source": {"kind": "ConfigMap", "name": "release", "fieldPath": "data.MODEL_PACKAGE_VERSION"},
         "targets": [
             {"select": {"kind": "DataQualityJobDefinition"}, "fieldPaths": ["metadata.name", "spec.jobDefinitionName"],
              "options": suffix(name)},
             {"select": {"kind": "MonitoringSchedule"},
              "fieldPaths": ["spec.monitoringScheduleConfig.monitoringJobDefinitionName"], "options": suffix(name)},
         ]},
        {"source": {"kind": "DataQualityJobDefinition", "fieldPath": "spec.jobDefinitionName",
                    "options": {"delimiter": "-", "index": name.count("-")}},
         "targets": [
             {"select": {"kind": "DataQualityJobDefinition"},
              "fieldPaths": [f"spec.dataQualityBaselineConfig.{r}.s3URI"
                             for r in ("statisticsResource", "constraintsResource")],
              "options": {"delimiter": "/", "index": segment}},
         ]},
    ]


def patch_operations(objects: dict[str, dict]) -> dict[str, list[dict[str, Any]]]:
    """kind -> the JSON patch that turns the base's skeleton into this model's object."""
    return {kind: [{"op": "replace", "path": "/metadata/name", "value": o["name"]},
                   {"op": "replace", "path": "/spec", "value": o["spec"]}]
            for kind, o in objects.items()}
