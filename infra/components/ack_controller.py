"""The ACK SageMaker controller of one environment: the agent that turns the ACK objects Argo CD syncs from
`gitops/<env>/<model>/` into SageMaker models, endpoint configurations and endpoints.

Installed only when some model of the environment has `delivery: pull`: a controller with SageMaker write rights
that nothing uses is standing attack surface (and its CRDs would invite objects nobody reviews); the first
pulled model brings it, the last one removed takes it away. It runs with its own IRSA role
(`infra.core.ack_controller.controller_statements`): the SageMaker calls on exactly the pulled models' names,
`iam:PassRole` of exactly their serving roles, trusted by the cluster's OIDC provider for exactly the chart's
service account.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.core import ack_controller as ack
from infra.core.arns import Arns
from infra.core.iam import irsa_trust, policy_document
from infra.core.naming import Naming


@dataclass(frozen=True)
class AckControllerArgs:
    naming: Naming
    shared: Naming
    """The shared stack's naming (`Naming.of_stack(mlops:sharedStack)`): whose package groups the controller reads."""
    partition: str
    region: str
    account_id: pulumi.Input[str]
    models: list[str]
    """The models delivered by pull in this environment (at least one)."""
    serving_role_arns: list[pulumi.Input[str]]
    """Their execution roles, the only roles (with the monitor roles) the controller may pass to SageMaker."""
    kms_key_arn: pulumi.Input[str]
    provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str]
    oidc_host: pulumi.Input[str]
    workload_dependencies: Sequence[pulumi.Resource] = ()
    """What must exist before any pod can run (the node group)."""
    monitored: Sequence[str] = ()
    """The pulled models whose drift monitor is in their overlay (`monitoring.enabled`)."""


class AckSageMakerController(pulumi.ComponentResource):
    """`mlops:gitops:AckSageMakerController`: namespace, IRSA role and the pinned chart."""

    role: aws.iam.Role
    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: AckControllerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:gitops:AckSageMakerController", name, None, opts)
        if not args.models:
            raise ValueError("the ACK controller is installed only for models with delivery 'pull'")
        self.role = self._role(name, args)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider)
        namespace = k8s.core.v1.Namespace(name, metadata=k8s.meta.v1.ObjectMetaArgs(name=ack.NAMESPACE),
                                          opts=k8s_opts)
        self.release = k8s.helm.v3.Release(
            name,
            name="ack-sagemaker-controller",
            chart=ack.CHART,
            version=ack.CHART_VERSION,
            namespace=namespace.metadata.name,
            create_namespace=False,
            values=ack.controller_values(args.region, self.role.arn),
            atomic=True,
            cleanup_on_fail=True,
            timeout=600,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider,
                                        depends_on=list(args.workload_dependencies)),
        )
        self.register_outputs({"release": self.release.name, "roleArn": self.role.arn})

    def _role(self, name: str, args: AckControllerArgs) -> aws.iam.Role:
        child = pulumi.ResourceOptions(parent=self)
        trust = irsa_trust("AckSageMakerControllerServiceAccount", args.oidc_provider_arn, args.oidc_host,
                           ack.NAMESPACE, ack.SERVICE_ACCOUNT)
        role = aws.iam.Role(name, name=args.naming.ack_controller_role(), assume_role_policy=trust,
                            max_session_duration=3600, opts=child)
        statements = pulumi.Output.all(args.account_id, args.kms_key_arn, *args.serving_role_arns).apply(
            lambda v: ack.controller_statements(args.naming, args.shared, Arns(args.partition, args.region, v[0]),
                                                sorted(args.models), list(v[2:]), v[1], sorted(args.monitored))
        )
        aws.iam.RolePolicy(name, role=role.id, policy=statements.apply(lambda s: policy_document(s)), opts=child)
        return role
