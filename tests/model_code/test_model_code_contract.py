"""The hyperparameter contract: one declared definition, the checked-in JSON Schema generated from it, the
parser and the schema agreeing value by value, and the real training entry point trained with each algorithm
under the SageMaker file layout."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from model_code import artifact, contract, evaluate, hyperparams, tabular
from model_code import train as training
from model_code.errors import UsageError
from model_code.inference import InferenceApp

SCHEMA = json.loads(contract.SCHEMA_FILE.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def parses(raw: dict[str, Any]) -> bool:
    try:
        hyperparams.parse(raw)
    except UsageError:
        return False
    return True


def sagemaker_string(value: Any) -> str:
    """How the platform writes a typed stack value into SageMaker's hyperparameters.json."""
    return str(value).lower() if isinstance(value, bool) else str(value)


# ------------------------------------------------------------------------------------------ the file
def test_checked_in_schema_is_generated_from_the_definition() -> None:
    assert contract.SCHEMA_FILE.read_text(encoding="utf-8") == contract.render(), (
        "run: python -m model_code.contract"
    )


def test_check_command_passes_on_the_checked_in_file(cli) -> None:
    result = cli("model_code.contract", "--check")
    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stdout


def test_check_command_fails_on_a_stale_file_and_regenerates_it(tmp_path: Path, monkeypatch, run_main) -> None:
    import model_code.contract.__main__ as generator

    stale = tmp_path / "hyperparameters.schema.json"
    stale.write_text(contract.render().replace('"maximum": 100000', '"maximum": 99999'))
    monkeypatch.setattr(generator, "SCHEMA_FILE", stale)
    result = run_main("model_code.contract.__main__", "--check")
    assert result.returncode == 1
    assert "out of date; run python -m model_code.contract" in result.stderr
    assert run_main("model_code.contract.__main__").returncode == 0
    assert stale.read_text() == contract.render()


def test_schema_is_self_contained_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    refs = [line.strip() for line in contract.render().splitlines() if '"$ref"' in line]
    assert refs and all('"#/$defs/' in ref for ref in refs)  # nothing outside the file
    assert set(SCHEMA["$defs"]) == set(hyperparams.ALGORITHMS) == {"linear", "gbt"}
    assert SCHEMA["x-algorithm-key"] == "algorithm" and SCHEMA["x-default-algorithm"] == "linear"


def test_gbt_names_are_scikit_learns_own() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    accepted = set(HistGradientBoostingClassifier().get_params())
    declared = set(hyperparams.params_of("gbt")) - {"decision_threshold", "seed"}
    assert declared <= accepted


# ---------------------------------------------------------------------- schema and parser agree
def _candidates(param: hyperparams.Param) -> list[Any]:
    """Typed values around every edge of a parameter's declared range, and values of the wrong type."""
    if param.kind == "string":
        return [*param.choices, param.choices[0].upper(), "other", "", 1, None, True, [param.choices[0]]]
    if param.kind == "boolean":
        return [True, False, 0, 1, 0.0, None]
    values: list[Any] = [param.default, True, False, None, [1], {"v": 1}, float("nan"), float("inf"), 10**400]
    for bound in (param.minimum, param.maximum):
        if bound is not None:
            step = 1 if param.kind == "integer" else 1e-9 * max(1.0, abs(bound))
            values += [bound, bound - step, bound + step]
    if param.kind == "integer":
        values += [2.5, float(param.default or param.minimum or 1)]  # 7.0 is an integer to JSON Schema too
    return values


def _agreement_cases() -> list[tuple[str, dict[str, Any]]]:
    cases: list[tuple[str, dict[str, Any]]] = []
    for algorithm, (_, params) in hyperparams.ALGORITHMS.items():
        for param in params:
            for value in _candidates(param):
                if isinstance(value, float) and value != value:
                    continue  # NaN cannot be in a YAML/JSON stack value that a validator sees; covered below
                cases.append((f"{algorithm}.{param.name}={value!r}", {"algorithm": algorithm, param.name: value}))
    cases += [
        ("absent algorithm is linear", {"C": 2.0}),
        ("absent algorithm rejects gbt keys", {"learning_rate": 0.1}),
        ("linear rejects gbt keys", {"algorithm": "linear", "max_leaf_nodes": 8}),
        ("gbt rejects linear keys", {"algorithm": "gbt", "C": 1.0}),
        ("unknown algorithm", {"algorithm": "xgboost"}),
        ("algorithm not a string", {"algorithm": 1}),
        ("the old stacks' churn keys", {"n_estimators": 300, "max_depth": 8, "seed": 42}),
        ("the old stacks' fraud keys", {"max_depth": 6, "eta": 0.2, "seed": 7}),
        ("SageMaker's own keys are ignored", {"algorithm": "gbt", "sagemaker_region": "eu-west-1", "_x": 1}),
        ("empty", {}),
    ]
    return cases


CASES = _agreement_cases()


def test_schema_and_parser_agree_on_typed_values() -> None:
    """Every typed value a stack may hold: the schema accepts it exactly when the training job does."""
    disagreements = [label for label, raw in CASES if VALIDATOR.is_valid(raw) != parses(raw)]
    assert disagreements == []
    verdicts = [VALIDATOR.is_valid(raw) for _, raw in CASES]
    assert sum(verdicts) >= 40 and verdicts.count(False) >= 80  # both verdicts are exercised


