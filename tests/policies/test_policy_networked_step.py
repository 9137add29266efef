"""`sagemaker-job-isolation`'s one exception: a pipeline's experiment-logging step may turn network isolation off
only in its shape (named in `networkedSteps`, in a VPC, under a role of its own, reading only the evaluation
report of another step). Hostile family: every other non-isolated step, or that step in any other shape, is still
refused (the real shared pipeline with a VPC and a tracking server passes: test_iam_experiment_logging.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from policy_factory import UNKNOWN, PlanBuilder, of, pipeline, pipeline_definition, run

RULE = "sagemaker-job-isolation"
PIPELINE_ROLE = "arn:aws:iam::111111111111:role/x"  # policy_factory.pipeline's roleArn
LOG_ROLE = "arn:aws:iam::111111111111:role/mlops-shared-churn-experiment"
EVALUATION = {"Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"}


def _input(name: str, uri: Any) -> dict[str, Any]:
    return {"InputName": name, "S3Input": {"S3Uri": uri, "LocalPath": f"/opt/ml/processing/{name}",
                                           "S3DataType": "S3Prefix", "S3InputMode": "File"}}


def log_step(**changes: Any) -> dict[str, Any]:
    """The compliant shape, as the program builds it (test_pipeline_experiment_step.py)."""
    step = {
        "Name": "LogExperiment",
        "Type": "Processing",
        "Arguments": {
            "RoleArn": LOG_ROLE,
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "NetworkConfig": {"EnableNetworkIsolation": False, "EnableInterContainerTrafficEncryption": True,
                              "VpcConfig": {"Subnets": ["subnet-0a"], "SecurityGroupIds": ["sg-0c"]}},
            "ProcessingInputs": [_input("evaluation", EVALUATION)],
        },
    }
    step["Arguments"].update(changes)
    return step


def _violations(*extra_steps: dict[str, Any], definition: dict[str, Any] | None = None,
                overrides: dict | None = None) -> list[str]:
    definition = definition or pipeline_definition()
    definition["Steps"].extend(extra_steps)
    b = PlanBuilder(stack="shared")
    pipeline(b, definition)
    return [v.message for v in of(run(b.plan(), "shared", overrides), RULE)]


def test_the_experiment_logging_shape_is_allowed() -> None:
    assert _violations(log_step()) == []


def _network(**changes: Any) -> dict[str, Any]:
    return {**log_step()["Arguments"]["NetworkConfig"], **changes}


HOSTILE: dict[str, tuple[dict[str, Any], str]] = {
    # -- outside a VPC
    "no VpcConfig": ({"NetworkConfig": {k: v for k, v in _network().items() if k != "VpcConfig"}}, "outside a VPC"),
    "empty subnets": ({"NetworkConfig": _network(VpcConfig={"Subnets": [], "SecurityGroupIds": ["sg-0c"]})},
                      "outside a VPC"),
    "no security groups": ({"NetworkConfig": _network(VpcConfig={"Subnets": ["subnet-0a"]})}, "outside a VPC"),
    "VpcConfig not an object": ({"NetworkConfig": _network(VpcConfig="subnet-0a")}, "outside a VPC"),
    # -- under the pipeline's role (the one that reads training data)
    "pipeline role": ({"RoleArn": PIPELINE_ROLE}, "pipeline's own role"),
    "no role": ({"RoleArn": None}, "pipeline's own role"),
    # -- reading anything but the evaluation report
    "raw data literal": ({"ProcessingInputs": [_input("raw", "s3://mlops-shared-data/churn/raw/")]},
                         "reads input 'raw'"),
    "train split": ({"ProcessingInputs": [_input("train", {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"})]}, "reads input 'train'"),
    "report plus test split": ({"ProcessingInputs": [_input("evaluation", EVALUATION), _input("test", {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"})]}, "reads input 'test'"),
    "the model": ({"ProcessingInputs": [_input("model", {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"})]},
                  "reads input 'model'"),
    "a parameter URI": ({"ProcessingInputs": [_input("evaluation", {"Get": "Parameters.ReportUri"})]},
                        "reads input 'evaluation'"),
    "a joined URI": ({"ProcessingInputs": [_input("evaluation", {"Std:Join": {"On": "/", "Values": [
        "s3://mlops-shared-data", "churn/raw"]}})]}, "reads input 'evaluation'"),
    "a dataset query": ({"ProcessingInputs": [{"InputName": "athena", "DatasetDefinition": {
        "AthenaDatasetDefinition": {"QueryString": "select * from churn"}}}]}, "reads input 'athena'"),
    # -- the remaining settings still apply
    "plain inter-container traffic": ({"NetworkConfig": _network(EnableInterContainerTrafficEncryption=False)},
                                      "does not encrypt inter-container traffic"),
    "no runtime bound": ({"StoppingCondition": {}}, "sets no maximum runtime"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_the_experiment_logging_step_in_any_other_shape_is_refused(case: str) -> None:
    changes, expected = HOSTILE[case]
    messages = _violations(log_step(**copy.deepcopy(changes)))
    assert any("step 'LogExperiment'" in m and expected in m for m in messages), messages


def _open(step: dict[str, Any]) -> dict[str, Any]:
    step = copy.deepcopy(step)
    step["Arguments"]["NetworkConfig"] = _network()  # in a VPC, as the allowed step is
    step["Arguments"]["RoleArn"] = LOG_ROLE
    if step["Type"] == "Training":
        step["Arguments"]["EnableNetworkIsolation"] = False
        step["Arguments"]["VpcConfig"] = {"Subnets": ["subnet-0a"], "SecurityGroupIds": ["sg-0c"]}
    return step


@pytest.mark.parametrize("name", ["Preprocess", "Evaluate", "Baseline", "logexperiment", "LogExperiment2", ""])
def test_every_other_processing_step_stays_isolated_even_in_that_shape(name: str) -> None:
    step = _open(log_step())
    step["Name"] = name
    assert any("does not enable network isolation" in m for m in _violations(step)), name


def test_a_training_step_named_like_it_is_not_excused() -> None:
    definition = pipeline_definition()
    train = _open(definition["Steps"][1])
    train["Name"] = "LogExperiment"
    definition["Steps"][1] = train
    assert any("step 'LogExperiment' (Training) does not enable network isolation" in m
               for m in _violations(definition=definition))


def test_inside_a_condition_branch_the_shape_is_still_judged() -> None:
    hostile = log_step(ProcessingInputs=[_input("train", {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"})])
    gate = {"Name": "Gate", "Type": "Condition", "Arguments": {"IfSteps": [hostile], "ElseSteps": []}}
    assert any("reads input 'train'" in m for m in _violations(gate))


def test_an_empty_allow_list_refuses_the_step_too() -> None:
    messages = _violations(log_step(), overrides={RULE: {"networkedSteps": []}})
    assert any("does not enable network isolation" in m for m in messages)


def test_an_unknown_pipeline_role_at_preview_is_not_a_violation() -> None:
    definition = pipeline_definition()
    definition["Steps"].append(log_step())
    b = PlanBuilder(stack="shared")
    resource = pipeline(b, definition)
    b.replace(resource, inputs={**resource.inputs, "roleArn": UNKNOWN})
    assert of(run(b.plan(), "shared"), RULE) == []
