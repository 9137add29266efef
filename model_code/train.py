"""Training entry point, on the SageMaker training contract and locally.

In the training image SageMaker runs ``train`` with no arguments: channels are read from
``/opt/ml/input/data/{train,validation}``, hyperparameters from ``/opt/ml/input/config/hyperparameters.json``,
the model is written to ``/opt/ml/model`` and a failure reason to ``/opt/ml/output/failure``. Locally::

    python -m model_code.train --data-dir D --model-dir M [--output-dir O] [--hyperparameters JSON|FILE]

Metrics are printed one per line as ``<split>:<metric>=<value>;`` (e.g. ``validation:auc=0.871234;``) for the
job's metric definitions (regex ``validation:auc=([0-9\\.]+);``). Training is deterministic: the same data and
hyperparameters give byte-identical model files and identical metrics.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from model_code import __version__, artifact, cli, drift, fsutil, hyperparams, tabular
from model_code.errors import UsageError
from model_code.hyperparams import Hyperparameters
from model_code.metrics import binary_metrics
from model_code.schema import FEATURES, LABEL

OPT_ML = Path(os.environ.get("MODEL_CODE_OPT_ML", "/opt/ml"))  # overridable only so tests can fake a job
SM_DATA_DIR = OPT_ML / "input" / "data"
SM_HYPERPARAMETERS = OPT_ML / "input" / "config" / "hyperparameters.json"
SM_MODEL_DIR = OPT_ML / "model"
SM_OUTPUT_DIR = OPT_ML / "output"
PRINTED_METRICS = ("accuracy", "auc", "logloss", "f1")


def build_estimator(hp: Hyperparameters) -> Any:
    """The estimator ``hp.algorithm`` names, configured with exactly the declared hyperparameters.

    ``linear``: standardise, then an L2 logistic regression (fast to predict, well calibrated for this data).
    ``gbt``: scikit-learn's histogram gradient-boosted trees, which need no scaling.
    """
    class_weight = None if hp["class_weight"] == "none" else hp["class_weight"]
    if hp.algorithm == "gbt":
        return HistGradientBoostingClassifier(
            learning_rate=hp["learning_rate"],
            max_iter=hp["max_iter"],
            max_leaf_nodes=hp["max_leaf_nodes"],
            max_depth=hp["max_depth"],
            min_samples_leaf=hp["min_samples_leaf"],
            l2_regularization=hp["l2_regularization"],
            max_bins=hp["max_bins"],
            early_stopping=hp["early_stopping"],
            class_weight=class_weight,
            random_state=hp.seed,
        )
    return Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "clf",
                LogisticRegression(
                    C=hp["C"], max_iter=hp["max_iter"], class_weight=class_weight, random_state=hp.seed
                ),
            ),
        ]
    )


def metric_lines(split: str, values: dict[str, float]) -> list[str]:
    """``split:name=value;`` lines, fixed-point so the metric-definition regex always matches."""
    return [f"{split}:{name}={values[name]:.6f};" for name in PRINTED_METRICS]


def _versions() -> dict[str, str]:
    import joblib
    import sklearn

    return {
        "model_code": __version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "joblib": joblib.__version__,
        "python": platform.python_version(),
    }


def train(data_dir: str | Path, model_dir: str | Path, hp: Hyperparameters) -> dict[str, dict[str, float]]:
    """Fit on ``data_dir/train``, score on ``data_dir/validation``, write the artifact; return the metrics."""
    data_dir = Path(data_dir)
    X_train, y_train = tabular.read_channel(data_dir / "train", "train")
    X_val, y_val = tabular.read_channel(data_dir / "validation", "validation")
    if len(np.unique(y_train)) < 2:
        raise UsageError(f"train channel: labels are all {y_train[0]}; both classes (0 and 1) are needed")
    estimator = build_estimator(hp)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X_train, y_train)
    for w in caught:
        print(f"warning: {w.category.__name__}: {w.message}", file=sys.stderr)
    results = {
        "train": binary_metrics(y_train, estimator.predict_proba(X_train)[:, 1], hp.decision_threshold),
        "validation": binary_metrics(y_val, estimator.predict_proba(X_val)[:, 1], hp.decision_threshold),
    }
    metadata: dict[str, Any] = {
        "algorithm": hp.algorithm,
        "feature_names": list(FEATURES),
        "label": LABEL,
        "threshold": hp.decision_threshold,
        "hyperparameters": hp.as_dict(),
        "metrics": results,
        "rows": {"train": int(len(y_train)), "validation": int(len(y_val))},
        "versions": _versions(),
    }
    artifact.save(model_dir, estimator, metadata, drift.compute_baseline(X_train, FEATURES))
    return results


def write_failure(output_dir: Path, message: str) -> None:
    """SageMaker shows the first 1 KiB of ``output/failure`` as the job's FailureReason."""
    try:
        fsutil.write_text(output_dir / "failure", message + "\n")
    except OSError as exc:
        print(f"could not write failure file in {output_dir}: {exc.strerror}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_code.train", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", default=SM_DATA_DIR, help="directory with train/ and validation/ channels"
    )
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", str(SM_MODEL_DIR)))
    parser.add_argument(
        "--output-dir",
        default=os.environ.get("SM_OUTPUT_DIR", str(SM_OUTPUT_DIR)),
        help="where the 'failure' file goes if training fails",
    )
    parser.add_argument(
        "--hyperparameters",
        help=f"JSON object or path to a JSON file (default: {SM_HYPERPARAMETERS} if it exists)",
    )
    args = parser.parse_args(argv)
    output_dir = Path(args.output_dir)
    try:
        hp = hyperparams.parse(hyperparams.load(args.hyperparameters, SM_HYPERPARAMETERS))
        print(f"training with {hp.as_dict()} on {args.data_dir}", flush=True)
        results = train(args.data_dir, args.model_dir, hp)
    except UsageError as exc:
        print(f"model_code.train: error: {cli.one_line(exc)}", file=sys.stderr)
        write_failure(output_dir, f"ClientError: {cli.one_line(exc)}")
        return 2
    except Exception as exc:  # unexpected: traceback to the log, one-line reason to the failure file
        traceback.print_exc()
        write_failure(output_dir, f"AlgorithmError: {type(exc).__name__}: {cli.one_line(exc)}")
        return cli.INTERNAL_ERROR
    for split, values in results.items():
        for line in metric_lines(split, values):
            print(line, flush=True)
    print(f"model written to {args.model_dir}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
