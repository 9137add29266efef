"""The typed stack configuration: parsed and validated once, at the edge, before any resource exists.

The Pulumi CLI hands a program a flat map of `namespace:key` strings (objects arrive as JSON text). This
module turns that map into frozen, fully validated objects. Components trust these objects and never
re-check them. Every problem is collected and reported together, each naming the key path, the bad value
and what is allowed, so a typo in a stack file costs one round trip, not five.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from infra.rollout import TrafficStep, bake_problems, step_problems, traffic_steps
from infra.training_contract import hyperparameter_problems

PROJECT_NAMESPACE = "mlops"
"""Config namespace of this program's own keys (the project name in Pulumi.yaml)."""

AWS_KEYS = {
    "region": "the AWS region to deploy into (required)",
    "profile": "a named AWS CLI profile for local runs",
    "assumeRoles": "roles to assume into this stack's account, as [{roleArn, sessionName, externalId}]",
}
"""The `aws:` keys this program honours. It builds an explicit provider, so others would be ignored."""

ModelName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,19}$")]
InstanceType = Annotated[str, Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")]
AccountId = Annotated[str, Field(pattern=r"^\d{12}$")]
ImageTag = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]


class ConfigError(Exception):
    """Raised with every problem found in a stack's configuration, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class _Strict(BaseModel):
    """Base for config sections: camelCase keys as in the stack file, unknown keys rejected, immutable."""

    # Strict: values inside structured keys come from JSON, so a bool is never an int, a number never a
    # string. Top-level scalars arrive from the CLI as strings; parse_stack_config decodes them first.
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, strict=True
    )


class MetricGate(_Strict):
    """The evaluation metric a candidate must reach before it is registered."""

    metric: Literal["auc", "accuracy", "f1", "precision", "recall"] = Field(
        description="Metric read from evaluation.json (binary_classification_metrics.<metric>.value)."
    )
    threshold: float = Field(ge=0.0, le=1.0, description="Minimum value of the metric, inclusive.")


class Training(_Strict):
    """How the shared stack trains one model (SageMaker Pipeline settings)."""

    image_tag: ImageTag = Field(description="Tag of the model's training image in its ECR repository.")
    serving_image_tag: ImageTag = Field(description="Serving image tag recorded on registered packages.")
    instance_type: InstanceType = Field("ml.m5.large", description="Instance type of the training job.")
    instance_count: int = Field(1, ge=1, le=10, description="Instances of the training job.")
    processing_instance_type: InstanceType = Field(
        "ml.m5.large", description="Instance type of the preprocessing and evaluation steps."
    )
    volume_size_gb: int = Field(
        30, ge=1, le=1024, description="Training volume size, in GiB (encrypted with the shared key)."
    )
    max_runtime_seconds: int = Field(3600, ge=60, le=432000, description="Training job stop condition, in seconds.")
    use_spot: bool = Field(False, description="Managed spot training; needs maxWaitSeconds.")
    max_wait_seconds: int | None = Field(
        None, ge=60, le=432000,
        description="Longest wait for spot capacity plus training, in seconds; only with useSpot.",
    )
    hyperparameters: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Hyperparameters passed to the training entry point (strings on the wire); checked against "
        "the model code's contract, model_code/contract/hyperparameters.schema.json (`algorithm` selects the "
        "estimator).",
    )
    schedule: str | None = Field(
        None,
        pattern=r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^)]+\))$",
        description="EventBridge schedule expression for retraining; null for on-demand only.",
    )
    inference_instance_types: list[InstanceType] = Field(
        default_factory=lambda: ["ml.m5.large"], min_length=1,
        description="Instance types a registered package declares it can be served on.",
    )
    metric_gate: MetricGate = Field(description="The evaluation gate a candidate must pass to be registered.")

    @model_validator(mode="after")
    def _spot_needs_wait(self) -> Training:
        if self.use_spot and self.max_wait_seconds is None:
            raise ValueError("useSpot is true, so maxWaitSeconds is required (>= maxRuntimeSeconds)")
        if self.max_wait_seconds is not None:
            if not self.use_spot:
                raise ValueError("maxWaitSeconds is only allowed with useSpot: true")
            if self.max_wait_seconds < self.max_runtime_seconds:
                raise ValueError(
                    f"maxWaitSeconds ({self.max_wait_seconds}) must be >= maxRuntimeSeconds "
                    f"({self.max_runtime_seconds})"
                )
        return self

    @field_validator("image_tag", "serving_image_tag")
    @classmethod
    def _no_moving_tag(cls, value: str) -> str:
        if value == "latest":
            raise ValueError("'latest' is a moving tag and the repositories are immutable; pin a version")
        return value

    @field_validator("hyperparameters")
    @classmethod
    def _hyperparameter_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = [k for k in value if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]{0,255}", k)]
        if bad:
            raise ValueError(f"hyperparameter names must match [A-Za-z_][A-Za-z0-9_.-]*, got {bad}")
        return value

    def hyperparameter_strings(self) -> dict[str, str]:
        """SageMaker takes hyperparameters as strings; booleans as lower-case words."""
        return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in self.hyperparameters.items()}


class Rollout(_Strict):
    """Blue/green traffic shifting of a SageMaker endpoint update."""

    strategy: Literal["all-at-once", "canary", "linear"] = Field(
        "all-at-once", description="How traffic moves to the new fleet: in one shift, a canary then the rest, or steps."
    )
    step_percent: int | None = Field(
        None, ge=1, le=50,
        description="Canary size, or linear step, as a percentage of the release fleet; it must match a whole number "
        "of instances (the plan shows the instances, and AWS is sent that instance count).",
    )
    wait_seconds: int = Field(
        300, ge=0, le=3600,
        description="Bake time after each traffic shift; at least as long as the rollback alarms need to fire.",
    )
    termination_wait_seconds: int = Field(
        300, ge=0, le=3600, description="How long the old fleet is kept after the last shift, for a fast rollback."
    )
    max_execution_seconds: int = Field(
        3600, ge=600, le=28800, description="Longest a whole release may take before SageMaker rolls it back."
    )

    @model_validator(mode="after")
    def _step_matches_strategy(self) -> Rollout:
        if self.strategy in ("canary", "linear") and self.step_percent is None:
            raise ValueError(f"strategy {self.strategy!r} needs stepPercent (1-50)")
        if self.strategy == "all-at-once" and self.step_percent is not None:
            raise ValueError("stepPercent is only allowed with strategy 'canary' or 'linear'")
        return self


class Autoscaling(_Strict):
    """Target tracking on invocations per instance."""

    min_capacity: int = Field(1, ge=1, le=100, description="Fewest instances scaling may leave; at most instanceCount.")
    max_capacity: int = Field(2, ge=1, le=100, description="Most instances scaling may add; at least instanceCount.")
    target_invocations_per_instance: int = Field(
        100, ge=1, le=100000, description="Invocations per instance per minute that target tracking holds."
    )
    scale_in_cooldown_seconds: int = Field(300, ge=0, le=3600, description="Wait after a scale-in, in seconds.")
    scale_out_cooldown_seconds: int = Field(60, ge=0, le=3600, description="Wait after a scale-out, in seconds.")

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.max_capacity < self.min_capacity:
            raise ValueError(f"maxCapacity ({self.max_capacity}) must be >= minCapacity ({self.min_capacity})")
        return self


class Serverless(_Strict):
    """A serverless variant instead of instances."""

    memory_size_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = Field(
        2048, description="Memory of each serverless worker, in MB."
    )
    max_concurrency: int = Field(5, ge=1, le=200, description="Concurrent invocations before requests are throttled.")


class Shadow(_Strict):
    """A shadow variant that receives a copy of live traffic; its answers are only logged."""

    approved_version: int = Field(ge=1, description="Package version the shadow variant serves (the next candidate).")
    instance_type: InstanceType = Field(description="Instance type of the shadow variant.")
    instance_count: int = Field(1, ge=1, le=10, description="Instances of the shadow variant.")


class Alarms(_Strict):
    """Thresholds of the alarms that page and roll back a deployment."""

    latency_p99_ms: int = Field(1000, ge=1, le=60000, description="p99 model latency, in ms, that trips the alarm.")
    server_errors: int = Field(5, ge=1, description="5XX errors per period that trip the alarm.")
    model_errors: int = Field(5, ge=1, description="Model (invocation) errors per period.")
    period_seconds: Literal[10, 30, 60, 300] = Field(60, description="Length of one alarm evaluation period.")
    evaluation_periods: int = Field(
        2, ge=1, le=10, description="Consecutive breaching periods before the alarm fires (and rolls back)."
    )


class _DeployBase(_Strict):
    """What every deploy target of a model has: the pinned version, how a release rolls out, what aborts it."""

    approved_version: int = Field(
        ge=1, description="Approved model package version pinned for this environment; promotion changes it."
    )
    rollout: Rollout = Field(default_factory=Rollout, description="How a new version takes traffic.")
    alarms: Alarms = Field(default_factory=Alarms, description="Thresholds that page and roll a release back.")

    def _bakes(self) -> bool:
        """Whether a release of this target bakes under the rollback alarms (serverless SageMaker does not)."""
        return True

    def _problems(self) -> list[str]:
        """Contradictions between this section's keys; targets extend the list with their own."""
        if not self._bakes():
            return []
        return bake_problems(self.rollout.wait_seconds, self.alarms.period_seconds, self.alarms.evaluation_periods)

    @model_validator(mode="after")
    def _consistent(self) -> _DeployBase:
        problems = self._problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self


