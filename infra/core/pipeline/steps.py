"""One builder per pipeline step: preprocess, train, evaluate, register, the gate and its failure step.

Each builder takes the :class:`StepContext` of one build (the SDK names, the offline session, the spec and the
pipeline parameters) plus the steps whose outputs it reads; data dependencies alone order the steps. The SDK
objects are bound to the offline session of `infra.core.pipeline.sandbox`, so nothing here touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from infra.core.pipeline.spec import (
    BASELINE_CONSTRAINTS_FILE,
    BASELINE_STATISTICS_FILE,
    EVALUATION_FILE,
    LINEAGE_UNKNOWN,
    METADATA_BASELINE,
    METADATA_EXECUTION_ARN,
    PARAM_APPROVAL_STATUS,
    PARAM_DATA_SNAPSHOT,
    PARAM_GIT_COMMIT,
    PARAM_METRIC_THRESHOLD,
    PARAM_RAW_DATA_SHA256,
    PARAM_RAW_DATA_URI,
    PARAM_TRIGGER_REASON,
    PROPERTY_FILE_EVALUATION,
    RAW_DATA_FILE,
    RAW_DATA_UNPINNED,
    STEP_BASELINE,
    STEP_EVALUATE,
    STEP_GATE,
    STEP_GATE_FAILED,
    STEP_LOG_EXPERIMENT,
    STEP_PREPROCESS,
    STEP_REGISTER,
    STEP_TRAIN,
    PipelineSpec,
)

PROCESSING_ROOT = "/opt/ml/processing"
SPLITS = ("train", "validation", "test")
TRAINING_CHANNELS = ("train", "validation")
CONTENT_TYPES = ("text/csv", "application/json")
METRIC_DEFINITIONS = (
    ("train:accuracy", r"train:accuracy=([0-9\.]+);"),
    ("validation:accuracy", r"validation:accuracy=([0-9\.]+);"),
    ("validation:auc", r"validation:auc=([0-9\.]+);"),
)
"""What the training job scrapes from the log; `model_code.train` prints these lines."""


@dataclass(frozen=True)
class StepContext:
    """What every step builder of one build shares."""

    sdk: SimpleNamespace
    session: Any
    spec: PipelineSpec
    threshold: Any  # ParameterFloat MetricThreshold
    approval: Any  # ParameterString ModelApprovalStatus
    git_commit: Any  # ParameterString GitCommit (lineage)
    data_snapshot: Any  # ParameterString DataSnapshot (lineage)
    trigger_reason: Any  # ParameterString TriggerReason (lineage: why the run started)
    raw_data_uri: Any  # ParameterString RawDataUri (what Preprocess reads; default: the latest raw file)
    raw_data_sha256: Any  # ParameterString RawDataSha256 (what Preprocess checks it read; default: nothing)

    @classmethod
    def create(cls, sdk: SimpleNamespace, session: Any, spec: PipelineSpec) -> StepContext:
        return cls(
            sdk=sdk,
            session=session,
            spec=spec,
            threshold=sdk.ParameterFloat(name=PARAM_METRIC_THRESHOLD, default_value=float(spec.metric_threshold)),
            approval=sdk.ParameterString(name=PARAM_APPROVAL_STATUS, default_value="PendingManualApproval"),
            git_commit=sdk.ParameterString(name=PARAM_GIT_COMMIT, default_value=LINEAGE_UNKNOWN),
            data_snapshot=sdk.ParameterString(name=PARAM_DATA_SNAPSHOT, default_value=LINEAGE_UNKNOWN),
            trigger_reason=sdk.ParameterString(name=PARAM_TRIGGER_REASON, default_value=LINEAGE_UNKNOWN),
            raw_data_uri=sdk.ParameterString(name=PARAM_RAW_DATA_URI, default_value=spec.raw_data_s3_uri),
            raw_data_sha256=sdk.ParameterString(name=PARAM_RAW_DATA_SHA256, default_value=RAW_DATA_UNPINNED),
        )

    @property
    def parameters(self) -> list[Any]:
        """Every pipeline parameter, in the order the definition lists them."""
        return [self.threshold, self.approval, self.git_commit, self.data_snapshot, self.trigger_reason,
                self.raw_data_uri, self.raw_data_sha256]

    @property
    def job_prefix(self) -> str:
        """Base job names; the SDK trims them from definitions anyway."""
        return self.spec.pipeline_name[:40]

    def execution_path(self, *parts: str) -> Any:
        """s3://<artifacts>/<model>/<execution id>/<parts...>: one folder per execution."""
        artifacts = self.spec.artifacts_s3_uri.rstrip("/")
        return self.sdk.Join(on="/", values=[artifacts, self.sdk.ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])


