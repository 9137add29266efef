"""The continuous-training loop in config: what watches a served model (environment stacks), what may retrain it
on drift (shared stack), and where experiments are tracked (shared stack). See docs/monitoring.md."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from infra.config.base import InstanceType, _Strict

SCHEDULE_EXPRESSIONS = {"hourly": "cron(0 * ? * * *)", "daily": "cron(0 0 ? * * *)"}
"""The two cadences SageMaker Model Monitor documents for `ScheduleConfig.ScheduleExpression`
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ScheduleConfig.html): hourly and daily at 00:00 UTC."""

HOURLY_MAX_RUNTIME_SECONDS = 3600
"""Data quality jobs of an hourly schedule run at most 3600 s (API_MonitoringStoppingCondition.html: "cannot exceed the
frequency of the job"); the API's own range is 1-86400."""


class Monitoring(_Strict):
    """A SageMaker Model Monitor data-quality schedule over the model's captured requests, the PSI per feature it
    publishes to CloudWatch, and the drift alarm on it (whose ALARM may start retraining, behind the shared
    stack's guards). Needs data capture (`dataCapturePercent` > 0)."""

    enabled: bool = Field(False, description="Run the monitoring schedule and the drift alarm for this model.")
    schedule: Literal["hourly", "daily"] = Field(
        "hourly", description="How often the monitor judges the captured requests of the last period."
    )
    instance_type: InstanceType = Field("ml.m5.large", description="Instance type of each monitoring job.")
    instance_count: int = Field(1, ge=1, le=4, description="Instances of each monitoring job.")
    volume_size_gb: int = Field(20, ge=1, le=512, description="Monitoring job volume, in GiB (encrypted).")
    max_runtime_seconds: int = Field(
        1800, ge=60, le=86400, description="Stop condition of one monitoring job; at most 3600 for hourly schedules."
    )
    psi_threshold: float = Field(
        0.2, gt=0.0, le=10.0,
        description="Population stability index above which a feature counts as drifted (0.1-0.2 moderate, > 0.2 "
        "significant shift).",
    )
    alarm_evaluation_periods: int = Field(
        2, ge=1, le=24, description="Consecutive monitor runs with max PSI over the threshold before the drift alarm "
        "fires (one noisy batch does not retrain).",
    )

    @model_validator(mode="after")
    def _fits_schedule(self) -> Monitoring:
        if self.schedule == "hourly" and self.max_runtime_seconds > HOURLY_MAX_RUNTIME_SECONDS:
            raise ValueError(f"maxRuntimeSeconds ({self.max_runtime_seconds}) must be <= "
                             f"{HOURLY_MAX_RUNTIME_SECONDS} with schedule 'hourly'")
        return self

    def schedule_expression(self) -> str:
        return SCHEDULE_EXPRESSIONS[self.schedule]

    def period_seconds(self) -> int:
        """How often a PSI datapoint arrives: the drift alarm's period."""
        return 3600 if self.schedule == "hourly" else 86400


class RetrainOnDrift(_Strict):
    """What a drift alarm may do to a model's training pipeline: the guards of docs/monitoring.md."""

    enabled: bool = Field(
        False, description="The kill switch: false refuses every drift-triggered run (and says so in the guard's log)."
    )
    cooldown_minutes: int = Field(
        360, ge=10, le=10080, description="Least time between two drift-triggered runs, in minutes."
    )
    max_runs_per_day: int = Field(
        2, ge=1, le=24, description="Most drift-triggered runs started in one UTC day (00:00-24:00 UTC)."
    )


class Experiments(_Strict):
    """A SageMaker managed MLflow tracking server (shared stack); training logs runs to it."""

    enabled: bool = Field(False, description="Create the tracking server and pass its ARN to training.")
    size: Literal["Small", "Medium", "Large"] = Field(
        "Small", description="Tracking server size (TrackingServerSize: Small, Medium or Large), which sets its cost."
    )
    mlflow_version: str | None = Field(
        None, pattern=r"^\d+(\.\d+)+$",
        description="MLflow version of the managed server (MlflowVersion); null: the service's default.",
    )
    weekly_maintenance_window_start: str = Field(
        "Sun:03:00", pattern=r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([01]\d|2[0-3]):[0-5]\d$",
        description="Weekly maintenance window start, `Ddd:HH:MM` in UTC.",
    )
