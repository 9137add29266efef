"""The roles CI assumes for one environment, each trusted by exactly one kind of GitHub job.

- preview: read-only, assumable by pull requests of the configured repository (they run `pulumi preview`);
- deploy: assumable only by jobs of that repository running in the GitHub environment of the same name,
  so a required reviewer on that environment gates every `pulumi up`;
- release (shared stack only): what the automatic loop runs (`infra.release start-training`, `approve`,
  `promote`), assumable only by jobs in the GitHub environment `<shared>-release`, which has no reviewer: the
  weekly training and the approval-triggered promotion never wait for a person, while changing shared
  infrastructure (the `shared` environment's deploy role) still does.

Session lengths are one budget with the workflows' job timeouts: a role's `max_session_duration` is at least the
`timeout-minutes` of every job that assumes it, so credentials never expire while a job may still run
(`tests/release/test_release_workflows_budget.py` reads both). GitHub OIDC sessions default to 1 hour
(aws-actions/configure-aws-credentials, `role-duration-seconds`), so each job asks for its length explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from infra.components.github_oidc import GITHUB_OIDC_HOST
from infra.core import bucket_layout, serving
from infra.core.arns import Arns
from infra.core.iam import MLFLOW_LOGGING_ACTIONS, STS_AUDIENCE, allow, policy_document, web_identity_statement
from infra.core.naming import Naming

PREVIEW_SESSION_SECONDS = 3600
"""preview.yml: one `pulumi preview` per job (timeout-minutes 30)."""
DEPLOY_SESSION_SECONDS = 3 * 3600
"""deploy.yml: `pulumi up`, then verify and smoke-test, in one job (timeout-minutes 180)."""
RELEASE_SESSION_SECONDS = 5 * 3600
"""train.yml: start a training run and follow it to its end (timeout-minutes 300); promote.yml is short."""
RELEASE_ENVIRONMENT_SUFFIX = "-release"
"""The GitHub environment of the automatic loop: `<shared environment>-release` (no required reviewer)."""
READ_ONLY_POLICY = "ReadOnlyAccess"
"""The AWS managed policy of the preview role (plus a deny of data-plane reads)."""


@dataclass(frozen=True)
class CiRolesArgs:
    naming: Naming
    oidc_provider_arn: pulumi.Input[str]
    repository: str
    environment: str
    account_id: pulumi.Input[str]
    region: str
    partition: str
    dns_suffix: str
    """The partition's DNS suffix (`amazonaws.com`, `amazonaws.com.cn`): the host of an EKS cluster's OIDC issuer."""
    kind: Literal["shared", "environment"]
    """Which program half the deploy role deploys: its rights cover only the resource types that half declares."""
    manages_oidc_provider: bool
    """Whether this stack creates the account's GitHub OIDC provider (then its deploy role manages it)."""
    manages_eks_cluster: bool = False
    """Whether this stack creates an EKS cluster (then its deploy role manages the cluster, its node group,
    access entries and the cluster's IAM OIDC provider, and may pass its own roles to EKS)."""


def github_trust(provider_arn: pulumi.Input[str], subject: str) -> pulumi.Output[str]:
    """Trust GitHub's tokens for one exact subject and the STS audience; no wildcards."""
    claims = {f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE, f"{GITHUB_OIDC_HOST}:sub": subject}
    return policy_document([web_identity_statement("GitHubActionsOidc", provider_arn, claims)])


