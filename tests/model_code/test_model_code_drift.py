"""Drift between captured requests (SageMaker data capture JSON Lines) and the training baseline."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from model_code import artifact, drift, tabular
from model_code.schema import FEATURES

SHIFTED = {"income_k", "credit_utilization"}


def capture_record(body: bytes, content_type: str, encoding: str, event: int) -> dict:
    data = base64.b64encode(body).decode() if encoding == "BASE64" else body.decode()
    return {
        "captureData": {
            "endpointInput": {
                "observedContentType": content_type,
                "mode": "INPUT",
                "data": data,
                "encoding": encoding,
            },
            "endpointOutput": {
                "observedContentType": "text/csv",
                "mode": "OUTPUT",
                "data": "0,0.1",
                "encoding": "CSV",
            },
        },
        "eventMetadata": {
            "eventId": f"00000000-0000-0000-0000-{event:012d}",
            "inferenceTime": "2026-11-29T10:00:00Z",
        },
        "eventVersion": "0",
    }


def write_capture(root: Path, X: np.ndarray, rows_per_request: int = 10) -> Path:
    """Requests of ``rows_per_request`` rows, cycling through CSV, JSON and BASE64 encodings, spread over two
    hourly files in SageMaker's ``endpoint/variant/yyyy/mm/dd/hh/`` layout."""
    records = []
    for i in range(0, len(X), rows_per_request):
        batch = X[i : i + rows_per_request]
        kind = (i // rows_per_request) % 3
        if kind == 0:
            body = "".join(",".join(tabular.format_number(v) for v in row) + "\n" for row in batch).encode()
            records.append(capture_record(body, "text/csv", "CSV", i))
        elif kind == 1:
            body = json.dumps({"instances": batch.tolist()}).encode()
            records.append(capture_record(body, "application/json", "JSON", i))
        else:
            body = "".join(",".join(map(repr, row)) + "\n" for row in batch.tolist()).encode()
            records.append(capture_record(body, "text/csv", "BASE64", i))
    half = len(records) // 2
    for hour, part in (("10", records[:half]), ("11", records[half:])):
        path = root / "my-endpoint" / "AllTraffic" / "2026" / "11" / "29" / hour / f"capture-{hour}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in part))
    return root


def shift(X: np.ndarray) -> np.ndarray:
    shifted = X.copy()
    shifted[:, FEATURES.index("income_k")] *= 0.6
    shifted[:, FEATURES.index("credit_utilization")] = np.minimum(
        1.0, shifted[:, FEATURES.index("credit_utilization")] + 0.25
    )
    return shifted


@pytest.fixture(scope="module")
def test_rows(dataset_dir: Path) -> np.ndarray:
    return tabular.read_channel(dataset_dir / "test", "test")[0]


def test_unshifted_batch_does_not_drift(
    tmp_path: Path, cli, dataset_dir: Path, test_rows: np.ndarray
) -> None:
    capture = write_capture(tmp_path / "capture", test_rows)
    result = cli("model_code.drift", "--baseline", str(dataset_dir / "train"), "--capture", str(capture))
    assert result.returncode == 0, result.stderr
    assert "900 rows from 90 records" in result.stdout
    assert "drifted: none" in result.stdout


def test_shifted_batch_drifts_in_exactly_the_shifted_features(
    tmp_path: Path, run_main, model_dir: Path, test_rows: np.ndarray
) -> None:
    capture = write_capture(tmp_path / "capture", shift(test_rows))
    baseline = model_dir / artifact.BASELINE_FILE
    result = run_main(
        "model_code.drift", "--baseline", str(baseline), "--capture", str(capture), "--format", "json"
    )
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert set(report["drifted_features"]) == SHIFTED
    by_name = {f["name"]: f for f in report["features"]}
    for name in FEATURES:
        assert by_name[name]["drifted"] == (name in SHIFTED)
        assert (by_name[name]["psi"] > 0.2) == (name in SHIFTED)
    assert "drift detected in income_k, credit_utilization" in result.stderr


def test_function_api_and_both_baseline_sources_agree(
    tmp_path: Path, dataset_dir: Path, model_dir: Path, test_rows: np.ndarray
) -> None:
    capture = write_capture(tmp_path / "capture", shift(test_rows))
    from_channel = drift.drift(dataset_dir / "train", capture)
    from_json = drift.drift(model_dir / artifact.BASELINE_FILE, capture, threshold=0.2)
    assert set(from_channel.drifted) == SHIFTED
    assert [f.psi for f in from_channel.features] == [f.psi for f in from_json.features]
    # and directly on arrays
    baseline = drift.compute_baseline(tabular.read_channel(dataset_dir / "train", "train")[0], FEATURES)
    assert drift.detect(baseline, test_rows).drifted == []
    assert set(drift.detect(baseline, shift(test_rows)).drifted) == SHIFTED


def test_a_higher_threshold_tolerates_the_shift(
    tmp_path: Path, run_main, dataset_dir: Path, test_rows: np.ndarray
) -> None:
    capture = write_capture(tmp_path / "capture", shift(test_rows))
    result = run_main(
        "model_code.drift",
        "--baseline",
        str(dataset_dir / "train"),
        "--capture",
        str(capture),
        "--threshold",
        "50",
    )
    assert result.returncode == 0


def test_rejected_requests_are_skipped_and_reported(
    tmp_path: Path, dataset_dir: Path, test_rows: np.ndarray
) -> None:
    capture = write_capture(tmp_path / "capture", test_rows)
    bad = capture_record(b"1,2,3\n", "text/csv", "CSV", 999)
    extra = capture / "my-endpoint" / "AllTraffic" / "2026" / "11" / "29" / "12" / "late.jsonl"
    extra.parent.mkdir(parents=True)
    extra.write_text(json.dumps(bad) + "\n")
    report = drift.drift(dataset_dir / "train", capture)
    assert report.records == 91 and report.rows == 900
    assert any("skipped 1 record(s)" in w and "has 3 values, expected 8" in w for w in report.warnings)


def test_small_batches_carry_a_warning(dataset_dir: Path, test_rows: np.ndarray) -> None:
    baseline = drift.load_baseline(dataset_dir / "train")
    assert "PSI is noisy" in drift.detect(baseline, test_rows[:50]).warnings[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json\n", "line 1: not valid JSON"),
        ('{"eventVersion": "0"}\n', "line 1: not a SageMaker data capture record (missing captureData)"),
        (
            '{"captureData": {"endpointInput": {"encoding": "CSV"}}}\n',
            "missing captureData.endpointInput.data",
        ),
        (
            json.dumps(capture_record(b"x", "text/csv", "CSV", 1)).replace('"CSV"', '"UTF16"', 1) + "\n",
            "unknown endpointInput.encoding 'UTF16'",
        ),
        (json.dumps(capture_record(b"a,b\n", "text/csv", "CSV", 1)) + "\n", "no usable request rows"),
    ],
)
def test_bad_capture_exits_2(tmp_path: Path, run_main, dataset_dir: Path, content: str, message: str) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_text(content)
    result = run_main("model_code.drift", "--baseline", str(dataset_dir / "train"), "--capture", str(path))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_paths_exit_2(tmp_path: Path, run_main, dataset_dir: Path) -> None:
    missing = run_main(
        "model_code.drift", "--baseline", str(dataset_dir / "train"), "--capture", str(tmp_path / "x")
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = run_main(
        "model_code.drift", "--baseline", str(dataset_dir / "train"), "--capture", str(tmp_path / "empty")
    )
    assert empty.returncode == 2 and "no .jsonl files" in empty.stderr
    (tmp_path / "b.json").write_text('{"something": "else"}')
    wrong = run_main(
        "model_code.drift", "--baseline", str(tmp_path / "b.json"), "--capture", str(tmp_path / "x")
    )
    assert wrong.returncode == 2 and "is not a baseline.json written by model_code.train" in wrong.stderr
