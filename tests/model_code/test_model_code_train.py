"""Training: metrics that clear the bar, byte-for-byte determinism, and the SageMaker training contract."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from model_code import artifact, tabular
from model_code import train as training
from model_code.hyperparams import Hyperparameters

METRIC_LINE = re.compile(r"^(train|validation):(\w+)=([0-9\.]+);$", re.MULTILINE)


def test_metrics_clear_the_bar(model_dir: Path) -> None:
    meta = json.loads((model_dir / artifact.METADATA_FILE).read_text())
    assert meta["metrics"]["validation"]["auc"] > 0.85
    assert meta["metrics"]["validation"]["accuracy"] > 0.80
    assert meta["metrics"]["train"]["auc"] > 0.85
    assert meta["rows"] == {"train": 4200, "validation": 900}


def test_same_data_same_model_bytes_and_metrics(tmp_path: Path, dataset_dir: Path, model_dir: Path) -> None:
    metrics = training.train(dataset_dir, tmp_path / "again", Hyperparameters())
    for name in (artifact.MODEL_FILE, artifact.METADATA_FILE, artifact.BASELINE_FILE):
        assert (tmp_path / "again" / name).read_bytes() == (model_dir / name).read_bytes(), name
    assert metrics == json.loads((model_dir / artifact.METADATA_FILE).read_text())["metrics"]
    X, _ = tabular.read_channel(dataset_dir / "test", "test")
    # exact equality, not approximate
    assert np.array_equal(artifact.load(tmp_path / "again").scores(X), artifact.load(model_dir).scores(X))


def test_cli_prints_metric_definition_lines(tmp_path: Path, dataset_dir: Path, cli) -> None:
    result = cli(
        "model_code.train",
        "--data-dir",
        str(dataset_dir),
        "--model-dir",
        str(tmp_path / "m"),
        "--output-dir",
        str(tmp_path / "out"),
        "--hyperparameters",
        '{"C": "0.5", "max_iter": "300"}',  # SageMaker passes strings
    )
    assert result.returncode == 0, result.stderr
    printed = {f"{split}:{name}": float(value) for split, name, value in METRIC_LINE.findall(result.stdout)}
    assert {"train:accuracy", "validation:accuracy", "validation:auc"} <= set(printed)
    # the documented metric definition regex
    assert (
        float(re.search(r"validation:auc=([0-9\.]+);", result.stdout).group(1)) == printed["validation:auc"]
    )
    meta = json.loads((tmp_path / "m" / artifact.METADATA_FILE).read_text())
    assert meta["hyperparameters"]["C"] == 0.5
    assert printed["validation:auc"] == pytest.approx(meta["metrics"]["validation"]["auc"], abs=1e-6)
    assert not (tmp_path / "out" / "failure").exists()


def test_train_entry_point_follows_sagemaker_paths(tmp_path: Path, dataset_dir: Path, child_env) -> None:
    """``train`` with no arguments, as SageMaker runs it, against a fake /opt/ml tree."""
    import subprocess
    import sys

    opt_ml = tmp_path / "opt_ml"
    for channel in ("train", "validation"):
        shutil.copytree(dataset_dir / channel, opt_ml / "input" / "data" / channel)
    (opt_ml / "input" / "config").mkdir(parents=True)
    (opt_ml / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps(
            {"C": "2.0", "sagemaker_region": '"eu-west-1"', "_tuning_objective_metric": "validation:auc"}
        )
    )
    script = Path(training.__file__).parent / "bin" / "train"
    result = subprocess.run(
        [str(script)],
        capture_output=True,
        text=True,
        env=child_env(MODEL_CODE_OPT_ML=str(opt_ml), PYTHON=sys.executable),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "validation:auc=" in result.stdout
    meta = json.loads((opt_ml / "model" / artifact.METADATA_FILE).read_text())
    assert meta["hyperparameters"]["C"] == 2.0
    assert artifact.load(opt_ml / "model").threshold == 0.5


def test_failure_file_names_the_bad_hyperparameter(tmp_path: Path, dataset_dir: Path, run_main) -> None:
    result = run_main(
        "model_code.train",
        "--data-dir",
        str(dataset_dir),
        "--model-dir",
        str(tmp_path / "m"),
        "--output-dir",
        str(tmp_path / "out"),
        "--hyperparameters",
        '{"learning_rate": 0.1}',
    )
    assert result.returncode == 2
    failure = (tmp_path / "out" / "failure").read_text()
    assert (
        "unknown hyperparameter 'learning_rate' for algorithm 'linear'; allowed: algorithm, C, max_iter, "
        "class_weight, decision_threshold, seed"
    ) in failure
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m" / artifact.MODEL_FILE).exists()


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        ('{"C": "-1"}', "hyperparameter 'C' must be a number > 0 and <= 1e+06, got '-1'"),
        ('{"max_iter": "1.5"}', "hyperparameter 'max_iter' must be an integer"),
        ('{"class_weight": "heavy"}', "hyperparameter 'class_weight' must be one of none, balanced"),
        ('{"decision_threshold": 1}', "'decision_threshold' must be a number > 0 and < 1, got 1"),
        ("{not json", "hyperparameters: invalid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
    ],
)
def test_bad_hyperparameters(tmp_path: Path, dataset_dir: Path, hyperparameters: str, message: str) -> None:
    code = training.main(
        [
            "--data-dir",
            str(dataset_dir),
            "--model-dir",
            str(tmp_path / "m"),
            "--output-dir",
            str(tmp_path / "out"),
            "--hyperparameters",
            hyperparameters,
        ]
    )
    assert code == 2
    assert message in (tmp_path / "out" / "failure").read_text()


def test_missing_validation_channel(tmp_path: Path, dataset_dir: Path) -> None:
    shutil.copytree(dataset_dir / "train", tmp_path / "data" / "train")
    code = training.main(
        [
            "--data-dir",
            str(tmp_path / "data"),
            "--model-dir",
            str(tmp_path / "m"),
            "--output-dir",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "validation channel: directory" in (tmp_path / "failure").read_text()


def test_malformed_training_row_names_file_and_line(tmp_path: Path, dataset_dir: Path) -> None:
    shutil.copytree(dataset_dir / "validation", tmp_path / "data" / "validation")
    (tmp_path / "data" / "train").mkdir(parents=True)
    (tmp_path / "data" / "train" / "part.csv").write_text("0,1,2,3,4,5,6,7,8\n2,1,2,3,4,5,6,7,8\n")
    code = training.main(
        [
            "--data-dir",
            str(tmp_path / "data"),
            "--model-dir",
            str(tmp_path / "m"),
            "--output-dir",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "part.csv line 2: label 'defaulted' must be 0 or 1, got '2'" in (tmp_path / "failure").read_text()


def test_an_unexpected_training_error_is_exit_70_with_algorithm_error(
    tmp_path: Path, dataset_dir: Path, monkeypatch
) -> None:
    def bug(hp: object) -> object:
        raise ZeroDivisionError("a bug\nspanning lines")

    monkeypatch.setattr(training, "build_estimator", bug)
    code = training.main(
        ["--data-dir", str(dataset_dir), "--model-dir", str(tmp_path / "m"), "--output-dir", str(tmp_path)]
    )
    assert code == 70  # a crash is neither "bad input" (2) nor a verdict (1)
    assert (tmp_path / "failure").read_text() == "AlgorithmError: ZeroDivisionError: a bug spanning lines\n"
