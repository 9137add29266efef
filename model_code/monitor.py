"""The drift monitor on SageMaker Model Monitor's bring-your-own-container contract, and the baseline it judges by.

Two commands, both run in the training image:

* ``python -m model_code.monitor baseline --train-dir D --output-dir O [--psi-threshold 0.2]``: the pipeline's
  Baseline step. Writes ``O/statistics.json`` (per-feature quantile bins of the training features, the format of
  ``model_code.drift``) and ``O/constraints.json`` (the PSI threshold per feature). The Register step stores both
  with the model package (ModelMetrics and DriftCheckBaselines), so each version carries its own baseline.
* ``python -m model_code.monitor run``: one monitoring execution. SageMaker passes the context as environment
  variables (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-contract-inputs.html):
  ``dataset_source`` (the captured requests of the period, SageMaker's data capture JSON Lines),
  ``output_path``, ``baseline_statistics``, ``baseline_constraints``, ``publish_cloudwatch_metrics``,
  ``sagemaker_monitoring_schedule_name``, ``end_time``; this program adds ``MODEL_NAME`` and ``PSI_THRESHOLD``.
  It writes ``constraint_violations.json`` (one ``baseline_drift_check`` violation per drifted feature, the
  contract's output file: model-monitor-byoc-contract-outputs.html) and ``drift_report.json`` to ``output_path``,
  and, when publishing is enabled, the PSI per feature and its maximum as CloudWatch metrics in
  ``/opt/ml/output/metrics/cloudwatch/`` (model-monitor-byoc-cloudwatch.html), which SageMaker publishes: the job
  itself needs no network.

The same run judges an endpoint's capture and a Kubernetes model server's (``model_code.capture`` writes the same
format), so all deploy targets share one monitor. Exit 0 when the run completed (with or without drift: the
verdict is in the violations and the metrics), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model_code import cli, drift, fsutil, tabular
from model_code.errors import UsageError
from model_code.schema import FEATURES

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
VIOLATIONS_FILE = "constraint_violations.json"
REPORT_FILE = "drift_report.json"
METRICS_DIR = "/opt/ml/output/metrics/cloudwatch"
CONSTRAINTS_FORMAT = "psi-constraints/1"
METRIC_FEATURE_PSI = "feature_psi"
METRIC_MAX_PSI = "max_feature_psi"
METRIC_DRIFTED = "drifted_features"
FEATURE_SET = "all"


def write_baseline(train_dir: str | Path, output_dir: str | Path, psi_threshold: float) -> dict[str, Any]:
    """statistics.json and constraints.json over the training split's features."""
    X, _ = tabular.read_channel(train_dir, "train")
    statistics = drift.compute_baseline(X, FEATURES)
    constraints = {"format": CONSTRAINTS_FORMAT, "psi_threshold": psi_threshold,
                   "features": [{"name": name, "psi_threshold": psi_threshold} for name in FEATURES]}
    out = Path(output_dir)
    fsutil.write_json(out / STATISTICS_FILE, statistics)
    fsutil.write_json(out / CONSTRAINTS_FILE, constraints)
    return {"rows": statistics["rows"], "features": len(FEATURES)}


def _threshold(env: Mapping[str, str], constraints_path: str | None) -> float:
    """PSI_THRESHOLD from the schedule (the environment's config) wins over the baseline's constraints."""
    raw = env.get("PSI_THRESHOLD")
    if raw is None and constraints_path:
        try:
            raw = str(json.loads(Path(constraints_path).read_text(encoding="utf-8"))["psi_threshold"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"baseline_constraints: cannot read {constraints_path}: {exc}") from None
    try:
        value = float(raw if raw is not None else drift.DEFAULT_THRESHOLD)
    except ValueError:
        raise UsageError(f"PSI_THRESHOLD must be a positive number, got {raw!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"PSI_THRESHOLD must be a positive number, got {raw!r}")
    return value


def _require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise UsageError(f"{name} is not set: this command runs as a SageMaker Model Monitor job")
    return value


def metric_records(report: drift.DriftReport, model: str, schedule: str, timestamp: str) -> list[dict[str, Any]]:
    """The CloudWatch datapoints of one run: PSI per feature, the maximum over the feature set, drift count."""
    base = [{"Name": "MonitoringSchedule", "Value": schedule}, {"Name": "Model", "Value": model}]
    records = [{"MetricName": METRIC_FEATURE_PSI, "Timestamp": timestamp, "Value": f.psi, "Unit": "None",
                "Dimensions": [*base, {"Name": "Feature", "Value": f.name}]} for f in report.features]
    records.append({"MetricName": METRIC_MAX_PSI, "Timestamp": timestamp, "Unit": "None",
                    "Value": max(f.psi for f in report.features),
                    "Dimensions": [*base, {"Name": "FeatureSet", "Value": FEATURE_SET}]})
    records.append({"MetricName": METRIC_DRIFTED, "Timestamp": timestamp, "Unit": "Count",
                    "Value": float(len(report.drifted)),
                    "Dimensions": [*base, {"Name": "FeatureSet", "Value": FEATURE_SET}]})
    return records


def violations(report: drift.DriftReport) -> dict[str, Any]:
    return {"violations": [
        {"feature_name": f.name, "constraint_check_type": "baseline_drift_check",
         "description": f"PSI {f.psi:.4f} is above the threshold {report.threshold:g} (baseline mean "
                        f"{f.baseline_mean:.4f}, batch mean {f.batch_mean:.4f})"}
        for f in report.features if f.drifted]}


def run_monitor(env: Mapping[str, str], metrics_dir: str | Path = METRICS_DIR) -> drift.DriftReport:
    """One monitoring execution, as the module docstring describes; returns the report it wrote."""
    source = _require(env, "dataset_source")
    output = Path(_require(env, "output_path"))
    statistics = _require(env, "baseline_statistics")
    report = drift.drift(statistics, source, _threshold(env, env.get("baseline_constraints")))
    fsutil.write_json(output / REPORT_FILE, report.to_dict())
    fsutil.write_json(output / VIOLATIONS_FILE, violations(report))
    if env.get("publish_cloudwatch_metrics") == "Enabled":
        stamp = env.get("end_time") or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        records = metric_records(report, env.get("MODEL_NAME", "unknown"),
                                 env.get("sagemaker_monitoring_schedule_name", "unknown"), stamp)
        with fsutil.atomic_path(Path(metrics_dir) / "psi.json") as tmp:
            tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records), encoding="utf-8")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_code.monitor", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("baseline", help="statistics.json and constraints.json from the train split")
    p.add_argument("--train-dir", required=True)
    p.add_argument("--output-dir", required=True)
    p.add_argument("--psi-threshold", type=float, default=drift.DEFAULT_THRESHOLD)
    sub.add_parser("run", help="one Model Monitor execution (context from the environment)")
    args = parser.parse_args(argv)
    if args.command == "baseline":
        if not (math.isfinite(args.psi_threshold) and args.psi_threshold > 0):
            parser.error(f"--psi-threshold must be a positive number, got {args.psi_threshold}")
        print(json.dumps(write_baseline(args.train_dir, args.output_dir, args.psi_threshold)))
        return 0
    report = run_monitor(os.environ)
    print(report.to_text())
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main, prog="model_code.monitor"))
