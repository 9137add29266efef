"""The pipeline's LogExperiment step code (`python -m model_code.experiment`), against a real local MLflow store
(sqlite under tmp_path: no network at all)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from model_code import experiment

REPORT = {"binary_classification_metrics": {
    "auc": {"value": 0.91, "standard_deviation": "NaN"},
    "accuracy": {"value": 0.84, "standard_deviation": "NaN"},
    "confusion_matrix": {"0": {"0": 5, "1": 1}, "1": {"0": 2, "1": 7}},
}}


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "evaluation"
    directory.mkdir()
    (directory / "evaluation.json").write_text(json.dumps(REPORT))
    return directory


def test_the_run_carries_params_metrics_and_lineage_and_the_report_links_it(report_dir: Path, tmp_path: Path) -> None:
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "linked"
    assert experiment.main([
        "--report-dir", str(report_dir), "--output-dir", str(out), "--mlflow-tracking-uri", uri,
        "--mlflow-experiment", "mlops-shared-churn", "--hyperparameter", "max_depth=4", "--hyperparameter", "eta=0.2",
        "--lineage", "GitCommit", "abc123", "--lineage", "DataSnapshot", "s3://d/churn/raw/?versionId=7",
        "--lineage", "TriggerReason", "drift alarm churn-psi value 0.31 at 2026-12-04T10:00Z a=b",
        "--lineage", "PipelineExecutionArn", "arn:aws:sagemaker:eu-west-1:111111111111:pipeline/p/execution/x1",
    ]) == 0
    linked = json.loads((out / "evaluation.json").read_text())
    assert {k: v for k, v in linked.items() if k != "mlflow_run"} == REPORT  # the report itself is unchanged
    ref = linked["mlflow_run"]
    assert ref["tracking_uri"] == uri and ref["experiment"] == "mlops-shared-churn"
    run = mlflow.MlflowClient(uri).get_run(ref["run_id"])
    assert ref["run_uri"] == f"runs:/{run.info.run_id}"
    assert run.data.params == {"max_depth": "4", "eta": "0.2"}
    assert run.data.metrics == {"auc": 0.91, "accuracy": 0.84}  # the confusion matrix stays in the report
    assert run.data.tags["lineage.GitCommit"] == "abc123"
    assert run.data.tags["lineage.TriggerReason"] == "drift alarm churn-psi value 0.31 at 2026-12-04T10:00Z a=b"
    assert run.info.run_name == "x1"  # named after the execution
    assert mlflow.MlflowClient(uri).get_experiment(run.info.experiment_id).name == "mlops-shared-churn"


@pytest.mark.parametrize("uri_args", [[], ["--mlflow-tracking-uri", ""]])
def test_without_a_tracking_uri_the_report_is_copied_and_mlflow_is_not_imported(
        report_dir: Path, tmp_path: Path, uri_args: list[str]) -> None:
    out = tmp_path / "linked"
    code = ("import sys; from model_code import experiment; rc = experiment.main(sys.argv[1:]); "
            "assert 'mlflow' not in sys.modules, 'mlflow imported'; raise SystemExit(rc)")
    done = subprocess.run([sys.executable, "-c", code, "--report-dir", str(report_dir), "--output-dir", str(out),
                           *uri_args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "evaluation.json").read_text()) == REPORT


@pytest.mark.parametrize(("args", "names"), [
    (["--hyperparameter", "no-equals"], "--hyperparameter"),
    (["--hyperparameter", "=4"], "--hyperparameter"),
    (["--lineage", "only-a-key"], "--lineage"),
    (["--report-dir", "/nonexistent/dir"], "--report-dir"),
])
def test_bad_input_is_one_line_exit_2(report_dir: Path, tmp_path: Path, args: list[str], names: str) -> None:
    argv = ["--report-dir", str(report_dir), "--output-dir", str(tmp_path / "o"), *args]
    done = subprocess.run([sys.executable, "-m", "model_code.experiment", *argv], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 2, done.stderr
    assert names in done.stderr.strip().splitlines()[-1] and "Traceback" not in done.stderr
    assert not (tmp_path / "o" / "evaluation.json").exists()


def test_an_unreadable_report_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "evaluation.json").write_text("[]")
    done = subprocess.run([sys.executable, "-m", "model_code.experiment", "--report-dir", str(tmp_path),
                           "--output-dir", str(tmp_path / "o")], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "not a JSON object" in done.stderr
