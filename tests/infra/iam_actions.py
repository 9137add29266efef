"""What AWS checks when the provider manages each resource type this program declares: the reference the IAM
tests hold the roles against. Pure data, one entry per type, each citing where the calls come from.

`DEPLOY_NEEDS`: per Pulumi resource type, the IAM actions that `pulumi up` / `pulumi refresh` / `pulumi destroy`
make the caller need to create, read, update, delete and tag it. pulumi-aws v7 bridges the Terraform AWS
provider (v6), so its resource code is the reference: `source` names the file under
https://github.com/hashicorp/terraform-provider-aws/tree/main/. Some permissions are checked by a service
on the caller's behalf and appear in no provider code (tag-on-create, PassRole, KMS grants, Application Auto
Scaling's checks on the target); those cite the AWS page that documents them (`also`). The calls are those of
the arguments this program sets: an argument it never sets (a key's `is_enabled`, a role's description) adds
calls that the roles, being least-privilege, do not get until the program sets it.

Each `Need` says on which ARN the action is evaluated (`on`) and which request context AWS supplies
(`context`), so that conditions in the policies are evaluated as AWS would:
- `on`: "self" (the resource's own ARN), a related resource the resource's inputs name ("bucket",
  "repository", "role", "key", "rule", "topic", "package-group", "package", "endpoint"), one of the
  service-made names ("target-tracking-alarm", "scaling-service-role"), or "*" (an action without
  resource-level permissions).
- `context`: "request-tags" (aws:RequestTag/* of the tags the resource is created with), "resource-tags"
  (aws:ResourceTag/* of the resource named by `on`), "passed-to:<service>" (iam:PassedToService),
  "aws-resource-grant" (kms:GrantIsForAWSResource, a grant a service creates), "service-name:<service>"
  (iam:AWSServiceName). Every request carries aws:RequestedRegion.

`PIPELINE_JOB_NEEDS` and `SERVING_NEEDS` hold what SageMaker does as the execution roles.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Need:
    """Actions AWS evaluates against one ARN, in one request context."""

    actions: tuple[str, ...]
    on: str = "self"
    context: tuple[str, ...] = ()


@dataclass(frozen=True)
class TypeNeeds:
    """Everything the caller needs for one resource type, and where that is written down."""

    source: str
    needs: tuple[Need, ...]
    also: tuple[str, ...] = field(default_factory=tuple)


def _crud(*actions: str, context: tuple[str, ...] = ()) -> Need:
    return Need(tuple(actions), "self", context)


_TAG_ON_CREATE = ("request-tags",)
_AAS_DOC = ("https://docs.aws.amazon.com/autoscaling/application/userguide/security_iam_id-based-policy-examples.html"
            "#application-auto-scaling-additional-permissions")
_PASS_ROLE_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html"
_KMS_CREATE_DOC = "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html (Tags need kms:TagResource)"
_ECR_KMS_DOC = ("https://docs.aws.amazon.com/AmazonECR/latest/userguide/encryption-at-rest.html "
                "(KMS-encrypted repository)")
_SM_KMS_DOC = ("https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html "
               "(KmsKeyId: the key must let the caller of CreateEndpoint/UpdateEndpoint use it)")
_EKS_KMS_DOC = ("https://docs.aws.amazon.com/eks/latest/userguide/enable-kms.html (the creating principal needs "
                "kms:CreateGrant and kms:DescribeKey on the key)")
_SM_TAG_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/api-permissions-reference.html (Tags need AddTags)"

DEPLOY_NEEDS: dict[str, TypeNeeds] = {
    # -- S3 ------------------------------------------------------------------------------------------------------
    "aws:s3/bucket:Bucket": TypeNeeds(
        "internal/service/s3/bucket.go",
        (
            _crud("s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketTagging",
                  # Read: HeadBucket, then every sub-configuration the (deprecated) inline arguments mirror.
                  "s3:ListBucket", "s3:GetBucketPolicy", "s3:GetBucketAcl", "s3:GetBucketCORS",
                  "s3:GetBucketWebsite", "s3:GetBucketVersioning", "s3:GetAccelerateConfiguration",
                  "s3:GetBucketRequestPayment", "s3:GetBucketLogging", "s3:GetLifecycleConfiguration",
                  "s3:GetReplicationConfiguration", "s3:GetEncryptionConfiguration",
                  "s3:GetBucketObjectLockConfiguration", "s3:GetBucketTagging"),
        ),
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": TypeNeeds(
        "internal/service/s3/bucket_lifecycle_configuration.go",
        # DeleteBucketLifecycle is authorized as s3:PutLifecycleConfiguration.
        (Need(("s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration"), "bucket"),),
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": TypeNeeds(
        "internal/service/s3/bucket_ownership_controls.go",
        (Need(("s3:PutBucketOwnershipControls", "s3:GetBucketOwnershipControls"), "bucket"),),
    ),
    "aws:s3/bucketPolicy:BucketPolicy": TypeNeeds(
        "internal/service/s3/bucket_policy.go",
        (Need(("s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"), "bucket"),),
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": TypeNeeds(
        "internal/service/s3/bucket_public_access_block.go",
        # Put/Get/DeletePublicAccessBlock are authorized as s3:Put/GetBucketPublicAccessBlock.
        (Need(("s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock"), "bucket"),),
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": TypeNeeds(
        "internal/service/s3/bucket_server_side_encryption_configuration.go",
        (Need(("s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration"), "bucket"),),
    ),
    "aws:s3/bucketVersioning:BucketVersioning": TypeNeeds(
        "internal/service/s3/bucket_versioning.go",
        # Delete of an enabled configuration suspends versioning (PutBucketVersioning).
        (Need(("s3:PutBucketVersioning", "s3:GetBucketVersioning"), "bucket"),),
    ),
    # -- ECR -----------------------------------------------------------------------------------------------------
    "aws:ecr/repository:Repository": TypeNeeds(
        "internal/service/ecr/repository.go",
        (
            _crud("ecr:CreateRepository", "ecr:DescribeRepositories", "ecr:DeleteRepository",
                  "ecr:PutImageScanningConfiguration", "ecr:PutImageTagMutability", "ecr:ListTagsForResource",
                  "ecr:TagResource", "ecr:UntagResource"),
            # A repository encrypted with a customer managed key: ECR creates a grant as the caller.
            Need(("kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant"), "key", ("resource-tags",)),
        ),
        also=(_ECR_KMS_DOC,),
    ),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": TypeNeeds(
        "internal/service/ecr/lifecycle_policy.go",
        (Need(("ecr:PutLifecyclePolicy", "ecr:GetLifecyclePolicy", "ecr:DeleteLifecyclePolicy"), "repository"),),
    ),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": TypeNeeds(
        "internal/service/ecr/repository_policy.go",
        (Need(("ecr:SetRepositoryPolicy", "ecr:GetRepositoryPolicy", "ecr:DeleteRepositoryPolicy"),
              "repository"),),
    ),
    # -- KMS -----------------------------------------------------------------------------------------------------
    "aws:kms/key:Key": TypeNeeds(
        "internal/service/kms/key.go",
        (
            # The key does not exist yet: CreateKey has no resource-level permissions, and tagging on create is
            # authorized on the account's keys of the region.
            Need(("kms:CreateKey",), "*", _TAG_ON_CREATE),
            Need(("kms:TagResource",), "new-key", _TAG_ON_CREATE),
            _crud("kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus",
                  "kms:EnableKeyRotation", "kms:UpdateKeyDescription", "kms:ListResourceTags", "kms:TagResource",
                  "kms:UntagResource", "kms:ScheduleKeyDeletion", context=("resource-tags",)),
        ),
        also=(_KMS_CREATE_DOC,),
    ),
    "aws:kms/alias:Alias": TypeNeeds(
        "internal/service/kms/alias.go",
        (
            # CreateAlias/UpdateAlias/DeleteAlias are authorized on the alias AND on the key it points to.
            _crud("kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"),
            Need(("kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"), "key"),
            # The provider reads an alias by paging ListAliases (FindAliasByName); it has no resource scope.
            Need(("kms:ListAliases",), "*"),
        ),
    ),
    # -- IAM -----------------------------------------------------------------------------------------------------
    "aws:iam/role:Role": TypeNeeds(
        "internal/service/iam/role.go",
        (
            _crud("iam:CreateRole", "iam:TagRole", "iam:GetRole", "iam:ListRolePolicies", "iam:GetRolePolicy",
                  "iam:ListAttachedRolePolicies", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole",
                  "iam:UntagRole", "iam:ListInstanceProfilesForRole", "iam:DeleteRole",
                  context=_TAG_ON_CREATE),
        ),
    ),
    "aws:iam/rolePolicy:RolePolicy": TypeNeeds(
        "internal/service/iam/role_policy.go",
        (Need(("iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"), "role"),),
    ),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": TypeNeeds(
        "internal/service/iam/role_policy_attachment.go",
        (Need(("iam:AttachRolePolicy", "iam:ListAttachedRolePolicies", "iam:DetachRolePolicy"), "role"),),
    ),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": TypeNeeds(
        "internal/service/iam/openid_connect_provider.go",
        (
            _crud("iam:CreateOpenIDConnectProvider", "iam:GetOpenIDConnectProvider",
                  "iam:DeleteOpenIDConnectProvider", "iam:TagOpenIDConnectProvider",
                  "iam:UntagOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint",
                  "iam:AddClientIDToOpenIDConnectProvider", "iam:RemoveClientIDFromOpenIDConnectProvider",
                  context=_TAG_ON_CREATE),
        ),
    ),
    # -- SNS -----------------------------------------------------------------------------------------------------
    "aws:sns/topic:Topic": TypeNeeds(
        "internal/service/sns/topic.go",
        (
            _crud("sns:CreateTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:DeleteTopic",
                  "sns:ListTagsForResource", "sns:TagResource", "sns:UntagResource", context=_TAG_ON_CREATE),
        ),
    ),
    "aws:sns/topicPolicy:TopicPolicy": TypeNeeds(
        "internal/service/sns/topic_policy.go",
        # Delete writes the default policy back (SetTopicAttributes).
        (Need(("sns:SetTopicAttributes", "sns:GetTopicAttributes"), "topic"),),
    ),
    # -- EventBridge ---------------------------------------------------------------------------------------------
    "aws:cloudwatch/eventRule:EventRule": TypeNeeds(
        "internal/service/events/rule.go",
        (
            # The rule's state travels in PutRule; delete retries while targets are still being removed.
            _crud("events:PutRule", "events:DescribeRule", "events:DeleteRule", "events:ListTagsForResource",
                  "events:TagResource", "events:UntagResource", context=_TAG_ON_CREATE),
        ),
    ),
    "aws:cloudwatch/eventTarget:EventTarget": TypeNeeds(
        "internal/service/events/target.go",
        (
            Need(("events:PutTargets", "events:ListTargetsByRule", "events:RemoveTargets"), "rule"),
            # A target that runs as a role (the retraining schedule) passes it to EventBridge.
            Need(("iam:PassRole",), "role", ("passed-to:events.amazonaws.com",)),
        ),
        also=(_PASS_ROLE_DOC,),
    ),
    # -- CloudWatch ----------------------------------------------------------------------------------------------
    "aws:cloudwatch/metricAlarm:MetricAlarm": TypeNeeds(
        "internal/service/cloudwatch/metric_alarm.go",
        (
            _crud("cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms",
                  "cloudwatch:ListTagsForResource", "cloudwatch:TagResource", "cloudwatch:UntagResource",
                  context=_TAG_ON_CREATE),
        ),
    ),
    "aws:cloudwatch/dashboard:Dashboard": TypeNeeds(
        "internal/service/cloudwatch/dashboard.go",
        (_crud("cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"),),
    ),
    # -- SageMaker -----------------------------------------------------------------------------------------------
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": TypeNeeds(
        "internal/service/sagemaker/model_package_group.go",
        (
            _crud("sagemaker:CreateModelPackageGroup", "sagemaker:DescribeModelPackageGroup",
                  "sagemaker:DeleteModelPackageGroup", "sagemaker:ListTags", "sagemaker:AddTags",
                  "sagemaker:DeleteTags", context=_TAG_ON_CREATE),
        ),
        also=(_SM_TAG_DOC,),
    ),
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": TypeNeeds(
        "internal/service/sagemaker/model_package_group_policy.go",
        (Need(("sagemaker:PutModelPackageGroupPolicy", "sagemaker:GetModelPackageGroupPolicy",
               "sagemaker:DeleteModelPackageGroupPolicy"), "package-group"),),
    ),
    "aws:sagemaker/pipeline:Pipeline": TypeNeeds(
        "internal/service/sagemaker/pipeline.go",
        (
            _crud("sagemaker:CreatePipeline", "sagemaker:DescribePipeline", "sagemaker:UpdatePipeline",
                  "sagemaker:DeletePipeline", "sagemaker:ListTags", "sagemaker:AddTags", "sagemaker:DeleteTags",
                  context=_TAG_ON_CREATE),
            Need(("iam:PassRole",), "role", ("passed-to:sagemaker.amazonaws.com",)),
        ),
        also=(_PASS_ROLE_DOC, _SM_TAG_DOC),
    ),
    "aws:sagemaker/model:Model": TypeNeeds(
        "internal/service/sagemaker/model.go",
        (
            _crud("sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:DeleteModel",
                  "sagemaker:ListTags", "sagemaker:AddTags", "sagemaker:DeleteTags", context=_TAG_ON_CREATE),
            Need(("iam:PassRole",), "role", ("passed-to:sagemaker.amazonaws.com",)),
            # A container that names a model package: SageMaker reads the package as the caller.
            Need(("sagemaker:DescribeModelPackage",), "package"),
        ),
        also=(_PASS_ROLE_DOC, _SM_TAG_DOC),
    ),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": TypeNeeds(
        "internal/service/sagemaker/endpoint_configuration.go",
        (
            _crud("sagemaker:CreateEndpointConfig", "sagemaker:DescribeEndpointConfig",
                  "sagemaker:DeleteEndpointConfig", "sagemaker:ListTags", "sagemaker:AddTags",
                  "sagemaker:DeleteTags", context=_TAG_ON_CREATE),
        ),
        also=(_SM_TAG_DOC,),
    ),
    "aws:sagemaker/endpoint:Endpoint": TypeNeeds(
        "internal/service/sagemaker/endpoint.go",
        (
            _crud("sagemaker:CreateEndpoint", "sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpoint",
                  "sagemaker:DeleteEndpoint", "sagemaker:ListTags", "sagemaker:AddTags", "sagemaker:DeleteTags",
                  context=_TAG_ON_CREATE),
            # The endpoint configuration's volume key: SageMaker creates a grant for the instances as the caller.
            Need(("kms:CreateGrant", "kms:DescribeKey"), "key", ("resource-tags", "aws-resource-grant")),
        ),
        also=(_SM_KMS_DOC, _SM_TAG_DOC),
    ),
    # -- Monitoring and experiments (docs/monitoring.md) -----------------------------------------------------------
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": TypeNeeds(
        "internal/service/sagemaker/data_quality_job_definition.go",
        (
            # Updates are tags only; the definition's role is passed to SageMaker, which runs the jobs as it.
            _crud("sagemaker:CreateDataQualityJobDefinition", "sagemaker:DescribeDataQualityJobDefinition",
                  "sagemaker:DeleteDataQualityJobDefinition", "sagemaker:ListTags", "sagemaker:AddTags",
                  "sagemaker:DeleteTags", context=_TAG_ON_CREATE),
            Need(("iam:PassRole",), "role", ("passed-to:sagemaker.amazonaws.com",)),
        ),
        also=(_PASS_ROLE_DOC, _SM_TAG_DOC),
    ),
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule": TypeNeeds(
        "internal/service/sagemaker/monitoring_schedule.go",
        (
            _crud("sagemaker:CreateMonitoringSchedule", "sagemaker:DescribeMonitoringSchedule",
                  "sagemaker:UpdateMonitoringSchedule", "sagemaker:DeleteMonitoringSchedule", "sagemaker:ListTags",
                  "sagemaker:AddTags", "sagemaker:DeleteTags", context=_TAG_ON_CREATE),
        ),
        also=(_SM_TAG_DOC,),
    ),
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": TypeNeeds(
        "internal/service/sagemaker/mlflow_tracking_server.go",
        (
            _crud("sagemaker:CreateMlflowTrackingServer", "sagemaker:DescribeMlflowTrackingServer",
                  "sagemaker:UpdateMlflowTrackingServer", "sagemaker:DeleteMlflowTrackingServer",
                  "sagemaker:ListTags", "sagemaker:AddTags", "sagemaker:DeleteTags", context=_TAG_ON_CREATE),
            Need(("iam:PassRole",), "role", ("passed-to:sagemaker.amazonaws.com",)),
        ),
        also=(_PASS_ROLE_DOC, _SM_TAG_DOC),
    ),
    "aws:lambda/function:Function": TypeNeeds(
        "internal/service/lambda/function.go",
        (
            # Read: GetFunction (configuration, concurrency, tags), the latest version, the code signing config.
            _crud("lambda:CreateFunction", "lambda:GetFunction", "lambda:ListVersionsByFunction",
                  "lambda:GetFunctionCodeSigningConfig", "lambda:PutFunctionConcurrency",
                  "lambda:DeleteFunctionConcurrency", "lambda:UpdateFunctionCode",
                  "lambda:UpdateFunctionConfiguration", "lambda:DeleteFunction", "lambda:TagResource",
                  "lambda:UntagResource", context=_TAG_ON_CREATE),
            Need(("iam:PassRole",), "role", ("passed-to:lambda.amazonaws.com",)),
        ),
        also=(_PASS_ROLE_DOC,),
    ),
    "aws:lambda/permission:Permission": TypeNeeds(
        "internal/service/lambda/permission.go",
        (Need(("lambda:AddPermission", "lambda:GetPolicy", "lambda:RemovePermission"), "function"),),
    ),
    "aws:cloudwatch/logGroup:LogGroup": TypeNeeds(
        "internal/service/logs/group.go",
        (
            _crud("logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
                  "logs:DeleteLogGroup", "logs:ListTagsForResource", "logs:TagResource", "logs:UntagResource",
                  context=_TAG_ON_CREATE),
            # The provider finds a group by paging DescribeLogGroups with its name as prefix.
            Need(("logs:DescribeLogGroups",), "*"),
        ),
    ),
    # -- Application Auto Scaling --------------------------------------------------------------------------------
    "aws:appautoscaling/target:Target": TypeNeeds(
        "internal/service/appautoscaling/target.go",
        (
            _crud("application-autoscaling:RegisterScalableTarget",
                  "application-autoscaling:DeregisterScalableTarget", "application-autoscaling:ListTagsForResource",
                  "application-autoscaling:TagResource", "application-autoscaling:UntagResource",
                  context=_TAG_ON_CREATE),
            Need(("application-autoscaling:DescribeScalableTargets",), "*"),
            # Application Auto Scaling checks the caller's own rights on the scaled endpoint ...
            Need(("sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"), "endpoint"),
            # ... and creates its service-linked role on first use.
            Need(("iam:CreateServiceLinkedRole",), "scaling-service-role",
                 ("service-name:sagemaker.application-autoscaling.amazonaws.com",)),
        ),
        also=(_AAS_DOC,),
    ),
    "aws:appautoscaling/policy:Policy": TypeNeeds(
        "internal/service/appautoscaling/policy.go",
        (
            Need(("application-autoscaling:PutScalingPolicy", "application-autoscaling:DeleteScalingPolicy"),
                 "self"),
            Need(("application-autoscaling:DescribeScalingPolicies",), "*"),
            # Target tracking creates and deletes its alarms with the caller's CloudWatch rights.
            Need(("cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"),
                 "target-tracking-alarm"),
        ),
        also=(_AAS_DOC,),
    ),
    # -- EKS (the pull path's cluster) ---------------------------------------------------------------------------
    "aws:eks/cluster:Cluster": TypeNeeds(
        "internal/service/eks/cluster.go",
        (
            # CreateCluster has no resource-level permissions (the cluster does not exist yet).
            Need(("eks:CreateCluster",), "*", _TAG_ON_CREATE),
            _crud("eks:DescribeCluster", "eks:DeleteCluster", "eks:UpdateClusterConfig", "eks:UpdateClusterVersion",
                  "eks:TagResource", "eks:UntagResource", context=_TAG_ON_CREATE),
            Need(("iam:PassRole",), "role", ("passed-to:eks.amazonaws.com",)),
            # Secrets encryption: EKS creates a grant on the environment key as the caller.
            Need(("kms:CreateGrant", "kms:DescribeKey"), "key", ("resource-tags", "aws-resource-grant")),
        ),
        also=(_PASS_ROLE_DOC, _EKS_KMS_DOC),
    ),
    "aws:eks/nodeGroup:NodeGroup": TypeNeeds(
        "internal/service/eks/node_group.go",
        (
            _crud("eks:CreateNodegroup", "eks:DescribeNodegroup", "eks:DeleteNodegroup", "eks:UpdateNodegroupConfig",
                  "eks:UpdateNodegroupVersion", "eks:TagResource", "eks:UntagResource", context=_TAG_ON_CREATE),
            Need(("iam:PassRole",), "role", ("passed-to:eks.amazonaws.com",)),
        ),
        also=(_PASS_ROLE_DOC,),
    ),
    "aws:eks/accessEntry:AccessEntry": TypeNeeds(
        "internal/service/eks/access_entry.go",
        (
            # Created on the cluster; read, changed and deleted on the entry.
            Need(("eks:CreateAccessEntry",), "cluster", _TAG_ON_CREATE),
            _crud("eks:DescribeAccessEntry", "eks:UpdateAccessEntry", "eks:DeleteAccessEntry", "eks:TagResource",
                  "eks:UntagResource"),
        ),
    ),
    "aws:eks/addon:Addon": TypeNeeds(
        "internal/service/eks/addon.go",
        (
            # Created on the cluster (tags in the request); read, waited for, updated and deleted on the add-on.
            Need(("eks:CreateAddon",), "cluster", _TAG_ON_CREATE),
            _crud("eks:DescribeAddon", "eks:UpdateAddon", "eks:DeleteAddon", "eks:TagResource", "eks:UntagResource"),
            # An update is waited for with DescribeUpdate(name=cluster, addonName=...).
            Need(("eks:DescribeUpdate",), "cluster"),
        ),
    ),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": TypeNeeds(
        "internal/service/eks/access_policy_association.go",
        (Need(("eks:AssociateAccessPolicy", "eks:ListAssociatedAccessPolicies", "eks:DisassociateAccessPolicy"),
              "access-entry"),),
    ),
}
"""Per declared resource type: what the deploy role must be allowed."""

NO_AWS_CALLS = frozenset({"pulumi:pulumi:Stack", "pulumi:pulumi:StackReference", "pulumi:providers:aws",
                          "pulumi:providers:random", "random:index/randomId:RandomId",
                          "random:index/randomPassword:RandomPassword", "pulumi:providers:kubernetes",
                          "kubernetes:core/v1:Namespace", "kubernetes:core/v1:Secret",
                          "kubernetes:helm.sh/v3:Release", "kubernetes:argoproj.io/v1alpha1:AppProject",
                          "kubernetes:argoproj.io/v1alpha1:ApplicationSet"})
"""Engine-only and local resources (the random provider computes locally). The AWS provider itself only calls
sts:GetCallerIdentity, which needs no permission. Kubernetes resources are calls to the cluster's API server,
authorized by Kubernetes RBAC (the deploy role's EKS access entry), not by IAM; the token `aws eks get-token`
makes is a presigned sts:GetCallerIdentity, which needs no permission; the charts are pulled anonymously."""


_SM_ROLES_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html"

PIPELINE_JOB_NEEDS: dict[str, TypeNeeds] = {
    # Keys are the step types of a SageMaker Pipeline definition; `on` names what the step's arguments name.
    "pipeline": TypeNeeds(
        _SM_ROLES_DOC + " (Pipelines: the pipeline role starts each step's job and passes itself to it)",
        (Need(("iam:PassRole",), "role", ("passed-to:sagemaker.amazonaws.com",)),),
    ),
    "Processing": TypeNeeds(
        _SM_ROLES_DOC + "#sagemaker-roles-createprocessingjob-perms",
        (
            Need(("sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob",
                  "sagemaker:StopProcessingJob", "sagemaker:AddTags"), "job"),
            Need(("s3:GetObject",), "input-object"),
            Need(("s3:ListBucket",), "input-bucket", ("s3-prefix",)),
            Need(("s3:PutObject",), "output-object"),
            Need(("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"), "key"),
            Need(("kms:CreateGrant",), "key", ("aws-resource-grant",)),
            Need(("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"), "image"),
            Need(("ecr:GetAuthorizationToken",), "*"),
            Need(("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
                 "log-group:ProcessingJobs"),
            Need(("cloudwatch:PutMetricData",), "*", ("metric-namespace",)),
        ),
    ),
    "Training": TypeNeeds(
        _SM_ROLES_DOC + "#sagemaker-roles-createtrainingjob-perms",
        (
            Need(("sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                  "sagemaker:AddTags"), "job"),
            Need(("s3:GetObject",), "input-object"),
            Need(("s3:ListBucket",), "input-bucket", ("s3-prefix",)),
            Need(("s3:PutObject",), "output-object"),
            Need(("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"), "key"),
            Need(("kms:CreateGrant",), "key", ("aws-resource-grant",)),
            Need(("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"), "image"),
            Need(("ecr:GetAuthorizationToken",), "*"),
            Need(("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
                 "log-group:TrainingJobs"),
            Need(("cloudwatch:PutMetricData",), "*", ("metric-namespace",)),
        ),
    ),
    "RegisterModel": TypeNeeds(
        "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackage.html "
        "(the package's container image is resolved to a digest when the package is created)",
        (
            Need(("sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage", "sagemaker:AddTags"),
                 "package"),
            Need(("sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackageGroup"), "package-group"),
            # Resolving the serving image's tag to its digest reads the image manifest, not its layers.
            Need(("ecr:BatchGetImage", "ecr:DescribeImages"), "image"),
            Need(("s3:GetObject",), "input-object"),
        ),
    ),
}
"""What the pipeline execution role does, per step type of the planned pipeline definition."""

SERVING_NEEDS = TypeNeeds(
    _SM_ROLES_DOC + "#sagemaker-roles-createmodel-perms",
    (
        Need(("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"), "image"),
        Need(("ecr:GetAuthorizationToken",), "*"),
        Need(("s3:GetObject",), "artifact-object"),
        Need(("kms:Decrypt", "kms:DescribeKey"), "shared-key"),
        Need(("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
             "log-group:Endpoints"),
        Need(("cloudwatch:PutMetricData",), "*", ("metric-namespace",)),
    ),
)
"""What SageMaker does as an endpoint's execution role (pull, load, log, report)."""

SERVING_CAPTURE_NEEDS = TypeNeeds(
    "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html",
    (
        Need(("s3:PutObject",), "capture-object"),
        Need(("kms:GenerateDataKey",), "shared-key"),
    ),
)
"""What data capture adds to the serving role (only when the endpoint captures)."""

EXPERIMENT_LOGGING_NEEDS = TypeNeeds(
    _SM_ROLES_DOC + "#sagemaker-roles-createprocessingjob-perms (what the LogExperiment job does as its own role; "
    "the pipeline role creates the job) and "
    "https://docs.aws.amazon.com/service-authorization/latest/reference/list_sagemaker-mlflow.html (one action per "
    "MLflow REST call model_code.tracking makes; test_iam_experiment_logging.py records the calls)",
    (
        Need(("s3:GetObject",), "input-object"),
        Need(("s3:ListBucket",), "input-bucket", ("s3-prefix",)),
        Need(("s3:PutObject",), "output-object"),
        Need(("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"), "key"),
        Need(("kms:CreateGrant",), "key", ("aws-resource-grant",)),
        Need(("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"), "image"),
        Need(("ecr:GetAuthorizationToken",), "*"),
        Need(("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
             "log-group:ProcessingJobs"),
        Need(("cloudwatch:PutMetricData",), "*", ("metric-namespace",)),
        Need(("sagemaker-mlflow:CreateExperiment", "sagemaker-mlflow:CreateRun", "sagemaker-mlflow:GetExperiment",
              "sagemaker-mlflow:GetExperimentByName", "sagemaker-mlflow:LogBatch", "sagemaker-mlflow:UpdateRun"),
             "tracking-server"),
    ),
)
"""The LogExperiment step's role (its own, not the pipeline's): the processing job's data path plus MLflow."""

VPC_NEEDS = TypeNeeds(
    "https://docs.aws.amazon.com/sagemaker/latest/dg/infrastructure-give-access.html "
    "(jobs and models in a VPC: SageMaker attaches network interfaces as the execution role)",
    (
        Need(("ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
              "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces",
              "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"), "*"),
    ),
)
"""What a private network adds to an execution role (only when the stack configures subnets)."""

SCHEDULE_NEEDS = TypeNeeds(
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html "
    "(a SageMaker pipeline target is started with the target's role)",
    (Need(("sagemaker:StartPipelineExecution",), "pipeline"),),
)
"""What EventBridge does as a retraining schedule's role."""


MONITOR_JOB_NEEDS = TypeNeeds(
    "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-containers.html (Model Monitor runs "
    "processing jobs as the job definition's role) and " + _SM_ROLES_DOC + "#sagemaker-roles-createprocessingjob-perms",
    (
        Need(("s3:GetObject",), "capture-object"),
        Need(("s3:ListBucket",), "capture-bucket", ("s3-prefix",)),
        Need(("s3:GetObject",), "baseline-object"),
        Need(("s3:PutObject",), "report-object"),
        Need(("kms:Decrypt", "kms:GenerateDataKey"), "shared-key"),
        Need(("kms:CreateGrant",), "volume-key", ("aws-resource-grant",)),
        Need(("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"), "image"),
        Need(("ecr:GetAuthorizationToken",), "*"),
        Need(("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
             "log-group:ProcessingJobs"),
        # The job's /opt/ml/output/metrics/cloudwatch file is published under /aws/sagemaker/... namespaces.
        Need(("cloudwatch:PutMetricData",), "*", ("metric-namespace",)),
    ),
)
"""What a monitoring job does as the monitor role (model_code.monitor under the Model Monitor contract)."""

GUARD_NEEDS = TypeNeeds(
    "retrain_guard/handler.py (ListPipelineExecutions, StartPipelineExecution) and "
    "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html (the function writes its log)",
    (
        Need(("sagemaker:ListPipelineExecutions", "sagemaker:StartPipelineExecution"), "pipeline"),
        Need(("logs:CreateLogStream", "logs:PutLogEvents"), "log-stream"),
    ),
)
"""What the retraining guard function does as its role."""

DRIFT_FORWARD_NEEDS = TypeNeeds(
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-cross-account.html "
    "(a cross-account Lambda target is invoked with the rule target's role)",
    (Need(("lambda:InvokeFunction",), "function"),),
)
"""What EventBridge does as an environment's drift-forward role."""

MLFLOW_SERVER_NEEDS = TypeNeeds(
    "https://docs.aws.amazon.com/sagemaker/latest/dg/mlflow-create-tracking-server-iam.html "
    "(the tracking server reads and writes its artifact store as its role)",
    (
        Need(("s3:GetObject", "s3:PutObject"), "artifact-object"),
        Need(("s3:ListBucket",), "artifact-bucket", ("s3-prefix",)),
        Need(("kms:Decrypt", "kms:GenerateDataKey"), "shared-key"),
    ),
)
"""What the managed MLflow tracking server does as its role."""

MODEL_SERVER_NEEDS = TypeNeeds(
    "gitops/base/model-server/rollout.yaml: the fetch-model init container runs `aws sagemaker "
    "describe-model-package` and `aws s3 cp` of the package's artifact (SSE-KMS with the shared key)",
    (
        Need(("sagemaker:DescribeModelPackage",), "package"),
        Need(("s3:GetObject",), "artifact-object"),
        Need(("kms:Decrypt", "kms:DescribeKey"), "shared-key"),
    ),
)
"""What a Kubernetes model server's pod does as its IRSA role to load the approved package."""

MODEL_SERVER_CAPTURE_NEEDS = TypeNeeds(
    "model_code/capture_shipper.py (one PutObject per closed capture file, SSE-KMS under the shared key, never a "
    "multipart upload) and https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html "
    "(\"Permissions\": PutObject with SSE-KMS needs kms:GenerateDataKey; S3 asks KMS, so kms:ViaService is S3)",
    (
        Need(("s3:PutObject",), "capture-object"),
        Need(("kms:GenerateDataKey",), "shared-key-via-s3"),
    ),
)
"""What the capture shipper sidecar adds to the model server's IRSA role (only when the model captures)."""
