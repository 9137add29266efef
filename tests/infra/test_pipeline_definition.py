"""Offline build of the per-model SageMaker Pipeline definition (infra/core/pipeline/).

Every build here runs with sockets forbidden and without AWS credentials, the way ``pulumi preview`` must be
able to run on a laptop or in CI without an AWS account. The definitions are built once per module (the
first build imports the SageMaker SDK, ~2 s) and the tests inspect the parsed JSON.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# urllib3 probes IPv6 support at import time by creating (not connecting) a local socket. Import it before
# the guard is installed so that probe is not mistaken for a network call made by the builder.
import urllib3  # noqa: F401

from infra.core.pipeline import PipelineSpec, build_pipeline_definition

ROOT = Path(__file__).resolve().parents[2]

ROLE = "arn:aws:iam::123456789012:role/mlops-dev-churn-pipeline"
KMS = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TRAIN_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-training:1.4.2"
SERVE_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-serving:1.4.2"
ARTIFACTS = "s3://mlops-dev-artifacts/churn/"

# JSON-serializable so the cross-process determinism test can hand it to a subprocess.
SAMPLE: dict[str, Any] = {
    "pipeline_name": "mlops-dev-churn",
    "region": "eu-west-1",
    "role_arn": ROLE,
    "default_bucket": "mlops-dev-artifacts",
    "raw_data_s3_uri": "s3://mlops-dev-data/churn/raw/",
    "artifacts_s3_uri": ARTIFACTS,
    "kms_key_arn": KMS,
    "training_image_uri": TRAIN_IMAGE,
    "serving_image_uri": SERVE_IMAGE,
    "training_instance_type": "ml.m5.xlarge",
    "training_instance_count": 1,
    "processing_instance_type": "ml.m5.large",
    "volume_size_gb": 30,
    "max_runtime_seconds": 3600,
    "use_spot": True,
    "max_wait_seconds": 7200,
    "hyperparameters": {"max_depth": "5", "eta": "0.2", "num_round": "100"},
    "metric_name": "auc",
    "metric_threshold": 0.75,
    "model_package_group_name": "mlops-dev-churn",
    "inference_instance_types": ["ml.m5.large", "ml.c5.large"],
    "subnet_ids": ["subnet-0a", "subnet-0b"],
    "security_group_ids": ["sg-0c"],
    "tags": {"team": "ml", "cost-center": "ml-0001"},
}
_TUPLE_FIELDS = ("inference_instance_types", "subnet_ids", "security_group_ids")

CREDENTIAL_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "SAGEMAKER_VALIDATE_ROLE",
    "SAGEMAKER_USER_CONFIG_OVERRIDE",
    "SAGEMAKER_ADMIN_CONFIG_OVERRIDE",
)

# Runs in a fresh interpreter: same guard, same spec, prints the definition.
_SUBPROCESS_BUILD = """
import json, socket, sys
def refuse(*args, **kwargs):
    raise RuntimeError("network access attempted")
class Socket(socket.socket):
    def __init__(self, *args, **kwargs):
        refuse()
import urllib3
socket.socket, socket.create_connection, socket.getaddrinfo = Socket, refuse, refuse
sys.path.insert(0, sys.argv[1])
from infra.core.pipeline import PipelineSpec, build_pipeline_definition
kwargs = json.loads(sys.argv[2])
for name in {tuple_fields!r}:
    kwargs[name] = tuple(kwargs[name])