# --------------------------------------------------------------------------- the steps


def preprocess_step(ctx: StepContext) -> Any:
    """Raw CSV -> train/validation/test splits, one S3 folder per split and execution.

    The raw CSV comes from the `RawDataUri` parameter: the run-scoped copy of one version when `start-training`
    pinned it (and then `--raw-sha256` makes the step refuse any other bytes), the latest file otherwise.
    """
    root = PROCESSING_ROOT
    return ctx.sdk.ProcessingStep(
        name=STEP_PREPROCESS,
        step_args=_processor(ctx, "model_code.data", "preprocess").run(
            inputs=[_s3_input(ctx, "raw", ctx.raw_data_uri, f"{root}/input")],
            outputs=[_s3_output(ctx, split, ctx.execution_path("data", split), f"{root}/output/{split}")
                     for split in SPLITS],
            arguments=["--out-dir", f"{root}/output", "--raw", f"{root}/input/{RAW_DATA_FILE}",
                       "--raw-sha256", ctx.raw_data_sha256],
        ),
    )


def train_step(ctx: StepContext, preprocess: Any) -> Any:
    """The image's own `train` entry point (no SDK-managed source code or drivers) on two of the splits."""
    trainer = _trainer(ctx)
    trainer.with_metric_definitions([ctx.sdk.MetricDefinition(name=n, regex=r) for n, r in METRIC_DEFINITIONS])
    return ctx.sdk.TrainingStep(
        name=STEP_TRAIN,
        step_args=ctx.sdk.model_trainer_train(
            trainer,
            input_data_config=[
                ctx.sdk.InputData(channel_name=split, data_source=_output_uri(preprocess, split))
                for split in TRAINING_CHANNELS
            ],
            wait=False,
            logs=False,
        ),
    )


def baseline_step(ctx: StepContext, preprocess: Any) -> Any:
    """The data-quality baseline over the training split: statistics.json and constraints.json, which the
    Register step stores with the package and the environments' monitoring schedules judge captured data by."""
    root = PROCESSING_ROOT
    return ctx.sdk.ProcessingStep(
        name=STEP_BASELINE,
        step_args=_processor(ctx, "model_code.monitor", "baseline", ["baseline"]).run(
            inputs=[_s3_input(ctx, "train", _output_uri(preprocess, "train"), f"{root}/train")],
            outputs=[_s3_output(ctx, "baseline", ctx.execution_path("baseline"), f"{root}/baseline")],
            arguments=["--train-dir", f"{root}/train", "--output-dir", f"{root}/baseline",
                       "--psi-threshold", str(ctx.spec.psi_threshold)],
        ),
    )


def evaluation_report(ctx: StepContext) -> Any:
    """The property file the evaluate step writes and the gate reads."""
    return ctx.sdk.PropertyFile(name=PROPERTY_FILE_EVALUATION, output_name="evaluation", path=EVALUATION_FILE)