class SageMakerDeploy(_DeployBase):
    """Serve on a SageMaker endpoint, delivered by `pulumi up` (push) or by Argo CD through the ACK SageMaker
    controller from `gitops/<env>/<model>/` (pull). Every other field means the same on both paths."""

    target: Literal["sagemaker"] = Field(description="Deploy target: a SageMaker endpoint.")
    delivery: Literal["push", "pull"] = Field(
        "push",
        description="Who creates the model, endpoint configuration and endpoint: `push` is `pulumi up`; `pull` is "
        "Argo CD syncing ACK objects from gitops/<env>/<model>/ (needs a cluster). Role, key, alarms, autoscaling "
        "and dashboard stay in Pulumi either way.",
    )
    instance_type: InstanceType | None = Field(None, description="Instance type; exclusive with serverless.")
    instance_count: int = Field(
        1, ge=1, le=20,
        description="Instances of the primary variant, and the size of every release's green fleet (with "
        "autoscaling, blue/green resets the variant to this count, so keep it >= minCapacity and raise it before a "
        "release at peak load).",
    )
    serverless: Serverless | None = Field(None, description="A serverless variant instead of instances.")
    autoscaling: Autoscaling | None = Field(None, description="Target tracking on invocations per instance.")
    data_capture_percent: int = Field(
        0, ge=0, le=100, description="Share of requests (and responses) captured for drift checks; 0 is off."
    )
    shadow: Shadow | None = Field(None, description="A shadow variant that tries the next candidate on live traffic.")

    def _problems(self) -> list[str]:
        problems = super()._problems()
        if (self.serverless is None) == (self.instance_type is None):
            problems.append("set exactly one of instanceType or serverless")
        if self.serverless is not None:
            if self.rollout.strategy != "all-at-once":
                problems.append("serverless endpoints support only rollout strategy 'all-at-once'")
            if self.autoscaling is not None:
                problems.append("serverless endpoints scale by maxConcurrency; remove autoscaling")
            if self.shadow is not None:
                problems.append("serverless endpoints cannot have a shadow variant")
        if self.autoscaling is not None and not (
            self.autoscaling.min_capacity <= self.instance_count <= self.autoscaling.max_capacity
        ):
            problems.append(
                f"instanceCount ({self.instance_count}) must lie within autoscaling "
                f"[{self.autoscaling.min_capacity}, {self.autoscaling.max_capacity}]"
            )
        if self.delivery == "pull" and self.shadow is not None:
            problems.append("shadow is not supported with delivery 'pull' (the ACK SageMaker controller 1.9.1 "
                            "EndpointConfig has no shadowProductionVariants); remove shadow or use delivery 'push'")
        if self.serverless is None:
            problems += [f"rollout.stepPercent vs instanceCount: {p}"
                         for p in step_problems(self.rollout.strategy, self.rollout.step_percent,
                                                self.release_instance_count())]
        return problems

    def _bakes(self) -> bool:
        return self.serverless is None

    def release_instance_count(self) -> int:
        """The green fleet of every release: the endpoint configuration's initial instance count.

        Blue/green provisions the new fleet at this count and suspends autoscaling until the update ends, so
        the config keeps it within [minCapacity, maxCapacity]: a release never starts below the floor.
        """
        return self.instance_count

    def traffic_steps(self) -> list[TrafficStep]:
        """The traffic shifts of a release, in whole instances of the release fleet."""
        return traffic_steps(self.rollout.strategy, self.rollout.step_percent, self.release_instance_count())


