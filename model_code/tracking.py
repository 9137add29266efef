"""Experiment tracking: log one training run (hyperparameters, metrics, lineage) to an MLflow tracking server.

Used by the pipeline's Evaluate step when the shared stack has a tracking server (`experiments` in its config):
the step gets ``--mlflow-tracking-uri <server ARN>``. The ``sagemaker-mlflow`` plugin turns an ARN into the
server's URL and signs requests with the job's role (SigV4); any other MLflow URI (``http://``, ``file:``) works
as MLflow defines it. Without a URI nothing is imported and nothing is logged, so the code runs unchanged
where MLflow is not installed. The run's id and URI go into the evaluation report, which links it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from model_code.errors import UsageError


@dataclass(frozen=True)
class TrackedRun:
    tracking_uri: str
    experiment: str
    run_id: str

    def to_dict(self) -> dict[str, str]:
        return {"tracking_uri": self.tracking_uri, "experiment": self.experiment, "run_id": self.run_id,
                "run_uri": f"runs:/{self.run_id}"}


def parse_lineage(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` arguments (the pipeline passes GitCommit, DataSnapshot, TriggerReason, the execution ARN)."""
    return parse_pairs(pairs, "--lineage")


def parse_pairs(pairs: list[str], option: str) -> dict[str, str]:
    """Repeated ``option KEY=VALUE`` arguments as a dict; a pair without ``=`` or key is bad usage."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{option} must be KEY=VALUE, got {pair!r}")
        found[key] = value
    return found


def _flat_metrics(report: Mapping[str, Any]) -> dict[str, float]:
    """The report's scalar metrics (``binary_classification_metrics.<name>.value``); the confusion matrix is left
    to the report itself."""
    metrics = report.get("binary_classification_metrics", {})
    return {name: float(entry["value"]) for name, entry in metrics.items()
            if isinstance(entry, dict) and isinstance(entry.get("value"), int | float)}


def log_run(tracking_uri: str, experiment: str, hyperparameters: Mapping[str, Any], report: Mapping[str, Any],
            lineage: Mapping[str, str]) -> TrackedRun:
    """One MLflow run with the hyperparameters as params, the metrics, and the lineage as tags."""
    try:
        import mlflow
    except ImportError:
        raise UsageError("--mlflow-tracking-uri is set but mlflow is not installed (model_code/requirements.txt)") \
            from None
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=lineage.get("PipelineExecutionArn", "").rsplit("/", 1)[-1] or None) as run:
        mlflow.log_params({k: str(v) for k, v in sorted(hyperparameters.items())})
        mlflow.log_metrics(_flat_metrics(report))
        mlflow.set_tags({f"lineage.{k}": v for k, v in sorted(lineage.items())})
        return TrackedRun(tracking_uri=tracking_uri, experiment=experiment, run_id=run.info.run_id)
