"""`log-experiment` against moto (the registry) and a local MLflow store (sqlite): the run carries the stack's
hyperparameters, the report's metrics and the package's lineage, and the package links the run.
Also: `approve` publishes the approved version's baseline where the monitors read it."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
import release_seed as seed
from release_cli import release


def test_a_candidate_is_logged_and_its_package_links_the_run(emulator: object, project: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    arn = seed.register("churn", report=seed.evaluation_report("auc", 0.91), commit="ab" * 20)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code, doc, err = release(capsys, project, "log-experiment", "--model", "churn", "--tracking-uri", uri)
    assert code == 0, err
    run = mlflow.MlflowClient(uri).get_run(doc["runId"])
    assert run.data.params["algorithm"] == "gbt" and run.data.params["max_depth"] == "8"
    assert run.data.metrics["auc"] == 0.91
    assert run.data.tags["lineage.GitCommit"] == "ab" * 20 and run.data.tags["package"] == arn
    described = seed.client("sagemaker").describe_model_package(ModelPackageName=arn)
    assert described["CustomerMetadataProperties"]["MlflowRun"] == f"{uri} runs:/{doc['runId']}"
    assert described["CustomerMetadataProperties"]["GitCommit"] == "ab" * 20  # lineage kept


def test_a_run_the_pipeline_logged_is_linked_not_logged_twice(emulator: object, project: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    """With a VPC the LogExperiment step logged the run and the report links it: record that run on the package
    and log nothing (the tracking store stays empty)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    pipeline_uri = "arn:aws:sagemaker:us-east-1:111111111111:mlflow-tracking-server/mlops-shared-mlflow"
    report = {**seed.evaluation_report("auc", 0.91),
              "mlflow_run": {"tracking_uri": pipeline_uri, "experiment": "mlops-shared-churn", "run_id": "r" * 32,
                             "run_uri": "runs:/" + "r" * 32}}
    arn = seed.register("churn", report=report, commit="cd" * 20)
    code, doc, err = release(capsys, project, "log-experiment", "--model", "churn", "--tracking-uri", uri)
    assert code == 0, err
    assert doc["runId"] == "r" * 32 and doc["loggedBy"] == "pipeline" and doc["trackingUri"] == pipeline_uri
    assert mlflow.MlflowClient(uri).search_experiments(filter_string="name = 'mlops-shared-churn'") == []
    described = seed.client("sagemaker").describe_model_package(ModelPackageName=arn)
    assert described["CustomerMetadataProperties"]["MlflowRun"] == f"{pipeline_uri} runs:/{'r' * 32}"
    assert described["CustomerMetadataProperties"]["GitCommit"] == "cd" * 20


def test_an_unreachable_tracking_server_is_one_line_exit_2(emulator: object, project: Path,
                                                            capsys: pytest.CaptureFixture,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow's client retries with backoff otherwise
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    seed.register("churn", report=seed.evaluation_report("auc", 0.91))
    code, _, err = release(capsys, project, "log-experiment", "--model", "churn", "--tracking-uri",
                           "http://127.0.0.1:9")
    assert code == 2 and "logging to http://127.0.0.1:9 failed" in err and "Traceback" not in err  # no verdict


def test_approve_publishes_the_baseline_of_the_version_it_approves(emulator: object, project: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    s3, sm = seed.client("s3"), seed.client("sagemaker")
    first = seed.register("churn", report=seed.evaluation_report("auc", 0.95))
    for name in ("statistics.json", "constraints.json"):
        s3.put_object(Bucket=seed.REPORTS_BUCKET, Key=f"churn/exec-1/baseline/{name}", Body=b"{}")
    described = sm.describe_model_package(ModelPackageName=first)
    source = {"ModelDataQuality": {
        "Statistics": {"ContentType": "application/json",
                       "S3Uri": f"s3://{seed.REPORTS_BUCKET}/churn/exec-1/baseline/statistics.json"},
        "Constraints": {"ContentType": "application/json",
                        "S3Uri": f"s3://{seed.REPORTS_BUCKET}/churn/exec-1/baseline/constraints.json"}}}
    arn = sm.create_model_package(
        ModelPackageGroupName=described["ModelPackageGroupName"], ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties=described["CustomerMetadataProperties"], ModelMetrics=described["ModelMetrics"],
        DriftCheckBaselines=source, InferenceSpecification=described["InferenceSpecification"])["ModelPackageArn"]
    version = sm.describe_model_package(ModelPackageName=arn)["ModelPackageVersion"]
    code, doc, err = release(capsys, project, "approve", "--model", "churn", "--package", arn)
    assert code == 0, err
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=seed.REPORTS_BUCKET,
                                                  Prefix=f"churn/baselines/v{version}/").get("Contents", [])}
    assert keys == {f"churn/baselines/v{version}/statistics.json", f"churn/baselines/v{version}/constraints.json"}
    assert doc["baseline"]