def evaluate_step(ctx: StepContext, preprocess: Any, train: Any, report: Any) -> Any:
    """Scores the model on the test split into evaluation.json; `--no-fail` because the gate decides."""
    root = PROCESSING_ROOT
    return ctx.sdk.ProcessingStep(
        name=STEP_EVALUATE,
        step_args=_processor(ctx, "model_code.evaluate", "evaluate").run(
            inputs=[
                _s3_input(ctx, "model", _model_data(train), f"{root}/model"),
                _s3_input(ctx, "test", _output_uri(preprocess, "test"), f"{root}/test"),
            ],
            outputs=[_s3_output(ctx, "evaluation", ctx.execution_path("evaluation"), f"{root}/evaluation")],
            arguments=[
                *("--model-dir", f"{root}/model", "--test-dir", f"{root}/test"),
                *("--output-dir", f"{root}/evaluation", "--metric", ctx.spec.metric_name),
                # The same parameter as the gate, so an overridden threshold is reported consistently.
                *("--threshold", ctx.sdk.Join(on="", values=[ctx.threshold]), "--no-fail"),
            ],
        ),
        property_files=[report],
    )


def log_experiment_step(ctx: StepContext, evaluate: Any) -> Any:
    """Logs the run to the shared MLflow tracking server and writes the report that links it (`mlflow_run`).

    The one step with network access: it reaches the tracking server (SigV4, `sagemaker-mlflow`) through the
    VPC's interface endpoint, so it runs in the stack's private subnets, under its own role, and reads nothing
    but the Evaluate step's report; hyperparameters and lineage are arguments (docs/pipeline.md, Experiments).
    """
    logging, root = ctx.spec.experiment_logging, PROCESSING_ROOT
    assert logging is not None, "the LogExperiment step is built only when experiment logging is configured"
    lineage = {PARAM_GIT_COMMIT: ctx.git_commit, PARAM_DATA_SNAPSHOT: ctx.data_snapshot,
               PARAM_TRIGGER_REASON: ctx.trigger_reason,
               METADATA_EXECUTION_ARN: ctx.sdk.ExecutionVariables.PIPELINE_EXECUTION_ARN}
    return ctx.sdk.ProcessingStep(
        name=STEP_LOG_EXPERIMENT,
        step_args=_processor(ctx, "model_code.experiment", "experiment", role_arn=logging.role_arn,
                             network_access=True).run(
            inputs=[_s3_input(ctx, "evaluation", _output_uri(evaluate, "evaluation"), f"{root}/evaluation")],
            outputs=[_s3_output(ctx, "linked", ctx.execution_path("linked"), f"{root}/linked")],
            arguments=[
                *("--report-dir", f"{root}/evaluation", "--output-dir", f"{root}/linked"),
                *("--mlflow-tracking-uri", logging.tracking_server_arn, "--mlflow-experiment", logging.experiment_name),
                # One argument per pair: a container argument holds at most 256 characters (AppSpecification).
                *(arg for key, value in sorted(ctx.spec.hyperparameters.items())
                  for arg in ("--hyperparameter", f"{key}={value}")),
                # Key and value apart, so a value may use all 256 characters a container argument holds.
                *(arg for key, value in lineage.items() for arg in ("--lineage", key, value)),
            ],
        ),
    )


