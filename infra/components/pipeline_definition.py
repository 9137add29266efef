"""Offline builder for the per-model SageMaker Pipeline definition (JSON).

The platform renders one pipeline definition per model at ``pulumi preview``/``up`` time and
hands the string to ``aws.sagemaker.Pipeline``. Rendering must therefore be a pure function of
the :class:`PipelineSpec`: no AWS account, no credentials and no network. The SageMaker Python
SDK v3 (``sagemaker==3.27``) is used for the rendering so that the request shapes (property
references, ``Std:Join``, ``Std:JsonGet``, register-model arguments) stay exactly what the SDK
and the SageMaker Pipelines service agree on; but that SDK assumes a live AWS session in several
places. The measures below keep it offline, and each exists because of a concrete SDK behaviour
observed in 3.27:

* **Credential-less boto3 session.** Every SDK object is bound to a boto3 session whose
  credential resolver has *no providers*. boto3 still builds clients (the SDK creates half a
  dozen eagerly) but can never resolve credentials, so nothing consults IMDS
  (169.254.169.254) or container-credential endpoints, and any API call that the SDK might
  attempt fails with ``NoCredentialsError`` *before* a request is signed or sent. That
  turns an accidental network call into a loud error instead of a silent dependency.
* **Import under our session.** ``import sagemaker.mlops`` pulls in ``sagemaker.ai_registry``,
  whose class body calls ``boto3.client("sagemaker")`` on the *default* boto3 session: the
  import fails without a region and resolves credentials (IMDS) otherwise. The import is done
  once, lazily, with ``boto3.DEFAULT_SESSION`` temporarily pointing at the credential-less
  session; the caller's default session is restored afterwards.
* **Scoped environment variables** (:data:`_SDK_ENV`), set only while a definition is built and
  restored afterwards (module-import-time mutation would leak into the caller's process,
  e.g. the Pulumi program's own boto3 usage):

  - ``SAGEMAKER_VALIDATE_ROLE=false``: ``ModelTrainer`` otherwise validates the role with
    ``iam:SimulatePrincipalPolicy``. The role comes from our own IAM component.
  - ``AWS_EC2_METADATA_DISABLED=true``: defence in depth for the one SDK path that builds a
    throw-away boto3 session of its own (``ProcessingStep`` instantiates a local-mode client
    only to read a method name). See ``_disable_local_session_probe``.
  - ``AWS_DEFAULT_REGION=<spec.region>``: that same throw-away session needs a region.

* **No telemetry, no SDK config.** ``ModelTrainer.train`` and ``ModelBuilder.register`` are
  wrapped by the SDK's telemetry decorator, which sends an HTTPS GET (plus
  ``sts:GetCallerIdentity``) on a background thread. Its only opt-out is the SDK config key
  ``TelemetryOptOut`` (there is no env var), and a non-empty SDK config is expensive: every
  one of the ~40 config lookups per build re-validates the config against the SDK's JSON
  schema, including ``check_schema`` of the schema itself (~50 ms each, i.e. ~2 s per
  build, measured with cProfile). So the builder calls the undecorated methods (the
  ``__wrapped__`` that ``functools.wraps`` records, checked to be the SDK's
  ``runnable_by_pipeline`` wrapper, which returns step arguments instead of starting a
  job), and the session is created with a minimal explicit config and then emptied. The
  explicit config also stops the SDK from reading admin/user config files
  (``/etc/xdg/sagemaker``, ``~/.config/sagemaker``, or S3 via
  ``SAGEMAKER_*_CONFIG_OVERRIDE``), which would inject machine-dependent defaults (tags,
  subnets, KMS keys) into the definition.
* **Import side effects undone.** Importing the SDK calls ``logging.basicConfig(INFO)`` (in
  ``sagemaker.core.experiments``); the root logger is restored after the import. SDK
  warnings that are expected for every build (job names trimmed from the definition,
  "Running within a PipelineSession") are silenced for the duration of a build only.

Performance (50 definitions per ``pulumi up``): the first call costs ~1.8 s, almost all of it the
SDK import, done lazily once per process; later calls cost ~6 ms (median). The offline
boto3 session and the ``PipelineSession`` are cached per region / (region, bucket). Without the
measures above a build took ~2 s (config schema validation) plus ~0.37 s (two local-mode
sessions); what remains is mostly two boto3 clients the SDK builds per call (IAM in
``ModelTrainer`` role resolution, EventBridge Scheduler in ``Pipeline.__init__``). Builds are
serialized with a lock because the SDK keeps step-compilation state in module globals and on
the shared session (``PipelineSession.context``), and because of the scoped env vars.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import re
import threading
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

__all__ = ["PipelineSpec", "build_pipeline_definition"]

# Step and parameter names are part of the contract with operators/dashboards: keep stable.
STEP_PREPROCESS = "Preprocess"
STEP_TRAIN = "Train"
STEP_EVALUATE = "Evaluate"
STEP_GATE = "CheckMetricGate"
STEP_GATE_FAILED = "GateFailed"
STEP_REGISTER = "Register"
PARAM_METRIC_THRESHOLD = "MetricThreshold"
PARAM_APPROVAL_STATUS = "ModelApprovalStatus"
PROPERTY_FILE_EVALUATION = "EvaluationReport"
EVALUATION_FILE = "evaluation.json"

_PROC = "/opt/ml/processing"
_SPLITS = ("train", "validation", "test")
_METRIC_NAME = re.compile(r"[A-Za-z0-9_]+")
_CONTENT_TYPES = ("text/csv", "application/json")
_METRIC_DEFINITIONS = (
    ("train:accuracy", r"train:accuracy=([0-9\.]+);"),
    ("validation:accuracy", r"validation:accuracy=([0-9\.]+);"),
    ("validation:auc", r"validation:auc=([0-9\.]+);"),
)

# Minimal valid SDK config: being non-empty, it stops the SDK from loading machine-local config
# files at session creation. Emptied right after (see module docstring).
_SAGEMAKER_CONFIG: dict[str, Any] = {"SchemaVersion": "1.0"}
# SDK loggers whose WARNINGs are expected for every build (see module docstring).
_NOISY_LOGGERS = ("sagemaker.core.workflow.utilities", "sagemaker.mlops.workflow.model_step")
_SDK_ENV: dict[str, str] = {
    "SAGEMAKER_VALIDATE_ROLE": "false",
    "AWS_EC2_METADATA_DISABLED": "true",
}

_BUILD_LOCK = threading.RLock()
_SDK_NAMES: SimpleNamespace | None = None  # see _sdk()


@dataclass(frozen=True)
class PipelineSpec:
    """Everything that determines one model's pipeline definition (and nothing else)."""

    pipeline_name: str
    region: str
    role_arn: str
    default_bucket: str  # artifacts bucket name (pipeline session default bucket)
    raw_data_s3_uri: str  # s3://<data-bucket>/<model>/raw/  (input to preprocessing)
    artifacts_s3_uri: str  # s3://<artifacts-bucket>/<model>/  (processed data, model, evaluation)
    kms_key_arn: str  # customer-managed key for volumes and outputs
    training_image_uri: str  # also used for processing (the image ships model_code)
    serving_image_uri: str  # inference image recorded on the registered model package
    training_instance_type: str
    training_instance_count: int
    processing_instance_type: str
    volume_size_gb: int
    max_runtime_seconds: int
    use_spot: bool
    max_wait_seconds: int | None  # required when use_spot
    hyperparameters: Mapping[str, str]
    metric_name: str  # e.g. "auc" or "accuracy"
    metric_threshold: float
    model_package_group_name: str
    inference_instance_types: tuple[str, ...]
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


