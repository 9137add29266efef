"""Small builders for IAM policy documents, so that every component writes them the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

Statement = Mapping[str, Any]


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """A policy document as JSON text; statements may hold Outputs (ARNs of other resources)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(sid: str, actions: Sequence[str], resources: Sequence[Any], **extra: Any) -> dict[str, Any]:
    """One Allow statement with a Sid, so that reviewers and policy reports can name it."""
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": list(resources), **extra}


def service_trust(service: str, account_id: Any) -> pulumi.Output[str]:
    """A trust policy for an AWS service, confined to this account (confused-deputy guard)."""
    return policy_document(
        [
            {
                "Sid": "ServiceAssumesRole",
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ]
    )


def ecr_login() -> dict[str, Any]:
    """ECR's GetAuthorizationToken has no resource-level permissions: AWS documents `*` as its only resource."""
    return allow("AuthenticateToEcr", ["ecr:GetAuthorizationToken"], ["*"])


def sagemaker_metrics() -> dict[str, Any]:
    """PutMetricData has no resource-level permissions; the namespace condition confines it to SageMaker's."""
    return allow("PublishSageMakerMetrics", ["cloudwatch:PutMetricData"], ["*"],
                 Condition={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}})


def vpc_attachment(region: str) -> dict[str, Any]:
    """What SageMaker needs to attach jobs or endpoints to private subnets; EC2 scopes these by region only."""
    return allow(
        "AttachToVpc",
        ["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
         "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces",
         "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"],
        ["*"],
        Condition={"StringEquals": {"aws:RequestedRegion": region}},
    )
