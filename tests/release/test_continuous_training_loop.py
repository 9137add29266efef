"""The whole continuous-training loop, locally: train on the synthetic data, compute the baseline the pipeline's
Baseline step computes, serve the model with data capture on, send shifted traffic through the server, run the
monitor on what the server captured under Model Monitor's container contract, publish its metrics to CloudWatch
(moto, server mode) as SageMaker publishes a monitor's metrics file, see the drift verdict (`infra.release drift`
and the drift alarm as the program declares it), then feed the alarm's state change to the retraining guard:
it starts the pipeline once, recording why, and refuses the second alarm within the cool-down.

What stands in for AWS here, and why: moto does not evaluate alarms, so the test sets the alarm's state from the
same comparison the alarm makes (max PSI over the threshold) and builds the EventBridge event CloudWatch would send.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import release_seed as seed
from release_cli import release

from infra.config import Monitoring
from infra.core.monitoring import drift_alarm
from infra.core.naming import Naming
from model_code import data, monitor, synthetic, tabular
from model_code import train as training
from model_code.hyperparams import Hyperparameters
from model_code.schema import FEATURES
from retrain_guard.handler import handle

REPO = Path(__file__).resolve().parents[2]
PROD, SHARED = Naming("mlops", "prod"), Naming("mlops", "shared")
SHIFT = {"debt_to_income": 2.5}  # the feature that drifts, and by how much
REQUESTS, ROWS_PER_REQUEST = 40, 25


def _serve(model_dir: Path, capture_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "SM_", "MODEL_SERVER_"))}
    env.update(PYTHONPATH=str(REPO), MODEL_SERVER_CAPTURE_DIR=str(capture_dir), MODEL_SERVER_CAPTURE_PERCENT="100",
               SAGEMAKER_MODEL_SERVER_WORKERS="1")
    with log.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "model_code.serve", "--host", "127.0.0.1", "--port", "0",
                                 "--model-dir", str(model_dir)], stdout=fh, stderr=subprocess.STDOUT, env=env,
                                cwd=REPO)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
        if found:
            return proc, found.group(1)
        assert proc.poll() is None, log.read_text()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(log.read_text())


def _send(url: str, rows: np.ndarray) -> None:
    body = "\n".join(",".join(f"{v:g}" for v in row) for row in rows).encode()
    request = urllib.request.Request(f"{url}/invocations", data=body, method="POST",
                                     headers={"Content-Type": "text/csv", "Accept": "text/csv"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _publish(records: list[dict]) -> None:
    """SageMaker's part: the monitor's /opt/ml/output/metrics/cloudwatch file becomes PutMetricData."""
    namespace = drift_alarm(PROD, "churn", Monitoring(enabled=True), "endpoint").namespace
    seed.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": r["MetricName"], "Value": r["Value"], "Unit": r["Unit"], "Dimensions": r["Dimensions"],
         "Timestamp": datetime.now(UTC) - timedelta(minutes=5)} for r in records])


def test_shifted_traffic_is_judged_drifted_and_retrains_once(emulator: object, project: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # 1. train on the synthetic data, and the Baseline step's output over the same train split
    dataset, model_dir, baseline = tmp_path / "data", tmp_path / "model", tmp_path / "baseline"
    X, y = synthetic.generate()
    data.write_dataset(dataset, X, y, synthetic.DEFAULT_SEED)
    training.train(dataset, model_dir, Hyperparameters())
    monitor.write_baseline(dataset / "train", baseline, 0.2)

    # 2. serve with capture on, and send shifted traffic through the server
    capture_dir = tmp_path / "capture"
    server, url = _serve(model_dir, capture_dir, tmp_path / "server.log")
    try:
        rows = tabular.read_channel(dataset / "test", "test")[0][: REQUESTS * ROWS_PER_REQUEST].copy()
        for feature, factor in SHIFT.items():
            rows[:, FEATURES.index(feature)] *= factor
        for start in range(0, len(rows), ROWS_PER_REQUEST):
            _send(url, rows[start:start + ROWS_PER_REQUEST])
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    captured = sorted(capture_dir.rglob("*.jsonl"))
    sent = -(-len(rows) // ROWS_PER_REQUEST)
    assert sent >= 20 and sum(len(f.read_text().splitlines()) for f in captured) == sent  # 100 %: every request

    # 3. one monitoring execution on the captured requests, under the Model Monitor container contract
    schedule = PROD.monitoring_schedule("churn")
    metrics_dir = tmp_path / "metrics"
    env = {**os.environ, "PYTHONPATH": str(REPO), "dataset_source": str(capture_dir),
           "output_path": str(tmp_path / "report"), "baseline_statistics": str(baseline / "statistics.json"),
           "baseline_constraints": str(baseline / "constraints.json"), "publish_cloudwatch_metrics": "Enabled",
           "sagemaker_monitoring_schedule_name": schedule, "MODEL_NAME": "churn", "PSI_THRESHOLD": "0.2",
           "end_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    report = monitor.run_monitor(env, metrics_dir)
    assert report.drifted == list(SHIFT)
    violations = json.loads((tmp_path / "report" / "constraint_violations.json").read_text())["violations"]
    assert [v["feature_name"] for v in violations] == list(SHIFT)
    # bin/serve is what SageMaker starts: under the contract it runs the monitor, not the server.
    run = subprocess.run(["sh", str(REPO / "model_code" / "bin" / "serve")], env={
        **env, "PYTHON": sys.executable, "output_path": str(tmp_path / "report2")}, capture_output=True, text=True,
        timeout=120, cwd=REPO)
    assert run.returncode == 0 and "DRIFT" in run.stdout, run.stderr

    # 4. the drift verdict: the published metrics, the release tool, and the drift alarm as declared
    records = [json.loads(line) for line in (metrics_dir / "psi.json").read_text().splitlines()]
    _publish(records)
    code, verdict, _ = release(capsys, project, "drift", "--model", "churn", "--stack", "prod")
    assert code == 1 and verdict["drifted"] == list(SHIFT), (verdict["features"], records[:2])
    spec = drift_alarm(PROD, "churn", Monitoring(enabled=True), "endpoint")
    cloudwatch = seed.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=spec.name, Namespace=spec.namespace, MetricName=spec.metric_name, Statistic="Maximum",
        Dimensions=[{"Name": k, "Value": v} for k, v in spec.dimensions.items()], Period=spec.period_seconds,
        EvaluationPeriods=spec.evaluation_periods, Threshold=spec.threshold,
        ComparisonOperator="GreaterThanThreshold")
    [max_psi] = [r["Value"] for r in records if r["MetricName"] == spec.metric_name]
    assert max_psi > spec.threshold  # the comparison the alarm makes on the published datapoint
    cloudwatch.set_alarm_state(AlarmName=spec.name, StateValue="ALARM", StateReason="Threshold Crossed",
                               StateReasonData=json.dumps({"recentDatapoints": [max_psi]}))
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[spec.name])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM"

    # 5. the alarm's state change reaches the guard: one run starts, recording why; the next alarm is refused
    pipeline = SHARED.pipeline("churn")
    sagemaker = seed.client("sagemaker")
    sagemaker.create_pipeline(PipelineName=pipeline, PipelineDefinition="{}",
                              RoleArn="arn:aws:iam::123456789012:role/mlops-shared-churn-pipeline")
    guard_env = {"PIPELINE_NAME": pipeline, "RETRAIN_ENABLED": "true", "RETRAIN_COOLDOWN_MINUTES": "720",
                 "RETRAIN_MAX_RUNS_PER_DAY": "2"}

    def event(at: str) -> dict:
        return {"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
                "detail": {"alarmName": alarm["AlarmName"], "state": {
                    "value": alarm["StateValue"], "reasonData": alarm["StateReasonData"], "timestamp": at}}}

    first = handle(event("2026-03-10T12:00:00.000+0000"), sagemaker, guard_env)
    assert first["decision"]["start"] is True
    parameters = {p["Name"]: p["Value"] for p in sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=first["executionArn"])["PipelineParameters"]}
    assert parameters["TriggerReason"].startswith(f"drift alarm {spec.name} value {max_psi:g}")
    second = handle(event("2026-03-10T13:00:00.000+0000"), sagemaker, guard_env)
    assert second["decision"] == {"start": False, "guard": "cool-down", "reason": second["decision"]["reason"]}
    assert len(sagemaker.list_pipeline_executions(PipelineName=pipeline)["PipelineExecutionSummaries"]) == 1