Quantity = Annotated[str, Field(pattern=r"^\d+(\.\d+)?(m|Ki|Mi|Gi)?$")]


class ContainerResources(_Strict):
    """Requests and limits of the model-server container (Kubernetes quantities)."""

    cpu_request: Quantity = Field("250m", description="CPU the scheduler reserves per pod.")
    memory_request: Quantity = Field("512Mi", description="Memory the scheduler reserves per pod.")
    cpu_limit: Quantity = Field("1", description="CPU a pod may use at most.")
    memory_limit: Quantity = Field("1Gi", description="Memory a pod may use at most (then it is OOM-killed).")


class KubernetesDeploy(_DeployBase):
    """Serve on Kubernetes as an Argo Rollouts `Rollout`, delivered by Argo CD from `gitops/` (the pull path).

    The manifests live in `gitops/<env>/<model>/`; these fields say what the overlay must declare, and CI checks
    that the rendered overlay agrees (steps from `rollout`, replicas, resources), so the stack file and Git
    cannot silently mean two different things.
    """

    target: Literal["kubernetes"] = Field(description="Deploy target: a model server in the environment's cluster.")
    replicas: int = Field(2, ge=1, le=50, description="Minimum replicas (the HPA's floor and the Rollout's size).")
    max_replicas: int = Field(4, ge=1, le=100, description="The HPA's ceiling.")
    target_cpu_percent: int = Field(70, ge=10, le=100, description="HPA target average CPU utilisation.")
    resources: ContainerResources = Field(default_factory=ContainerResources,
                                          description="Requests and limits of the model-server container.")

    @model_validator(mode="after")
    def _replica_bounds(self) -> KubernetesDeploy:
        if self.max_replicas < self.replicas:
            raise ValueError(f"maxReplicas ({self.max_replicas}) must be >= replicas ({self.replicas})")
        return self


