"""Evaluation gate: ``python -m model_code.evaluate --model-dir M --test-dir T --output-dir O --metric auc
--threshold 0.8 [--no-fail]``.

Scores the model on the test channel and writes ``O/evaluation.json`` in the SageMaker model-quality shape,
``{"binary_classification_metrics": {"auc": {"value": 0.87, "standard_deviation": "NaN"}, ...}}``, which the
pipeline's condition step reads with JsonGet ``binary_classification_metrics.auc.value`` and the model
registry shows as model metrics. Exit codes: 0 gate passed (or ``--no-fail``), 1 below the gate (the report is
still written, so the registry can show why), 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model_code import artifact, cli, fsutil, tabular, tracking
from model_code.errors import GateFailed, UsageError
from model_code.metrics import GATE_METRICS, binary_metrics, confusion_matrix
from model_code.schema import FEATURES

DEFAULT_MODEL_DIR = "/opt/ml/processing/model"
DEFAULT_TEST_DIR = "/opt/ml/processing/test"
DEFAULT_OUTPUT_DIR = "/opt/ml/processing/evaluation"
REPORT_FILE = "evaluation.json"


def evaluation_report(values: dict[str, float], confusion: dict[str, dict[str, int]]) -> dict[str, Any]:
    """SageMaker model-quality JSON; the standard deviation is not estimated, hence the ``"NaN"`` string."""
    metrics: dict[str, Any] = {
        name: {"value": round(value, 6), "standard_deviation": "NaN"} for name, value in values.items()
    }
    metrics["confusion_matrix"] = confusion
    return {"binary_classification_metrics": metrics}


def evaluate(model_path: str | Path, test_dir: str | Path) -> dict[str, Any]:
    """Score the model (directory or ``model.tar.gz``) on the test channel and return the report."""
    X, y = tabular.read_channel(test_dir, "test")
    with artifact.resolved(model_path) as model_dir:
        model = artifact.load(model_dir)
    if model.feature_names != FEATURES:
        raise UsageError(
            f"the model's features ({', '.join(model.feature_names)}) are not the test channel's "
            f"({', '.join(FEATURES)})"
        )
    scores = model.scores(X)
    return evaluation_report(
        binary_metrics(y, scores, model.threshold), confusion_matrix(y, scores, model.threshold)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model_code.evaluate", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--model-dir",
        default=DEFAULT_MODEL_DIR,
        help="model directory, or one holding model.tar.gz, or the tarball itself",
    )
    parser.add_argument("--test-dir", default=DEFAULT_TEST_DIR, help="test channel (label-first CSV)")
    parser.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR, help=f"where {REPORT_FILE} is written")
    parser.add_argument(
        "--metric", default="auc", choices=GATE_METRICS, help="metric to gate on (higher is better)"
    )
    parser.add_argument("--threshold", type=float, default=0.8, help="minimum value of --metric")
    parser.add_argument("--mlflow-tracking-uri", help="log the run to this MLflow tracking server (an ARN or URI)")
    parser.add_argument("--mlflow-experiment", default="default", help="MLflow experiment of the run")
    parser.add_argument("--lineage", action="append", default=[], metavar="KEY=VALUE",
                        help="lineage tag of the MLflow run (repeatable)")
    parser.add_argument(
        "--no-fail",
        action="store_true",
        help="exit 0 even below the gate (a SageMaker pipeline gates with its own Condition step)",
    )
    args = parser.parse_args(argv)
    if not math.isfinite(args.threshold):
        raise UsageError(f"--threshold must be a finite number, got {args.threshold}")
    out_dir = Path(args.output_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--output-dir {out_dir} exists and is not a directory")
    lineage = tracking.parse_lineage(args.lineage)
    report = evaluate(args.model_dir, args.test_dir)
    if args.mlflow_tracking_uri:
        with artifact.resolved(args.model_dir) as model_dir:
            hyperparameters = artifact.load(model_dir).metadata.get("hyperparameters", {})
        run = tracking.log_run(args.mlflow_tracking_uri, args.mlflow_experiment, hyperparameters, report, lineage)
        report["mlflow_run"] = run.to_dict()  # the report links the run
    out = out_dir / REPORT_FILE
    try:
        fsutil.write_json(out, report)
    except OSError as exc:
        raise UsageError(f"--output-dir {out_dir}: cannot write {REPORT_FILE} ({exc.strerror})") from None
    value = report["binary_classification_metrics"][args.metric]["value"]
    summary = f"{args.metric}={value:.6f} (gate: >= {args.threshold:g}); report written to {out}"
    if value < args.threshold:
        message = f"gate failed: {args.metric} {value:.6f} is below the threshold {args.threshold:g}"
        if not args.no_fail:
            raise GateFailed(f"{message}; report written to {out}")
        print(f"model_code.evaluate: {message} (--no-fail: exiting 0)", file=sys.stderr)
    else:
        print(f"gate passed: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main, prog="model_code.evaluate"))
