"""The offline sandbox around the SageMaker Python SDK: build pipeline steps with no AWS account and no network.

The SDK (``sagemaker==3.27``) assumes a live AWS session in several places. Each measure below answers one
concrete SDK behaviour; docs/pipeline.md explains them and gives the profile that motivated the caching.

* a boto3 session whose credential resolver has no providers: clients can be built, credentials never
  resolve, so an accidental API call fails with ``NoCredentialsError`` before anything is signed or sent;
* the SDK is imported once, lazily, with that session as ``boto3.DEFAULT_SESSION`` (an SDK module calls
  ``boto3.client`` at import time), and its import-time ``logging.basicConfig`` is undone;
* environment variables the SDK reads are set only for the duration of one build (:data:`SDK_ENV`);
* telemetry is bypassed by calling the SDK methods without their telemetry decorator;
* the SDK config is explicit and then emptied, so no machine-local config file leaks into a definition;
* the throw-away local-mode client that ``ProcessingStep`` builds only to read a method name is replaced.

Builds are serialized (:data:`BUILD_LOCK`): the SDK keeps step-compilation state in module globals and on the
shared session, and the scoped environment variables are process-wide.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import warnings
from collections.abc import Iterator, Mapping
from types import SimpleNamespace
from typing import Any

__all__ = ["offline_sdk"]

# Minimal valid SDK config: being non-empty, it stops the SDK from loading machine-local config files at
# session creation. Emptied right after (see _pipeline_session).
_SAGEMAKER_CONFIG: dict[str, Any] = {"SchemaVersion": "1.0"}
# SDK loggers whose WARNINGs are expected for every build (job names trimmed, "within a PipelineSession").
_NOISY_LOGGERS = ("sagemaker.core.workflow.utilities", "sagemaker.mlops.workflow.model_step")
SDK_ENV: dict[str, str] = {
    # ModelTrainer would otherwise call iam:SimulatePrincipalPolicy; the role comes from our own IAM component.
    "SAGEMAKER_VALIDATE_ROLE": "false",
    # Defence in depth for any throw-away boto3 session the SDK builds on its own.
    "AWS_EC2_METADATA_DISABLED": "true",
}
"""Set for the duration of one build (plus ``AWS_DEFAULT_REGION``), then restored."""

BUILD_LOCK = threading.RLock()
_SDK_NAMES: SimpleNamespace | None = None  # see _sdk()


@contextlib.contextmanager
def offline_sdk(region: str, default_bucket: str) -> Iterator[tuple[SimpleNamespace, Any]]:
    """The SDK names and a ``PipelineSession`` bound to the offline session, for one build.

    Holds the build lock and the scoped environment for the duration of the block.
    """
    with BUILD_LOCK, scoped_env({**SDK_ENV, "AWS_DEFAULT_REGION": region}), _quiet_sdk():
        sdk = _sdk(region)
        session = _pipeline_session(region, default_bucket)
        session.context = None  # drop anything a previously failed build left behind
        with _disable_local_session_probe(sdk):
            yield sdk, session


@contextlib.contextmanager
def scoped_env(values: Mapping[str, str]) -> Iterator[None]:
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
    """The SDK names we use, imported once per process (the import dominates the first build).

    ``region`` only serves the import-time ``boto3.client(...)`` in ``sagemaker.ai_registry``, so whichever
    region comes first is used. Called under the lock.
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
            from sagemaker.core.drift_check_baselines import DriftCheckBaselines
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
        DriftCheckBaselines=DriftCheckBaselines,
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
    """Return the SDK method minus its ``_telemetry_emitter`` layer.

    The telemetry decorator sends an HTTPS request (and ``sts:GetCallerIdentity``) from a background thread;
    its only opt-out is an SDK config key, and a non-empty SDK config is slow (docs/pipeline.md). Fails loudly
    if the expected ``runnable_by_pipeline`` wrapper is not what remains: without it the SDK would try to
    start a real job instead of returning pipeline step arguments.
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

    Reuse is safe because builds are serialized by ``BUILD_LOCK`` and the SDK resets ``session.context`` for
    every captured job request.
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
    ``create_processing_job.__name__``; that builds a full local-mode session with a default-credential-chain
    boto3 session every time (region required, credential lookup, config-file reads, several clients). This
    stand-in answers the same attribute for free.
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