class NoDeploy(_Strict):
    """Registered and trained, but not served in this environment."""

    target: Literal["none"] = Field(description="Not served here.")


Deploy = Annotated[SageMakerDeploy | KubernetesDeploy | NoDeploy, Field(discriminator="target")]
"""How an environment stack serves one model: one class per deploy target, chosen by `target`."""

DEPLOY_TARGETS: dict[str, type[_Strict]] = {"sagemaker": SageMakerDeploy, "kubernetes": KubernetesDeploy,
                                            "none": NoDeploy}
"""Every deploy target and the class of its config section (used to list allowed keys in errors)."""


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


SubnetId = Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]
RoleArn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")]
Cidr = Annotated[str, Field(pattern=r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")]


class EksCluster(_Strict):
    """An EKS cluster the program creates: secrets encrypted with the environment key, a managed node group."""

    version: str = Field("1.33", pattern=r"^1\.\d{2}$", description="Kubernetes minor version, e.g. '1.33'.")
    subnet_ids: list[SubnetId] = Field(min_length=2, description="Private subnets in at least two zones.")
    public_endpoint_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="CIDRs allowed to reach the API server's public endpoint; empty keeps the endpoint private.",
    )
    node_instance_types: list[Annotated[str, Field(pattern=r"^[a-z0-9]+\.[a-z0-9]+$")]] = Field(
        default_factory=lambda: ["m6i.large"], min_length=1, description="Instance types of the managed node group."
    )
    node_min: int = Field(2, ge=1, le=100, description="Nodes at least.")
    node_max: int = Field(4, ge=1, le=100, description="Nodes at most.")
    admin_role_arns: list[RoleArn] = Field(
        default_factory=list, description="IAM roles given cluster-admin through EKS access entries."
    )

    @model_validator(mode="after")
    def _bounds(self) -> EksCluster:
        problems = []
        if self.node_max < self.node_min:
            problems.append(f"nodeMax ({self.node_max}) must be >= nodeMin ({self.node_min})")
        wide = [c for c in self.public_endpoint_cidrs if c.endswith("/0")]
        if wide:
            problems.append(f"publicEndpointCidrs must not open the API server to the internet (got {wide})")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Cluster(_Strict):
    """Where the pull path runs: an EKS cluster this stack creates, or an existing one given by kubeconfig."""

    eks: EksCluster | None = Field(None, description="Create an EKS cluster with these settings.")
    kubeconfig: SecretStr | None = Field(
        None, description="Kubeconfig of an existing cluster; set it as a secret (pulumi config set --secret --path)."
    )
    oidc_provider_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/.+$",
        description="With kubeconfig: the IAM OIDC provider of that cluster, for IRSA roles of the model servers.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Cluster:
        if (self.eks is None) == (self.kubeconfig is None):
            raise ValueError("set exactly one of eks (create a cluster) or kubeconfig (use an existing one)")
        if self.eks is not None and self.oidc_provider_arn is not None:
            raise ValueError("oidcProviderArn is only for a kubeconfig cluster; an EKS cluster brings its own")
        return self


class Sso(_Strict):
    """OIDC single sign-on for the Argo CD UI and CLI."""

    issuer: str = Field(pattern=r"^https://[^\s]+$", description="The OIDC issuer URL.")
    client_id: str = Field(min_length=1, max_length=256, description="The OIDC client id registered for Argo CD.")
    client_secret: SecretStr = Field(description="The OIDC client secret; set it as a Pulumi secret.")


class SyncWindow(_Strict):
    """A window in which Argo CD may sync automatically (an AppProject `allow` window)."""

    schedule: str = Field(pattern=r"^\S+ \S+ \S+ \S+ \S+$", description="Cron start of the window, e.g. '0 9 * * 1-4'.")
    duration: str = Field(pattern=r"^\d+[mh]$", description="Length of the window, e.g. '2h'.")
    time_zone: str = Field("UTC", min_length=1, description="IANA time zone of the schedule.")


class ArgoCd(_Strict):
    """Argo CD as installed in this environment, and how it syncs what `gitops/<env>/` declares."""

    url: str = Field(pattern=r"^https://[^\s/]+$", description="The external URL of Argo CD (SSO redirects to it).")
    sso: Sso = Field(description="OIDC single sign-on.")
    admin_group: str = Field(min_length=1, max_length=256, description="The SSO group mapped to role:admin.")
    high_availability: bool = Field(False, description="Install the chart's HA setup (Redis HA, replicas).")
    local_admin: bool = Field(False, description="Keep the built-in admin account; never in a protected stack.")
    sync: Literal["automated", "manual"] = Field(
        "automated", description="'automated' (with prune and self-heal) or 'manual' syncs."
    )
    sync_windows: list[SyncWindow] = Field(
        default_factory=list, description="Allow windows; with them, automated syncs happen only inside."
    )
    revision: str = Field("main", min_length=1, description="The Git revision Argo CD follows.")
    notification_webhook_url: SecretStr | None = Field(
        None, description="Webhook that receives sync-failed and health-degraded notifications (a secret)."
    )


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
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _cluster_problems(self) -> list[str]:
        problems = []
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
        if self.argocd is not None and self.protect:
            if self.argocd.local_admin:
                problems.append("argocd.localAdmin must be false in a protected stack (use SSO)")
            if self.argocd.sync == "automated" and not self.argocd.sync_windows:
                problems.append(
                    "argocd.sync is 'automated' in a protected stack, so argocd.syncWindows is required "
                    "(or set sync: manual)"
                )
        return problems

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

    def trained_models(self) -> dict[str, Training]:
        """The models the shared stack trains and registers."""
        return {name: m.training for name, m in self.models.items() if m.training is not None}


def parse_stack_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate the CLI's flat config map. Raises ConfigError with every problem found."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    allowed_project_keys = sorted(
        key for key in (f.alias or n for n, f in StackConfig.model_fields.items()) if key not in AWS_KEYS
    )
    for full_key, value in sorted(raw.items()):
        namespace, _, key = full_key.partition(":")
        if namespace == "aws":
            if key not in AWS_KEYS:
                problems.append(
                    f"aws:{key}: not supported by this program (it builds its own provider); "
                    f"allowed: {', '.join('aws:' + k for k in AWS_KEYS)}"
                )
                continue
        elif namespace == PROJECT_NAMESPACE:
            if key not in allowed_project_keys:
                problems.append(f"{full_key}: unknown key; allowed keys: {', '.join(allowed_project_keys)}")
                continue
        else:
            continue  # Other namespaces (other providers, other programs' keys) are not ours to judge.
        try:
            decoded = _decode(key, value)
        except json.JSONDecodeError as exc:
            problems.append(f"{full_key}: not valid JSON ({exc.msg}); got {_short(value)}")
            values[key] = None
        except ValueError as exc:
            problems.append(f"{full_key}: {exc}")
            values[key] = None
        else:
            if decoded is not _UNSET:
                values[key] = decoded
    undecodable = {key for key, value in values.items() if value is None}
    try:
        config = StackConfig.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        problems.extend(_describe(e) for e in exc.errors() if not e["loc"] or e["loc"][0] not in undecodable)
    else:
        problems.extend(_contract_problems(config))
        if not problems:
            return config
    raise ConfigError(problems)


