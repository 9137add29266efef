"""The evaluation gate: report shape for the condition step and registry, exit codes, tarball input."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from model_code import artifact, tabular
from model_code.metrics import binary_metrics


def _evaluate(run, model: Path, test_dir: Path, out: Path, *extra: str):
    return run(
        "model_code.evaluate",
        "--model-dir",
        str(model),
        "--test-dir",
        str(test_dir),
        "--output-dir",
        str(out),
        *extra,
    )


def _json_get(report: dict, path: str) -> object:
    value: object = report
    for key in path.split("."):
        value = value[key]  # type: ignore[index]
    return value


def test_gate_passes_and_report_has_sagemaker_shape(
    tmp_path: Path, cli, model_dir: Path, dataset_dir: Path
) -> None:
    result = _evaluate(
        cli, model_dir, dataset_dir / "test", tmp_path, "--metric", "auc", "--threshold", "0.8"
    )
    assert result.returncode == 0, result.stderr
    assert "gate passed: auc=" in result.stdout
    report = json.loads((tmp_path / "evaluation.json").read_text())
    auc = _json_get(report, "binary_classification_metrics.auc.value")  # the condition step's JsonGet path
    assert isinstance(auc, float)
    assert report["binary_classification_metrics"]["auc"]["standard_deviation"] == "NaN"
    X, y = tabular.read_channel(dataset_dir / "test", "test")
    model = artifact.load(model_dir)
    expected = binary_metrics(y, model.scores(X), model.threshold)
    for name in ("auc", "accuracy", "precision", "recall", "f1"):
        assert report["binary_classification_metrics"][name]["value"] == round(expected[name], 6)
    cm = report["binary_classification_metrics"]["confusion_matrix"]
    assert sum(cm[a][p] for a in "01" for p in "01") == len(y)
    assert auc > 0.85


def test_below_gate_exits_1_and_still_writes_report(
    tmp_path: Path, run_main, model_dir: Path, dataset_dir: Path
) -> None:
    result = _evaluate(run_main, model_dir, dataset_dir / "test", tmp_path, "--threshold", "0.99")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "gate failed: auc 0." in lines[0] and "is below the threshold 0.99" in lines[0]
    assert (tmp_path / "evaluation.json").is_file()


def test_no_fail_exits_0_below_gate(tmp_path: Path, run_main, model_dir: Path, dataset_dir: Path) -> None:
    result = _evaluate(
        run_main,
        model_dir,
        dataset_dir / "test",
        tmp_path,
        "--metric",
        "recall",
        "--threshold",
        "0.99",
        "--no-fail",
    )
    assert result.returncode == 0
    assert "gate failed: recall" in result.stderr and "--no-fail" in result.stderr
    assert json.loads((tmp_path / "evaluation.json").read_text())["binary_classification_metrics"]["recall"]


def _tarball(model_dir: Path, target: Path) -> Path:
    with tarfile.open(target, "w:gz") as tar:
        for p in sorted(model_dir.iterdir()):
            tar.add(p, arcname=p.name)  # SageMaker puts the model dir's files at the archive root
    return target


@pytest.mark.parametrize("as_file", [False, True])
def test_model_tar_gz_as_training_produces_it(
    tmp_path: Path, run_main, model_dir: Path, dataset_dir: Path, as_file: bool
) -> None:
    (tmp_path / "model").mkdir()
    tarball = _tarball(model_dir, tmp_path / "model" / "model.tar.gz")
    ref = _evaluate(run_main, model_dir, dataset_dir / "test", tmp_path / "ref")
    result = _evaluate(
        run_main, tarball if as_file else tmp_path / "model", dataset_dir / "test", tmp_path / "tar"
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "tar" / "evaluation.json").read_bytes() == (
        tmp_path / "ref" / "evaluation.json"
    ).read_bytes()
    assert ref.returncode == 0


def test_tarball_escaping_its_directory_is_refused(tmp_path: Path, run_main, dataset_dir: Path) -> None:
    evil = tmp_path / "model.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    result = _evaluate(run_main, evil, dataset_dir / "test", tmp_path / "out")
    assert result.returncode == 2
    assert "cannot extract" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metric", "rmse"], "invalid choice: 'rmse'"),
        (["--threshold", "high"], "invalid float value: 'high'"),
    ],
)
def test_bad_usage_exits_2(
    tmp_path: Path, run_main, model_dir: Path, dataset_dir: Path, args: list[str], message: str
) -> None:
    result = _evaluate(run_main, model_dir, dataset_dir / "test", tmp_path, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_inputs_exit_2_without_traceback(
    tmp_path: Path, cli, run_main, model_dir: Path, dataset_dir: Path
) -> None:
    no_test = _evaluate(cli, model_dir, tmp_path / "nope", tmp_path / "out")
    assert no_test.returncode == 2
    assert "test channel: directory" in no_test.stderr and "does not exist" in no_test.stderr
    (tmp_path / "empty").mkdir()
    no_model = _evaluate(run_main, tmp_path / "empty", dataset_dir / "test", tmp_path / "out")
    assert no_model.returncode == 2
    assert "contains neither model.joblib nor model.tar.gz" in no_model.stderr
    for result in (no_test, no_model):
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "evaluation.json").exists()