def build_pipeline_definition(spec: PipelineSpec) -> str:
    """Return the pipeline definition JSON for ``spec``, built without any network access.

    The output is canonical JSON (sorted keys, compact separators) so that the same spec gives
    byte-identical output across calls and processes; Pulumi diffs the string, and any
    spurious difference would show up as a pipeline update on every ``pulumi up``.
    """
    _validate(spec)
    with _BUILD_LOCK, _scoped_env({**_SDK_ENV, "AWS_DEFAULT_REGION": spec.region}), _quiet_sdk():
        sdk = _sdk(spec.region)
        session = _pipeline_session(spec.region, spec.default_bucket)
        session.context = None  # drop anything a previously failed build left behind
        with _disable_local_session_probe(sdk):
            raw = _assemble(sdk, session, spec).definition()
    return json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- validation


def _validate(spec: PipelineSpec) -> None:
    """Minimal guard for values the SDK would otherwise accept and render into a broken pipeline.

    The pydantic config layer is the real validator; this only protects direct callers.
    """
    problems: list[str] = []
    if spec.use_spot and (spec.max_wait_seconds is None or spec.max_wait_seconds < spec.max_runtime_seconds):
        problems.append("max_wait_seconds: required and >= max_runtime_seconds when use_spot is true")
    if not isinstance(spec.metric_threshold, (int, float)) or not math.isfinite(spec.metric_threshold):
        problems.append(f"metric_threshold: must be a finite number, got {spec.metric_threshold!r}")
    if any(not isinstance(k, str) or not k.strip() for k in spec.hyperparameters):
        problems.append("hyperparameters: keys must be non-empty strings")
    if not _METRIC_NAME.fullmatch(spec.metric_name):
        problems.append(
            f"metric_name: must match {_METRIC_NAME.pattern} (used in a JSON path), got {spec.metric_name!r}"
        )
    for name in ("max_runtime_seconds", "volume_size_gb", "training_instance_count"):
        if getattr(spec, name) < 1:
            problems.append(f"{name}: must be >= 1")
    for name in ("artifacts_s3_uri", "raw_data_s3_uri"):
        if not getattr(spec, name).startswith("s3://"):
            problems.append(f"{name}: must be an s3:// URI")
    if not spec.inference_instance_types:
        problems.append("inference_instance_types: at least one instance type is required")
    if bool(spec.subnet_ids) != bool(spec.security_group_ids):
        problems.append("subnet_ids/security_group_ids: provide both or neither")
    if problems:
        raise ValueError("invalid PipelineSpec: " + "; ".join(problems))


