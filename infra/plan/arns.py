"""The ARN a created resource would get, per resource type, in the format AWS gives it.

Each format is the resource type's ARN exactly as the Service Authorization Reference lists it
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html,
"Resource types defined by <service>"); tests/infra/test_plan_arns.py checks every entry against the copy of that
reference that parliament ships (parliament/iam_definition.json). A rule that compares a policy's `Resource` with
`bucket.arn` therefore sees what it would see after a real `pulumi up`.

A type without an entry gets the mocks' generic `service:region:account:kind/name` shape (infra.plan.mocks), as
before this table existed; add its real format here when a rule or the program reads it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ArnFormat:
    """Where the format comes from (service prefix and resource type in the reference) and the format itself."""

    service: str
    resource: str
    template: str


def _f(service: str, resource: str, template: str) -> ArnFormat:
    return ArnFormat(service, resource, template)


_BUCKET = _f("s3", "bucket", "arn:${Partition}:s3:::${BucketName}")
_KEY = _f("kms", "key", "arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}")
_ALARM = _f("cloudwatch", "alarm", "arn:${Partition}:cloudwatch:${Region}:${Account}:alarm:${AlarmName}")
_SM = "arn:${Partition}:sagemaker:${Region}:${Account}:"

ARN_FORMATS: dict[str, ArnFormat] = {
    "aws:s3/bucket:Bucket": _BUCKET,
    "aws:s3/bucketV2:BucketV2": _BUCKET,
    "aws:s3/directoryBucket:DirectoryBucket": _f(
        "s3express", "bucket", "arn:${Partition}:s3express:${Region}:${Account}:bucket/${BucketName}"
    ),
    "aws:sns/topic:Topic": _f("sns", "topic", "arn:${Partition}:sns:${Region}:${Account}:${TopicName}"),
    "aws:sqs/queue:Queue": _f("sqs", "queue", "arn:${Partition}:sqs:${Region}:${Account}:${QueueName}"),
    "aws:iam/role:Role": _f("iam", "role", "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}"),
    "aws:iam/policy:Policy": _f("iam", "policy", "arn:${Partition}:iam::${Account}:policy/${PolicyNameWithPath}"),
    "aws:iam/user:User": _f("iam", "user", "arn:${Partition}:iam::${Account}:user/${UserNameWithPath}"),
    "aws:iam/group:Group": _f("iam", "group", "arn:${Partition}:iam::${Account}:group/${GroupNameWithPath}"),
    "aws:iam/instanceProfile:InstanceProfile": _f(
        "iam", "instance-profile", "arn:${Partition}:iam::${Account}:instance-profile/${InstanceProfileNameWithPath}"
    ),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _f(
        "iam", "oidc-provider", "arn:${Partition}:iam::${Account}:oidc-provider/${OidcProviderName}"
    ),
    "aws:kms/key:Key": _KEY,
    "aws:kms/replicaKey:ReplicaKey": _KEY,
    "aws:kms/alias:Alias": _f("kms", "alias", "arn:${Partition}:kms:${Region}:${Account}:alias/${Alias}"),
    "aws:ecr/repository:Repository": _f(
        "ecr", "repository", "arn:${Partition}:ecr:${Region}:${Account}:repository/${RepositoryName}"
    ),
    "aws:sagemaker/endpoint:Endpoint": _f("sagemaker", "endpoint", _SM + "endpoint/${EndpointName}"),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _f(
        "sagemaker", "endpoint-config", _SM + "endpoint-config/${EndpointConfigName}"
    ),
    "aws:sagemaker/model:Model": _f("sagemaker", "model", _SM + "model/${ModelName}"),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": _f(
        "sagemaker", "model-package-group", _SM + "model-package-group/${ModelPackageGroupName}"
    ),
    "aws:sagemaker/pipeline:Pipeline": _f("sagemaker", "pipeline", _SM + "pipeline/${PipelineName}"),
    "aws:sagemaker/notebookInstance:NotebookInstance": _f(
        "sagemaker", "notebook-instance", _SM + "notebook-instance/${NotebookInstanceName}"
    ),
    "aws:sagemaker/notebookInstanceLifecycleConfiguration:NotebookInstanceLifecycleConfiguration": _f(
        "sagemaker",
        "notebook-instance-lifecycle-config",
        _SM + "notebook-instance-lifecycle-config/${NotebookInstanceLifecycleConfigName}",
    ),
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule": _f(
        "sagemaker", "monitoring-schedule", _SM + "monitoring-schedule/${MonitoringScheduleName}"
    ),
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": _f(
        "sagemaker", "data-quality-job-definition", _SM + "data-quality-job-definition/${DataQualityJobDefinitionName}"
    ),
    "aws:sagemaker/featureGroup:FeatureGroup": _f(
        "sagemaker", "feature-group", _SM + "feature-group/${FeatureGroupName}"
    ),
    "aws:sagemaker/codeRepository:CodeRepository": _f(
        "sagemaker", "code-repository", _SM + "code-repository/${CodeRepositoryName}"
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _ALARM,
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": _ALARM,
    "aws:cloudwatch/dashboard:Dashboard": _f(
        "cloudwatch", "dashboard", "arn:${Partition}:cloudwatch::${Account}:dashboard/${DashboardName}"
    ),
    "aws:cloudwatch/eventBus:EventBus": _f(
        "events", "event-bus", "arn:${Partition}:events:${Region}:${Account}:event-bus/${EventBusName}"
    ),
    "aws:cloudwatch/eventRule:EventRule": _f(
        "events", "rule-on-default-event-bus", "arn:${Partition}:events:${Region}:${Account}:rule/${RuleName}"
    ),
    "aws:cloudwatch/eventApiDestination:EventApiDestination": _f(
        "events", "api-destination",
        "arn:${Partition}:events:${Region}:${Account}:api-destination/${ApiDestinationName}"),
    "aws:cloudwatch/eventConnection:EventConnection": _f(
        "events", "connection", "arn:${Partition}:events:${Region}:${Account}:connection/${ConnectionName}"),
    "aws:cloudwatch/eventArchive:EventArchive": _f(
        "events", "archive", "arn:${Partition}:events:${Region}:${Account}:archive/${ArchiveName}"),
    "aws:appautoscaling/target:Target": _f(
        "application-autoscaling", "ScalableTarget",
        "arn:${Partition}:application-autoscaling:${Region}:${Account}:scalable-target/${ResourceId}"),
    "aws:cloudwatch/logGroup:LogGroup": _f(
        "logs", "log-group", "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}"
    ),
    "aws:lambda/function:Function": _f(
        "lambda", "function", "arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}"
    ),
    "aws:eks/cluster:Cluster": _f("eks", "cluster", "arn:${Partition}:eks:${Region}:${Account}:cluster/${ClusterName}"),
    "aws:eks/nodeGroup:NodeGroup": _f(
        "eks",
        "nodegroup",
        "arn:${Partition}:eks:${Region}:${Account}:nodegroup/${ClusterName}/${NodegroupName}/${UUID}",
    ),
    "aws:ec2/securityGroup:SecurityGroup": _f(
        "ec2", "security-group", "arn:${Partition}:ec2:${Region}:${Account}:security-group/${SecurityGroupId}"
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _f(
        "ec2",
        "security-group-rule",
        "arn:${Partition}:ec2:${Region}:${Account}:security-group-rule/${SecurityGroupRuleId}",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _f(
        "ec2",
        "security-group-rule",
        "arn:${Partition}:ec2:${Region}:${Account}:security-group-rule/${SecurityGroupRuleId}",
    ),
    "aws:ec2/vpc:Vpc": _f("ec2", "vpc", "arn:${Partition}:ec2:${Region}:${Account}:vpc/${VpcId}"),
    "aws:ec2/subnet:Subnet": _f("ec2", "subnet", "arn:${Partition}:ec2:${Region}:${Account}:subnet/${SubnetId}"),
    "aws:dynamodb/table:Table": _f(
        "dynamodb", "table", "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}"
    ),
    "aws:kinesis/stream:Stream": _f(
        "kinesis", "stream", "arn:${Partition}:kinesis:${Region}:${Account}:stream/${StreamName}"
    ),
    "aws:secretsmanager/secret:Secret": _f(
        "secretsmanager", "Secret", "arn:${Partition}:secretsmanager:${Region}:${Account}:secret:${SecretId}"
    ),
    "aws:ssm/parameter:Parameter": _f(
        "ssm", "parameter", "arn:${Partition}:ssm:${Region}:${Account}:parameter/${ParameterNameWithoutLeadingSlash}"
    ),
}
"""Pulumi type -> the ARN format of the resource it creates."""

ID_PREFIXES = {
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
}
"""Types whose ARN names the resource by an id AWS assigns (`sg-0123...`), not by a name the program gives."""

_VARIABLE = re.compile(r"\$\{(\w+)\}")


def aws_id(typ: str, physical: str) -> str | None:
    """The id AWS would assign on create for types that are named by an id, else None."""
    prefix = ID_PREFIXES.get(typ)
    return f"{prefix}-{_digest(typ + physical, 17)}" if prefix else None


def arn_for(
    typ: str, physical: str, state: Mapping[str, Any], region: str, account: str, partition: str = "aws"
) -> str | None:
    """The resource's ARN in its type's format, or None where this module knows no format for the type."""
    fmt = ARN_FORMATS.get(typ)
    if fmt is None:
        return None
    name = _name_part(typ, physical, state)
    values = {"Partition": partition, "Region": region, "Account": account}
    if typ == "aws:eks/nodeGroup:NodeGroup":
        values |= {"ClusterName": str(state.get("clusterName", "")), "NodegroupName": physical, "UUID": _uuid(physical)}
    if typ == "aws:appautoscaling/target:Target":
        name = _digest(physical, 32)  # AWS names a scalable target by a generated id, not by its resource id
    if typ == "aws:cloudwatch/eventRule:EventRule":
        bus = state.get("eventBusName")
        if isinstance(bus, str) and bus and bus != "default" and not bus.startswith("arn:"):
            name = f"{bus}/{physical}"  # the reference's rule-on-custom-event-bus format
    return _VARIABLE.sub(lambda m: values.get(m.group(1), name), fmt.template)


def _name_part(typ: str, physical: str, state: Mapping[str, Any]) -> str:
    if typ.startswith("aws:iam/") and typ != "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
        path = state.get("path")
        prefix = path.strip("/") + "/" if isinstance(path, str) and path.strip("/") else ""
        return prefix + physical
    if typ == "aws:kms/alias:Alias":
        return physical.removeprefix("alias/")
    if typ == "aws:ssm/parameter:Parameter":
        return physical.lstrip("/")
    if typ == "aws:secretsmanager/secret:Secret":
        return f"{physical}-{_digest(physical, 6)}"  # Secrets Manager appends six random characters
    return physical


def _uuid(text: str) -> str:
    h = _digest(text, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


GET_ARN = "aws:index/getArn:getArn"


class ArnParseError(ValueError):
    """Not an ARN, as aws-sdk-go's arn.Parse refuses it (the provider's aws_arn data source uses it)."""


def get_arn(args: Mapping[str, Any]) -> dict[str, Any]:
    """`aws.get_arn`, a pure function: the ARN split into its parts (terraform-provider-aws,
    internal/service/meta/arn_data_source.go: account, partition, region, resource, service; id is the ARN)."""
    arn = args.get("arn")
    if not isinstance(arn, str):
        raise ArnParseError("arn: expected a string")
    parts = arn.split(":", 5)
    if parts[0] != "arn":
        raise ArnParseError(f"{arn!r}: arn: invalid prefix")
    if len(parts) < 6:
        raise ArnParseError(f"{arn!r}: arn: not enough sections")
    _, partition, service, region, account, resource = parts
    return {"arn": arn, "id": arn, "partition": partition, "service": service, "region": region,
            "account": account, "resource": resource}