class CiRoles(pulumi.ComponentResource):
    """`mlops:ci:CiRoles`: the preview and deploy roles of one environment."""

    preview_role: aws.iam.Role
    deploy_role: aws.iam.Role
    release_role: aws.iam.Role | None

    def __init__(self, name: str, args: CiRolesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:ci:CiRoles", name, None, opts)
        self._args = args
        self._arns = Arns(args.partition, args.region, args.account_id)
        self.preview_role = self._preview_role(f"{name}-preview")
        self.deploy_role = self._deploy_role(f"{name}-deploy")
        self.release_role = self._release_role(f"{name}-release") if args.kind == "shared" else None
        outputs = {"previewRoleArn": self.preview_role.arn, "deployRoleArn": self.deploy_role.arn}
        if self.release_role is not None:
            outputs["releaseRoleArn"] = self.release_role.arn
        self.register_outputs(outputs)

    def _preview_role(self, name: str) -> aws.iam.Role:
        a = self._args
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            name,
            name=a.naming.ci_role("preview"),
            assume_role_policy=github_trust(a.oidc_provider_arn, f"repo:{a.repository}:pull_request"),
            max_session_duration=PREVIEW_SESSION_SECONDS,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(name, role=role.name, policy_arn=self._arns.managed_policy(READ_ONLY_POLICY),
                                     opts=child)
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
        return self._environment_role(name, "deploy", self._args.environment, DEPLOY_SESSION_SECONDS,
                                      self._deploy_permissions())

    def _release_role(self, name: str) -> aws.iam.Role:
        """The automatic loop's role: the release tool's calls on the shared stack, nothing of `pulumi up`."""
        return self._environment_role(name, "release", f"{self._args.environment}{RELEASE_ENVIRONMENT_SUFFIX}",
                                      RELEASE_SESSION_SECONDS, self._release_tool_shared_permissions())

    def _environment_role(self, name: str, kind: str, environment: str, session_seconds: int,
                          statements: list[dict]) -> aws.iam.Role:
        """A role only jobs of one GitHub environment can assume, with one inline policy."""
        a = self._args
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            name,
            name=a.naming.ci_role(kind),
            assume_role_policy=github_trust(a.oidc_provider_arn, f"repo:{a.repository}:environment:{environment}"),
            max_session_duration=session_seconds,
            opts=child,
        )
        aws.iam.RolePolicy(name, role=role.id, policy=policy_document(statements), opts=child)
        return role

    def _deploy_permissions(self) -> list[dict]:
        """The API calls `pulumi up` makes for this kind of stack, on resources this stack names or tags only.

        Names follow `<project>-<stack>-*`; KMS key ids are random, so keys are scoped by the `pulumi-stack`
        tag that the provider's default tags put on them (and must be present when a key is created). The
        actions are exactly what the provider and the services call for the resource types this kind of stack
        declares; `tests/infra/test_iam_deploy.py` holds them against a cited table, both ways.
        """
        a = self._args
        scope, stack = a.naming.wildcard, a.naming.stack
        stack_keys = {"StringEquals": {"aws:ResourceTag/pulumi-stack": stack}}
        new_keys = {"StringEquals": {"aws:RequestTag/pulumi-stack": stack}}
        role_arns = self._arns.role(scope)
        statements = [
            # CreateKey has no resource-level permissions; tagging on create is authorized on the account's keys.
            allow("CreateKeysTaggedForThisStack", ["kms:CreateKey"], ["*"], Condition=new_keys),
            allow("TagKeysOnCreate", ["kms:TagResource"], [self._arn("kms", "key/*")], Condition=new_keys),
            allow("ManageKeysTaggedForThisStack", _KMS_KEY_ACTIONS, [self._arn("kms", "key/*")], Condition=stack_keys),
            # An alias is created, moved and deleted with rights on the alias and on the key it points to; an alias
            # carries no tags, so the key side cannot be narrowed by the stack tag in the same statement.
            allow("ManageStackKeyAlias", _KMS_ALIAS_ACTIONS,
                  [self._arn("kms", a.naming.kms_alias()), self._arn("kms", "key/*")]),
            # The provider reads an alias by listing them; ListAliases has no resource-level permissions.
            allow("ReadKeyAliases", ["kms:ListAliases"], ["*"]),
            allow("ManageStackTopics", _SNS_ACTIONS, [self._arn("sns", scope)]),
            allow("ManageOwnRoles", _IAM_ROLE_ACTIONS, [role_arns]),
            allow("PassOwnRolesToServices", ["iam:PassRole"], [role_arns],
                  Condition={"StringEquals": {"iam:PassedToService": _PASSED_TO[a.kind]}}),
        ]
        if a.manages_oidc_provider:
            statements.append(
                allow("ManageGitHubOidcProvider", _OIDC_ACTIONS,
                      [self._arns.oidc_provider(GITHUB_OIDC_HOST)])
            )
        if a.manages_eks_cluster:
            statements += self._eks_permissions()
        return statements + (self._shared_permissions() if a.kind == "shared" else self._environment_permissions())

    def _eks_permissions(self) -> list[dict]:
        """The EKS cluster of the pull path: cluster, node group and access entries under this stack's names; the
        cluster's OIDC provider (an EKS issuer in this region); its roles passed to EKS only."""
        a = self._args
        cluster = a.naming.eks_cluster()
        return [
            # CreateCluster has no resource-level permissions; the cluster must carry this stack's tag.
            allow("CreateClustersTaggedForThisStack", ["eks:CreateCluster"], ["*"],
                  Condition={"StringEquals": {"aws:RequestTag/pulumi-stack": a.naming.stack}}),
            allow("ManageStackCluster", _EKS_ACTIONS,
                  [self._arn("eks", f"cluster/{cluster}"), self._arn("eks", f"nodegroup/{cluster}/*"),
                   self._arn("eks", f"access-entry/{cluster}/*"), self._arn("eks", f"addon/{cluster}/*")]),
            allow("PassOwnRolesToEks", ["iam:PassRole"],
                  [self._arns.role(a.naming.wildcard)],
                  Condition={"StringEquals": {"iam:PassedToService": "eks.amazonaws.com"}}),
            allow("ManageClusterOidcProvider", _OIDC_ACTIONS,
                  [self._arns.oidc_provider(f"oidc.eks.{a.region}.{a.dns_suffix}/id/*")]),
        ]

    def _shared_permissions(self) -> list[dict]:
        """Buckets, registries, pipelines and schedules: what only the shared stack declares."""
        scope = self._args.naming.wildcard
        return [
            allow("ManageStackBuckets", _S3_BUCKET_ACTIONS, [self._arns.bucket(scope)]),
            allow("ManageStackRepositories", _ECR_ACTIONS, [self._arn("ecr", f"repository/{scope}")]),
            # ECR creates a grant on the stack key, as the caller, for a repository encrypted with it.
            allow("LetEcrUseStackKeys", ["kms:CreateGrant", "kms:RetireGrant"], [self._arn("kms", "key/*")],
                  Condition={"StringEquals": {"aws:ResourceTag/pulumi-stack": self._args.naming.stack}}),
            allow("ManageStackRules", _EVENTS_ACTIONS, [self._arn("events", f"rule/{scope}")]),
            allow("ManageStackRegistry", _SAGEMAKER_SHARED_ACTIONS,
                  [self._arn("sagemaker", f"{kind}/{scope}") for kind in ("pipeline", "model-package-group")]),
            allow("ManageStackTrackingServer", _SAGEMAKER_MLFLOW_ACTIONS,
                  [self._arn("sagemaker", f"mlflow-tracking-server/{scope}")]),
            allow("ManageStackRetrainGuards", _LAMBDA_ACTIONS, [self._arn("lambda", f"function:{scope}")]),
            allow("ManageStackGuardLogs", _LOG_GROUP_ACTIONS,
                  [self._arn("logs", f"log-group:/aws/lambda/{scope}")]),
            # The provider finds a log group by listing them by name prefix.
            allow("FindLogGroups", ["logs:DescribeLogGroups"], ["*"]),
        ]

    def _release_tool_shared_permissions(self) -> list[dict]:
        """What `infra.release start-training`, `approve` and `promote` call with the release role (the
        `shared-release` GitHub environment): run the stack's pipelines, pin the raw data version a run reads (copy
        it to the run's prefix), read the evaluation reports, approve or reject the stack's packages. Held against
        the tool's calls in `tests/infra/test_iam_release.py`."""
        a = self._args
        scope = a.naming.wildcard
        bucket = pulumi.Output.from_input(a.account_id).apply(
            lambda account: {role: a.naming.bucket(role, account) for role in ("data", "artifacts")})
        return [
            allow("ReleaseRunsStackPipelines",
                  ["sagemaker:StartPipelineExecution", "sagemaker:DescribePipelineExecution",
                   "sagemaker:ListPipelineExecutionSteps"],
                  [self._arn("sagemaker", f"pipeline/{scope}"),
                   self._arn("sagemaker", f"pipeline/{scope}/execution/*")]),
            # ListModelPackages has no resource-level permissions; AWS documents `*` as its resource.
            allow("ReleaseListsPackages", ["sagemaker:ListModelPackages"], ["*"]),
            allow("ReleaseJudgesStackPackages", ["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"],
                  [self._arns.model_package(scope)]),
            allow("ReleaseReadsReports", ["s3:GetObject"],
                  [bucket.apply(lambda b: self._arns.objects(b["artifacts"], "*"))]),
            # `start-training` pins the run's raw data (infra.release.snapshot): it lists the raw prefix's versions
            # and copies one version to the run's prefix. Listing a versioned bucket is s3:ListBucketVersions, which
            # "also supports the s3:prefix condition key"; reading a specific version is s3:GetObjectVersion (S3 User
            # Guide, amazon-s3-policy-keys.html, bucket example 2 and object example 4). CopyObject needs s3:GetObject
            # to read the source and s3:PutObject to write the copy (API_CopyObject.html, "Permissions"). The copy
            # sends TaggingDirective=REPLACE without tags, so no object-tagging action is needed or granted.
            allow("ReleaseListsRawDataVersions", ["s3:ListBucketVersions"],
                  [bucket.apply(lambda b: self._arns.bucket(b["data"]))],
                  Condition={"StringLike": {"s3:prefix": [bucket_layout.raw_data_prefix("*")]}}),
            allow("ReleaseReadsRawDataVersions", ["s3:GetObject", "s3:GetObjectVersion"],
                  [bucket.apply(lambda b: self._arns.objects(b["data"], f"{bucket_layout.raw_data_prefix('*')}*"))]),
            allow("ReleaseWritesRunInputs", ["s3:PutObject"],
                  [bucket.apply(lambda b: self._arns.objects(
                      b["data"], f"{bucket_layout.run_raw_data_prefix('*', '*')}*"))]),
            # `approve` publishes an approved version's data baseline for the monitors (infra.release.baselines).
            allow("ReleasePublishesBaselines", ["s3:PutObject"],
                  [bucket.apply(lambda b: self._arns.objects(b["artifacts"], "*/baselines/*"))]),
            # `retrain-status` reads the pipelines' executions and the retraining guards' decisions.
            allow("ReleaseReadsRetraining", ["sagemaker:ListPipelineExecutions"],
                  [self._arn("sagemaker", f"pipeline/{scope}")]),
            allow("ReleaseReadsGuardDecisions", ["logs:FilterLogEvents"],
                  [self._arn("logs", f"log-group:/aws/lambda/{scope}")]),
            # `log-experiment` logs finished candidates to the MLflow tracking server (infra.release.experiments).
            allow("ReleaseLogsExperiments", list(MLFLOW_LOGGING_ACTIONS),
                  [self._arn("sagemaker", f"mlflow-tracking-server/{scope}")]),
            # Reports, raw data and their copies are SSE-KMS with the stack key: S3 decrypts (reports, the copied
            # version) and encrypts (baselines, the run's copy) with it as the caller.
            allow("ReleaseDecryptsReportsThroughS3", ["kms:Decrypt", "kms:GenerateDataKey"],
                  [self._arn("kms", "key/*")],
                  Condition={"StringEquals": {"aws:ResourceTag/pulumi-stack": a.naming.stack},
                             "StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}}),
        ]

    def _environment_permissions(self) -> list[dict]:
        """Serving, alarms, dashboards and scaling: what only environment stacks declare."""
        a = self._args
        scope, prefix = a.naming.wildcard, a.naming.prefix
        endpoints = self._arn("sagemaker", f"endpoint/{scope}")
        return [
            allow("ManageStackServing", _SAGEMAKER_SERVING_ACTIONS,
                  [self._arn("sagemaker", f"{kind}/{scope}") for kind in ("model", "endpoint-config", "endpoint")]),
            # SageMaker creates a grant on the stack key for the endpoint's volumes, as the caller.
            allow("LetSageMakerUseStackKeys", ["kms:CreateGrant"], [self._arn("kms", "key/*")],
                  Condition={"StringEquals": {"aws:ResourceTag/pulumi-stack": a.naming.stack},
                             "Bool": {"kms:GrantIsForAWSResource": "true"}}),
            # Serving pins a version of a package registered in the shared stack, possibly in another account.
            allow("ReadRegisteredPackages", ["sagemaker:DescribeModelPackage"],
                  [self._arns.in_account("*").sagemaker(f"model-package/{a.naming.project}-*")]),
            allow("ManageStackAlarms", _ALARM_ACTIONS, [self._arn("cloudwatch", f"alarm:{scope}")]),
            allow("ManageStackMonitoring", _SAGEMAKER_MONITORING_ACTIONS,
                  [self._arn("sagemaker", f"{kind}/{scope}")
                   for kind in ("data-quality-job-definition", "monitoring-schedule")]),
            # Each monitored model's drift alarm is forwarded to the shared stack's retraining guard.
            allow("ManageStackRules", _EVENTS_ACTIONS, [self._arn("events", f"rule/{scope}")]),
            allow("ManageStackDashboards", _DASHBOARD_ACTIONS,
                  [self._arn("cloudwatch", f"dashboard/{scope}", region_part="")]),
            allow("ManageEndpointScaling", _AUTOSCALING_ACTIONS, [self._arn("application-autoscaling",
                                                                            "scalable-target/*")]),
            # These two describe calls have no resource-level permissions; AWS documents `*` as their resource.
            allow("DescribeEndpointScaling", ["application-autoscaling:DescribeScalableTargets",
                                              "application-autoscaling:DescribeScalingPolicies"], ["*"]),
            # Application Auto Scaling checks the caller's own rights on the endpoint it scales ...
            allow("ScaleStackEndpoints", ["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"],
                  [endpoints]),
            # ... and target tracking creates its alarms (`TargetTracking-endpoint/<endpoint>/...`) as the caller.
            allow("ManageTargetTrackingAlarms", ["cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms",
                                                 "cloudwatch:PutMetricAlarm"],
                  [self._arn("cloudwatch", f"alarm:TargetTracking-endpoint/{prefix}-*")]),
            # `infra.release drift` reads the monitors' metrics; these two calls have no resource-level permissions.
            allow("ReleaseReadsDriftMetrics", ["cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"], ["*"]),
            # `infra.release smoke-test` invokes the stack's endpoints after each deploy (verify only describes).
            allow("ReleaseSmokeTestsStackEndpoints", ["sagemaker:InvokeEndpoint"], [endpoints]),
            allow("CreateScalingServiceRole", ["iam:CreateServiceLinkedRole"],
                  [self._arns.service_linked_roles(_SCALING_SERVICE)],
                  Condition={"StringEquals": {"iam:AWSServiceName": _SCALING_SERVICE}}),
        ]

    def _arn(self, service: str, resource: str, *, region_part: str | None = None) -> pulumi.Output[str]:
        return self._arns.arn(service, resource, region=region_part)


_SCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"
_PASSED_TO = {
    # The shared stack passes pipeline roles to SageMaker and schedule roles to EventBridge; an environment
    # passes serving roles to SageMaker only.
    "shared": ["events.amazonaws.com", "lambda.amazonaws.com", "sagemaker.amazonaws.com"],
    "environment": ["events.amazonaws.com", "sagemaker.amazonaws.com"],
}

# What `pulumi up` calls, per resource family of this program (create, read, update, delete, tag). Every action
# is listed by name, no wildcards, so that a test can show each one is needed.
_S3_BUCKET_ACTIONS = [
    "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:PutBucketTagging", "s3:GetBucketTagging",
    "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketAcl", "s3:GetBucketCORS",
    "s3:GetBucketWebsite", "s3:GetBucketVersioning", "s3:PutBucketVersioning", "s3:GetAccelerateConfiguration",
    "s3:GetBucketRequestPayment", "s3:GetBucketLogging", "s3:GetLifecycleConfiguration",
    "s3:PutLifecycleConfiguration", "s3:GetReplicationConfiguration", "s3:GetEncryptionConfiguration",
    "s3:PutEncryptionConfiguration", "s3:GetBucketObjectLockConfiguration", "s3:GetBucketOwnershipControls",
    "s3:PutBucketOwnershipControls", "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock",
]
_ECR_ACTIONS = [
    "ecr:CreateRepository", "ecr:DeleteRepository", "ecr:DescribeRepositories", "ecr:PutImageScanningConfiguration",
    "ecr:PutImageTagMutability", "ecr:PutLifecyclePolicy", "ecr:GetLifecyclePolicy", "ecr:DeleteLifecyclePolicy",
    "ecr:SetRepositoryPolicy", "ecr:GetRepositoryPolicy", "ecr:DeleteRepositoryPolicy", "ecr:ListTagsForResource",
    "ecr:TagResource", "ecr:UntagResource",
]
_EVENTS_ACTIONS = [
    "events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:PutTargets", "events:RemoveTargets",
    "events:ListTargetsByRule", "events:ListTagsForResource", "events:TagResource", "events:UntagResource",
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
_SAGEMAKER_TAG_ACTIONS = list(serving.TAG_ACTIONS)
_SAGEMAKER_SHARED_ACTIONS = [
    "sagemaker:CreatePipeline", "sagemaker:DescribePipeline", "sagemaker:UpdatePipeline", "sagemaker:DeletePipeline",
    "sagemaker:CreateModelPackageGroup", "sagemaker:DescribeModelPackageGroup", "sagemaker:DeleteModelPackageGroup",
    "sagemaker:PutModelPackageGroupPolicy", "sagemaker:GetModelPackageGroupPolicy",
    "sagemaker:DeleteModelPackageGroupPolicy", *_SAGEMAKER_TAG_ACTIONS,
]
_SAGEMAKER_MONITORING_ACTIONS = [
    "sagemaker:CreateDataQualityJobDefinition", "sagemaker:DescribeDataQualityJobDefinition",
    "sagemaker:DeleteDataQualityJobDefinition", "sagemaker:CreateMonitoringSchedule",
    "sagemaker:DescribeMonitoringSchedule", "sagemaker:UpdateMonitoringSchedule", "sagemaker:DeleteMonitoringSchedule",
    *_SAGEMAKER_TAG_ACTIONS,
]
_SAGEMAKER_MLFLOW_ACTIONS = [
    "sagemaker:CreateMlflowTrackingServer", "sagemaker:DescribeMlflowTrackingServer",
    "sagemaker:UpdateMlflowTrackingServer", "sagemaker:DeleteMlflowTrackingServer", *_SAGEMAKER_TAG_ACTIONS,
]
_LAMBDA_ACTIONS = [
    "lambda:CreateFunction", "lambda:GetFunction", "lambda:ListVersionsByFunction",
    "lambda:GetFunctionCodeSigningConfig", "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency",
    "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:DeleteFunction", "lambda:TagResource",
    "lambda:UntagResource", "lambda:AddPermission", "lambda:GetPolicy", "lambda:RemovePermission",
]
_LOG_GROUP_ACTIONS = [
    "logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:DeleteLogGroup",
    "logs:ListTagsForResource", "logs:TagResource", "logs:UntagResource",
]
# The same calls as the ACK controller's on the pull path (infra.core.ack_controller): one list, in infra.core.serving.
_SAGEMAKER_SERVING_ACTIONS = [*serving.MODEL_ACTIONS, *serving.ENDPOINT_CONFIG_ACTIONS, *serving.ENDPOINT_ACTIONS,
                              *_SAGEMAKER_TAG_ACTIONS]
_KMS_KEY_ACTIONS = [
    "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus", "kms:EnableKeyRotation",
    "kms:UpdateKeyDescription", "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
]
_KMS_ALIAS_ACTIONS = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
_AUTOSCALING_ACTIONS = [
    "application-autoscaling:RegisterScalableTarget", "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:PutScalingPolicy", "application-autoscaling:DeleteScalingPolicy",
    "application-autoscaling:ListTagsForResource", "application-autoscaling:TagResource",
    "application-autoscaling:UntagResource",
]
_IAM_ROLE_ACTIONS = [
    "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy",
    "iam:TagRole", "iam:UntagRole", "iam:ListRolePolicies", "iam:GetRolePolicy", "iam:PutRolePolicy",
    "iam:DeleteRolePolicy", "iam:ListAttachedRolePolicies", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
    "iam:ListInstanceProfilesForRole",
]
_EKS_ACTIONS = [
    "eks:DescribeCluster", "eks:DeleteCluster", "eks:UpdateClusterConfig",
    "eks:UpdateClusterVersion", "eks:CreateNodegroup", "eks:DescribeNodegroup", "eks:DeleteNodegroup",
    "eks:UpdateNodegroupConfig", "eks:UpdateNodegroupVersion", "eks:CreateAccessEntry", "eks:DescribeAccessEntry",
    "eks:UpdateAccessEntry", "eks:DeleteAccessEntry", "eks:AssociateAccessPolicy", "eks:DisassociateAccessPolicy",
    "eks:ListAssociatedAccessPolicies", "eks:TagResource", "eks:UntagResource",
    "eks:CreateAddon", "eks:DescribeAddon", "eks:UpdateAddon", "eks:DeleteAddon", "eks:DescribeUpdate",
]
_OIDC_ACTIONS = [
    "iam:CreateOpenIDConnectProvider", "iam:GetOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider", "iam:UntagOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint",
    "iam:AddClientIDToOpenIDConnectProvider", "iam:RemoveClientIDFromOpenIDConnectProvider",
]