# --------------------------------------------------------------------------- SDK plumbing


@contextlib.contextmanager
def _scoped_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block and restore the previous state."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@functools.cache
def _offline_boto_session(region: str) -> Any:
    """A boto3 session for ``region`` that can build clients but can never obtain credentials.

    Cached per region: creating a botocore session (loader, endpoint data) is the expensive part.
    """
    import boto3
    import botocore.session
    from botocore.credentials import CredentialResolver

    core = botocore.session.Session()
    core.register_component("credential_provider", CredentialResolver(providers=[]))
    return boto3.Session(botocore_session=core, region_name=region)


def _sdk(region: str) -> SimpleNamespace:
    """The SDK names we use, imported once per process (the import costs ~1.5 s).

    ``region`` only serves the import-time ``boto3.client(...)`` in ``sagemaker.ai_registry``
    (see module docstring), so whichever region comes first is used. Called under the lock.
    """
    global _SDK_NAMES
    if _SDK_NAMES is None:
        _SDK_NAMES = _import_sdk(region)
    return _SDK_NAMES


def _import_sdk(region: str) -> SimpleNamespace:
    """Import the SDK with the offline session as boto3's default and undo its logging setup."""
    import boto3

    previous_default = boto3.DEFAULT_SESSION
    root = logging.getLogger()
    root_state = (root.level, list(root.handlers))
    boto3.DEFAULT_SESSION = _offline_boto_session(region)
    try:
        with warnings.catch_warnings():
            # The SDK's own modules import each other through deprecated shims: not actionable here.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"sagemaker\.")
            from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
            from sagemaker.core.network import NetworkConfig
            from sagemaker.core.processing import Processor
            from sagemaker.core.shapes import (
                MetricDefinition,
                ProcessingInput,
                ProcessingOutput,
                ProcessingS3Input,
                ProcessingS3Output,
                StoppingCondition,
                Tag,
            )
            from sagemaker.core.training.configs import Compute, InputData, Networking, OutputDataConfig
            from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
            from sagemaker.core.workflow.execution_variables import ExecutionVariables
            from sagemaker.core.workflow.functions import Join, JsonGet
            from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
            from sagemaker.core.workflow.pipeline_context import PipelineSession
            from sagemaker.core.workflow.properties import PropertyFile
            from sagemaker.mlops.workflow import steps as steps_module
            from sagemaker.mlops.workflow.condition_step import ConditionStep
            from sagemaker.mlops.workflow.fail_step import FailStep
            from sagemaker.mlops.workflow.model_step import ModelStep
            from sagemaker.mlops.workflow.pipeline import Pipeline
            from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep
            from sagemaker.serve.model_builder import ModelBuilder
            from sagemaker.train.model_trainer import ModelTrainer
    finally:
        boto3.DEFAULT_SESSION = previous_default
        root.setLevel(root_state[0])
        root.handlers[:] = root_state[1]
    return SimpleNamespace(
        Compute=Compute,
        ConditionGreaterThanOrEqualTo=ConditionGreaterThanOrEqualTo,
        ConditionStep=ConditionStep,
        ExecutionVariables=ExecutionVariables,
        FailStep=FailStep,
        InputData=InputData,
        Join=Join,
        JsonGet=JsonGet,
        MetricDefinition=MetricDefinition,
        MetricsSource=MetricsSource,
        ModelBuilder=ModelBuilder,
        ModelMetrics=ModelMetrics,
        ModelStep=ModelStep,
        ModelTrainer=ModelTrainer,
        NetworkConfig=NetworkConfig,
        Networking=Networking,
        OutputDataConfig=OutputDataConfig,
        ParameterFloat=ParameterFloat,
        ParameterString=ParameterString,
        Pipeline=Pipeline,
        PipelineSession=PipelineSession,
        ProcessingInput=ProcessingInput,
        ProcessingOutput=ProcessingOutput,
        ProcessingS3Input=ProcessingS3Input,
        ProcessingS3Output=ProcessingS3Output,
        ProcessingStep=ProcessingStep,
        Processor=Processor,
        PropertyFile=PropertyFile,
        StoppingCondition=StoppingCondition,
        Tag=Tag,
        TrainingStep=TrainingStep,
        steps_module=steps_module,
        # Bound explicitly to the instance at call time; see _without_telemetry.
        model_trainer_train=_without_telemetry(ModelTrainer.train),
        model_builder_register=_without_telemetry(ModelBuilder.register),
    )


