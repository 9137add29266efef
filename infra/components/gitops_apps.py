"""What Argo CD syncs in one environment, declared by the program: the project, the applications, and what
the model servers need that must not live in Git (their namespaces and their IRSA roles).

* One `AppProject` per environment: source only the configured Git repository, destinations only this
  environment's model namespaces in the cluster Argo CD runs in, no cluster-scoped kinds at all (the program
  creates the namespaces), only the namespaced kinds `gitops/base/model-server` uses, and a `ci` role that
  may only `sync`. In a stack with sync windows, automated syncs happen only inside them.
* One `ApplicationSet` with a Git directory generator over `gitops/<env>/*`: adding a model directory adds
  an Application; the project lets it deploy once the stack config serves that model on Kubernetes.
* Sync policy per environment: automated with prune and self-heal, or manual; retries with backoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.components.argocd import NAMESPACE as ARGOCD_NAMESPACE
from infra.config import ArgoCd
from infra.core import ack, bucket_layout
from infra.core.arns import Arns, packages_of_group
from infra.core.iam import allow, irsa_trust, policy_document
from infra.core.naming import Naming, model_tags

IN_CLUSTER = "https://kubernetes.default.svc"
SERVICE_ACCOUNT = "model-server"
"""The service account of gitops/base/model-server; IRSA trust names exactly it."""
MODEL_SERVER_KINDS: tuple[tuple[str, str], ...] = (
    ("", "ConfigMap"),
    ("", "Service"),
    ("", "ServiceAccount"),
    ("argoproj.io", "Rollout"),
    ("argoproj.io", "AnalysisTemplate"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("policy", "PodDisruptionBudget"),
    ("networking.k8s.io", "NetworkPolicy"),
)
"""(group, kind) of every namespaced object a model server directory may hold; the project allows no other."""
RETRY = {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}


def repo_url(repository: str) -> str:
    """The HTTPS clone URL Argo CD reads `owner/name` from."""
    return f"https://github.com/{repository}.git"


def sync_policy(settings: ArgoCd) -> dict[str, Any]:
    """The Applications' sync policy: automated (prune, self-heal) or manual, always with retries."""
    policy: dict[str, Any] = {
        "syncOptions": ["CreateNamespace=false", "PrunePropagationPolicy=foreground", "RespectIgnoreDifferences=true"],
        "retry": RETRY,
    }
    if settings.sync == "automated":
        policy["automated"] = {"prune": True, "selfHeal": True, "allowEmpty": False}
    return policy


def project_spec(naming: Naming, environment: str, repository: str, models: list[str],
                 settings: ArgoCd, pulled: Sequence[str] = ()) -> dict[str, Any]:
    """The AppProject spec: what this environment's applications may come from and go to.

    `pulled` are the SageMaker models delivered by pull: their namespaces are destinations too, and the ACK
    kinds are allowed only while there is one (the controller and its CRDs exist only then).
    """
    project = naming.argocd_project()
    kinds = [*MODEL_SERVER_KINDS, *((ack.GROUP, k) for k in ack.KINDS)] if pulled else list(MODEL_SERVER_KINDS)
    spec: dict[str, Any] = {
        "description": f"Model servers of the {environment} environment, synced from gitops/{environment}/",
        "sourceRepos": [repo_url(repository)],
        "destinations": [{"server": IN_CLUSTER, "namespace": naming.model_namespace(m)}
                         for m in sorted([*models, *pulled])],
        "clusterResourceWhitelist": [],
        "namespaceResourceWhitelist": [{"group": g, "kind": k} for g, k in kinds],
        "orphanedResources": {"warn": True},
        "roles": [
            {
                "name": "ci",
                "description": "CI may trigger a sync of this environment's applications, and nothing else.",
                "policies": [f"p, proj:{project}:ci, applications, sync, {project}/*, allow"],
            }
        ],
    }
    if settings.sync_windows:
        spec["syncWindows"] = [
            {"kind": "allow", "schedule": w.schedule, "duration": w.duration, "timeZone": w.time_zone,
             "applications": ["*"], "manualSync": True}
            for w in settings.sync_windows
        ]
    return spec


def application_set_spec(naming: Naming, environment: str, repository: str, settings: ArgoCd) -> dict[str, Any]:
    """The ApplicationSet spec: one Application per directory under gitops/<env>/."""
    return {
        "goTemplate": True,
        "goTemplateOptions": ["missingkey=error"],
        "generators": [{"git": {"repoURL": repo_url(repository), "revision": settings.revision,
                                "directories": [{"path": f"gitops/{environment}/*"}]}}],
        "syncPolicy": {"preserveResourcesOnDeletion": True},
        "template": {
            "metadata": {
                "name": f"{naming.prefix}-{{{{.path.basename}}}}",
                "labels": {"environment": environment, "model": "{{.path.basename}}"},
            },
            "spec": {
                "project": naming.argocd_project(),
                "source": {"repoURL": repo_url(repository), "targetRevision": settings.revision,
                           "path": "{{.path.path}}"},
                "destination": {"server": IN_CLUSTER, "namespace": f"{naming.prefix}-{{{{.path.basename}}}}"},
                "syncPolicy": sync_policy(settings),
                # The HPA owns the replica count; Argo CD must not fight it.
                "ignoreDifferences": [{"group": "argoproj.io", "kind": "Rollout", "jsonPointers": ["/spec/replicas"]}],
                "revisionHistoryLimit": 10,
            },
        },
    }


