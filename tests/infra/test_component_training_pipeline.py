"""TrainingPipeline declared alone with hand-made args: the pipeline, the role it runs as, its schedule."""

from __future__ import annotations

import json
from typing import Any

import pytest
from declare import ACCOUNT, KEY_ARN, NAMING, PARTITION, REGION, declare
from planned import of_type, one, policy_of, statements_by_sid

from infra.components.training_pipeline import TrainingPipeline, TrainingPipelineArgs
from infra.config import Network, Training
from infra.plan.model import PlanResult

TRAINING = {
    "imageTag": "2.0.1", "servingImageTag": "2.0.2", "instanceType": "ml.m5.xlarge",
    "hyperparameters": {"max_iter": 200, "C": 0.5},
    "metricGate": {"metric": "auc", "threshold": 0.8}, "schedule": "rate(7 days)",
}
TRAINING_REPOSITORY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/mlops-test-churn-training"
SERVING_REPOSITORY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/mlops-test-churn-serving"
PIPELINE = "aws:sagemaker/pipeline:Pipeline"


def pipeline(training: dict[str, Any], network: Network | None = None) -> PlanResult:
    config = Training.model_validate(training)
    return declare(lambda: TrainingPipeline("churn", TrainingPipelineArgs(
        naming=NAMING, model="churn", training=config, network=network or Network(), account_id=ACCOUNT,
        region=REGION, partition=PARTITION,
        kms_key_arn=KEY_ARN, data_bucket="mlops-test-data", artifacts_bucket="mlops-test-artifacts",
        training_repository_arn=f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/mlops-test-churn-training",
        serving_repository_arn=f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/mlops-test-churn-serving",
        training_image_uri=f"{TRAINING_REPOSITORY}:2.0.1", serving_image_uri=f"{SERVING_REPOSITORY}:2.0.2",
        package_group_name="mlops-test-churn")))


def steps_of(plan: PlanResult) -> dict[str, dict]:
    definition = json.loads(one(plan, PIPELINE).inputs["pipelineDefinition"])
    found = {}
    for step in definition["Steps"]:
        found[step["Name"]] = step
        for branch in ("IfSteps", "ElseSteps"):
            found.update({s["Name"]: s for s in step.get("Arguments", {}).get(branch, [])})
    return found


@pytest.fixture(scope="module")
def scheduled() -> PlanResult:
    return pipeline(TRAINING)


def test_pipeline_is_named_for_the_model_and_runs_as_its_own_role(scheduled: PlanResult) -> None:
    resource = one(scheduled, PIPELINE)
    role = one(scheduled, "aws:iam/role:Role", "churn")
    assert resource.inputs["pipelineName"] == resource.inputs["pipelineDisplayName"] == "mlops-test-churn"
    assert resource.inputs["roleArn"] == role.outputs["arn"]
    assert role.inputs["name"] == "mlops-test-churn-pipeline"
    (trust,) = policy_of(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}


