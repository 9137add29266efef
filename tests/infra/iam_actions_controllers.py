"""What the controllers the program runs in a cluster call with their IRSA roles: the ACK SageMaker controller
(per ACK kind it reconciles) and the Cluster Autoscaler. Pure data for the IAM tests, each entry citing its source;
`on` and `context` mean what they mean in `iam_actions.py`."""

from __future__ import annotations

from iam_actions import _PASS_ROLE_DOC, _SM_KMS_DOC, _SM_TAG_DOC, Need, TypeNeeds

_ACK = "https://github.com/aws-controllers-k8s/sagemaker-controller/blob/v1.9.1/"
ACK_CONTROLLER_NEEDS: dict[str, TypeNeeds] = {
    # Keys are the ACK kinds of gitops/base/sagemaker-endpoint and -monitor; `on` names what the rendered object
    # names: "self", "role" (spec.executionRoleARN or spec.roleARN), "package" (primaryContainer.modelPackageName),
    # "endpoint-config" (spec.endpointConfigName), "key" (that configuration's kmsKeyID), "rollback-alarm" (each
    # alarm of deploymentConfig.autoRollbackConfiguration). The controller sends the tags in the Create call and never
    # lists or removes them for these kinds in v1.9.1.
    "Model": TypeNeeds(
        _ACK + "pkg/resource/model/sdk.go",
        (
            Need(("sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:DeleteModel", "sagemaker:AddTags")),
            Need(("iam:PassRole",), "role", ("passed-to:sagemaker.amazonaws.com",)),
            Need(("sagemaker:DescribeModelPackage",), "package"),
        ),
        also=(_PASS_ROLE_DOC, _SM_TAG_DOC),
    ),
    "EndpointConfig": TypeNeeds(
        _ACK + "pkg/resource/endpoint_config/sdk.go",
        (Need(("sagemaker:CreateEndpointConfig", "sagemaker:DescribeEndpointConfig",
               "sagemaker:DeleteEndpointConfig", "sagemaker:AddTags")),),
        also=(_SM_TAG_DOC,),
    ),
    "Endpoint": TypeNeeds(
        _ACK + "pkg/resource/endpoint/sdk.go",
        (
            Need(("sagemaker:CreateEndpoint", "sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpoint",
                  "sagemaker:DeleteEndpoint", "sagemaker:AddTags")),
            # CreateEndpoint and UpdateEndpoint are authorized on the configuration they name as well.
            Need(("sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint"), "endpoint-config"),
            Need(("kms:CreateGrant", "kms:DescribeKey"), "key", ("aws-resource-grant",)),
            # Deployment guardrails read the rollback alarms as the caller.
            Need(("cloudwatch:DescribeAlarms",), "rollback-alarm"),
        ),
        also=(_SM_KMS_DOC, _SM_TAG_DOC,
              "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html"),
    ),
    # The drift monitor of gitops/base/sagemaker-monitor. sdkFind calls Describe, sdkCreate Create (tags in the
    # call), sdkDelete Delete; sdkUpdate returns NotImplemented (no Update call exists for a job definition).
    "DataQualityJobDefinition": TypeNeeds(
        _ACK + "pkg/resource/data_quality_job_definition/sdk.go",
        (
            Need(("sagemaker:CreateDataQualityJobDefinition", "sagemaker:DescribeDataQualityJobDefinition",
                  "sagemaker:DeleteDataQualityJobDefinition", "sagemaker:AddTags")),
            # RoleArn: the role SageMaker runs each monitoring job as (spec.roleARN), passed at creation.
            Need(("iam:PassRole",), "role", ("passed-to:sagemaker.amazonaws.com",)),
        ),
        also=(_PASS_ROLE_DOC, _SM_TAG_DOC),
    ),
    # sdkFind Describe, sdkCreate Create, sdkUpdate Update (when the release switches the job definition),
    # sdkDelete Delete; hooks.go requeues while Pending without another call.
    "MonitoringSchedule": TypeNeeds(
        _ACK + "pkg/resource/monitoring_schedule/sdk.go",
        (Need(("sagemaker:CreateMonitoringSchedule", "sagemaker:DescribeMonitoringSchedule",
               "sagemaker:UpdateMonitoringSchedule", "sagemaker:DeleteMonitoringSchedule", "sagemaker:AddTags")),),
        also=(_SM_TAG_DOC,),
    ),
}
"""What the ACK SageMaker controller calls, as its IRSA role, to reconcile each ACK object Argo CD syncs."""


CLUSTER_AUTOSCALER_NEEDS = TypeNeeds(
    "https://github.com/kubernetes/autoscaler/blob/cluster-autoscaler-chart-9.51.0/cluster-autoscaler/cloudprovider/"
    "aws/README.md (Full Cluster Autoscaler Features Policy: auto-discovery, dynamic EC2 instance type list)",
    (
        Need(("autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
              "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
              "ec2:DescribeImages", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions",
              "ec2:GetInstanceTypesFromInstanceRequirements"), "*"),
        # Scaling acts on the node group's Auto Scaling group, tagged for this cluster's auto-discovery.
        Need(("autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"),
             "node-group-asg", ("resource-tags",)),
        Need(("eks:DescribeNodegroup",), "node-group"),
    ),
)
"""What the Cluster Autoscaler calls as its IRSA role."""