sys.stdout.write(build_pipeline_definition(PipelineSpec(**kwargs)))
"""


class NetworkAccessForbidden(RuntimeError):
    """Raised by the socket guard; recorded as well, in case the SDK swallows it."""


def make_spec(**overrides: Any) -> PipelineSpec:
    kwargs = {**SAMPLE, **overrides}
    for name in _TUPLE_FIELDS:
        kwargs[name] = tuple(kwargs[name])
    return PipelineSpec(**kwargs)


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[tuple[str, Any]]]:
    """No credentials, no AWS/SageMaker config files, no IMDS, no sockets; yields the recorded attempts."""
    attempts: list[tuple[str, Any]] = []
    missing = tmp_path_factory.mktemp("aws") / "missing"

    def refuse(name: str):
        def _refuse(*args: Any, **kwargs: Any) -> Any:
            attempts.append((name, args[:2]))
            raise NetworkAccessForbidden(f"{name}{args[:2]!r}")

        return _refuse

    class GuardedSocket(socket.socket):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            refuse("socket")(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        for name in CREDENTIAL_ENV:
            mp.delenv(name, raising=False)
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("AWS_CONFIG_FILE", str(missing))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(missing))
        mp.setattr(socket, "socket", GuardedSocket)
        mp.setattr(socket, "create_connection", refuse("create_connection"))
        mp.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
        yield attempts


@pytest.fixture(scope="module")
def builds(offline: list[tuple[str, Any]]) -> dict[str, Any]:
    """The sample (spot, VPC) built twice, plus a plain variant (no spot, no VPC); all under the guard."""
    import boto3

    env_before = dict(os.environ)
    default_session_before = boto3.DEFAULT_SESSION
    root_handlers_before = list(logging.getLogger().handlers)

    first = build_pipeline_definition(make_spec())
    second = build_pipeline_definition(make_spec())
    plain = build_pipeline_definition(
        make_spec(use_spot=False, max_wait_seconds=None, subnet_ids=[], security_group_ids=[], tags={})
    )
    for thread in threading.enumerate():  # telemetry, if any, is sent from background threads
        if thread.name.startswith("sagemaker"):
            thread.join(timeout=5)
    return {
        "raw": first,
        "second": second,
        "spot": json.loads(first),
        "plain": json.loads(plain),
        "env_changed": {
            k for k in set(env_before) | set(os.environ) if env_before.get(k) != os.environ.get(k)
        },
        "default_session_kept": boto3.DEFAULT_SESSION is default_session_before,
        "root_handlers_kept": logging.getLogger().handlers == root_handlers_before,
    }


def steps_by_name(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """All steps, including those nested in the condition's branches."""
    found: dict[str, dict[str, Any]] = {}
    for step in definition["Steps"]:
        found[step["Name"]] = step
        if step["Type"] == "Condition":
            for branch in ("IfSteps", "ElseSteps"):
                for nested in step["Arguments"][branch]:
                    found[nested["Name"]] = nested
    return found


def referenced_steps(node: Any) -> set[str]:
    """Names of the steps whose properties ``node`` reads (``{"Get": "Steps.<name>...."}``)."""
    if isinstance(node, dict):
        refs = set().union(*(referenced_steps(v) for v in node.values())) if node else set()
        get = node.get("Get")
        if isinstance(get, str) and get.startswith("Steps."):
            refs.add(get.split(".")[1])
        return refs
    if isinstance(node, list):
        return set().union(*(referenced_steps(v) for v in node)) if node else set()
    return set()


def execution_join(*parts: str) -> dict[str, Any]:
    return {
        "Std:Join": {
            "On": "/",
            "Values": [ARTIFACTS.rstrip("/"), {"Get": "Execution.PipelineExecutionId"}, *parts],
        }
    }


# --------------------------------------------------------------------------- structure


def test_step_names_order_and_dependencies(builds: dict[str, Any]) -> None:
    definition = builds["spot"]
    assert [s["Name"] for s in definition["Steps"]] == ["Preprocess", "Train", "Baseline", "Evaluate",
                                                        "CheckMetricGate"]
    steps = steps_by_name(definition)
    gate = steps["CheckMetricGate"]["Arguments"]
    assert [s["Name"] for s in gate["IfSteps"]] == ["Register"]
    assert [s["Name"] for s in gate["ElseSteps"]] == ["GateFailed"]
    assert {name: step["Type"] for name, step in steps.items()} == {
        "Preprocess": "Processing",
        "Train": "Training",
        "Baseline": "Processing",
        "Evaluate": "Processing",
        "CheckMetricGate": "Condition",
        "Register": "RegisterModel",
        "GateFailed": "Fail",
    }
    # Data dependencies are what orders the steps (no DependsOn needed).
    assert referenced_steps(steps["Preprocess"]["Arguments"]) == set()
    assert referenced_steps(steps["Train"]["Arguments"]) == {"Preprocess"}
    assert referenced_steps(steps["Evaluate"]["Arguments"]) == {"Preprocess", "Train"}
    assert referenced_steps(gate["Conditions"]) == {"Evaluate"}
    assert referenced_steps(steps["Baseline"]["Arguments"]) == {"Preprocess"}
    assert referenced_steps(steps["Register"]["Arguments"]) == {"Train", "Evaluate", "Baseline"}