def _without_telemetry(method: Any) -> Any:
    """Return the SDK method minus its ``_telemetry_emitter`` layer (see module docstring).

    Fails loudly if the expected ``runnable_by_pipeline`` wrapper is not what remains: without
    it the SDK would try to start a real job instead of returning pipeline step arguments.
    """
    func = method
    while "_telemetry_emitter" in getattr(getattr(func, "__code__", None), "co_qualname", ""):
        func = func.__wrapped__
    if "runnable_by_pipeline" not in getattr(getattr(func, "__code__", None), "co_qualname", ""):
        raise RuntimeError(f"unexpected decorator layout on {method.__qualname__}; SDK upgrade?")
    return func


@functools.cache
def _pipeline_session(region: str, default_bucket: str) -> Any:
    """One ``PipelineSession`` per (region, bucket), reused across builds (it creates ~6 clients).

    Reuse is safe because builds are serialized by ``_BUILD_LOCK`` and the SDK resets
    ``session.context`` for every captured job request.
    """
    session = _sdk(region).PipelineSession(
        boto_session=_offline_boto_session(region),
        default_bucket=default_bucket,
        sagemaker_config=dict(_SAGEMAKER_CONFIG),
    )
    session.sagemaker_config = {}  # no SDK defaults; and skips per-lookup schema validation
    return session


@contextlib.contextmanager
def _quiet_sdk() -> Iterator[None]:
    """Silence the SDK's per-build boilerplate warnings (loggers and ``warnings``) for one build."""
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Running within a PipelineSession")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class _MethodNameOnly:
    """Stand-in for ``LocalSagemakerClient`` in ``sagemaker.mlops.workflow.steps``.

    ``ProcessingStep.__init__`` instantiates ``LocalSagemakerClient()`` only to read
    ``create_processing_job.__name__``; that builds a full local-mode ``Session`` with a fresh,
    default-credential-chain boto3 session every time (region required, credential lookup,
    config-file reads, several clients: ~180 ms per step). This stand-in answers the same
    attribute for free.
    """

    def create_processing_job(self) -> None:  # pragma: no cover - only the name is read
        """Name lookup target."""

    def create_transform_job(self) -> None:  # pragma: no cover - only the name is read
        """Name lookup target."""


