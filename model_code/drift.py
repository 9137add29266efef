"""Feature drift between a batch of captured requests and the training baseline (population stability index).

``python -m model_code.drift --baseline B --capture C [--threshold 0.2] [--format text|json]``, where ``B`` is
a train channel directory (label-first CSV) or a ``baseline.json`` written by training, and ``C`` is a data
capture ``.jsonl`` file or a directory of them. Exit code 1 if any feature drifted, 0 if none, 2 on bad input.

PSI per feature: the baseline is cut into (up to) 10 quantile bins; with ``e_i`` the baseline share and
``a_i`` the batch share of bin ``i`` (each floored at 1e-4), ``PSI = sum((a_i - e_i) * ln(a_i / e_i))``.
Common reading: < 0.1 stable, 0.1-0.2 moderate shift, > 0.2 significant shift. PSI is noisy for small batches
(about ``bins / n`` for an unshifted sample), so reports on fewer than 200 rows carry a warning.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model_code import capture, cli, tabular
from model_code.errors import UsageError
from model_code.schema import FEATURES

BASELINE_FORMAT = "psi-quantile-bins/1"
DEFAULT_BINS = 10
DEFAULT_THRESHOLD = 0.2
EPSILON = 1e-4
SMALL_BATCH = 200


def compute_baseline(X: np.ndarray, names: Sequence[str], bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """Per-feature quantile bin edges and shares of ``X`` (the training features)."""
    features: dict[str, Any] = {}
    for j, name in enumerate(names):
        col = X[:, j]
        edges = np.unique(np.quantile(col, np.linspace(0, 1, bins + 1)[1:-1]))
        counts = np.bincount(np.searchsorted(edges, col, side="left"), minlength=len(edges) + 1)
        features[name] = {
            "edges": [float(e) for e in edges],
            "shares": [float(c) / len(col) for c in counts],
            "mean": float(col.mean()),
            "std": float(col.std()),
        }
    return {
        "format": BASELINE_FORMAT,
        "rows": int(len(X)),
        "feature_names": list(names),
        "features": features,
    }


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.maximum(expected, EPSILON)
    a = np.maximum(actual, EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass
class FeatureDrift:
    name: str
    psi: float
    drifted: bool
    baseline_mean: float
    batch_mean: float


@dataclass
class DriftReport:
    threshold: float
    rows: int
    records: int
    features: list[FeatureDrift]
    warnings: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> list[str]:
        return [f.name for f in self.features if f.drifted]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drifted_features": self.drifted}

    def to_text(self) -> str:
        lines = [f"{'feature':<22} {'psi':>8}  {'baseline mean':>14} {'batch mean':>12}  status"]
        for f in self.features:
            status = "DRIFT" if f.drifted else "ok"
            lines.append(f"{f.name:<22} {f.psi:8.4f}  {f.baseline_mean:14.4f} {f.batch_mean:12.4f}  {status}")
        summary = ", ".join(self.drifted) if self.drifted else "none"
        lines.append(
            f"{self.rows} rows from {self.records} records; PSI threshold {self.threshold:g}; "
            f"drifted: {summary}"
        )
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def detect(
    baseline: dict[str, Any], X: np.ndarray, threshold: float = DEFAULT_THRESHOLD, records: int | None = None
) -> DriftReport:
    """Compare a batch ``X`` (columns in ``baseline['feature_names']`` order) with the baseline."""
    if len(X) == 0:
        raise UsageError("no feature rows to compare with the baseline")
    names = baseline["feature_names"]
    if X.shape[1] != len(names):
        raise UsageError(f"batch has {X.shape[1]} features, baseline has {len(names)}")
    results = []
    for j, name in enumerate(names):
        stats = baseline["features"][name]
        edges = np.asarray(stats["edges"], dtype=np.float64)
        counts = np.bincount(np.searchsorted(edges, X[:, j], side="left"), minlength=len(edges) + 1)
        value = psi(np.asarray(stats["shares"]), counts / len(X))
        results.append(
            FeatureDrift(name, round(value, 6), value > threshold, stats["mean"], float(X[:, j].mean()))
        )
    report = DriftReport(threshold, int(len(X)), records if records is not None else int(len(X)), results)
    if len(X) < SMALL_BATCH:
        report.warnings.append(f"only {len(X)} rows; PSI is noisy below {SMALL_BATCH} rows")
    return report


def load_baseline(path: str | Path) -> dict[str, Any]:
    """A ``baseline.json`` file, or a train channel directory whose statistics are computed on the fly."""
    path = Path(path)
    if path.is_dir():
        X, _ = tabular.read_channel(path, "baseline")
        return compute_baseline(X, FEATURES)
    try:
        baseline = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"baseline: {path} does not exist") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise UsageError(f"baseline: cannot read {path} as JSON: {exc}") from None
    if not isinstance(baseline, dict) or baseline.get("format") != BASELINE_FORMAT:
        raise UsageError(
            f"baseline: {path} is not a baseline.json written by model_code.train "
            f"(expected format {BASELINE_FORMAT!r})"
        )
    problem = baseline_problem(baseline)
    if problem:
        raise UsageError(f"baseline: {path}: {problem}")
    return baseline


def _finite_numbers(value: Any) -> bool:
    return isinstance(value, list) and all(type(v) in (int, float) and math.isfinite(v) for v in value)


def baseline_problem(baseline: dict[str, Any]) -> str | None:
    """What is wrong with a parsed ``baseline.json`` (first problem, naming the key), or ``None``."""
    names = baseline.get("feature_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        return "'feature_names' must be a non-empty list of feature names"
    if len(set(names)) != len(names):
        return "'feature_names' has duplicates"
    features = baseline.get("features")
    if not isinstance(features, dict):
        return "'features' must be an object keyed by feature name"
    for name in names:
        stats = features.get(name)
        where = f"features.{name}"
        if not isinstance(stats, dict):
            return f"'{where}' is missing"
        edges, shares = stats.get("edges"), stats.get("shares")
        if not _finite_numbers(edges) or any(a >= b for a, b in zip(edges, edges[1:], strict=False)):
            return f"'{where}.edges' must be a list of finite numbers in increasing order"
        if (
            not _finite_numbers(shares)
            or len(shares) != len(edges) + 1
            or any(v < 0 for v in shares)
            or not math.isclose(sum(shares), 1.0, abs_tol=1e-6)
        ):
            return f"'{where}.shares' must be {len(edges) + 1} non-negative numbers that sum to 1"
        if not _finite_numbers([stats.get("mean")]):
            return f"'{where}.mean' must be a finite number"
    return None


def drift(
    baseline: str | Path, capture_path: str | Path, threshold: float = DEFAULT_THRESHOLD
) -> DriftReport:
    """Function API: load the baseline and the captured requests and compare them."""
    base = load_baseline(baseline)
    batch = capture.read_capture(capture_path, base["feature_names"])
    if len(batch.X) == 0:
        detail = f"; first problem: {batch.skipped[0]}" if batch.skipped else ""
        raise UsageError(
            f"capture: no usable request rows in {capture_path} ({batch.records} records){detail}"
        )
    report = detect(base, batch.X, threshold, batch.records)
    if batch.skipped:
        report.warnings.append(
            f"skipped {len(batch.skipped)} record(s) the server would reject, e.g. {batch.skipped[0]}"
        )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_code.drift", description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="train channel directory or baseline.json")
    parser.add_argument("--capture", required=True, help="data capture .jsonl file or directory of them")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="PSI above this is drift")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    if not (math.isfinite(args.threshold) and args.threshold > 0):
        parser.error(f"--threshold must be a positive number, got {args.threshold}")
    report = drift(args.baseline, args.capture, args.threshold)
    print(json.dumps(report.to_dict(), indent=2) if args.format == "json" else report.to_text())
    if report.drifted:
        print(f"model_code.drift: drift detected in {', '.join(report.drifted)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main, prog="model_code.drift"))
