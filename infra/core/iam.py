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


STS_AUDIENCE = "sts.amazonaws.com"
"""The audience AWS STS expects in a web-identity token (GitHub's and an EKS service account's)."""


def web_identity_statement(sid: str, provider_arn: Any, conditions: Mapping[str, Any]) -> dict[str, Any]:
    """Trust an OIDC provider's tokens that carry exactly these claims (`<host>:sub`, `<host>:aud`); no wildcards."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": dict(conditions)},
    }


def irsa_trust(sid: str, provider_arn: pulumi.Input[str], host: pulumi.Input[str], namespace: str,
               service_account: str) -> pulumi.Output[str]:
    """IRSA: a role exactly one Kubernetes service account assumes, through the cluster's OIDC provider."""
    subject = f"system:serviceaccount:{namespace}:{service_account}"
    statement = pulumi.Output.all(provider_arn, host).apply(
        lambda v: web_identity_statement(sid, v[0], {f"{v[1]}:sub": subject, f"{v[1]}:aud": STS_AUDIENCE}))
    return policy_document([statement])


def account_administers_key(account_root: Any) -> dict[str, Any]:
    """A key policy's first statement: the account (its IAM policies) administers the key. Without it the key
    could become unmanageable; IAM policies then decide who uses it."""
    return {"Sid": "AccountAdministersKey", "Effect": "Allow", "Principal": {"AWS": account_root},
            "Action": "kms:*", "Resource": "*"}


def service_encrypts_with_key(sid: str, service: str, account_id: Any) -> dict[str, Any]:
    """A key policy statement: a service of this account may use the key to publish to an encrypted topic."""
    return {"Sid": sid, "Effect": "Allow", "Principal": {"Service": service},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}}


def service_publishes(sid: str, service: str, topic_arn: Any, account_id: Any) -> pulumi.Output[str]:
    """An SNS topic policy: a service of this account (and no other's) publishes to the topic."""
    return policy_document([{"Sid": sid, "Effect": "Allow", "Principal": {"Service": service},
                             "Action": "sns:Publish", "Resource": topic_arn,
                             "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}}])


MLFLOW_LOGGING_ACTIONS = (
    "sagemaker-mlflow:CreateExperiment", "sagemaker-mlflow:CreateRun", "sagemaker-mlflow:GetExperiment",
    "sagemaker-mlflow:GetExperimentByName", "sagemaker-mlflow:LogBatch", "sagemaker-mlflow:UpdateRun",
)
"""What `model_code.tracking.log_run` calls on a tracking server: one MLflow REST API call per action (the
`sagemaker-mlflow` service prefix, resource `mlflow-tracking-server`:
https://docs.aws.amazon.com/service-authorization/latest/reference/list_sagemaker-mlflow.html). The MLflow calls
are recorded in tests/infra/test_iam_experiment_logging.py, so a change in the client shows up there."""

ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
"""What pulling an image from ECR takes (besides the login, `ecr_login`)."""