def test_definition_has_every_step_wired_to_the_given_images_key_bucket_and_group(scheduled: PlanResult) -> None:
    steps = steps_of(scheduled)
    assert set(steps) == {"Preprocess", "Train", "Baseline", "Evaluate", "CheckMetricGate", "Register", "GateFailed"}
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/mlops-test-churn-pipeline"
    train = steps["Train"]["Arguments"]
    assert train["RoleArn"] == role_arn
    assert train["AlgorithmSpecification"]["TrainingImage"] == f"{TRAINING_REPOSITORY}:2.0.1"
    assert train["HyperParameters"] == {"C": "0.5", "max_iter": "200"}  # strings, as SageMaker passes them
    assert train["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert train["ResourceConfig"]["VolumeKmsKeyId"] == KEY_ARN
    assert "EnableManagedSpotTraining" not in train
    preprocess = steps["Preprocess"]["Arguments"]
    assert preprocess["ProcessingInputs"][0]["S3Input"]["S3Uri"] == {"Get": "Parameters.RawDataUri"}
    declared = {p["Name"]: p.get("DefaultValue") for p in json.loads(
        one(scheduled, PIPELINE).inputs["pipelineDefinition"])["Parameters"]}
    assert declared["RawDataUri"] == "s3://mlops-test-data/churn/raw/"  # the given data bucket, by default
    register = steps["Register"]["Arguments"]
    assert register["ModelPackageGroupName"] == "mlops-test-churn"
    assert register["InferenceSpecification"]["Containers"][0]["Image"] == f"{SERVING_REPOSITORY}:2.0.2"
    (condition,) = steps["CheckMetricGate"]["Arguments"]["Conditions"]
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == "binary_classification_metrics.auc.value"


def test_pipeline_role_is_scoped_to_this_models_data_artifacts_and_group(scheduled: PlanResult) -> None:
    by_sid = statements_by_sid(one(scheduled, "aws:iam/rolePolicy:RolePolicy", "churn"))
    assert by_sid["ReadTrainingData"]["Resource"] == ["arn:aws:s3:::mlops-test-data/churn/*"]
    assert by_sid["ReadWriteArtifacts"]["Resource"] == ["arn:aws:s3:::mlops-test-artifacts/churn/*"]
    assert by_sid["UseArtifactKey"]["Resource"] == [KEY_ARN]
    prefix = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
    assert by_sid["RegisterCandidates"]["Resource"] == [f"{prefix}:model-package-group/mlops-test-churn",
                                                        f"{prefix}:model-package/mlops-test-churn/*"]
    assert by_sid["PassOwnRoleToJobs"]["Resource"] == [f"arn:aws:iam::{ACCOUNT}:role/mlops-test-churn-pipeline"]
    assert by_sid["PassOwnRoleToJobs"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert "AttachToVpc" not in by_sid


def test_schedule_starts_exactly_this_pipeline_through_a_role_that_may_do_only_that(scheduled: PlanResult) -> None:
    rule = one(scheduled, "aws:cloudwatch/eventRule:EventRule")
    assert (rule.inputs["name"], rule.inputs["scheduleExpression"]) == ("mlops-test-churn-retrain", "rate(7 days)")
    target = one(scheduled, "aws:cloudwatch/eventTarget:EventTarget")
    pipeline_arn = one(scheduled, PIPELINE).outputs["arn"]
    events_role = one(scheduled, "aws:iam/role:Role", "churn-schedule")
    assert (target.inputs["arn"], target.inputs["roleArn"]) == (pipeline_arn, events_role.outputs["arn"])
    (statement,) = policy_of(one(scheduled, "aws:iam/rolePolicy:RolePolicy", "churn-schedule"))["Statement"]
    assert (statement["Action"], statement["Resource"]) == (["sagemaker:StartPipelineExecution"], [pipeline_arn])


def test_scheduled_runs_record_that_they_were_scheduled_and_which_raw_file_they_read(scheduled: PlanResult) -> None:
    target = one(scheduled, "aws:cloudwatch/eventTarget:EventTarget")
    assert target.inputs["sagemakerPipelineTarget"]["pipelineParameterLists"] == [
        {"name": "DataSnapshot", "value": "scheduled: latest s3://mlops-test-data/churn/raw/raw.csv"},
        {"name": "TriggerReason", "value": "schedule mlops-test-churn-retrain"}]
    definition = json.loads(one(scheduled, PIPELINE).inputs["pipelineDefinition"])
    declared = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert declared["DataSnapshot"] == declared["GitCommit"] == "unknown"  # GitCommit is not passed: unknown
    # No RawDataUri is passed: the run reads the latest raw file, as its DataSnapshot says, and checks no digest.
    assert (declared["RawDataUri"], declared["RawDataSha256"]) == ("s3://mlops-test-data/churn/raw/", "unpinned")
    assert {p["name"] for p in target.inputs["sagemakerPipelineTarget"]["pipelineParameterLists"]}.isdisjoint(
        {"RawDataUri", "RawDataSha256"})
    lineage = steps_of(scheduled)["Register"]["Arguments"]["CustomerMetadataProperties"]
    assert lineage["DataSnapshot"] == {"Get": "Parameters.DataSnapshot"}


def test_no_schedule_means_on_demand_only() -> None:
    plan = pipeline({**TRAINING, "schedule": None})
    assert of_type(plan, "aws:cloudwatch/eventRule:EventRule") == []
    assert of_type(plan, "aws:cloudwatch/eventTarget:EventTarget") == []
    assert [r.name for r in of_type(plan, "aws:iam/role:Role")] == ["churn"]
    assert len(of_type(plan, PIPELINE)) == 1


def test_spot_and_private_network_reach_the_jobs_and_the_role() -> None:
    network = Network(subnet_ids=["subnet-0123456789abcdef0"], security_group_ids=["sg-0123456789abcdef0"])
    plan = pipeline({**TRAINING, "useSpot": True, "maxWaitSeconds": 7200}, network)
    train = steps_of(plan)["Train"]["Arguments"]
    assert train["EnableManagedSpotTraining"] is True
    assert train["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert train["VpcConfig"] == {"Subnets": ["subnet-0123456789abcdef0"], "SecurityGroupIds": ["sg-0123456789abcdef0"]}
    assert "AttachToVpc" in statements_by_sid(one(plan, "aws:iam/rolePolicy:RolePolicy", "churn"))
