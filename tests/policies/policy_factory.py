"""Builders of synthetic plans for the policy tests, and a runner through the offline verdict.

Every rule test builds a `PlanResult` the way the program's plan records resources (wire/camelCase input
names, an explicit AWS provider carrying default tags as JSON text, property dependencies) and runs it
through `infra.plan.verdict.evaluate`, the same code path as `python -m infra.plan`.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from infra.plan.model import PlannedResource, PlanResult
from infra.plan.pack import LoadedPack, load_pack
from infra.plan.policy_config import load_policy_config
from infra.plan.verdict import Violation, evaluate

REPO = Path(__file__).resolve().parents[2]
PACK_DIR = REPO / "policies"
UNKNOWN = UNKNOWN_STRING_VALUE  # the engine's marker for a value unknown at preview, as pulumi_policy defines it
ACCOUNT = "444444444444"
REGION = "us-east-1"
DEFAULT_TAGS = {
    "environment": "prod",
    "owner": "ml-platform",
    "cost-center": "cc-1234",
    "managed-by": "pulumi",
}
REPOSITORY = "acme/mlops-platform"


@functools.cache
def pack() -> LoadedPack:
    return load_pack(PACK_DIR)


def config(env: str, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """The reconciled policy config of an environment, with per-rule settings overridden."""
    result = copy.deepcopy(_env_config(env))
    for rule, settings in (overrides or {}).items():
        result[rule].update(settings)
    return result


@functools.cache
def _env_config(env: str) -> dict[str, dict[str, Any]]:
    return load_policy_config(pack(), PACK_DIR / "config" / f"{env}.json")


def run(
    plan: PlanResult, env: str = "prod", overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Violation]:
    return evaluate(pack(), plan, config(env, overrides))


def of(violations: Iterable[Violation], rule: str) -> list[Violation]:
    return [v for v in violations if v.policy_name == rule]


def arn(service: str, resource: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:{service}:{REGION}:{account}:{resource}"


class PlanBuilder:
    """Accumulates planned resources; `plan()` returns the PlanResult."""

    def __init__(
        self, stack: str = "prod", project: str = "mlops", default_tags: Mapping[str, str] | None = None
    ):
        self.stack, self.project = stack, project
        self.resources: list[PlannedResource] = []
        tags = DEFAULT_TAGS if default_tags is None else default_tags
        # The SDK sends a provider's object-valued inputs as JSON text; the rules must read that form.
        self.provider = self.add(
            "pulumi:providers:aws",
            "aws",
            {"region": REGION, "defaultTags": json.dumps({"tags": dict(tags)}), "version": "7.51.1",
             "allowedAccountIds": json.dumps([ACCOUNT])},
            provider=False,
        )

    def urn(self, type_: str, name: str, parent: PlannedResource | None = None) -> str:
        qualified = f"{parent.urn.split('::')[2]}${type_}" if parent is not None else type_
        return f"urn:pulumi:{self.stack}::{self.project}::{qualified}::{name}"

    def add(
        self,
        type_: str,
        name: str,
        inputs: Mapping[str, Any] | None = None,
        outputs: Mapping[str, Any] | None = None,
        *,
        deps: Mapping[str, Iterable[PlannedResource]] | None = None,
        depends_on: Iterable[PlannedResource] = (),
        parent: PlannedResource | None = None,
        protect: bool = False,
        custom: bool = True,
        provider: bool | PlannedResource = True,
        secret_keys: Iterable[str] = (),
    ) -> PlannedResource:
        """Add a resource; `deps` maps an input name to the resources its value comes from."""
        property_dependencies = {k: tuple(r.urn for r in v) for k, v in (deps or {}).items()}
        dependencies = tuple(
            dict.fromkeys(
                [*(u for urns in property_dependencies.values() for u in urns), *(r.urn for r in depends_on)]
            )
        )
        if provider is True and custom and not type_.startswith("pulumi:providers:"):
            provider_ref: str | None = f"{self.provider.urn}::provider-id"
        elif isinstance(provider, PlannedResource):
            provider_ref = f"{provider.urn}::provider-id"
        else:
            provider_ref = None
        resource = PlannedResource(
            urn=self.urn(type_, name, parent),
            type=type_,
            name=name,
            custom=custom,
            parent=parent.urn if parent is not None else None,
            inputs=dict(inputs or {}),
            outputs=dict(outputs or {}),
            protect=protect,
            dependencies=dependencies,
            property_dependencies=property_dependencies,
            provider=provider_ref,
            secret_keys=frozenset(secret_keys),
        )
        self.resources.append(resource)
        return resource

    def replace(self, resource: PlannedResource, **changes: Any) -> PlannedResource:
        """Swap a resource for a changed copy (e.g. other inputs), keeping its place in the plan."""
        updated = replace(resource, **changes)
        self.resources[self.resources.index(resource)] = updated
        return updated

    def plan(self) -> PlanResult:
        return PlanResult(project=self.project, stack=self.stack, resources=tuple(self.resources), outputs={})


def unknown_leaves(value: Any) -> Any:
    """The same structure with every scalar unknown (a preview before anything exists)."""
    if isinstance(value, dict):
        return {k: unknown_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unknown_leaves(v) for v in value]
    return UNKNOWN


# --- compliant building blocks ------------------------------------------------------------------------


def kms_key(b: PlanBuilder, name: str = "data-key", **inputs: Any) -> PlannedResource:
    return b.add(
        "aws:kms/key:Key",
        name,
        {"description": "data key", "enableKeyRotation": True, "deletionWindowInDays": 30, **inputs},
        {"arn": arn("kms", f"key/{name}")},
        protect=True,
    )


def tls_only_policy(bucket_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def secure_bucket(
    b: PlanBuilder, name: str = "artifacts", key: PlannedResource | None = None, *, unknown_id: bool = True
) -> dict[str, PlannedResource]:
    """A bucket with all four companions, paired through property dependencies as in a real preview."""
    key = key or kms_key(b, f"{name}-key")
    bucket_name = f"mlops-{name}-prod"
    bucket = b.add(
        "aws:s3/bucket:Bucket",
        name,
        {"bucket": bucket_name},
        {"id": UNKNOWN if unknown_id else bucket_name, "arn": f"arn:aws:s3:::{bucket_name}"},
        protect=True,
    )
    bucket_id = UNKNOWN if unknown_id else bucket_name
    parts = {
        "bucket": bucket,
        "key": key,
        "block": b.add(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            name,
            {
                "bucket": bucket_id,
                "blockPublicAcls": True,
                "blockPublicPolicy": True,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            },
            deps={"bucket": [bucket]},
        ),
        "sse": b.add(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            name,
            {
                "bucket": bucket_id,
                "rules": [
                    {
                        "applyServerSideEncryptionByDefault": {
                            "sseAlgorithm": "aws:kms",
                            "kmsMasterKeyId": key.outputs["arn"],
                        },
                        "bucketKeyEnabled": True,
                    }
                ],
            },
            deps={"bucket": [bucket], "rules": [key]},
        ),
        "versioning": b.add(
            "aws:s3/bucketVersioning:BucketVersioning",
            name,
            {"bucket": bucket_id, "versioningConfiguration": {"status": "Enabled"}},
            deps={"bucket": [bucket]},
        ),
        "policy": b.add(
            "aws:s3/bucketPolicy:BucketPolicy",
            name,
            {"bucket": bucket_id, "policy": tls_only_policy(f"arn:aws:s3:::{bucket_name}")},
            deps={"bucket": [bucket], "policy": [bucket]},
        ),
    }
    return parts


def ecr_repository(b: PlanBuilder, name: str = "churn", **inputs: Any) -> PlannedResource:
    key = kms_key(b, f"{name}-ecr-key")
    return b.add(
        "aws:ecr/repository:Repository",
        name,
        {
            "name": f"mlops/{name}",
            "imageTagMutability": "IMMUTABLE",
            "imageScanningConfiguration": {"scanOnPush": True},
            "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": key.outputs["arn"]}],
            **inputs,
        },
        deps={"encryptionConfigurations": [key]},
        protect=True,
    )


MODEL_PACKAGE = arn("sagemaker", "model-package/churn/3")


def endpoint_stack(
    b: PlanBuilder,
    name: str = "churn",
    *,
    serverless: bool = False,
    deployment: Mapping[str, Any] | None = None,
) -> dict[str, PlannedResource]:
    """A compliant prod endpoint: pinned package, KMS, data capture, blue/green, alarms, scaling."""
    key = kms_key(b, f"{name}-endpoint-key")
    model = b.add(
        "aws:sagemaker/model:Model",
        name,
        {
            "name": f"{name}-v3",
            "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{name}-execution",
            "primaryContainer": {"modelPackageName": MODEL_PACKAGE},
            "enableNetworkIsolation": True,
        },
    )
    variant: dict[str, Any] = {"variantName": "primary", "modelName": f"{name}-v3", "initialVariantWeight": 1}
    if serverless:
        variant["serverlessConfig"] = {"memorySizeInMb": 2048, "maxConcurrency": 5}
    else:
        variant.update(instanceType="ml.c5.xlarge", initialInstanceCount=2)
    config_inputs: dict[str, Any] = {
        "name": f"{name}-config",
        "productionVariants": [variant],
    }
    if not serverless:
        config_inputs["kmsKeyArn"] = key.outputs["arn"]
        config_inputs["dataCaptureConfig"] = {
            "enableCapture": True,
            "initialSamplingPercentage": 20,
            "destinationS3Uri": f"s3://mlops-capture-prod/{name}",
            "kmsKeyId": key.outputs["arn"],
            "captureOptions": [{"captureMode": "Input"}, {"captureMode": "Output"}],
        }
    endpoint_config = b.add(
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        name,
        config_inputs,
        deps={"productionVariants": [model], "kmsKeyArn": [key], "dataCaptureConfig": [key]},
    )
    topic = b.add(
        "aws:sns/topic:Topic",
        f"{name}-alarms",
        {"name": f"{name}-alarms"},
        {"arn": arn("sns", f"{name}-alarms")},
    )
    alarm_name = f"{name}-5xx"
    if deployment is None:
        deployment = {
            "blueGreenUpdatePolicy": {
                "trafficRoutingConfiguration": {
                    "type": "LINEAR",
                    "linearStepSize": {"type": "CAPACITY_PERCENT", "value": 25},
                    "waitIntervalInSeconds": 600,
                },
                "terminationWaitInSeconds": 900,
                "maximumExecutionTimeoutInSeconds": 7200,
            },
            "autoRollbackConfiguration": {"alarms": [{"alarmName": alarm_name}]},
        }
    endpoint_inputs: dict[str, Any] = {"name": f"{name}-prod", "endpointConfigName": f"{name}-config"}
    if not serverless:
        endpoint_inputs["deploymentConfig"] = dict(deployment)
    endpoint = b.add(
        "aws:sagemaker/endpoint:Endpoint",
        name,
        endpoint_inputs,
        deps={"endpointConfigName": [endpoint_config]},
    )
    alarm = b.add(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        alarm_name,
        {
            "name": alarm_name,
            "namespace": "AWS/SageMaker",
            "metricName": "Invocation5XXErrors",
            "dimensions": {"EndpointName": f"{name}-prod", "VariantName": "primary"},
            "alarmActions": [topic.outputs["arn"]],
            "comparisonOperator": "GreaterThanThreshold",
            "threshold": 3,
            "evaluationPeriods": 2,
            "period": 60,
            "statistic": "Sum",
        },
        deps={"dimensions": [endpoint], "alarmActions": [topic]},
    )
    parts = {
        "key": key,
        "model": model,
        "config": endpoint_config,
        "endpoint": endpoint,
        "topic": topic,
        "alarm": alarm,
    }
    if not serverless:
        resource_id = f"endpoint/{name}-prod/variant/primary"
        target = b.add(
            "aws:appautoscaling/target:Target",
            f"{name}-scaling",
            {
                "serviceNamespace": "sagemaker",
                "scalableDimension": "sagemaker:variant:DesiredInstanceCount",
                "resourceId": resource_id,
                "minCapacity": 2,
                "maxCapacity": 8,
            },
            deps={"resourceId": [endpoint]},
        )
        policy = b.add(
            "aws:appautoscaling/policy:Policy",
            f"{name}-scaling",
            {
                "policyType": "TargetTrackingScaling",
                "resourceId": resource_id,
                "scalableDimension": "sagemaker:variant:DesiredInstanceCount",
                "serviceNamespace": "sagemaker",
            },
            deps={"resourceId": [target], "scalableDimension": [target], "serviceNamespace": [target]},
        )
        parts.update(target=target, scaling_policy=policy)
        parts.update(monitoring(b, name, endpoint, key))
    return parts


def monitoring(b: PlanBuilder, name: str, endpoint: PlannedResource, key: PlannedResource) -> dict[str, Any]:
    """The drift monitor a capturing endpoint needs: a data-quality job definition on it, and its schedule."""
    definition = b.add(
        "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition",
        name,
        {
            "name": f"{name}-monitor",
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{name}-monitor",
            "dataQualityAppSpecification": {"imageUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/mlops/{name}:1"},
            "dataQualityJobInput": {"endpointInput": {"endpointName": f"{name}-prod", "localPath": "/opt/ml/in"}},
            "dataQualityJobOutputConfig": {"kmsKeyId": key.outputs["arn"],
                                           "monitoringOutputs": {"s3Output": {"s3Uri": "s3://m/", "localPath": "/o"}}},
            "jobResources": {"clusterConfig": {"instanceCount": 1, "instanceType": "ml.m5.large",
                                               "volumeSizeInGb": 20, "volumeKmsKeyId": key.outputs["arn"]}},
            "networkConfig": {"enableNetworkIsolation": True, "enableInterContainerTrafficEncryption": True},
            "stoppingCondition": {"maxRuntimeInSeconds": 1800},
        },
        deps={"dataQualityJobInput": [endpoint], "jobResources": [key], "dataQualityJobOutputConfig": [key]},
    )
    schedule = b.add(
        "aws:sagemaker/monitoringSchedule:MonitoringSchedule",
        name,
        {"name": f"{name}-monitor", "monitoringScheduleConfig": {
            "monitoringJobDefinitionName": f"{name}-monitor", "monitoringType": "DataQuality",
            "scheduleConfig": {"scheduleExpression": "cron(0 * ? * * *)"}}},
        deps={"monitoringScheduleConfig": [definition]},
    )
    return {"monitor": definition, "schedule": schedule}


def pipeline_definition(**step_overrides: Any) -> dict[str, Any]:
    """A 2020-12-01 pipeline definition with a compliant Processing and Training step."""
    training: dict[str, Any] = {
        "Name": "Train",
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {"TrainingImage": "x.dkr.ecr.us-east-1.amazonaws.com/churn:1.4.0"},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "EnableNetworkIsolation": True,
            "EnableInterContainerTrafficEncryption": True,
        },
    }
    processing: dict[str, Any] = {
        "Name": "Preprocess",
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "NetworkConfig": {"EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": True},
        },
    }
    steps = {"Train": training, "Preprocess": processing}
    for step_name, arguments in step_overrides.items():
        steps[step_name]["Arguments"].update(arguments)
    return {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "MetricThreshold", "Type": "Float", "DefaultValue": 0.85}],
        "Steps": [steps["Preprocess"], steps["Train"]],
    }


def pipeline(b: PlanBuilder, definition: Mapping[str, Any] | str, name: str = "churn") -> PlannedResource:
    text = definition if isinstance(definition, str) else json.dumps(definition)
    return b.add(
        "aws:sagemaker/pipeline:Pipeline",
        name,
        {
            "pipelineName": f"{name}-training",
            "pipelineDefinition": text,
            "roleArn": "arn:aws:iam::111111111111:role/x",
        },
    )


def policy_json(*statements: Mapping[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def github_trust(
    subject: str | list[str] = f"repo:{REPOSITORY}:ref:refs/heads/main",
    audience: str | None = "sts.amazonaws.com",
    operator: str = "StringEquals",
) -> str:
    conditions: dict[str, Any] = {}
    if audience is not None:
        conditions.setdefault("StringEquals", {})["token.actions.githubusercontent.com:aud"] = audience
    if subject:
        conditions.setdefault(operator, {})["token.actions.githubusercontent.com:sub"] = subject
    return policy_json(
        {
            "Sid": "GitHubActions",
            "Effect": "Allow",
            "Principal": {
                "Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
            },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": conditions,
        }
    )