@dataclass(frozen=True)
class CaptureAccess:
    """Where a model server's capture shipper writes: its own prefix of the shared capture bucket (in the shared
    stack's region, encrypted with the shared key)."""

    bucket: pulumi.Input[str]
    prefix: str
    region: pulumi.Input[str]


@dataclass(frozen=True)
class ModelAccess:
    """What a model server may read: its package group's packages and its artifacts (shared stack); and, when it
    captures requests, where it may write them."""

    package_group_arn: pulumi.Input[str]
    artifacts_bucket: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    capture: CaptureAccess | None = None


@dataclass(frozen=True)
class GitOpsAppsArgs:
    naming: Naming
    partition: str
    environment: str
    repository: str
    settings: ArgoCd
    provider: k8s.Provider
    models: dict[str, ModelAccess]
    oidc_provider_arn: pulumi.Input[str] | None
    oidc_host: pulumi.Input[str] | None
    argocd: pulumi.Resource
    """The Argo CD release: its CRDs must exist before the project and the ApplicationSet."""
    pulled: list[str] = field(default_factory=list)
    """SageMaker models delivered by pull (ACK objects): a namespace each, no IRSA role (nothing runs there)."""


class GitOpsApps(pulumi.ComponentResource):
    """`mlops:gitops:GitOpsApps`: namespaces, IRSA roles, the AppProject and the ApplicationSet of one env."""

    project: k8s.apiextensions.CustomResource
    application_set: k8s.apiextensions.CustomResource
    namespaces: dict[str, k8s.core.v1.Namespace]
    roles: dict[str, aws.iam.Role]
    applications: dict[str, str]

    def __init__(self, name: str, args: GitOpsAppsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:gitops:GitOpsApps", name, None, opts)
        self._args = args
        naming = args.naming
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.namespaces = {
            model: k8s.core.v1.Namespace(
                f"{name}-{model}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=naming.model_namespace(model),
                    labels={
                        # The model server meets the restricted Pod Security Standard; admission enforces it.
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": "latest",
                        "environment": args.environment,
                        "model": model,
                    },
                ),
                opts=k8s_opts,
            )
            for model in sorted([*args.models, *args.pulled])
        }
        self.roles = {}
        if args.oidc_provider_arn is not None and args.oidc_host is not None:
            self.roles = {model: self._irsa_role(name, model, access) for model, access in sorted(args.models.items())}
        after_argocd = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.argocd])
        self.project = k8s.apiextensions.CustomResource(
            f"{name}-project",
            api_version="argoproj.io/v1alpha1",
            kind="AppProject",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=naming.argocd_project(), namespace=ARGOCD_NAMESPACE),
            spec=project_spec(naming, args.environment, args.repository, list(args.models), args.settings,
                              args.pulled),
            opts=after_argocd,
        )
        self.application_set = k8s.apiextensions.CustomResource(
            f"{name}-models",
            api_version="argoproj.io/v1alpha1",
            kind="ApplicationSet",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{naming.prefix}-models", namespace=ARGOCD_NAMESPACE),
            spec=application_set_spec(naming, args.environment, args.repository, args.settings),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider,
                                        depends_on=[args.argocd, self.project, *self.namespaces.values()]),
        )
        self.applications = {model: naming.argocd_application(model)
                             for model in sorted([*args.models, *args.pulled])}
        self.register_outputs({"project": naming.argocd_project(), "applications": self.applications})

    def _irsa_role(self, name: str, model: str, access: ModelAccess) -> aws.iam.Role:
        a = self._args
        role = aws.iam.Role(
            f"{name}-{model}",
            name=a.naming.k8s_serving_role(model),
            assume_role_policy=irsa_trust("ModelServerServiceAccount", a.oidc_provider_arn, a.oidc_host,
                                          a.naming.model_namespace(model), SERVICE_ACCOUNT),
            tags=model_tags(model),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{name}-{model}",
            role=role.id,
            policy=policy_document(self._permissions(model, access)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role

    def _permissions(self, model: str, access: ModelAccess) -> list[dict]:
        """Read the approved package and its artifact; with capture on, also write captured requests under this
        model's own capture prefix, SSE-KMS with the shared key, which S3 alone may use for it
        (`kms:ViaService`, as the shared key's policy grants environment accounts). SSE-KMS PutObject needs
        kms:GenerateDataKey only (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html,
        "Permissions"; kms:Decrypt is for multipart uploads, which the shipper never makes)."""
        arns = Arns(self._args.partition, "", "")
        packages = pulumi.Output.from_input(access.package_group_arn).apply(packages_of_group)
        statements = [
            allow("DescribeApprovedPackages", ["sagemaker:DescribeModelPackage"], [packages]),
            allow("ReadModelArtifacts", ["s3:GetObject"],
                  [arns.objects(access.artifacts_bucket, f"{bucket_layout.model_prefix(model)}*")]),
            allow("DecryptModelArtifacts", ["kms:Decrypt", "kms:DescribeKey"], [access.kms_key_arn]),
        ]
        if access.capture is not None:
            c = access.capture
            statements += [
                allow("WriteCapturedRequests", ["s3:PutObject"], [arns.objects(c.bucket, f"{c.prefix}*")]),
                allow("EncryptCapturedRequests", ["kms:GenerateDataKey"], [access.kms_key_arn],
                      Condition={"StringEquals": {
                          "kms:ViaService": pulumi.Output.concat("s3.", c.region, ".amazonaws.com")}}),
            ]
        return statements
