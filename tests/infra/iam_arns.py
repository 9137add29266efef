"""The ARNs and request context of what a plan declares, built from planned inputs and names as AWS forms them.

Used by the IAM tests to ask, for every planned resource: is this action on this ARN allowed to this role?
The mocks' own `arn` outputs are only used where AWS's ARN holds a random id (KMS keys); every other ARN is
built here from the resource's physical name, in the service's own format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from iam_actions import Need

from infra.plan.model import PlannedResource, PlanResult
from infra.plan.project import load_stack
from infra.plan.runner import PROJECT_ROOT

SCALABLE_TARGET_ID = "0123456789abcdef0123456789abcdef"
"""Application Auto Scaling gives a scalable target a random id; any id stands for it."""
EKS_ID = "a1b2c3d4-0000-4000-8000-000000000000"
"""The id EKS appends to a node group's or access entry's ARN (unknown before it exists; policies match `*`)."""

SCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"


@dataclass(frozen=True)
class StackFacts:
    """Account, region, stack name and default tags of one planned stack, and its resources by id and ARN."""

    plan: PlanResult
    account: str
    region: str
    default_tags: dict[str, str]

    @classmethod
    def of(cls, plan: PlanResult) -> StackFacts:
        config = load_stack(PROJECT_ROOT, plan.stack).config
        provider = next(r for r in plan.resources if r.type == "pulumi:providers:aws")
        tags = provider.inputs["defaultTags"]
        tags = (json.loads(tags) if isinstance(tags, str) else tags)["tags"]
        return cls(plan, config["mlops:accountId"], config["aws:region"], dict(tags))

    def tags_of(self, resource: PlannedResource) -> dict[str, str]:
        return {**self.default_tags, **(resource.inputs.get("tags") or {})}

    def find(self, type_: str, **inputs: Any) -> PlannedResource | None:
        for resource in self.plan.resources:
            if resource.type == type_ and all(
                resource.inputs.get(k, resource.outputs.get(k)) == v for k, v in inputs.items()
            ):
                return resource
        return None

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account}:{resource}"

    # -- the resource's own ARN ---------------------------------------------------------------------------------
    def self_arn(self, r: PlannedResource) -> str:
        i, t = r.inputs, r.type
        builders = {
            "aws:s3/bucket:Bucket": lambda: f"arn:aws:s3:::{i['bucket']}",
            "aws:ecr/repository:Repository": lambda: self.arn("ecr", f"repository/{i['name']}"),
            "aws:kms/key:Key": lambda: self.arn("kms", f"key/{r.outputs['keyId']}"),
            "aws:kms/alias:Alias": lambda: self.arn("kms", i["name"]),
            "aws:iam/role:Role": lambda: f"arn:aws:iam::{self.account}:role/{i['name']}",
            "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
                lambda: f"arn:aws:iam::{self.account}:oidc-provider/{i['url'].removeprefix('https://')}",
            "aws:sns/topic:Topic": lambda: self.arn("sns", i["name"]),
            "aws:cloudwatch/eventRule:EventRule": lambda: self.arn("events", f"rule/{i['name']}"),
            "aws:cloudwatch/metricAlarm:MetricAlarm": lambda: self.arn("cloudwatch", f"alarm:{i['name']}"),
            "aws:cloudwatch/dashboard:Dashboard":
                lambda: self.arn("cloudwatch", f"dashboard/{i['dashboardName']}", region=False),
            "aws:sagemaker/modelPackageGroup:ModelPackageGroup":
                lambda: self.arn("sagemaker", f"model-package-group/{i['modelPackageGroupName']}"),
            "aws:sagemaker/pipeline:Pipeline": lambda: self.arn("sagemaker", f"pipeline/{i['pipelineName']}"),
            "aws:sagemaker/model:Model": lambda: self.arn("sagemaker", f"model/{i['name']}"),
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration":
                lambda: self.arn("sagemaker", f"endpoint-config/{i['name']}"),
            "aws:sagemaker/endpoint:Endpoint": lambda: self.arn("sagemaker", f"endpoint/{i['name']}"),
            "aws:appautoscaling/target:Target":
                lambda: self.arn("application-autoscaling", f"scalable-target/{SCALABLE_TARGET_ID}"),
            "aws:appautoscaling/policy:Policy":
                lambda: self.arn("application-autoscaling", f"scalable-target/{SCALABLE_TARGET_ID}"),
            "aws:eks/cluster:Cluster": lambda: self.arn("eks", f"cluster/{i['name']}"),
            "aws:eks/nodeGroup:NodeGroup": lambda: self.arn(
                "eks", f"nodegroup/{i['clusterName']}/{i.get('nodeGroupName') or r.name}/{EKS_ID}"),
            "aws:eks/accessEntry:AccessEntry": lambda: self._access_entry(i),
            "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition":
                lambda: self.arn("sagemaker", f"data-quality-job-definition/{i['name']}"),
            "aws:sagemaker/monitoringSchedule:MonitoringSchedule":
                lambda: self.arn("sagemaker", f"monitoring-schedule/{i['name']}"),
            "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer":
                lambda: self.arn("sagemaker", f"mlflow-tracking-server/{i['trackingServerName']}"),
            "aws:lambda/function:Function": lambda: self.arn("lambda", f"function:{i['name']}"),
            "aws:cloudwatch/logGroup:LogGroup": lambda: self.arn("logs", f"log-group:{i['name']}"),
            "aws:eks/addon:Addon": lambda: self.arn("eks", f"addon/{i['clusterName']}/{i['addonName']}/{EKS_ID}"),
        }
        if t not in builders:
            raise KeyError(f"no ARN builder for {t} ({r.name}); add one to tests/infra/iam_arns.py")
        return builders[t]()

    # -- ARNs a resource's inputs name --------------------------------------------------------------------------
    def target_arn(self, need: Need, r: PlannedResource) -> str | None:
        """The ARN `need.on` names for resource `r`; None when the resource does not use that (no role, no key)."""
        i = r.inputs
        if need.on == "self":
            return self.self_arn(r)
        if need.on == "*":
            return "*"
        if need.on == "bucket":
            return f"arn:aws:s3:::{i['bucket']}"
        if need.on == "repository":
            return self.arn("ecr", f"repository/{i['repository']}")
        if need.on == "rule":
            return self.arn("events", f"rule/{i['rule']}")
        if need.on == "package-group":
            return self.arn("sagemaker", f"model-package-group/{i['modelPackageGroupName']}")
        if need.on == "topic":
            topic = self.find("aws:sns/topic:Topic", arn=i["arn"])
            return self.self_arn(topic) if topic else i["arn"]
        if need.on == "role":
            name = i.get("role")
            if name is not None and name.startswith("arn:"):  # a Lambda function names its role by ARN
                return name
            if name is not None:  # RolePolicy and RolePolicyAttachment name the role
                return f"arn:aws:iam::{self.account}:role/{name}"
            return i.get("roleArn") or i.get("executionRoleArn") or i.get("nodeRoleArn")
        if need.on == "function":
            return self.arn("lambda", f"function:{i['function']}")
        if need.on == "cluster":
            return self.arn("eks", f"cluster/{i['clusterName']}")
        if need.on == "access-entry":
            return self._access_entry(i)
        if need.on == "package":
            return (i.get("primaryContainer") or {}).get("modelPackageName")
        if need.on == "key":
            return self._key_of(r)
        if need.on == "new-key":
            return self.arn("kms", "key/*")
        if need.on == "endpoint":
            return self.arn("sagemaker", i["resourceId"].split("/variant/")[0])
        if need.on == "target-tracking-alarm":
            return self.arn("cloudwatch", f"alarm:TargetTracking-{i['resourceId']}-AlarmHigh-{SCALABLE_TARGET_ID}")
        if need.on == "scaling-service-role":
            return (f"arn:aws:iam::{self.account}:role/aws-service-role/{SCALING_SERVICE}/"
                    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint")
        raise KeyError(f"unknown target {need.on!r} in the action table")

    def _key_of(self, r: PlannedResource) -> str | None:
        i = r.inputs
        if r.type == "aws:kms/alias:Alias":
            key = self.find("aws:kms/key:Key", keyId=i["targetKeyId"])
            return self.self_arn(key) if key else None
        if r.type == "aws:ecr/repository:Repository":
            configs = i.get("encryptionConfigurations") or []
            return next((c.get("kmsKey") for c in configs if c.get("kmsKey")), None)
        if r.type == "aws:sagemaker/endpoint:Endpoint":
            config = self.find("aws:sagemaker/endpointConfiguration:EndpointConfiguration",
                               name=i["endpointConfigName"])
            return config.inputs.get("kmsKeyArn") if config else None
        if r.type == "aws:eks/cluster:Cluster":
            return ((i.get("encryptionConfig") or {}).get("provider") or {}).get("keyArn")
        raise KeyError(f"the action table names a key for {r.type}, but no key lookup exists for it")

    def _access_entry(self, i: dict[str, Any]) -> str:
        """`access-entry/<cluster>/role/<account>/<role name>/<id>`: EKS names an entry by its principal."""
        account, _, name = i["principalArn"].removeprefix("arn:aws:iam::").partition(":role/")
        return self.arn("eks", f"access-entry/{i['clusterName']}/role/{account}/{name}/{EKS_ID}")

    # -- request context ----------------------------------------------------------------------------------------
    def context(self, need: Need, r: PlannedResource, target: str) -> dict[str, str | list[str]]:
        """What AWS puts in the request context for this call (condition keys the policies may test)."""
        values: dict[str, str | list[str]] = {"aws:RequestedRegion": self.region}
        for kind in need.context:
            if kind == "request-tags":
                tags = self.tags_of(r)
                values.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
                values["aws:TagKeys"] = sorted(tags)
            elif kind == "resource-tags":
                # Tags of the resource the call acts on; one this stack does not declare carries none we know.
                owner = self._owner_of(target)
                if owner is not None:
                    values.update({f"aws:ResourceTag/{k}": v for k, v in self.tags_of(owner).items()})
            elif kind.startswith("passed-to:"):
                values["iam:PassedToService"] = kind.removeprefix("passed-to:")
            elif kind.startswith("service-name:"):
                values["iam:AWSServiceName"] = kind.removeprefix("service-name:")
            elif kind == "aws-resource-grant":
                values["kms:GrantIsForAWSResource"] = "true"
            else:
                raise KeyError(f"unknown request context {kind!r} in the action table")
        return values

    def _owner_of(self, arn: str) -> PlannedResource | None:
        """The planned resource an ARN names (for its tags), if this stack declares it."""
        for resource in self.plan.resources:
            if resource.custom and resource.type.startswith("aws:"):
                try:
                    if self.self_arn(resource) == arn:
                        return resource
                except KeyError:
                    continue
        return None