def _contract_problems(config: StackConfig) -> list[str]:
    """Hyperparameters the model code's training entry point would refuse (its published contract)."""
    return [
        f"{PROJECT_NAMESPACE}:models.{model}.training.hyperparameters.{key}: {problem}"
        for model, training in sorted(config.trained_models().items())
        for key, problem in hyperparameter_problems(training.hyperparameters)
    ]


_UNSET = object()
"""An optional key given as the empty string: Pulumi.yaml declares such keys with default "" (see config_docs)."""

_MAX_JSON_DEPTH = 32


def scalar_kind(annotation: Any) -> str | None:
    """'str', 'int' or 'bool' for a key the CLI passes as a plain string; None for one it passes as JSON text."""
    args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
    if getattr(annotation, "__origin__", None) is Literal:
        kinds = {type(a) for a in annotation.__args__}
        return "str" if kinds == {str} else "int" if kinds == {int} else None
    if annotation in (str, int, bool):
        return annotation.__name__
    if annotation is SecretStr:  # a `secure:` value reaches the program decrypted, as a plain string
        return "str"
    if getattr(annotation, "__metadata__", None) is not None:  # Annotated[str, Field(...)]
        return scalar_kind(annotation.__origin__)
    if len(args) == 1 and type(None) in getattr(annotation, "__args__", ()):  # X | None
        return scalar_kind(args[0])
    return None


