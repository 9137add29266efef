"""How an environment serves one model: one section class per deploy target, and what they share
(rollout, alarms), chosen by `target`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, model_validator

from infra.config.base import (
    InstanceType,
    _Strict,
)
from infra.config.monitoring import Monitoring
from infra.core.rollout import TrafficStep, bake_problems, step_problems, traffic_steps, within_aws_limits


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
    monitoring: Monitoring = Field(default_factory=Monitoring,
                                   description="Drift monitoring of the captured requests (docs/monitoring.md).")

    def capture_percent(self) -> int:
        """Share of requests captured for the monitor; each target says where it keeps the setting."""
        return 0

    def _bakes(self) -> bool:
        """Whether a release of this target bakes under the rollback alarms (serverless SageMaker does not)."""
        return True

    def _problems(self) -> list[str]:
        """Contradictions between this section's keys; targets extend the list with their own."""
        problems = []
        if self.monitoring.enabled and not self.capture_percent():
            problems.append("monitoring.enabled needs dataCapturePercent > 0 (the monitor judges captured requests)")
        if not self._bakes():
            return problems
        return problems + bake_problems(self.rollout.wait_seconds, self.alarms.period_seconds,
                                        self.alarms.evaluation_periods)

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

    def capture_percent(self) -> int:
        return self.data_capture_percent

    _live_instance_count: int | None = PrivateAttr(None)

    def at_live_count(self, live: int) -> SageMakerDeploy:
        """This deploy section, releasing at the endpoint's live instance count (`mlops:liveInstanceCounts`)."""
        copy = self.model_copy()
        copy._live_instance_count = live
        return copy

    def release_instance_count(self) -> int:
        """The green fleet of every release: the endpoint configuration's initial instance count.

        Blue/green provisions the new fleet at this count and suspends autoscaling until the update ends; the
        provider cannot send `RetainAllVariantProperties`, so without more the fleet would start at `instanceCount`
        even when autoscaling has raised the live count, and a release at peak load would drop capacity. With
        autoscaling and a live count (passed by CI, read by `infra.release live-capacity`), the release starts at
        the live count, bounded by the scaling range and never below `instanceCount` (the count the rollout steps
        were validated for): `min(max(live, instanceCount), maxCapacity)`, or the largest count below that whose
        traffic step (stepPercent rounded to whole instances) SageMaker accepts (a linear step of 2 of 3 instances,
        67 %, is over its 50 % limit).
        """
        live = self._live_instance_count
        if live is None or self.autoscaling is None:
            return self.instance_count
        bounded = min(max(live, self.instance_count), self.autoscaling.max_capacity)
        return next(count for count in range(bounded, self.instance_count - 1, -1)
                    if count == self.instance_count
                    or within_aws_limits(self.rollout.strategy, self.rollout.step_percent, count))

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
    data_capture_percent: int = Field(
        0, ge=0, le=100, description="Share of requests (and responses) the model server captures into the capture "
        "bucket, in SageMaker's data capture format, for drift checks; 0 is off."
    )

    def capture_percent(self) -> int:
        return self.data_capture_percent

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