def test_sagemaker_strings_parse_to_the_typed_values() -> None:
    """What a stack holds (valid per the schema), written as SageMaker strings, trains the same model."""
    valid = [(label, raw) for label, raw in CASES if VALIDATOR.is_valid(raw)]
    assert len(valid) >= 40
    for label, raw in valid:
        strings = {k: sagemaker_string(v) for k, v in raw.items()}
        assert hyperparams.parse(strings) == hyperparams.parse(raw), label


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"max_iter": "3_0"}, "'max_iter' must be an integer >= 1 and <= 100000, got '3_0'"),
        ({"max_iter": "\uff13\uff10"}, "'max_iter' must be an integer"),  # full-width 30
        ({"max_iter": "1e2"}, "'max_iter' must be an integer"),
        ({"max_iter": " 30"}, "'max_iter' must be an integer"),
        ({"C": "nan"}, "'C' must be a number > 0 and <= 1e+06, got 'nan'"),
        ({"C": "inf"}, "'C' must be a number"),
        ({"C": "1e400"}, "'C' must be a number"),
        ({"C": "0x10"}, "'C' must be a number"),
        ({"C": "\u0661"}, "'C' must be a number"),  # Arabic-Indic 1
        ({"C": "1" * 5000}, "'C' must be a number"),
        ({"algorithm": "gbt", "early_stopping": "yes"}, "'early_stopping' must be true or false, got 'yes'"),
        ({"algorithm": "gbt", "early_stopping": "1"}, "'early_stopping' must be true or false"),
        ({"class_weight": "Balanced"}, "'class_weight' must be one of none, balanced, got 'Balanced'"),
        ({"algorithm": "GBT"}, "hyperparameter 'algorithm' must be one of linear, gbt, got 'GBT'"),
        ({"algorithm": "gbt", "n_estimators": "300"}, "unknown hyperparameter 'n_estimators' for algorithm 'gbt'"),
    ],
)
def test_hostile_strings_are_refused_with_the_name(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        hyperparams.parse(raw)
    assert message in str(caught.value)


def test_strings_that_are_accepted() -> None:
    hp = hyperparams.parse(
        {"algorithm": "gbt", "max_iter": "300.0", "learning_rate": ".05", "early_stopping": "True", "seed": "+7"}
    )
    assert (hp["max_iter"], hp["learning_rate"], hp["early_stopping"], hp.seed) == (300, 0.05, True, 7)


# ---------------------------------------------------------------- the real entry point, per algorithm
@pytest.mark.parametrize(
    "typed",
    [
        {"algorithm": "linear", "C": 0.5, "max_iter": 300, "class_weight": "balanced", "seed": 42},
        {
            "algorithm": "gbt",
            "learning_rate": 0.2,
            "max_iter": 40,
            "max_depth": 6,
            "max_leaf_nodes": 15,
            "min_samples_leaf": 10,
            "l2_regularization": 0.5,
            "early_stopping": False,
            "decision_threshold": 0.4,
            "seed": 7,
        },
    ],
    ids=["linear", "gbt"],
)
def test_train_entry_point_with_each_algorithm_under_the_sagemaker_layout(
    typed: dict[str, Any], tmp_path: Path, dataset_dir: Path, child_env
) -> None:
    """``train`` with no arguments against a fake /opt/ml, hyperparameters as the strings SageMaker writes;
    the model it leaves is evaluated and served like any other."""
    assert VALIDATOR.is_valid(typed)
    opt_ml = tmp_path / "opt_ml"
    for channel in ("train", "validation"):
        shutil.copytree(dataset_dir / channel, opt_ml / "input" / "data" / channel)
    (opt_ml / "input" / "config").mkdir(parents=True)
    strings = {k: sagemaker_string(v) for k, v in typed.items()}
    (opt_ml / "input" / "config" / "hyperparameters.json").write_text(json.dumps(strings))
    script = Path(training.__file__).parent / "bin" / "train"
    result = subprocess.run(
        [str(script)],
        capture_output=True,
        text=True,
        env=child_env(MODEL_CODE_OPT_ML=str(opt_ml), PYTHON=sys.executable),
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "validation:auc=" in result.stdout
    meta = json.loads((opt_ml / "model" / artifact.METADATA_FILE).read_text())
    assert meta["algorithm"] == typed["algorithm"]
    assert meta["hyperparameters"] == hyperparams.parse(typed).as_dict()
    assert meta["metrics"]["validation"]["auc"] > 0.85
    model = artifact.load(opt_ml / "model")
    expected_class = "HistGradientBoostingClassifier" if typed["algorithm"] == "gbt" else "Pipeline"
    assert type(model.estimator).__name__ == expected_class
    report = evaluate.evaluate(opt_ml / "model", dataset_dir / "test")
    assert report["binary_classification_metrics"]["auc"]["value"] > 0.85
    X, _ = tabular.read_channel(dataset_dir / "test", "test")
    response = InferenceApp(model, 1 << 20).handle(
        "POST", "/invocations", {"content-type": "application/json"}, json.dumps({"instances": X[:5].tolist()}).encode()
    )
    assert response.status == 200
    scores = [p["score"] for p in json.loads(response.body)["predictions"]]
    assert np.array_equal(scores, model.scores(X[:5]))


def test_gbt_training_is_deterministic(
    tmp_path: Path, dataset_dir: Path, gbt_model_dir: Path, gbt_hyperparameters: dict[str, Any]
) -> None:
    training.train(dataset_dir, tmp_path / "again", hyperparams.parse(gbt_hyperparameters))
    for name in (artifact.MODEL_FILE, artifact.METADATA_FILE):
        assert (tmp_path / "again" / name).read_bytes() == (gbt_model_dir / name).read_bytes(), name
