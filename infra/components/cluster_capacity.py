"""What makes an EKS cluster's declared capacity real: metrics-server (the HPAs' CPU metrics) and the Kubernetes
Cluster Autoscaler (the node group grows to `nodeMax` when pods are Pending, and shrinks back), from pinned charts.

The autoscaler runs with its own IRSA role: the read calls its AWS provider makes on `*` (they have no resource
scope) and the two write calls only on Auto Scaling groups carrying this cluster's auto-discovery tag, which EKS
puts on a managed node group's group ("Amazon EKS tags managed node group resources so that they are configured
to use the Kubernetes Cluster Autoscaler", managed-node-groups.adoc). The policy is the "Full Cluster Autoscaler
Features Policy" of kubernetes/autoscaler `cluster-autoscaler/cloudprovider/aws/README.md` (chart 9.51.0, app
1.33.0), its second block restricted "using tag based conditionals" as that README recommends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.core.arns import Arns
from infra.core.cluster_workloads import CLUSTER_AUTOSCALER, METRICS_SERVER, requests
from infra.core.iam import policy_document
from infra.core.naming import Naming

NAMESPACE = "kube-system"
METRICS_SERVER_CHART = "metrics-server"
METRICS_SERVER_VERSION = "3.13.1"
"""kubernetes-sigs/metrics-server chart 3.13.1 (app 0.8.1)."""
METRICS_SERVER_REPOSITORY = "https://kubernetes-sigs.github.io/metrics-server/"
AUTOSCALER_CHART = "cluster-autoscaler"
AUTOSCALER_VERSION = "9.51.0"
"""kubernetes/autoscaler chart 9.51.0: the last whose appVersion (1.33.0) matches Kubernetes 1.33, as the
autoscaler's releases are made per Kubernetes minor."""
AUTOSCALER_REPOSITORY = "https://kubernetes.github.io/autoscaler"
AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"


def metrics_server_values() -> dict[str, Any]:
    return {"resources": requests(METRICS_SERVER)}


def autoscaler_values(cluster_name: Any, region: str, role_arn: Any) -> dict[str, Any]:
    """Auto-discovery of this cluster's node groups by their tags; IRSA; the chart's example request."""
    return {
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster_name},
        "fullnameOverride": AUTOSCALER_SERVICE_ACCOUNT,
        "rbac": {"serviceAccount": {"create": True, "name": AUTOSCALER_SERVICE_ACCOUNT,
                                    "annotations": {"eks.amazonaws.com/role-arn": role_arn}}},
        "resources": requests(CLUSTER_AUTOSCALER),
        # Node groups of several zones scale evenly (managed-node-groups.adoc recommends it with the autoscaler).
        "extraArgs": {"balance-similar-node-groups": True},
    }


AUTOSCALER_READ_ACTIONS = [
    "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
    "ec2:DescribeImages", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
]
AUTOSCALER_WRITE_ACTIONS = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]


def autoscaler_statements(cluster_name: str, arns: Arns) -> list[dict[str, Any]]:
    """The autoscaler's policy: read on `*`, scale only this cluster's tagged groups, read only its node groups."""
    return [
        {"Sid": "DiscoverGroupsAndInstanceTypes", "Effect": "Allow", "Action": AUTOSCALER_READ_ACTIONS,
         "Resource": ["*"]},
        {"Sid": "ScaleThisClustersNodeGroups", "Effect": "Allow", "Action": AUTOSCALER_WRITE_ACTIONS,
         "Resource": [arns.arn("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*")],
         "Condition": {"StringLike": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "*"}}},
        # Labels and taints of a managed node group scaled to zero.
        {"Sid": "ReadThisClustersNodeGroups", "Effect": "Allow", "Action": ["eks:DescribeNodegroup"],
         "Resource": [arns.arn("eks", f"nodegroup/{cluster_name}/*")]},
    ]


@dataclass(frozen=True)
class ClusterCapacityArgs:
    naming: Naming
    region: str
    partition: str
    account_id: pulumi.Input[str]
    provider: k8s.Provider
    cluster_name: pulumi.Input[str] | None
    """The EKS cluster (None for a kubeconfig cluster: no node group of ours to scale, metrics-server only)."""
    oidc_provider_arn: pulumi.Input[str] | None
    oidc_host: pulumi.Input[str] | None
    workload_dependencies: Sequence[pulumi.Resource] = ()


class ClusterCapacity(pulumi.ComponentResource):
    """`mlops:cluster:Capacity`: metrics-server, and for an EKS cluster the Cluster Autoscaler with its IRSA role."""

    metrics_server: k8s.helm.v3.Release
    autoscaler: k8s.helm.v3.Release | None
    autoscaler_role: aws.iam.Role | None

    def __init__(self, name: str, args: ClusterCapacityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:cluster:Capacity", name, None, opts)
        after = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.workload_dependencies))
        self.metrics_server = k8s.helm.v3.Release(
            f"{name}-metrics-server", name="metrics-server", chart=METRICS_SERVER_CHART,
            version=METRICS_SERVER_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=METRICS_SERVER_REPOSITORY),
            namespace=NAMESPACE, create_namespace=False, values=metrics_server_values(),
            atomic=True, cleanup_on_fail=True, timeout=600, opts=after,
        )
        self.autoscaler = self.autoscaler_role = None
        if args.cluster_name is not None and args.oidc_provider_arn is not None and args.oidc_host is not None:
            self.autoscaler_role = self._role(name, args)
            values = pulumi.Output.all(args.cluster_name, self.autoscaler_role.arn).apply(
                lambda v: autoscaler_values(v[0], args.region, v[1]))
            self.autoscaler = k8s.helm.v3.Release(
                f"{name}-autoscaler", name="cluster-autoscaler", chart=AUTOSCALER_CHART, version=AUTOSCALER_VERSION,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=AUTOSCALER_REPOSITORY),
                namespace=NAMESPACE, create_namespace=False, values=values,
                atomic=True, cleanup_on_fail=True, timeout=600, opts=after,
            )
        self.register_outputs({})

    def _role(self, name: str, args: ClusterCapacityArgs) -> aws.iam.Role:
        child = pulumi.ResourceOptions(parent=self)
        subject = f"system:serviceaccount:{NAMESPACE}:{AUTOSCALER_SERVICE_ACCOUNT}"
        trust = pulumi.Output.all(args.oidc_provider_arn, args.oidc_host).apply(lambda v: {
            "Version": "2012-10-17",
            "Statement": [{"Sid": "ClusterAutoscalerServiceAccount", "Effect": "Allow",
                           "Principal": {"Federated": v[0]}, "Action": "sts:AssumeRoleWithWebIdentity",
                           "Condition": {"StringEquals": {f"{v[1]}:sub": subject,
                                                          f"{v[1]}:aud": "sts.amazonaws.com"}}}],
        })
        role = aws.iam.Role(f"{name}-autoscaler", name=args.naming.role("cluster-autoscaler"),
                            assume_role_policy=pulumi.Output.json_dumps(trust), max_session_duration=3600, opts=child)
        policy = pulumi.Output.all(args.cluster_name, args.account_id).apply(
            lambda v: policy_document(autoscaler_statements(v[0], Arns(args.partition, args.region, v[1]))))
        aws.iam.RolePolicy(f"{name}-autoscaler", role=role.id, policy=policy, opts=child)
        return role
