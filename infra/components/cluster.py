"""The Kubernetes cluster of the pull path, and the one explicit provider every Kubernetes resource uses.

Either the program creates an EKS cluster (secrets envelope-encrypted with the environment key, a managed
node group, a private endpoint or one restricted to given CIDRs, access entries instead of the aws-auth
ConfigMap, and the cluster's IAM OIDC provider for IRSA), or the stack names an existing cluster by a
kubeconfig held as a Pulumi secret. Either way callers get one `kubernetes.Provider`: no Kubernetes
resource of this program may fall back to the ambient kubeconfig of whoever runs `pulumi up`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.config import Cluster, EksCluster
from infra.core import eks_addons
from infra.core.arns import Arns
from infra.core.iam import allow, policy_document
from infra.core.naming import Naming

CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
"""The EKS access policy of the deployer and the admin roles (its ARN: `Arns.eks_access_policy`)."""
VIEW_POLICY = "AmazonEKSViewPolicy"
"""The preview role's access policy: read-only (get/list/watch, no Secrets) on most Kubernetes resources (EKS User
Guide, access-policy-reference)."""
_NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")


@dataclass(frozen=True)
class KubernetesClusterArgs:
    naming: Naming
    cluster: Cluster
    region: str
    partition: str
    profile: str | None
    account_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    deployer_role_arn: pulumi.Input[str]
    """The role that runs `pulumi up` (the CI deploy role); it needs cluster-admin to install Argo CD."""
    viewer_role_arn: pulumi.Input[str] | None = None
    """The role that runs `pulumi preview` on pull requests (the CI preview role): view access only."""
    viewer_namespaces: Sequence[str] = ()
    """The namespaces this stack's Kubernetes resources live in: the viewer's access is scoped to them."""


def node_or_control_plane_trust(service: str) -> pulumi.Output[str]:
    """Trust for EKS' own roles. EC2 and EKS do not send `aws:SourceAccount` when they assume a cluster or node
    role, so the confused-deputy condition of `infra.core.iam.service_trust` would lock the cluster out."""
    return policy_document(
        [{"Sid": "ServiceAssumesRole", "Effect": "Allow", "Principal": {"Service": service},
          "Action": "sts:AssumeRole"}]
    )


def oidc_host(issuer_or_arn: str) -> str:
    """The issuer host path (`oidc.eks.<region>.amazonaws.com/id/X`) from an issuer URL or provider ARN.

    IRSA trust conditions are keyed by this host path, e.g. `<host>:sub`.
    """
    if ":oidc-provider/" in issuer_or_arn:
        return issuer_or_arn.split(":oidc-provider/", 1)[1]
    return issuer_or_arn.removeprefix("https://")


def eks_kubeconfig(name: str, endpoint: str, ca_data: str, region: str, profile: str | None) -> str:
    """A kubeconfig that authenticates with `aws eks get-token` as whoever runs the program (no static token)."""
    env = [{"name": "AWS_PROFILE", "value": profile}] if profile else None
    user: dict = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", name, "--region", region, "--output", "json"],
            "interactiveMode": "Never",
        }
    }
    if env:
        user["exec"]["env"] = env
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
            "users": [{"name": name, "user": user}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
        }
    )


class KubernetesCluster(pulumi.ComponentResource):
    """`mlops:cluster:KubernetesCluster`: an EKS cluster (or a given one) and the explicit Kubernetes provider."""

    provider: k8s.Provider
    name: pulumi.Output[str] | None
    oidc_provider_arn: pulumi.Output[str] | None
    """The IAM OIDC provider for IRSA; None for a kubeconfig cluster without `oidcProviderArn`."""
    oidc_host: pulumi.Output[str] | None
    workload_dependencies: list[pulumi.Resource]
    """What a workload (a Helm release) must wait for: the node group its pods run on and CoreDNS. Empty for a given
    cluster."""

    def __init__(self, name: str, args: KubernetesClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:cluster:KubernetesCluster", name, None, opts)
        self._args = args
        self.name = None
        self.workload_dependencies = []
        if args.cluster.eks is not None:
            kubeconfig = self._eks(name, args.cluster.eks)
        else:
            assert args.cluster.kubeconfig is not None  # the config guarantees exactly one source
            kubeconfig = pulumi.Output.secret(args.cluster.kubeconfig.get_secret_value())
            arn = args.cluster.oidc_provider_arn
            self.oidc_provider_arn = pulumi.Output.from_input(arn) if arn else None
            self.oidc_host = pulumi.Output.from_input(oidc_host(arn)) if arn else None
        self.provider = k8s.Provider(
            name,
            kubeconfig=kubeconfig,
            # Server-side apply, and never the ambient kubeconfig or namespace of the person running the program.
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"clusterName": self.name, "oidcProviderArn": self.oidc_provider_arn})

    # -- EKS -----------------------------------------------------------------------------------------------------
    def _eks(self, name: str, eks: EksCluster) -> pulumi.Output[str]:
        a = self._args
        child = pulumi.ResourceOptions(parent=self)
        cluster_name = a.naming.eks_cluster()
        role = aws.iam.Role(
            f"{name}-cluster",
            name=a.naming.role("eks-cluster"),
            assume_role_policy=node_or_control_plane_trust("eks.amazonaws.com"),
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-cluster", role=role.name, policy_arn=self._arns().managed_policy("AmazonEKSClusterPolicy"),
            opts=child
        )
        # Envelope encryption of Secrets: the control plane uses the environment key through this role.
        key_use = aws.iam.RolePolicy(
            f"{name}-cluster-kms",
            role=role.id,
            policy=policy_document([allow("EncryptSecrets", ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey",
                                                             "kms:CreateGrant"], [a.kms_key_arn])]),
            opts=child,
        )
        cluster = aws.eks.Cluster(
            name,
            name=cluster_name,
            version=eks.version,
            role_arn=role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=eks.subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=eks.endpoint_access == "public-restricted",
                public_access_cidrs=eks.public_endpoint_cidrs or None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"], provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=a.kms_key_arn)
            ),
            # Access entries only: who may administer the cluster is declared here, not in a ConfigMap, and
            # the creator gets no hidden admin binding.
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=False
            ),
            enabled_cluster_log_types=["api", "audit", "authenticator"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[key_use]),
        )
        self.name = cluster.name
        admins = self._access_entries(name, cluster, eks)
        before_nodes = [self._addon(name, cluster, eks, addon, []) for addon in eks_addons.BEFORE_NODES]
        node_group = self._node_group(name, cluster, eks, before_nodes)
        coredns = self._addon(name, cluster, eks, eks_addons.COREDNS, [node_group])
        self.workload_dependencies += [node_group, coredns]
        issuer = cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        oidc = aws.iam.OpenIdConnectProvider(
            name, url=issuer, client_id_lists=["sts.amazonaws.com"], opts=child
        )
        self.oidc_provider_arn = oidc.arn
        self.oidc_host = issuer.apply(oidc_host)
        ca = cluster.certificate_authority.apply(lambda c: c.data)
        kubeconfig = pulumi.Output.all(cluster.name, cluster.endpoint, ca).apply(
            lambda v: eks_kubeconfig(v[0], v[1], v[2], a.region, a.profile)
        )
        # The provider may only connect once the deployer's access entry exists.
        return pulumi.Output.secret(pulumi.Output.all(kubeconfig, *[p.id for p in admins]).apply(lambda v: v[0]))

    def _access_entries(self, name: str, cluster: aws.eks.Cluster, eks: EksCluster) -> list:
        a = self._args
        associations = []
        principals: list[tuple[str, pulumi.Input[str]]] = [("deployer", a.deployer_role_arn)]
        principals += [(f"admin-{i}", arn) for i, arn in enumerate(eks.admin_role_arns)]
        for label, arn in principals:
            entry = aws.eks.AccessEntry(
                f"{name}-{label}", cluster_name=cluster.name, principal_arn=arn, type="STANDARD",
                opts=pulumi.ResourceOptions(parent=self),
            )
            associations.append(
                aws.eks.AccessPolicyAssociation(
                    f"{name}-{label}",
                    cluster_name=cluster.name,
                    principal_arn=entry.principal_arn,
                    policy_arn=self._arns().eks_access_policy(CLUSTER_ADMIN_POLICY),
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        if a.viewer_role_arn is not None:
            associations.append(self._viewer(name, cluster, a.viewer_role_arn, sorted(set(a.viewer_namespaces))))
        return associations

    def _viewer(self, name: str, cluster: aws.eks.Cluster, role_arn: pulumi.Input[str],
                namespaces: list[str]) -> aws.eks.AccessPolicyAssociation:
        """Read-only access for previews, scoped to the namespaces the stack declares resources in (an access scope
        of type `namespace`, as `aws eks associate-access-policy --access-scope type=namespace,namespaces=...`)."""
        entry = aws.eks.AccessEntry(f"{name}-preview", cluster_name=cluster.name, principal_arn=role_arn,
                                    type="STANDARD", opts=pulumi.ResourceOptions(parent=self))
        return aws.eks.AccessPolicyAssociation(
            f"{name}-preview",
            cluster_name=cluster.name,
            principal_arn=entry.principal_arn,
            policy_arn=self._arns().eks_access_policy(VIEW_POLICY),
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="namespace", namespaces=namespaces),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _addon(self, name: str, cluster: aws.eks.Cluster, eks: EksCluster, addon: str,
               after: list[pulumi.Resource]) -> aws.eks.Addon:
        """An EKS-managed add-on at its pinned version. EKS bootstraps self-managed copies of these three when it
        creates a cluster; OVERWRITE lets the managed add-on take them over (and keeps them as declared)."""
        return aws.eks.Addon(
            f"{name}-{addon}",
            cluster_name=cluster.name,
            addon_name=addon,
            addon_version=eks_addons.ADDON_VERSIONS[eks.version][addon],
            configuration_values=eks_addons.configuration_values(addon),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )

    def _node_group(self, name: str, cluster: aws.eks.Cluster, eks: EksCluster,
                    after: list[pulumi.Resource]) -> aws.eks.NodeGroup:
        a = self._args
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-nodes",
            name=a.naming.role("eks-nodes"),
            assume_role_policy=node_or_control_plane_trust("ec2.amazonaws.com"),
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-nodes-{policy}", role=role.name, policy_arn=self._arns().managed_policy(policy), opts=child
            )
            for policy in _NODE_POLICIES
        ]
        return aws.eks.NodeGroup(
            name,
            cluster_name=cluster.name,
            node_role_arn=role.arn,
            subnet_ids=eks.subnet_ids,
            instance_types=eks.node_instance_types,
            ami_type="AL2023_x86_64_STANDARD",
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=eks.node_min, desired_size=eks.node_min, max_size=eks.node_max
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*attachments, *after],
                                        ignore_changes=["scalingConfig.desiredSize"]),
        )

    def _arns(self) -> Arns:
        return Arns(self._args.partition, self._args.region, self._args.account_id)