def test_parameters(builds: dict[str, Any]) -> None:
    assert builds["spot"]["Parameters"] == [
        {"Name": "MetricThreshold", "Type": "Float", "DefaultValue": 0.75},
        {"Name": "ModelApprovalStatus", "Type": "String", "DefaultValue": "PendingManualApproval"},
        {"Name": "GitCommit", "Type": "String", "DefaultValue": "unknown"},
        {"Name": "DataSnapshot", "Type": "String", "DefaultValue": "unknown"},
        {"Name": "TriggerReason", "Type": "String", "DefaultValue": "unknown"},
        {"Name": "RawDataUri", "Type": "String", "DefaultValue": SAMPLE["raw_data_s3_uri"]},
        {"Name": "RawDataSha256", "Type": "String", "DefaultValue": "unpinned"},
    ]


def test_register_step_records_lineage_from_the_parameters_release_passes(builds: dict[str, Any]) -> None:
    """The names `infra.release` passes at start and reads back from the package must be the ones rendered."""
    from infra.release import registry

    args = steps_by_name(builds["spot"])["Register"]["Arguments"]
    assert args["CustomerMetadataProperties"] == {
        "GitCommit": {"Get": "Parameters.GitCommit"},
        "DataSnapshot": {"Get": "Parameters.DataSnapshot"},
        "TriggerReason": {"Get": "Parameters.TriggerReason"},
        "RawDataUri": {"Get": "Parameters.RawDataUri"},
        "RawDataSha256": {"Get": "Parameters.RawDataSha256"},
        "PipelineExecutionArn": {"Get": "Execution.PipelineExecutionArn"},
        "DataBaseline": {"Get": BASELINE_OUTPUT},
    }
    parameters = {p["Name"] for p in builds["spot"]["Parameters"]}
    assert {registry.PARAM_GIT_COMMIT, registry.PARAM_DATA_SNAPSHOT, TRIGGER_REASON_PARAM} <= parameters
    assert {registry.META_GIT_COMMIT, registry.META_DATA_SNAPSHOT, registry.META_EXECUTION,
            registry.META_RAW_DATA_URI, registry.META_RAW_DATA_SHA256} < set(args["CustomerMetadataProperties"])


BASELINE_OUTPUT = "Steps.Baseline.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"


def test_the_tool_passes_the_parameters_the_pipeline_declares_and_model_code_knows_its_default() -> None:
    """`start-training` and Preprocess meet on these names and on the word for "nothing pinned"."""
    from infra.core.pipeline import spec
    from infra.release import training
    from model_code import data

    source = Path(training.__file__).read_text()
    assert "PARAM_RAW_DATA_URI" in source and "PARAM_RAW_DATA_SHA256" in source
    assert (spec.PARAM_RAW_DATA_URI, spec.PARAM_RAW_DATA_SHA256) == ("RawDataUri", "RawDataSha256")
    assert data.UNPINNED == spec.RAW_DATA_UNPINNED


def test_the_guard_names_the_trigger_reason_parameter_the_pipeline_declares() -> None:
    from retrain_guard.handler import PARAM_TRIGGER_REASON

    assert PARAM_TRIGGER_REASON == TRIGGER_REASON_PARAM