@contextlib.contextmanager
def _disable_local_session_probe(sdk: SimpleNamespace) -> Iterator[None]:
    """Swap ``_MethodNameOnly`` into the steps module for the duration of one build."""
    module = sdk.steps_module
    original = getattr(module, "LocalSagemakerClient", None)
    if original is None:  # SDK layout changed: keep working, the scoped env still protects us.
        yield
        return
    module.LocalSagemakerClient = _MethodNameOnly
    try:
        yield
    finally:
        module.LocalSagemakerClient = original


# --------------------------------------------------------------------------- pipeline assembly


def _assemble(sdk: SimpleNamespace, session: Any, spec: PipelineSpec) -> Any:
    """Wire the five steps; each SDK object is bound to the offline ``session``."""
    threshold = sdk.ParameterFloat(name=PARAM_METRIC_THRESHOLD, default_value=float(spec.metric_threshold))
    approval = sdk.ParameterString(name=PARAM_APPROVAL_STATUS, default_value="PendingManualApproval")
    artifacts = spec.artifacts_s3_uri.rstrip("/")
    job_prefix = spec.pipeline_name[:40]  # base job names; trimmed from definitions anyway

    def execution_path(*parts: str) -> Any:
        """s3://<artifacts>/<model>/<execution id>/<parts...>: one folder per execution."""
        return sdk.Join(on="/", values=[artifacts, sdk.ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])

    def s3_input(name: str, uri: Any, local_path: str) -> Any:
        return sdk.ProcessingInput(
            input_name=name,
            s3_input=sdk.ProcessingS3Input(
                s3_uri=uri,
                local_path=local_path,
                s3_data_type="S3Prefix",
                s3_input_mode="File",
                s3_data_distribution_type="FullyReplicated",
            ),
        )

    def s3_output(name: str, uri: Any, local_path: str) -> Any:
        return sdk.ProcessingOutput(
            output_name=name,
            s3_output=sdk.ProcessingS3Output(s3_uri=uri, local_path=local_path, s3_upload_mode="EndOfJob"),
        )

    def processor(module: str, job_suffix: str) -> Any:
        return sdk.Processor(
            role=spec.role_arn,
            image_uri=spec.training_image_uri,
            instance_count=1,
            instance_type=spec.processing_instance_type,
            entrypoint=["python3", "-m", module],
            volume_size_in_gb=spec.volume_size_gb,
            volume_kms_key=spec.kms_key_arn,
            output_kms_key=spec.kms_key_arn,
            max_runtime_in_seconds=spec.max_runtime_seconds,
            base_job_name=f"{job_prefix}-{job_suffix}",
            sagemaker_session=session,
            tags=dict(_tags(spec)) or None,
            network_config=sdk.NetworkConfig(
                enable_network_isolation=True,
                encrypt_inter_container_traffic=True,
                subnets=list(spec.subnet_ids) or None,
                security_group_ids=list(spec.security_group_ids) or None,
            ),
        )

    def output_uri(step: Any, name: str) -> Any:
        return step.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri

    # 1. Preprocess: raw CSV -> train/validation/test splits.
    preprocess = sdk.ProcessingStep(
        name=STEP_PREPROCESS,
        step_args=processor("model_code.data", "preprocess").run(
            inputs=[s3_input("raw", spec.raw_data_s3_uri, f"{_PROC}/input")],
            outputs=[
                s3_output(split, execution_path("data", split), f"{_PROC}/output/{split}")
                for split in _SPLITS
            ],
            arguments=["--out-dir", f"{_PROC}/output", "--raw", f"{_PROC}/input/raw.csv"],
        ),
    )

    # 2. Train: the image's own `train` entrypoint (no SDK-managed source code / drivers).
    trainer = sdk.ModelTrainer(
        training_image=spec.training_image_uri,
        role=spec.role_arn,
        sagemaker_session=session,
        base_job_name=f"{job_prefix}-train",
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
            s3_output_path=execution_path("model"), kms_key_id=spec.kms_key_arn, compression_type="GZIP"
        ),
        hyperparameters=dict(sorted(spec.hyperparameters.items())),
        environment={},
        tags=[sdk.Tag(key=k, value=v) for k, v in _tags(spec)] or None,
    )
    trainer.with_metric_definitions([sdk.MetricDefinition(name=n, regex=r) for n, r in _METRIC_DEFINITIONS])
    train = sdk.TrainingStep(
        name=STEP_TRAIN,
        step_args=sdk.model_trainer_train(
            trainer,
            input_data_config=[
                sdk.InputData(channel_name=split, data_source=output_uri(preprocess, split))
                for split in ("train", "validation")
            ],
            wait=False,
            logs=False,
        ),
    )
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts

    # 3. Evaluate: writes evaluation.json; --no-fail because the gate below decides.
    report = sdk.PropertyFile(name=PROPERTY_FILE_EVALUATION, output_name="evaluation", path=EVALUATION_FILE)
    evaluate = sdk.ProcessingStep(
        name=STEP_EVALUATE,
        step_args=processor("model_code.evaluate", "evaluate").run(
            inputs=[
                s3_input("model", model_data, f"{_PROC}/model"),
                s3_input("test", output_uri(preprocess, "test"), f"{_PROC}/test"),
            ],
            outputs=[s3_output("evaluation", execution_path("evaluation"), f"{_PROC}/evaluation")],
            arguments=[
                *("--model-dir", f"{_PROC}/model", "--test-dir", f"{_PROC}/test"),
                *("--output-dir", f"{_PROC}/evaluation", "--metric", spec.metric_name),
                # The same parameter as the gate, so an overridden threshold is reported consistently.
                *("--threshold", sdk.Join(on="", values=[threshold]), "--no-fail"),
            ],
        ),
        property_files=[report],
    )

    # 5. Register (only reached through the gate).
    builder = sdk.ModelBuilder(
        image_uri=spec.serving_image_uri,
        s3_model_data_url=model_data,
        role_arn=spec.role_arn,
        sagemaker_session=session,
        instance_type=spec.inference_instance_types[0],
        dependencies=None,  # the default {"auto": True} would stage (upload) inference code to S3
        log_level=None,  # the default sets the SDK's serve logger to DEBUG, process-wide
    )
    register = sdk.ModelStep(
        name=STEP_REGISTER,
        step_args=sdk.model_builder_register(
            builder,
            model_package_group_name=spec.model_package_group_name,
            content_types=list(_CONTENT_TYPES),
            response_types=list(_CONTENT_TYPES),
            inference_instances=list(spec.inference_instance_types),
            approval_status=approval,
            model_metrics=sdk.ModelMetrics(
                model_statistics=sdk.MetricsSource(
                    content_type="application/json",
                    s3_uri=sdk.Join(on="/", values=[output_uri(evaluate, "evaluation"), EVALUATION_FILE]),
                )
            ),
        ),
    )

    # 4. Gate: metric >= MetricThreshold -> Register, else fail the execution loudly.
    metric = sdk.JsonGet(
        step_name=STEP_EVALUATE,
        property_file=report,
        json_path=f"binary_classification_metrics.{spec.metric_name}.value",
    )
    gate_failed = sdk.FailStep(
        name=STEP_GATE_FAILED,
        error_message=sdk.Join(
            on="",
            values=[
                f"Model quality gate failed: {spec.metric_name} is below the {PARAM_METRIC_THRESHOLD} ",
                "parameter (",
                threshold,
                f"); see {EVALUATION_FILE} of step {STEP_EVALUATE}. No model package was registered.",
            ],
        ),
    )
    gate = sdk.ConditionStep(
        name=STEP_GATE,
        conditions=[sdk.ConditionGreaterThanOrEqualTo(left=metric, right=threshold)],
        if_steps=[register],
        else_steps=[gate_failed],
    )

    return sdk.Pipeline(
        name=spec.pipeline_name,
        parameters=[threshold, approval],
        steps=[preprocess, train, evaluate, gate],
        sagemaker_session=session,
        # No implicit SageMaker Experiment/trial per execution; its default also depends on region.
        pipeline_experiment_config=None,
    )


def _tags(spec: PipelineSpec) -> list[tuple[str, str]]:
    """Job tags in a stable order (dict order of the caller must not leak into the JSON)."""
    return sorted(spec.tags.items())
