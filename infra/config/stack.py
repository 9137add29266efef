"""Everything one stack can say: the top-level `mlops:` keys and the per-model section."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, model_validator

from infra.config.base import (
    AWS_KEYS,
    AccountId,
    ModelName,
    _Strict,
)
from infra.config.cluster import ArgoCd, Cluster
from infra.config.deploy import Deploy, KubernetesDeploy, SageMakerDeploy, _DeployBase
from infra.config.monitoring import Experiments
from infra.config.training import Training
from infra.core.capacity import CapacityReport, PodSet, Resources, capacity_problems, check, cpu_m, memory_mi
from infra.core.cluster_workloads import PER_NODE, model_pods, system_pods


class Model(_Strict):
    """One model: trained in the shared stack, served in environment stacks. What it is (the estimator) is
    chosen by `training.hyperparameters.algorithm`, as the model code's contract defines."""

    training: Training | None = Field(None, description="How the shared stack trains it (shared stack only).")
    deploy: Deploy | None = Field(None, description="How this environment serves it (environment stacks only).")


class AssumeRole(_Strict):
    """A role the provider assumes, e.g. from a CI account into an environment account."""

    role_arn: str = Field(
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$", description="ARN of the role to assume."
    )
    session_name: str | None = Field(None, pattern=r"^[\w+=,.@-]{2,64}$", description="Session name in CloudTrail.")
    external_id: str | None = Field(
        None, min_length=2, max_length=1224, description="External id the role's trust policy requires."
    )


class Network(_Strict):
    """Private subnets and security groups for training and serving; empty means no VPC."""

    subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(
        default_factory=list, description="Private subnets for training jobs and endpoints."
    )
    security_group_ids: list[Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")]] = Field(
        default_factory=list, description="Security groups for training jobs and endpoints."
    )

    @model_validator(mode="after")
    def _both_or_neither(self) -> Network:
        if bool(self.subnet_ids) != bool(self.security_group_ids):
            raise ValueError("give both subnetIds and securityGroupIds, or neither")
        return self



