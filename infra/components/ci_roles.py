"""The two roles CI assumes for one environment, each trusted by exactly one kind of GitHub job.

- preview: read-only, assumable by pull requests of the configured repository (they run `pulumi preview`);
- deploy: assumable only by jobs of that repository running in the GitHub environment of the same name,
  so a required reviewer on that environment gates every `pulumi up`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.github_oidc import GITHUB_OIDC_HOST, STS_AUDIENCE
from infra.iam import allow, policy_document
from infra.naming import Naming

READ_ONLY_POLICY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"



@dataclass(frozen=True)
class CiRolesArgs:
    naming: Naming
    oidc_provider_arn: pulumi.Input[str]
    repository: str
    environment: str
    account_id: pulumi.Input[str]
    region: str


def github_trust(provider_arn: pulumi.Input[str], subject: str) -> pulumi.Output[str]:
    """Trust GitHub's tokens for one exact subject and the STS audience; no wildcards."""
    return policy_document(
        [
            {
                "Sid": "GitHubActionsOidc",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": subject,
                    }
                },
            }
        ]
    )


class CiRoles(pulumi.ComponentResource):
    """`mlops:ci:CiRoles`: the preview and deploy roles of one environment."""

    preview_role: aws.iam.Role
    deploy_role: aws.iam.Role

    def __init__(self, name: str, args: CiRolesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:ci:CiRoles", name, None, opts)
        self._args = args
        self.preview_role = self._preview_role(f"{name}-preview")
        self.deploy_role = self._deploy_role(f"{name}-deploy")
        self.register_outputs({"previewRoleArn": self.preview_role.arn, "deployRoleArn": self.deploy_role.arn})

    def _preview_role(self, name: str) -> aws.iam.Role:
        a = self._args
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            name,
            name=a.naming.ci_role("preview"),
            assume_role_policy=github_trust(a.oidc_provider_arn, f"repo:{a.repository}:pull_request"),
            max_session_duration=3600,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(name, role=role.name, policy_arn=READ_ONLY_POLICY_ARN, opts=child)
        # ReadOnlyAccess also reads object contents; a pull request's preview needs metadata only.
        aws.iam.RolePolicy(
            name,
            role=role.id,
            policy=policy_document(
                [
                    {
                        "Sid": "NoDataPlaneReads",
                        "Effect": "Deny",
                        "Action": ["s3:GetObject", "s3:GetObjectVersion", "secretsmanager:GetSecretValue",
                                   "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath",
                                   "sagemaker:InvokeEndpoint"],
                        "Resource": "*",
                    }
                ]
            ),
            opts=child,
        )
        return role

    def _deploy_role(self, name: str) -> aws.iam.Role:
        a = self._args
        child = pulumi.ResourceOptions(parent=self)
        environment = a.environment
        role = aws.iam.Role(
            name,
            name=a.naming.ci_role("deploy"),
            assume_role_policy=github_trust(a.oidc_provider_arn, f"repo:{a.repository}:environment:{environment}"),
            max_session_duration=3600,
            opts=child,
        )
        aws.iam.RolePolicy(name, role=role.id, policy=policy_document(self._deploy_permissions()), opts=child)
        return role

    def _deploy_permissions(self) -> list[dict]:
        """The API calls `pulumi up` makes for this program, on resources this stack names or tags only.

        Names follow `<project>-<stack>-*`; KMS key ids are random, so keys are scoped by the `pulumi-stack`
        tag that the provider's default tags put on them (and must be present when a key is created).
        """
        a = self._args
        account, region, scope, stack = a.account_id, a.region, a.naming.wildcard, a.naming.stack

        def arn(service: str, resource: str, *, region_part: pulumi.Input[str] = region) -> pulumi.Output[str]:
            return pulumi.Output.concat(f"arn:aws:{service}:", region_part, ":", account, ":", resource)

        def sagemaker(*kinds: str) -> list[pulumi.Output[str]]:
            return [arn("sagemaker", f"{kind}/{scope}") for kind in kinds]

        role_arns = pulumi.Output.concat("arn:aws:iam::", account, ":role/", scope)
        stack_keys = {"StringEquals": {"aws:ResourceTag/pulumi-stack": stack}}
        return [
            allow("ManageStackBuckets", _S3_BUCKET_ACTIONS, [f"arn:aws:s3:::{scope}"]),
            allow("ManageStackRepositories", _ECR_ACTIONS, [arn("ecr", f"repository/{scope}")]),
            allow("ManageStackRules", _EVENTS_ACTIONS, [arn("events", f"rule/{scope}")]),
            allow("ManageStackTopics", _SNS_ACTIONS, [arn("sns", scope)]),
            allow("ManageStackAlarms", _ALARM_ACTIONS, [arn("cloudwatch", f"alarm:{scope}")]),
            allow("ManageStackDashboards", _DASHBOARD_ACTIONS,
                  [arn("cloudwatch", f"dashboard/{scope}", region_part="")]),
            allow("ManageStackSageMaker", _SAGEMAKER_ACTIONS,
                  sagemaker("model", "endpoint-config", "endpoint", "pipeline", "model-package-group")),
            # Serving pins a version of a package registered in the shared stack, possibly in another account.
            allow("ReadRegisteredPackages", ["sagemaker:DescribeModelPackage"],
                  [pulumi.Output.concat("arn:aws:sagemaker:", region, ":*:model-package/", a.naming.project, "-*")]),
            allow("CreateKeysTaggedForThisStack", ["kms:CreateKey"], ["*"],
                  Condition={"StringEquals": {"aws:RequestTag/pulumi-stack": stack}}),
            allow("ManageKeysTaggedForThisStack", _KMS_KEY_ACTIONS, [arn("kms", "key/*")], Condition=stack_keys),
            allow("ManageStackKeyAlias", ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
                  [arn("kms", a.naming.kms_alias()), arn("kms", "key/*")]),
            allow("ManageEndpointScaling", _AUTOSCALING_ACTIONS,
                  [arn("application-autoscaling", "scalable-target/*")]),
            # These two describe calls have no resource-level permissions; AWS documents `*` as their resource.
            allow("DescribeEndpointScaling", ["application-autoscaling:DescribeScalableTargets",
                                              "application-autoscaling:DescribeScalingPolicies"], ["*"]),
            allow("CreateScalingServiceRole", ["iam:CreateServiceLinkedRole"],
                  [pulumi.Output.concat("arn:aws:iam::", account, f":role/aws-service-role/{_SCALING_SERVICE}/*")],
                  Condition={"StringEquals": {"iam:AWSServiceName": _SCALING_SERVICE}}),
            allow("ManageOwnRoles", _IAM_ROLE_ACTIONS, [role_arns]),
            allow("PassOwnRolesToServices", ["iam:PassRole"], [role_arns],
                  Condition={"StringEquals": {"iam:PassedToService": ["sagemaker.amazonaws.com",
                                                                     "events.amazonaws.com"]}}),
            allow("ManageGitHubOidcProvider", ["iam:GetOpenIDConnectProvider", "iam:TagOpenIDConnectProvider",
                                               "iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider"],
                  [pulumi.Output.concat("arn:aws:iam::", account, f":oidc-provider/{GITHUB_OIDC_HOST}")]),
        ]


_SCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"

# What `pulumi up` calls, per resource family of this program (create, read, update, delete, tag).
_S3_BUCKET_ACTIONS = [
    "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucket*", "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketPublicAccessBlock", "s3:PutBucketTagging",
    "s3:PutBucketVersioning",
    "s3:GetAccelerateConfiguration", "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
    "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration", "s3:GetReplicationConfiguration",
]
_ECR_ACTIONS = [
    "ecr:CreateRepository", "ecr:DeleteRepository", "ecr:DescribeRepositories", "ecr:PutImageScanningConfiguration",
    "ecr:PutImageTagMutability", "ecr:PutLifecyclePolicy", "ecr:GetLifecyclePolicy", "ecr:DeleteLifecyclePolicy",
    "ecr:SetRepositoryPolicy", "ecr:GetRepositoryPolicy", "ecr:DeleteRepositoryPolicy", "ecr:ListTagsForResource",
    "ecr:TagResource", "ecr:UntagResource",
]
_EVENTS_ACTIONS = [
    "events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:EnableRule", "events:DisableRule",
    "events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule", "events:ListTagsForResource",
    "events:TagResource", "events:UntagResource",
]
_SNS_ACTIONS = [
    "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
    "sns:ListTagsForResource", "sns:TagResource", "sns:UntagResource",
]
_ALARM_ACTIONS = [
    "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms",
    "cloudwatch:ListTagsForResource", "cloudwatch:TagResource", "cloudwatch:UntagResource",
]
_DASHBOARD_ACTIONS = ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"]
_SAGEMAKER_ACTIONS = [
    "sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:DeleteModel",
    "sagemaker:CreateEndpointConfig", "sagemaker:DescribeEndpointConfig", "sagemaker:DeleteEndpointConfig",
    "sagemaker:CreateEndpoint", "sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:DeleteEndpoint",
    "sagemaker:CreatePipeline", "sagemaker:DescribePipeline", "sagemaker:UpdatePipeline", "sagemaker:DeletePipeline",
    "sagemaker:CreateModelPackageGroup", "sagemaker:DescribeModelPackageGroup", "sagemaker:DeleteModelPackageGroup",
    "sagemaker:PutModelPackageGroupPolicy", "sagemaker:GetModelPackageGroupPolicy",
    "sagemaker:DeleteModelPackageGroupPolicy", "sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags",
]
_KMS_KEY_ACTIONS = [
    "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus", "kms:EnableKeyRotation",
    "kms:UpdateKeyDescription", "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
    # Creating an encrypted endpoint or topic makes the service use the key on the caller's behalf.
    "kms:CreateGrant", "kms:GenerateDataKey", "kms:Decrypt",
]
_AUTOSCALING_ACTIONS = [
    "application-autoscaling:RegisterScalableTarget", "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:PutScalingPolicy", "application-autoscaling:DeleteScalingPolicy",
    "application-autoscaling:ListTagsForResource", "application-autoscaling:TagResource",
    "application-autoscaling:UntagResource",
]
_IAM_ROLE_ACTIONS = [
    "iam:AttachRolePolicy", "iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy",
    "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
    "iam:ListRolePolicies", "iam:PutRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
]