def register_step(ctx: StepContext, train: Any, evaluate: Any, baseline: Any, linked: Any | None = None) -> Any:
    """Registers the trained model, with its evaluation, its data baseline and lineage, as a package.

    Lineage is the package's CustomerMetadataProperties: the GitCommit, DataSnapshot, TriggerReason, RawDataUri and
    RawDataSha256 parameters,
    this execution's ARN and the baseline's location (`ModelBuilder.register` accepts pipeline variables as the
    values). The baseline goes in twice, as the API has two places for it: ModelMetrics (ModelDataQuality: what
    the package was trained on) and DriftCheckBaselines (ModelDataQuality: what its monitors compare with).
    With a LogExperiment step (``linked``), the model statistics are its report, the one that links the MLflow run.
    """
    sdk, spec = ctx.sdk, ctx.spec
    baseline_uri = _output_uri(baseline, "baseline")
    report_uri = _output_uri(linked, "linked") if linked is not None else _output_uri(evaluate, "evaluation")

    def baseline_file(name: str) -> Any:
        return sdk.MetricsSource(content_type="application/json", s3_uri=sdk.Join(on="/", values=[baseline_uri, name]))

    builder = sdk.ModelBuilder(
        image_uri=spec.serving_image_uri,
        s3_model_data_url=_model_data(train),
        role_arn=spec.role_arn,
        sagemaker_session=ctx.session,
        instance_type=spec.inference_instance_types[0],
        dependencies=None,  # the default {"auto": True} would stage (upload) inference code to S3
        log_level=None,  # the default sets the SDK's serve logger to DEBUG, process-wide
    )
    return sdk.ModelStep(
        name=STEP_REGISTER,
        step_args=sdk.model_builder_register(
            builder,
            model_package_group_name=spec.model_package_group_name,
            content_types=list(CONTENT_TYPES),
            response_types=list(CONTENT_TYPES),
            inference_instances=list(spec.inference_instance_types),
            approval_status=ctx.approval,
            customer_metadata_properties={
                PARAM_GIT_COMMIT: ctx.git_commit,
                PARAM_DATA_SNAPSHOT: ctx.data_snapshot,
                PARAM_TRIGGER_REASON: ctx.trigger_reason,
                PARAM_RAW_DATA_URI: ctx.raw_data_uri,
                PARAM_RAW_DATA_SHA256: ctx.raw_data_sha256,
                METADATA_EXECUTION_ARN: sdk.ExecutionVariables.PIPELINE_EXECUTION_ARN,
                METADATA_BASELINE: baseline_uri,
            },
            model_metrics=sdk.ModelMetrics(
                model_statistics=sdk.MetricsSource(
                    content_type="application/json",
                    s3_uri=sdk.Join(on="/", values=[report_uri, EVALUATION_FILE]),
                ),
                model_data_statistics=baseline_file(BASELINE_STATISTICS_FILE),
                model_data_constraints=baseline_file(BASELINE_CONSTRAINTS_FILE),
            ),
            drift_check_baselines=sdk.DriftCheckBaselines(
                model_data_statistics=baseline_file(BASELINE_STATISTICS_FILE),
                model_data_constraints=baseline_file(BASELINE_CONSTRAINTS_FILE),
            ),
        ),
    )


def gate_failed_step(ctx: StepContext) -> Any:
    """Fails the execution loudly, naming the metric and the effective threshold of this execution."""
    metric = ctx.spec.metric_name
    return ctx.sdk.FailStep(
        name=STEP_GATE_FAILED,
        error_message=ctx.sdk.Join(
            on="",
            values=[
                f"Model quality gate failed: {metric} is below the {PARAM_METRIC_THRESHOLD} ",
                "parameter (",
                ctx.threshold,
                f"); see {EVALUATION_FILE} of step {STEP_EVALUATE}. No model package was registered.",
            ],
        ),
    )


def gate_step(ctx: StepContext, report: Any, register: Any, failed: Any) -> Any:
    """Metric >= MetricThreshold -> register, else fail."""
    metric = ctx.sdk.JsonGet(
        step_name=STEP_EVALUATE,
        property_file=report,
        json_path=f"binary_classification_metrics.{ctx.spec.metric_name}.value",
    )
    return ctx.sdk.ConditionStep(
        name=STEP_GATE,
        conditions=[ctx.sdk.ConditionGreaterThanOrEqualTo(left=metric, right=ctx.threshold)],
        if_steps=[register],
        else_steps=[failed],
    )


# --------------------------------------------------------------------------- shared pieces