def test_baseline_step_runs_the_monitor_baseline_on_the_train_split_isolated(builds: dict[str, Any]) -> None:
    args = steps_by_name(builds["spot"])["Baseline"]["Arguments"]
    app = args["AppSpecification"]
    assert app["ImageUri"] == TRAIN_IMAGE
    assert " ".join(app["ContainerEntrypoint"] + app["ContainerArguments"]) == (
        "python3 -m model_code.monitor baseline --train-dir /opt/ml/processing/train "
        "--output-dir /opt/ml/processing/baseline --psi-threshold 0.2")
    [train] = args["ProcessingInputs"]
    train_split = "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    assert train["S3Input"]["S3Uri"] == {"Get": train_split}
    [out] = args["ProcessingOutputConfig"]["Outputs"]
    assert out["S3Output"]["S3Uri"] == execution_join("baseline")
    assert args["ProcessingOutputConfig"]["KmsKeyId"] == KMS
    assert args["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert args["StoppingCondition"]["MaxRuntimeInSeconds"] > 0


def test_every_package_carries_its_own_baseline_for_monitors(builds: dict[str, Any]) -> None:
    """Data quality in ModelMetrics (what it was trained on) and DriftCheckBaselines (what monitors compare)."""
    args = steps_by_name(builds["spot"])["Register"]["Arguments"]

    def source(name: str) -> dict[str, Any]:
        return {"ContentType": "application/json",
                "S3Uri": {"Std:Join": {"On": "/", "Values": [{"Get": BASELINE_OUTPUT}, name]}}}

    expected = {"Statistics": source("statistics.json"), "Constraints": source("constraints.json")}
    assert args["ModelMetrics"]["ModelDataQuality"] == expected
    assert args["DriftCheckBaselines"]["ModelDataQuality"] == expected


def test_every_step_stays_network_isolated_experiments_or_not(builds: dict[str, Any]) -> None:
    """Without experiment logging no step has network access (test_pipeline_experiment_step.py: with it, one)."""
    steps = steps_by_name(builds["spot"])
    assert steps["Train"]["Arguments"]["EnableNetworkIsolation"] is True
    for name in ("Preprocess", "Baseline", "Evaluate"):
        assert steps[name]["Arguments"]["NetworkConfig"]["EnableNetworkIsolation"] is True, name


TRIGGER_REASON_PARAM = "TriggerReason"


def test_preprocess_step(builds: dict[str, Any]) -> None:
    args = steps_by_name(builds["spot"])["Preprocess"]["Arguments"]
    app = args["AppSpecification"]
    assert app["ImageUri"] == TRAIN_IMAGE
    *command, digest = app["ContainerEntrypoint"] + app["ContainerArguments"]
    assert " ".join(command) == (
        "python3 -m model_code.data --out-dir /opt/ml/processing/output --raw /opt/ml/processing/input/raw.csv "
        "--raw-sha256"
    )
    assert digest == {"Get": "Parameters.RawDataSha256"}  # the pinned copy's digest, checked by model_code.data
    [raw] = args["ProcessingInputs"]
    # The run's input is the parameter start-training passes (its pinned copy); the default, the raw prefix, is
    # what a run started without the tool (the schedule) reads.
    assert raw["S3Input"]["S3Uri"] == {"Get": "Parameters.RawDataUri"}
    assert raw["S3Input"]["LocalPath"] == "/opt/ml/processing/input"
    outputs = {o["OutputName"]: o["S3Output"] for o in args["ProcessingOutputConfig"]["Outputs"]}
    assert list(outputs) == ["train", "validation", "test"]
    for split, out in outputs.items():
        assert out["LocalPath"] == f"/opt/ml/processing/output/{split}"
        assert out["S3Uri"] == execution_join("data", split)


def test_train_step(builds: dict[str, Any]) -> None:
    args = steps_by_name(builds["spot"])["Train"]["Arguments"]
    algo = args["AlgorithmSpecification"]
    assert algo["TrainingImage"] == TRAIN_IMAGE
    assert "ContainerEntrypoint" not in algo  # the image's own `train`
    assert algo["MetricDefinitions"] == [
        {"Name": "train:accuracy", "Regex": r"train:accuracy=([0-9\.]+);"},
        {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9\.]+);"},
        {"Name": "validation:auc", "Regex": r"validation:auc=([0-9\.]+);"},
    ]
    assert args["HyperParameters"] == SAMPLE["hyperparameters"]
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in args["InputDataConfig"]}
    assert channels == {
        split: {"Get": f"Steps.Preprocess.ProcessingOutputConfig.Outputs['{split}'].S3Output.S3Uri"}
        for split in ("train", "validation")
    }
    assert args["OutputDataConfig"]["S3OutputPath"] == execution_join("model")
    assert args["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert args["RoleArn"] == ROLE


def test_evaluate_step(builds: dict[str, Any]) -> None:
    step = steps_by_name(builds["spot"])["Evaluate"]
    args = step["Arguments"]
    app = args["AppSpecification"]
    assert app["ImageUri"] == TRAIN_IMAGE
    command = app["ContainerEntrypoint"] + app["ContainerArguments"]
    # The threshold is the MetricThreshold parameter rendered as a string, so overrides reach the report.
    at = command.index("--threshold") + 1
    assert command[at] == {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.MetricThreshold"}]}}
    command[at] = "<MetricThreshold>"
    assert " ".join(command) == (
        "python3 -m model_code.evaluate --model-dir /opt/ml/processing/model --test-dir /opt/ml/processing/test"
        " --output-dir /opt/ml/processing/evaluation --metric auc --threshold <MetricThreshold> --no-fail"
    )
    inputs = {i["InputName"]: i["S3Input"] for i in args["ProcessingInputs"]}
    assert inputs["model"]["S3Uri"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert inputs["model"]["LocalPath"] == "/opt/ml/processing/model"
    assert inputs["test"]["S3Uri"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"
    }
    assert inputs["test"]["LocalPath"] == "/opt/ml/processing/test"
    [output] = args["ProcessingOutputConfig"]["Outputs"]
    assert output["OutputName"] == "evaluation"
    assert output["S3Output"]["S3Uri"] == execution_join("evaluation")
    assert output["S3Output"]["LocalPath"] == "/opt/ml/processing/evaluation"
    assert step["PropertyFiles"] == [
        {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": "evaluation.json"}
    ]


def test_metric_gate(builds: dict[str, Any]) -> None:
    steps = steps_by_name(builds["spot"])
    [condition] = steps["CheckMetricGate"]["Arguments"]["Conditions"]
    assert condition == {
        "Type": "GreaterThanOrEqualTo",
        "LeftValue": {
            "Std:JsonGet": {
                "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                "Path": "binary_classification_metrics.auc.value",
            }
        },
        "RightValue": {"Get": "Parameters.MetricThreshold"},
    }
    message = steps["GateFailed"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    text = "".join(v for v in message if isinstance(v, str))
    assert "auc" in text and "MetricThreshold" in text
    assert {"Get": "Parameters.MetricThreshold"} in message  # the effective threshold of the execution


def test_register_step(builds: dict[str, Any]) -> None:
    args = steps_by_name(builds["spot"])["Register"]["Arguments"]
    assert args["ModelPackageGroupName"] == "mlops-dev-churn"
    assert args["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    spec = args["InferenceSpecification"]
    [container] = spec["Containers"]
    assert container["Image"] == SERVE_IMAGE
    assert container["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert spec["SupportedContentTypes"] == ["text/csv", "application/json"]
    assert spec["SupportedRealtimeInferenceInstanceTypes"] == ["ml.m5.large", "ml.c5.large"]
    assert args["ModelMetrics"]["ModelQuality"]["Statistics"] == {
        "ContentType": "application/json",
        "S3Uri": {
            "Std:Join": {
                "On": "/",
                "Values": [
                    {"Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"},
                    "evaluation.json",
                ],
            }
        },
    }


# --------------------------------------------------------------------------- security and variants


@pytest.mark.parametrize("name", ["Preprocess", "Evaluate"])
def test_processing_jobs_are_isolated_encrypted_and_bounded(builds: dict[str, Any], name: str) -> None:
    args = steps_by_name(builds["spot"])[name]["Arguments"]
    network = args["NetworkConfig"]
    assert network["EnableNetworkIsolation"] is True
    assert network["EnableInterContainerTrafficEncryption"] is True
    assert args["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert args["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KMS
    assert args["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] == 30
    assert args["ProcessingOutputConfig"]["KmsKeyId"] == KMS
    assert args["RoleArn"] == ROLE
    assert args["Tags"] == [{"Key": "cost-center", "Value": "ml-0001"}, {"Key": "team", "Value": "ml"}]


def test_training_job_is_isolated_encrypted_and_bounded(builds: dict[str, Any]) -> None:
    args = steps_by_name(builds["spot"])["Train"]["Arguments"]
    assert args["EnableNetworkIsolation"] is True
    assert args["EnableInterContainerTrafficEncryption"] is True
    assert args["StoppingCondition"]["MaxRuntimeInSeconds"] == 3600
    assert args["ResourceConfig"]["VolumeKmsKeyId"] == KMS
    assert args["OutputDataConfig"]["KmsKeyId"] == KMS
    assert args["Tags"] == [{"Key": "cost-center", "Value": "ml-0001"}, {"Key": "team", "Value": "ml"}]


def test_spot_settings_only_when_requested(builds: dict[str, Any]) -> None:
    spot = steps_by_name(builds["spot"])["Train"]["Arguments"]
    assert spot["EnableManagedSpotTraining"] is True
    assert spot["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    plain = steps_by_name(builds["plain"])["Train"]["Arguments"]
    assert "EnableManagedSpotTraining" not in plain
    assert plain["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}


def test_vpc_config_only_when_subnets_given(builds: dict[str, Any]) -> None:
    vpc = {"Subnets": ["subnet-0a", "subnet-0b"], "SecurityGroupIds": ["sg-0c"]}
    steps = steps_by_name(builds["spot"])
    assert steps["Train"]["Arguments"]["VpcConfig"] == vpc
    for name in ("Preprocess", "Evaluate"):
        assert steps[name]["Arguments"]["NetworkConfig"]["VpcConfig"] == vpc
    plain = steps_by_name(builds["plain"])
    assert "VpcConfig" not in plain["Train"]["Arguments"]
    for name in ("Preprocess", "Evaluate"):
        network = plain[name]["Arguments"]["NetworkConfig"]
        assert "VpcConfig" not in network
        assert network["EnableNetworkIsolation"] is True  # isolation does not depend on the VPC


# --------------------------------------------------------------------------- output contract


def test_json_is_canonical_and_contains_the_inputs(builds: dict[str, Any]) -> None:
    raw = builds["raw"]
    assert raw == json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for value in (ROLE, KMS, TRAIN_IMAGE, SERVE_IMAGE):
        assert value in raw
    for leak in (" object at 0x", "<sagemaker", "Unassigned", "PipelineVariable"):
        assert leak not in raw


def test_deterministic_within_a_process(builds: dict[str, Any]) -> None:
    assert builds["second"] == builds["raw"]


def test_deterministic_across_processes(builds: dict[str, Any], offline: list[tuple[str, Any]]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}  # random hash seed in the child
    script = _SUBPROCESS_BUILD.format(tuple_fields=_TUPLE_FIELDS)
    result = subprocess.run(
        [sys.executable, "-c", script, str(ROOT), json.dumps(SAMPLE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == builds["raw"]


def test_offline_and_side_effect_free(builds: dict[str, Any], offline: list[tuple[str, Any]]) -> None:
    assert offline == []  # no socket was even created, let alone connected
    assert builds["env_changed"] == set()  # scoped env vars were restored
    assert builds["default_session_kept"]  # boto3.DEFAULT_SESSION restored after the SDK import
    assert builds["root_handlers_kept"]  # the SDK's import-time logging.basicConfig was undone


def test_no_telemetry_is_scheduled(builds: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    telemetry = sys.modules["sagemaker.core.telemetry.telemetry_logging"]
    calls: list[Any] = []
    monkeypatch.setattr(telemetry, "_send_telemetry_request", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(telemetry, "_send_telemetry_request_sync", lambda *a, **k: calls.append(a))
    build_pipeline_definition(make_spec(pipeline_name="telemetry-check"))
    assert calls == []


# --------------------------------------------------------------------------- validation lives in the config


SHARED_BASE = {
    "aws:region": "eu-west-1",
    "mlops:kind": "shared",
    "mlops:environment": "shared",
    "mlops:owner": "ml-platform",
    "mlops:costCenter": "ml-0000",
    "mlops:sharedStack": "organization/mlops/shared",
    "mlops:githubRepository": "acme/ml-platform",
}
TRAINING = {"imageTag": "1.0.0", "servingImageTag": "1.0.0", "metricGate": {"metric": "auc", "threshold": 0.8}}


@pytest.mark.parametrize(
    ("training", "network", "key"),
    [
        ({"useSpot": True}, {}, "mlops:models.churn.training"),
        ({"useSpot": True, "maxWaitSeconds": 1800, "maxRuntimeSeconds": 3600}, {}, "mlops:models.churn.training"),
        ({"hyperparameters": {"": "1"}}, {}, "mlops:models.churn.training.hyperparameters"),
        ({"hyperparameters": {"  ": "1"}}, {}, "mlops:models.churn.training.hyperparameters"),
        ({"metricGate": {"metric": "auc", "threshold": float("nan")}}, {},
         "mlops:models.churn.training.metricGate.threshold"),
        ({"metricGate": {"metric": "auc", "threshold": float("inf")}}, {},
         "mlops:models.churn.training.metricGate.threshold"),
        ({"metricGate": {"metric": "auc.value", "threshold": 0.8}}, {},
         "mlops:models.churn.training.metricGate.metric"),
        ({"inferenceInstanceTypes": []}, {}, "mlops:models.churn.training.inferenceInstanceTypes"),
        ({"volumeSizeGb": 0}, {}, "mlops:models.churn.training.volumeSizeGb"),
        ({}, {"subnetIds": ["subnet-0123456789abcdef0"]}, "mlops:network"),
    ],
)
def test_config_refuses_what_the_builder_would_render_into_a_broken_pipeline(
    training: dict[str, Any], network: dict[str, Any], key: str
) -> None:
    """The builder trusts its spec (it no longer validates it a second time): the config layer must refuse
    every value the SDK would accept and render into a pipeline that breaks at run time."""
    from infra.config import ConfigError, parse_stack_config

    models = {"churn": {"training": {**TRAINING, **training}}}
    raw = {**SHARED_BASE, "mlops:models": json.dumps(models), "mlops:network": json.dumps(network)}
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw)
    assert any(problem.startswith(key) for problem in caught.value.problems), caught.value.problems