class StackConfig(_Strict):
    """Everything one stack can say. The field names are the `mlops:` keys of a stack file."""

    kind: Literal["shared", "environment"] = Field(
        "environment",
        description="Stack kind: `shared` holds registries, artifact store and training; `environment` serves.",
    )
    environment: str = Field(pattern=r"^[a-z][a-z0-9-]{1,15}$", description="Tier name: dev, staging, prod.")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$", description=AWS_KEYS["region"])
    profile: str | None = Field(None, description=AWS_KEYS["profile"])
    assume_roles: list[AssumeRole] = Field(default_factory=list, max_length=1, description=AWS_KEYS["assumeRoles"])
    account_id: AccountId | None = Field(
        None, description="The 12-digit account this stack deploys into; any other account is refused."
    )
    owner: str = Field("ml-platform", min_length=1, max_length=64,
                       description="Team that owns the resources; becomes the `owner` tag.")
    cost_center: str = Field("ml-0000", min_length=1, max_length=64,
                             description="Cost center billed for the resources; becomes the `cost-center` tag.")
    shared_stack: str = Field(
        "organization/mlops/shared", pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
        description="Fully qualified name (org/project/stack) of the shared stack that environment stacks reference.",
    )
    github_repository: str = Field(
        "acme/ml-platform", pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
        description="owner/name of the GitHub repository whose workflows may assume the CI roles; no wildcards.",
    )
    protect: bool = Field(False, description="Protect stateful resources (keys, buckets, registries) from deletion.")
    github_oidc_provider: Literal["create", "from-shared"] | None = Field(
        None,
        description="`create` the GitHub OIDC provider in this stack's account, or reuse the shared stack's "
        "(same account only). Default: create in the shared stack, reuse in environment stacks.",
    )
    reader_account_ids: list[AccountId] = Field(
        default_factory=list,
        description="Environment account ids granted read on the shared registries and artifact store.",
    )
    github_dispatch_token: SecretStr | None = Field(
        None,
        description="Shared stack only: a GitHub token allowed to create repository_dispatch events on "
        "githubRepository; EventBridge sends package approvals there. Set it with `pulumi config set --secret "
        "mlops:githubDispatchToken`; a plain-text value is refused.",
    )
    network: Network = Field(default_factory=Network, description="VPC placement of training and serving.")
    tags: dict[Annotated[str, Field(min_length=1, max_length=128)], Annotated[str, Field(max_length=256)]] = (
        Field(default_factory=dict, description="Extra tags on every resource (string values only).")
    )
    models: dict[ModelName, Model] = Field(min_length=1, description="The models, by name (lower-case, 2-20 chars).")
    cluster: Cluster | None = Field(None, description="The Kubernetes cluster of the pull path (environments only).")
    argocd: ArgoCd | None = Field(None, description="Argo CD in that cluster; required with a cluster.")
    experiments: Experiments | None = Field(
        None, description="Shared stack only: a SageMaker managed MLflow tracking server that training logs to."
    )
    live_instance_counts: dict[ModelName, Annotated[int, Field(ge=0, le=1000)]] = Field(
        default_factory=dict,
        description="Set by CI, not in a stack file: the live instance count of each autoscaled SageMaker endpoint "
        "delivered by push, as `infra.release live-capacity` reads it before `pulumi up` (deploy.yml passes it "
        "with the Pulumi action's `config-map`). A release then starts its green fleet at that count, bounded by "
        "[instanceCount, autoscaling.maxCapacity], instead of resetting to instanceCount. See docs/serving.md.",
    )

    @model_validator(mode="after")
    def _models_fit_kind(self) -> StackConfig:
        problems = []
        problems += self._cluster_problems()
        if self.kind == "shared" and self.github_oidc_provider == "from-shared":
            problems.append("githubOidcProvider: the shared stack creates the provider; use 'create' or omit it")
        if self.kind != "shared" and self.github_dispatch_token is not None:
            problems.append("githubDispatchToken: only the shared stack routes approvals to GitHub; remove it here")
        for name, model in self.models.items():
            if self.kind == "shared":
                if model.training is None:
                    problems.append(f"models.{name}.training is required in a shared stack")
                if model.deploy is not None:
                    problems.append(f"models.{name}.deploy belongs in an environment stack, not the shared one")
            else:
                if model.deploy is None:
                    problems.append(f"models.{name}.deploy is required in an environment stack")
                if model.training is not None:
                    problems.append(f"models.{name}.training belongs in the shared stack")
        problems += self._apply_live_counts()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _apply_live_counts(self) -> list[str]:
        """Give each named model's deploy section its live count; only autoscaled push endpoints have one."""
        problems = []
        for name, live in self.live_instance_counts.items():
            deploy = self.models[name].deploy if name in self.models else None
            if not isinstance(deploy, SageMakerDeploy) or deploy.delivery != "push" or deploy.autoscaling is None:
                problems.append(f"liveInstanceCounts.{name}: only an autoscaled SageMaker endpoint delivered by "
                                f"push has a live count that a release starts at")
                continue
            # frozen model: set once, while validating
            object.__setattr__(self.models[name], "deploy", deploy.at_live_count(live))
        return problems

    def _cluster_problems(self) -> list[str]:
        problems = []
        if self.kind != "shared" and self.experiments is not None:
            problems.append("experiments belongs in the shared stack (one tracking server for every environment)")
        if self.kind == "shared" and (self.cluster or self.argocd):
            problems.append("cluster and argocd belong in an environment stack, not the shared one")
            return problems
        if self.cluster is not None and self.argocd is None:
            problems.append("argocd is required with a cluster (the pull path installs Argo CD)")
        if self.argocd is not None and self.cluster is None:
            problems.append("argocd needs a cluster section (eks or kubeconfig)")
        if self.cluster is None and self.kubernetes_models():
            problems.append(
                f"models {', '.join(sorted(self.kubernetes_models()))} deploy to kubernetes, so a cluster section "
                "is required"
            )
        if self.cluster is None and self.pulled_sagemaker_models():
            problems.append(
                f"models {', '.join(sorted(self.pulled_sagemaker_models()))} use delivery 'pull', so a cluster "
                "section is required (Argo CD and the ACK SageMaker controller run there)"
            )
        if (self.cluster is not None and self.cluster.kubeconfig is not None
                and self.cluster.oidc_provider_arn is None and self.pulled_sagemaker_models()):
            problems.append("delivery 'pull' needs cluster.oidcProviderArn with a kubeconfig cluster (the ACK "
                            "SageMaker controller's IRSA role trusts that provider)")
        if (self.argocd is not None and self.argocd.high_availability and self.cluster is not None
                and self.cluster.eks is not None and self.cluster.eks.node_min < 3):
            problems.append(
                f"argocd.highAvailability needs cluster.eks.nodeMin >= 3 (Redis HA places its three replicas on "
                f"separate nodes); got {self.cluster.eks.node_min}"
            )
        report = self.capacity_report()
        if report is not None:
            problems += capacity_problems(report)
        if self.argocd is not None and self.protect:
            if self.argocd.notification_webhook_url is None:
                problems.append("argocd.notificationWebhookUrl is required in a protected stack: without it the "
                                "sync-failed and health-degraded triggers deliver to nobody")
            if self.argocd.local_admin:
                problems.append("argocd.localAdmin must be false in a protected stack (use SSO)")
            if self.argocd.sync == "automated" and not self.argocd.sync_windows:
                problems.append(
                    "argocd.sync is 'automated' in a protected stack, so argocd.syncWindows is required "
                    "(or set sync: manual)"
                )
        return problems

    def capacity_report(self) -> CapacityReport | None:
        """Whether an EKS cluster's node group at nodeMax holds the peak: every model at maxReplicas plus its
        rollout surge and smoke Job, plus the system pods (`infra.core.capacity`); None without an EKS cluster."""
        if self.cluster is None or self.cluster.eks is None or self.argocd is None:
            return None
        eks = self.cluster.eks
        pods: list[PodSet] = system_pods(self.argocd.high_availability, ack=bool(self.pulled_sagemaker_models()),
                                         autoscaler=True)
        for name, deploy in sorted(self.kubernetes_models().items()):
            container = Resources(cpu_m(deploy.resources.cpu_request), memory_mi(deploy.resources.memory_request))
            pods += model_pods(name, container, deploy.max_replicas)
        return check(eks.node_instance_types, eks.node_max, PER_NODE, pods)

    def kubernetes_models(self) -> dict[str, KubernetesDeploy]:
        """The models this environment serves on Kubernetes (the pull path)."""
        return {name: m.deploy for name, m in self.models.items() if isinstance(m.deploy, KubernetesDeploy)}

    def pulled_sagemaker_models(self) -> dict[str, SageMakerDeploy]:
        """The SageMaker models Argo CD delivers through the ACK controller (delivery `pull`)."""
        return {name: d for name, d in self.sagemaker_models().items() if d.delivery == "pull"}

    def creates_oidc_provider(self) -> bool:
        """An account holds one provider per URL, so exactly one stack per account creates it."""
        if self.github_oidc_provider is None:
            return self.kind == "shared"
        return self.github_oidc_provider == "create"

    def sagemaker_models(self) -> dict[str, SageMakerDeploy]:
        """The models this environment serves on SageMaker, by either delivery (see `delivery`)."""
        return {name: m.deploy for name, m in self.models.items() if isinstance(m.deploy, SageMakerDeploy)}

    def pinned_versions(self) -> dict[str, int]:
        """The package version each served model pins in this environment (what promotion changes)."""
        return {
            name: m.deploy.approved_version
            for name, m in self.models.items()
            if isinstance(m.deploy, _DeployBase)
        }

    def monitored_models(self) -> dict[str, SageMakerDeploy | KubernetesDeploy]:
        """The served models whose captured requests a monitoring schedule judges (docs/monitoring.md)."""
        return {name: m.deploy for name, m in self.models.items()
                if isinstance(m.deploy, SageMakerDeploy | KubernetesDeploy) and m.deploy.monitoring.enabled}

    def trained_models(self) -> dict[str, Training]:
        """The models the shared stack trains and registers."""
        return {name: m.training for name, m in self.models.items() if m.training is not None}