def _processor(ctx: StepContext, module: str, job_suffix: str, command: list[str] | None = None, *,
               role_arn: str | None = None, network_access: bool = False) -> Any:
    """A processing job running `python3 -m <module> [command]` in the training image: isolated, encrypted,
    bounded. Only LogExperiment asks for ``network_access`` (and its own role), always inside the VPC."""
    sdk, spec = ctx.sdk, ctx.spec
    if network_access and not spec.subnet_ids:
        raise ValueError("a step with network access runs only inside the VPC (network.subnetIds)")
    return sdk.Processor(
        role=role_arn or spec.role_arn,
        image_uri=spec.training_image_uri,
        instance_count=1,
        instance_type=spec.processing_instance_type,
        entrypoint=["python3", "-m", module, *(command or [])],
        volume_size_in_gb=spec.volume_size_gb,
        volume_kms_key=spec.kms_key_arn,
        output_kms_key=spec.kms_key_arn,
        max_runtime_in_seconds=spec.max_runtime_seconds,
        base_job_name=f"{ctx.job_prefix}-{job_suffix}",
        sagemaker_session=ctx.session,
        tags=dict(spec.job_tags()) or None,
        network_config=sdk.NetworkConfig(
            enable_network_isolation=not network_access,
            encrypt_inter_container_traffic=True,
            subnets=list(spec.subnet_ids) or None,
            security_group_ids=list(spec.security_group_ids) or None,
        ),
    )


def _trainer(ctx: StepContext) -> Any:
    """The training job: isolated, encrypted, bounded; spot only when asked (with its wait bound)."""
    sdk, spec = ctx.sdk, ctx.spec
    return sdk.ModelTrainer(
        training_image=spec.training_image_uri,
        role=spec.role_arn,
        sagemaker_session=ctx.session,
        base_job_name=f"{ctx.job_prefix}-train",
        compute=sdk.Compute(
            instance_type=spec.training_instance_type,
            instance_count=spec.training_instance_count,
            volume_size_in_gb=spec.volume_size_gb,
            volume_kms_key_id=spec.kms_key_arn,
            enable_managed_spot_training=True if spec.use_spot else None,
        ),
        networking=sdk.Networking(
            subnets=list(spec.subnet_ids) or None,
            security_group_ids=list(spec.security_group_ids) or None,
            enable_network_isolation=True,
            enable_inter_container_traffic_encryption=True,
        ),
        stopping_condition=sdk.StoppingCondition(
            max_runtime_in_seconds=spec.max_runtime_seconds,
            max_wait_time_in_seconds=spec.max_wait_seconds if spec.use_spot else None,
        ),
        output_data_config=sdk.OutputDataConfig(
            s3_output_path=ctx.execution_path("model"), kms_key_id=spec.kms_key_arn, compression_type="GZIP"
        ),
        hyperparameters=dict(sorted(spec.hyperparameters.items())),
        environment={},
        tags=[sdk.Tag(key=k, value=v) for k, v in spec.job_tags()] or None,
    )


def _s3_input(ctx: StepContext, name: str, uri: Any, local_path: str) -> Any:
    return ctx.sdk.ProcessingInput(
        input_name=name,
        s3_input=ctx.sdk.ProcessingS3Input(
            s3_uri=uri,
            local_path=local_path,
            s3_data_type="S3Prefix",
            s3_input_mode="File",
            s3_data_distribution_type="FullyReplicated",
        ),
    )


def _s3_output(ctx: StepContext, name: str, uri: Any, local_path: str) -> Any:
    return ctx.sdk.ProcessingOutput(
        output_name=name,
        s3_output=ctx.sdk.ProcessingS3Output(s3_uri=uri, local_path=local_path, s3_upload_mode="EndOfJob"),
    )


def _output_uri(step: Any, name: str) -> Any:
    """The S3 URI a processing step wrote one of its outputs to (a property reference)."""
    return step.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri


def _model_data(train: Any) -> Any:
    """The model artifact the training step wrote (a property reference)."""
    return train.properties.ModelArtifacts.S3ModelArtifacts
