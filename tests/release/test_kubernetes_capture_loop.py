"""The Kubernetes monitoring path end to end, locally: the model server and its capture shipper run with the settings
the rendered staging overlay gives them, shifted traffic goes through the server, the shipper puts the capture
files into the capture bucket (moto, server mode), and the monitor judges exactly the S3 prefix that the planned
job definition names (`DataCapturedDestinationS3Uri`), as SageMaker would hand it to the job.

The contract under test: the URI the overlay's shipper writes under is the one the plan's job definition reads,
both derived by the program's own functions (`infra.core.capture_sidecar`, `ModelMonitor`), never typed twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

from infra.manifests.overlays import render
from infra.plan.runner import plan_stack
from model_code import data, monitor, synthetic, tabular
from model_code import train as training
from model_code.hyperparams import Hyperparameters
from model_code.schema import FEATURES

ROOT = Path(__file__).resolve().parents[2]
SHIFT = {"debt_to_income": 2.5}
REQUESTS, ROWS_PER_REQUEST = 30, 25


def _containers(overlay: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    rendered = render(overlay)
    (rollout,) = [m for m in rendered if m["kind"] == "Rollout"]
    (config_map,) = [m for m in rendered if m["kind"] == "ConfigMap"]
    pod = rollout["spec"]["template"]["spec"]
    server = next(c for c in pod["containers"] if c["name"] == "model-server")
    shipper = next(c for c in pod["initContainers"] if c["name"] == "capture-shipper")
    return server, shipper, config_map["data"]


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def _job_definition(stack: str, model: str) -> dict[str, Any]:
    plan = plan_stack(stack)
    (definition,) = [r.inputs for r in plan.resources
                     if r.type == "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
                     and r.inputs["tags"]["model"] == model]
    return definition


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as fh:
        return subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace")
        if text in content:
            return content
        assert proc.poll() is None, content
        time.sleep(0.05)
    raise AssertionError(log.read_text())


def _send(url: str, rows: np.ndarray) -> None:
    body = "\n".join(",".join(f"{v:g}" for v in row) for row in rows).encode()
    request = urllib.request.Request(f"{url}/invocations", data=body, method="POST",
                                     headers={"Content-Type": "text/csv", "Accept": "text/csv"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_the_monitor_judges_what_the_kubernetes_server_shipped_where_the_plan_reads(
        emulator: object, tmp_path: Path) -> None:
    # The plan's job definition and the rendered overlay, each from the program's own functions.
    definition = _job_definition("staging", "fraud")
    job_input = definition["dataQualityJobInput"]["batchTransformInput"]
    destination = job_input["dataCapturedDestinationS3Uri"]
    server_spec, shipper_spec, release = _containers(ROOT / "gitops" / "staging" / "fraud")
    assert _env(shipper_spec)["CAPTURE_S3_URI"] == destination  # the contract
    bucket, prefix = destination.removeprefix("s3://").split("/", 1)

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    key = boto3.client("kms").create_key(Description="the shared key")["KeyMetadata"]["Arn"]
    assert release["CAPTURE_KMS_KEY_ARN"].startswith("arn:aws:kms:")  # the overlay's key; moto's stands in for it

    # Train on the synthetic data; the Baseline step's statistics over its train split.
    dataset, model_dir, baseline = tmp_path / "data", tmp_path / "model", tmp_path / "baseline"
    X, y = synthetic.generate()
    data.write_dataset(dataset, X, y, synthetic.DEFAULT_SEED)
    training.train(dataset, model_dir, Hyperparameters())
    monitor.write_baseline(dataset / "train", baseline, 0.2)

    # The pod: the server with the overlay's capture settings (every request captured here, so the count is exact),
    # the shipper with the overlay's settings; the shared emptyDir is a temporary directory.
    volume = tmp_path / "capture"
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("SAGEMAKER_", "SM_", "MODEL_SERVER_", "CAPTURE_"))}
    server_env = {**base, **_env(server_spec), "PYTHONPATH": str(ROOT), "MODEL_SERVER_CAPTURE_DIR": str(volume),
                  "MODEL_SERVER_CAPTURE_PERCENT": "100", "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
                  "SM_MODEL_DIR": str(model_dir)}
    server_env.pop("SAGEMAKER_BIND_TO_PORT", None)
    shipper_env = {**base, **_env(shipper_spec), "PYTHONPATH": str(ROOT),
                   "CAPTURE_DIR": str(volume), "CAPTURE_KMS_KEY_ARN": key, "CAPTURE_POLL_SECONDS": "0.2"}
    server = _start([sys.executable, "-m", "model_code.serve", "--host", "127.0.0.1", "--port", "0"], server_env,
                    tmp_path / "server.log")
    assert shipper_spec["command"][0] == "python3"  # the image's Python; here, this interpreter
    shipper = _start([sys.executable, *shipper_spec["command"][1:]], shipper_env, tmp_path / "shipper.log")
    try:
        url = _wait_for(tmp_path / "server.log", "listening on http://", server).split("listening on ", 1)[1].split()[0]
        rows = tabular.read_channel(dataset / "test", "test")[0][: REQUESTS * ROWS_PER_REQUEST].copy()
        for feature, factor in SHIFT.items():
            rows[:, FEATURES.index(feature)] *= factor
        for start in range(0, len(rows), ROWS_PER_REQUEST):
            _send(url, rows[start:start + ROWS_PER_REQUEST])
    finally:
        # Kubernetes' order for a native sidecar: the server drains and exits, then the shipper gets SIGTERM.
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
        shipper.send_signal(signal.SIGTERM)
        assert shipper.wait(timeout=60) == 0, (tmp_path / "shipper.log").read_text()
    assert not list(volume.rglob("*.jsonl")), "the flush left capture behind"

    # SageMaker's part: the job's input is everything under DataCapturedDestinationS3Uri, copied to its local path.
    local = tmp_path / "processing" / "input"
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    hour = datetime.now(UTC)
    for obj in listing:
        relative = obj["Key"].removeprefix(prefix)
        parts = relative.split("/")
        assert len(parts) == 5 and parts[-1].endswith(".jsonl"), relative  # <yyyy>/<mm>/<dd>/<hh>/<file>
        assert abs(int(parts[3]) - hour.hour) in (0, 1, 23) and parts[0] == f"{hour.year:04d}"
        head = s3.head_object(Bucket=bucket, Key=obj["Key"])
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key
        target = local / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    captured = sum(len(p.read_text().splitlines()) for p in local.rglob("*.jsonl"))
    assert captured == REQUESTS  # every request, once: nothing lost between the workers, the flush and S3

    # One monitoring execution under the Model Monitor contract, told what the planned job definition tells it.
    env = {**definition["dataQualityAppSpecification"]["environment"], "dataset_source": str(local),
           "output_path": str(tmp_path / "report"), "baseline_statistics": str(baseline / "statistics.json"),
           "baseline_constraints": str(baseline / "constraints.json"), "publish_cloudwatch_metrics": "Enabled",
           "sagemaker_monitoring_schedule_name": definition["name"]}
    report = monitor.run_monitor(env, tmp_path / "metrics")
    assert report.drifted == list(SHIFT)
    assert env["MODEL_NAME"] == "fraud"


@pytest.mark.parametrize(("variable", "value"), [("MODEL_SERVER_CAPTURE_ROTATE_SECONDS", "0"),
                                                 ("MODEL_SERVER_CAPTURE_ROTATE_SECONDS", "nan"),
                                                 ("MODEL_SERVER_CAPTURE_ROTATE_MB", "1.5"),
                                                 ("MODEL_SERVER_CAPTURE_ROTATE_MB", "4096")])
def test_bad_capture_rotation_settings_stop_the_server_with_one_line(variable: str, value: str) -> None:
    from model_code import serve
    from model_code.errors import UsageError

    with pytest.raises(UsageError, match=variable):
        serve._capture_settings({"MODEL_SERVER_CAPTURE_DIR": "/tmp/c", "MODEL_SERVER_CAPTURE_PERCENT": "10",
                                 variable: value})
