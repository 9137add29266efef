"""The LogExperiment step (infra/core/pipeline/steps.py): present only with experiment logging configured, the
one step with network access, inside the VPC, under its own role, reading only the Evaluate step's report; the
Register step stores the report it writes (the one that links the MLflow run). Built offline like the others."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_pipeline_definition import make_spec, offline, referenced_steps, steps_by_name  # noqa: F401

from infra.core.pipeline import build_pipeline_definition
from infra.core.pipeline.spec import ExperimentLogging

SERVER = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/mlops-shared-mlflow"
LOG_ROLE = "arn:aws:iam::123456789012:role/mlops-shared-churn-experiment"
LOGGING = ExperimentLogging(tracking_server_arn=SERVER, experiment_name="mlops-shared-churn", role_arn=LOG_ROLE)


@pytest.fixture(scope="module")
def logged(offline: list[tuple[str, Any]]) -> dict[str, Any]:  # noqa: F811 - the imported fixture
    return json.loads(build_pipeline_definition(make_spec(experiment_logging=LOGGING)))


@pytest.fixture(scope="module")
def unlogged(offline: list[tuple[str, Any]]) -> dict[str, Any]:  # noqa: F811
    return json.loads(build_pipeline_definition(make_spec()))


def test_the_step_exists_only_when_experiment_logging_is_configured(logged: dict, unlogged: dict) -> None:
    assert [s["Name"] for s in logged["Steps"]] == ["Preprocess", "Train", "Baseline", "Evaluate", "LogExperiment",
                                                    "CheckMetricGate"]
    assert "LogExperiment" not in steps_by_name(unlogged)


def test_it_reads_only_the_evaluation_report_and_runs_the_experiment_module(logged: dict) -> None:
    args = steps_by_name(logged)["LogExperiment"]["Arguments"]
    [source] = args["ProcessingInputs"]
    assert source["S3Input"]["S3Uri"] == {
        "Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"}
    assert referenced_steps(args) == {"Evaluate"}  # neither the data splits nor the model
    assert args["AppSpecification"]["ContainerEntrypoint"] == ["python3", "-m", "model_code.experiment"]
    argv = args["AppSpecification"]["ContainerArguments"]
    assert argv[argv.index("--mlflow-tracking-uri") + 1] == SERVER
    assert argv[argv.index("--mlflow-experiment") + 1] == "mlops-shared-churn"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--hyperparameter"] == [
        "eta=0.2", "max_depth=5", "num_round=100"]
    assert all(isinstance(a, dict) or len(a) <= 256 for a in argv)  # AppSpecification.ContainerArguments limit
    lineage = [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a == "--lineage"]
    assert lineage == [  # the values as they are, so each may use a whole container argument
        ("GitCommit", {"Get": "Parameters.GitCommit"}),
        ("DataSnapshot", {"Get": "Parameters.DataSnapshot"}),
        ("TriggerReason", {"Get": "Parameters.TriggerReason"}),
        ("PipelineExecutionArn", {"Get": "Execution.PipelineExecutionArn"}),
    ]


def test_it_is_the_only_networked_step_inside_the_vpc_under_its_own_role(logged: dict) -> None:
    steps = steps_by_name(logged)
    args = steps["LogExperiment"]["Arguments"]
    assert args["RoleArn"] == LOG_ROLE
    assert args["NetworkConfig"]["EnableNetworkIsolation"] is False
    assert args["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True
    assert args["NetworkConfig"]["VpcConfig"] == {"Subnets": ["subnet-0a", "subnet-0b"], "SecurityGroupIds": ["sg-0c"]}
    assert args["StoppingCondition"]["MaxRuntimeInSeconds"] == 3600
    assert args["ProcessingOutputConfig"]["KmsKeyId"].startswith("arn:aws:kms:")
    assert steps["Train"]["Arguments"]["EnableNetworkIsolation"] is True
    for name in ("Preprocess", "Baseline", "Evaluate"):
        assert steps[name]["Arguments"]["NetworkConfig"]["EnableNetworkIsolation"] is True, name
        assert steps[name]["Arguments"]["RoleArn"] != LOG_ROLE


def test_register_stores_the_report_that_links_the_run(logged: dict, unlogged: dict) -> None:
    def statistics(definition: dict) -> Any:
        return steps_by_name(definition)["Register"]["Arguments"]["ModelMetrics"]["ModelQuality"]["Statistics"]

    assert statistics(logged)["S3Uri"]["Std:Join"]["Values"] == [
        {"Get": "Steps.LogExperiment.ProcessingOutputConfig.Outputs['linked'].S3Output.S3Uri"}, "evaluation.json"]
    assert statistics(unlogged)["S3Uri"]["Std:Join"]["Values"][0] == {
        "Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"}


def test_the_gate_still_reads_the_evaluate_steps_report(logged: dict) -> None:
    [condition] = steps_by_name(logged)["CheckMetricGate"]["Arguments"]["Conditions"]
    report = condition["LeftValue"]["Std:JsonGet"]["PropertyFile"]
    assert report == {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"}


def test_without_a_vpc_there_is_no_networked_step(offline: list[tuple[str, Any]]) -> None:  # noqa: F811
    with pytest.raises(ValueError, match="network.subnetIds"):
        build_pipeline_definition(make_spec(experiment_logging=LOGGING, subnet_ids=[], security_group_ids=[]))