def _field_for(key: str) -> Any:
    return next((f for n, f in StackConfig.model_fields.items() if (f.alias or n) == key), None)


def _decode(key: str, value: Any) -> Any:
    """The CLI's text for one top-level key, as the typed value the model validates strictly.

    Objects and lists arrive as JSON text; booleans and integers as their words and digits; anything else as
    the string itself. A YAML list or map given for a string key arrives as JSON text too, and is refused here
    rather than becoming, say, a tag value.
    """
    field = _field_for(key)
    if not isinstance(value, str) or field is None:
        return value
    kind = scalar_kind(field.annotation)
    if value == "" and field.default is None and not field.is_required():
        return _UNSET
    if kind is None:
        return _load_json(value)
    if kind == "bool":
        # The words the Pulumi SDK's `Config.get_bool` accepts; anything else is left for the model to refuse.
        return {"true": True, "True": True, "false": False, "False": False}.get(value, value)
    if kind == "int":
        return int(value) if re.fullmatch(r"-?[0-9]{1,9}", value) else value
    if value[:1] in "[{":
        try:
            structured = json.loads(value)
        except (ValueError, RecursionError):
            return value
        if isinstance(structured, list | dict):
            raise ValueError(f"expected a single value, got a {type(structured).__name__}; got {_short(structured)}")
    return value


