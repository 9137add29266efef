"""Experiment logging step: ``python -m model_code.experiment --report-dir R --output-dir O
[--mlflow-tracking-uri URI --mlflow-experiment E --hyperparameter KEY=VALUE ... --lineage KEY VALUE ...]``.

Runs as the pipeline's `LogExperiment` step, after Evaluate. It reads only the evaluation report (never training
or test data, never the model), logs one MLflow run (hyperparameters as params, the report's metrics, lineage
as tags) and writes ``O/evaluation.json``: the same report plus ``mlflow_run`` (tracking URI, experiment, run id,
``runs:/<id>``), which the Register step stores as the package's model metrics, so the report links the run.

This is the one step that reaches the network (the tracking server, over its VPC interface endpoint): the other
steps stay isolated because they read data (docs/pipeline.md, "Experiments"). Without ``--mlflow-tracking-uri``
(or with an empty one) the report is copied unchanged and MLflow is never imported.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model_code import cli, fsutil, tracking
from model_code.errors import UsageError

REPORT_FILE = "evaluation.json"
DEFAULT_REPORT_DIR = "/opt/ml/processing/evaluation"
DEFAULT_OUTPUT_DIR = "/opt/ml/processing/linked"


def _read_report(report_dir: Path) -> dict[str, Any]:
    path = report_dir / REPORT_FILE
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--report-dir {report_dir}: no {REPORT_FILE}") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"--report-dir {report_dir}: {REPORT_FILE} is not readable JSON ({exc})") from None
    if not isinstance(report, dict):
        raise UsageError(f"--report-dir {report_dir}: {REPORT_FILE} is not a JSON object")
    return report


def link(report: dict[str, Any], tracking_uri: str | None, experiment: str, hyperparameters: dict[str, Any],
         lineage: dict[str, str]) -> dict[str, Any]:
    """The report, with the run it was logged as when a tracking URI is given; unchanged otherwise."""
    if not tracking_uri:
        return report
    run = tracking.log_run(tracking_uri, experiment, hyperparameters, report, lineage)
    return {**report, "mlflow_run": run.to_dict()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_code.experiment", description=__doc__.splitlines()[0])
    parser.add_argument("--report-dir", default=DEFAULT_REPORT_DIR, help=f"where the Evaluate step's {REPORT_FILE} is")
    parser.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR, help=f"where the linked {REPORT_FILE} is written")
    parser.add_argument("--mlflow-tracking-uri", default="",
                        help="MLflow tracking server (an ARN or URI); empty: copy the report, log nothing")
    parser.add_argument("--mlflow-experiment", default="default", help="MLflow experiment of the run")
    # One argument per pair: SageMaker takes at most 256 characters per container argument (AppSpecification).
    parser.add_argument("--hyperparameter", action="append", default=[], metavar="KEY=VALUE",
                        help="a hyperparameter of the training job (repeatable)")
    # KEY and VALUE apart: a value may use all 256 characters of a container argument (TriggerReason may).
    parser.add_argument("--lineage", action="append", default=[], nargs=2, metavar=("KEY", "VALUE"),
                        help="lineage tag of the MLflow run (repeatable)")
    args = parser.parse_args(argv)
    lineage = dict(args.lineage)
    hyperparameters = tracking.parse_pairs(args.hyperparameter, "--hyperparameter")
    out_dir = Path(args.output_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--output-dir {out_dir} exists and is not a directory")
    report = link(_read_report(Path(args.report_dir)), args.mlflow_tracking_uri, args.mlflow_experiment,
                  hyperparameters, lineage)
    fsutil.write_json(out_dir / REPORT_FILE, report)
    run = report.get("mlflow_run")
    print(f"logged as MLflow run {run['run_id']} ({run['tracking_uri']})" if run and args.mlflow_tracking_uri
          else "no tracking URI: report copied, nothing logged")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main, prog="python -m model_code.experiment"))
