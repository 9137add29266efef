"""How the shared stack trains one model: SageMaker Pipeline settings and the metric gate."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from infra.config.base import (
    ImageTag,
    InstanceType,
    _Strict,
)
from infra.config.monitoring import RetrainOnDrift


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
    retrain_on_drift: RetrainOnDrift = Field(
        default_factory=RetrainOnDrift,
        description="What an environment's drift alarm may do to this pipeline: the retraining guards "
        "(docs/monitoring.md). Off by default (the kill switch `enabled: false`): drift alarms page, never retrain.",
    )

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