def _load_json(text: str) -> Any:
    """JSON with duplicate keys refused (the last one would silently win) and nesting bounded."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"duplicate key(s) {', '.join(map(repr, duplicates))}")
        return dict(pairs)

    depth = max_depth = 0
    in_string = escaped = False
    for char in text:  # A cheap bound before parsing: json's recursion would otherwise end in RecursionError.
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            max_depth = max(max_depth, depth)
        elif char in "]}":
            depth -= 1
    if max_depth > _MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {_MAX_JSON_DEPTH} levels")
    return json.loads(text, object_pairs_hook=no_duplicates)


def _describe(error: Mapping[str, Any]) -> str:
    """One line per pydantic error: the key path as written in the stack file, the value, what is allowed."""
    loc, section = _walk(error["loc"])
    if error["type"] == "extra_forbidden":
        _, parent = _walk(error["loc"][:-1])
        return f"{_key_path(loc)}: unknown key; allowed keys: {', '.join(_keys_of(parent))}"
    if error["type"] == "missing":
        return f"{_key_path(loc)}: required key is missing"
    if error["type"] in ("union_tag_not_found", "union_tag_invalid"):
        *others, last = (repr(t) for t in DEPLOY_TARGETS)
        allowed = f"Input should be {', '.join(others)} or {last}"
        if error["type"] == "union_tag_not_found":
            return f"{_key_path([*loc, 'target'])}: required key is missing; {allowed}"
        return f"{_key_path([*loc, 'target'])}: {allowed}; got {_short((error.get('ctx') or {}).get('tag'))}"
    message = error["msg"].removeprefix("Value error, ")
    if loc[-1:] == ["[key]"]:
        return f"{_key_path(loc[:-2])}: the name {loc[-2]!r} is not allowed: {message}"
    if error["type"] in ("value_error", "assertion_error") or error["type"].startswith("model_"):
        return f"{_key_path(loc)}: {message}"
    return f"{_key_path(loc)}: {message}; got {_short(error.get('input'))}"


def _key_path(loc: list[str]) -> str:
    if not loc:
        return PROJECT_NAMESPACE
    head = loc[0]
    namespace = "aws" if head in AWS_KEYS else PROJECT_NAMESPACE
    return f"{namespace}:{'.'.join(loc)}"


def _walk(loc: tuple[Any, ...]) -> tuple[list[str], Any]:
    """Follow an error location through the schema: the key path as the stack file spells it (without the
    discriminator tags pydantic inserts for `deploy`), and the config section the location ends in."""
    model: Any = StackConfig
    path: list[str] = []
    union_next = False
    for part in loc:
        if union_next and part in DEPLOY_TARGETS:
            model, union_next = DEPLOY_TARGETS[part], False
            continue  # pydantic's tag, not a key of the stack file
        path.append(str(part))
        if isinstance(part, int) or not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            continue  # A free-form map key (a model name): the next part indexes into the map's value type.
        model = _section_type(field.annotation)
        union_next = model == Deploy
    return path, model


def _keys_of(model: Any) -> list[str]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(f.alias or n for n, f in model.model_fields.items())
    return []


def _section_type(annotation: Any) -> Any:
    """The BaseModel (or the Deploy union) inside `X | None` or `dict[str, X]`, or the annotation itself."""
    if annotation == Deploy:
        return annotation
    args = getattr(annotation, "__args__", ())
    for arg in (annotation, *reversed(args)):
        if arg == Deploy or (isinstance(arg, type) and issubclass(arg, BaseModel)):
            return arg
    return annotation


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
