"""The monitor's baseline and its Model Monitor run, the model server's data capture, and experiment tracking."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from model_code import capture, drift, monitor, payload, tracking
from model_code.errors import UsageError
from model_code.schema import FEATURES


def _csv(rows: np.ndarray) -> bytes:
    return "\n".join(",".join(f"{v:g}" for v in row) for row in rows).encode()


def _write_capture(directory: Path, rows: np.ndarray, per_request: int = 10) -> None:
    writer = capture.CaptureWriter(directory, 100)
    moment = datetime(2026, 3, 10, 14, 5, tzinfo=UTC)
    for start in range(0, len(rows), per_request):
        assert writer.capture(_csv(rows[start:start + per_request]), "text/csv", b"0,0.1\n", "text/csv", moment)


@pytest.fixture(scope="module")
def baseline(dataset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("baseline")
    monitor.write_baseline(dataset_dir / "train", out, 0.2)
    return out


def _train_rows(dataset_dir: Path) -> np.ndarray:
    from model_code import tabular

    return tabular.read_channel(dataset_dir / "train", "train")[0]


def _env(baseline: Path, source: Path, output: Path, **extra: str) -> dict[str, str]:
    return {"dataset_source": str(source), "output_path": str(output),
            "baseline_statistics": str(baseline / monitor.STATISTICS_FILE),
            "baseline_constraints": str(baseline / monitor.CONSTRAINTS_FILE),
            "publish_cloudwatch_metrics": "Enabled", "sagemaker_monitoring_schedule_name": "mlops-prod-churn",
            "end_time": "2026-03-10T15:00:00Z", "MODEL_NAME": "churn", **extra}


def test_the_baseline_is_the_drift_format_with_a_threshold_per_feature(baseline: Path) -> None:
    statistics = drift.load_baseline(baseline / monitor.STATISTICS_FILE)
    assert statistics["feature_names"] == list(FEATURES)
    constraints = json.loads((baseline / monitor.CONSTRAINTS_FILE).read_text())
    assert [c["name"] for c in constraints["features"]] == list(FEATURES)
    assert {c["psi_threshold"] for c in constraints["features"]} == {0.2}


def test_unshifted_traffic_is_no_drift_and_shifted_traffic_is(baseline: Path, dataset_dir: Path,
                                                              tmp_path: Path) -> None:
    rows = _train_rows(dataset_dir)[:1000]
    _write_capture(tmp_path / "same", rows)
    report = monitor.run_monitor(_env(baseline, tmp_path / "same", tmp_path / "out1"), tmp_path / "m1")
    assert report.drifted == []
    assert json.loads((tmp_path / "out1" / monitor.VIOLATIONS_FILE).read_text()) == {"violations": []}

    shifted = rows.copy()
    shifted[:, FEATURES.index("debt_to_income")] *= 2.5
    _write_capture(tmp_path / "shifted", shifted)
    report = monitor.run_monitor(_env(baseline, tmp_path / "shifted", tmp_path / "out2"), tmp_path / "m2")
    assert report.drifted == ["debt_to_income"]
    [violation] = json.loads((tmp_path / "out2" / monitor.VIOLATIONS_FILE).read_text())["violations"]
    assert violation["feature_name"] == "debt_to_income"
    assert violation["constraint_check_type"] == "baseline_drift_check"
    records = [json.loads(line) for line in (tmp_path / "m2" / "psi.json").read_text().splitlines()]
    by_name = {r["MetricName"]: r for r in records if r["MetricName"] != monitor.METRIC_FEATURE_PSI}
    assert by_name[monitor.METRIC_MAX_PSI]["Value"] > 0.2
    assert by_name[monitor.METRIC_DRIFTED]["Value"] == 1.0
    per_feature = [r for r in records if r["MetricName"] == monitor.METRIC_FEATURE_PSI]
    assert sorted(d["Value"] for r in per_feature for d in r["Dimensions"] if d["Name"] == "Feature") == sorted(
        FEATURES)
    for r in records:  # the contract's required fields, and the dimensions the drift alarm selects on
        assert r["Timestamp"] == "2026-03-10T15:00:00Z" and isinstance(r["Value"], float)
        assert {"Name": "MonitoringSchedule", "Value": "mlops-prod-churn"} in r["Dimensions"]
        assert {"Name": "Model", "Value": "churn"} in r["Dimensions"]


def test_the_schedule_threshold_wins_and_metrics_are_optional(baseline: Path, dataset_dir: Path,
                                                             tmp_path: Path) -> None:
    rows = _train_rows(dataset_dir)[:500].copy()
    rows[:, 0] += 3
    _write_capture(tmp_path / "c", rows)
    env = _env(baseline, tmp_path / "c", tmp_path / "o", PSI_THRESHOLD="50", publish_cloudwatch_metrics="Disabled")
    assert monitor.run_monitor(env, tmp_path / "m").drifted == []
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("missing", ["dataset_source", "output_path", "baseline_statistics"])
def test_outside_model_monitor_the_run_names_what_is_missing(baseline: Path, tmp_path: Path, missing: str) -> None:
    env = _env(baseline, tmp_path, tmp_path / "o")
    del env[missing]
    with pytest.raises(UsageError, match=missing):
        monitor.run_monitor(env, tmp_path / "m")


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "x"])
def test_a_bad_threshold_is_refused(baseline: Path, tmp_path: Path, bad: str) -> None:
    with pytest.raises(UsageError, match="PSI_THRESHOLD"):
        monitor.run_monitor(_env(baseline, tmp_path, tmp_path / "o", PSI_THRESHOLD=bad), tmp_path / "m")


# --------------------------------------------------------------------------- the model server's capture


@given(body=st.binary(max_size=200), media=st.sampled_from(["text/csv", "application/json", "text/csv; charset=utf-8",
                                                            "application/octet-stream"]))
def test_every_captured_body_reads_back_byte_for_byte(body: bytes, media: str) -> None:
    record = capture.capture_record(body, media, b"1", "text/csv", "e1", datetime(2026, 1, 1, tzinfo=UTC))
    decoded, _ = capture.decode_input(json.loads(json.dumps(record)), "test")
    assert decoded == body


def test_capture_files_follow_sagemakers_hourly_layout_and_sampling(tmp_path: Path) -> None:
    draws = iter([0.05, 0.5, 0.09])
    writer = capture.CaptureWriter(tmp_path, 10, rng=lambda: next(draws))
    moment = datetime(2026, 3, 10, 23, 59, tzinfo=UTC)
    assert [writer.capture(b"1,2", "text/csv", b"0", "text/csv", moment) for _ in range(3)] == [True, False, True]
    writer.close()
    [file] = capture.capture_files(tmp_path)
    assert file.relative_to(tmp_path).parts[:5] == (capture.READY_DIR, "2026", "03", "10", "23")
    assert len(file.read_text().splitlines()) == 2


@pytest.mark.parametrize("percent", [0, -1, 101])
def test_a_capture_share_outside_0_100_is_refused(tmp_path: Path, percent: float) -> None:
    with pytest.raises(UsageError):
        capture.CaptureWriter(tmp_path, percent)


def test_a_capture_that_cannot_be_written_never_fails_the_request(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    writer = capture.CaptureWriter(blocked, 100)
    assert writer.capture(b"1", payload.CSV, b"0", payload.CSV) is False and writer.failures == 1


# --------------------------------------------------------------------------- experiment tracking


def test_lineage_arguments_must_be_key_value() -> None:
    assert tracking.parse_lineage(["GitCommit=abc", "TriggerReason=drift alarm x value 0.3 at t=1"]) == {
        "GitCommit": "abc", "TriggerReason": "drift alarm x value 0.3 at t=1"}
    with pytest.raises(UsageError):
        tracking.parse_lineage(["no-equals"])


def test_evaluation_logs_the_run_and_its_report_links_it(model_dir: Path, dataset_dir: Path, tmp_path: Path) -> None:
    import mlflow

    from model_code import evaluate

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert evaluate.main(["--model-dir", str(model_dir), "--test-dir", str(dataset_dir / "test"),
                          "--output-dir", str(tmp_path / "eval"), "--no-fail", "--mlflow-tracking-uri", uri,
                          "--mlflow-experiment", "mlops-shared-churn", "--lineage", "GitCommit=abc123",
                          "--lineage", "TriggerReason=manual by alice"]) == 0
    report = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    linked = report["mlflow_run"]
    run = mlflow.MlflowClient(uri).get_run(linked["run_id"])
    assert linked["run_uri"] == f"runs:/{run.info.run_id}"
    assert run.data.metrics["auc"] == report["binary_classification_metrics"]["auc"]["value"]
    assert run.data.params["algorithm"]
    assert run.data.tags["lineage.TriggerReason"] == "manual by alice"


def test_without_a_tracking_uri_the_report_has_no_run(model_dir: Path, dataset_dir: Path, tmp_path: Path) -> None:
    from model_code import evaluate

    evaluate.main(["--model-dir", str(model_dir), "--test-dir", str(dataset_dir / "test"),
                   "--output-dir", str(tmp_path), "--no-fail"])
    assert "mlflow_run" not in json.loads((tmp_path / "evaluation.json").read_text())
