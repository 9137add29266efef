"""Preprocessing step: ``python -m model_code.data --out-dir D [--raw CSV] [--seed N]``.

Writes the three channels the rest of the pipeline consumes (``train/``, ``validation/``, ``test/``, each one
header-less label-first CSV) and two feature-only request payloads (``sample_request.csv`` and
``sample_request.json``) that smoke tests send to a deployed endpoint. Without ``--raw`` the deterministic
synthetic data set is generated, so the step needs no network and the same seed always yields the same bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from model_code import cli, fsutil, synthetic, tabular
from model_code.errors import UsageError

SPLITS = (("train", 0.70), ("validation", 0.15), ("test", 0.15))
SAMPLE_ROWS = 3
MIN_ROWS = 40


def split(X: np.ndarray, y: np.ndarray, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Shuffle with ``seed`` and cut into train/validation/test (70/15/15)."""
    order = np.random.default_rng(seed).permutation(len(y))
    X, y = X[order], y[order]
    n_train = int(round(len(y) * SPLITS[0][1]))
    n_val = int(round(len(y) * SPLITS[1][1]))
    bounds = {
        "train": (0, n_train),
        "validation": (n_train, n_train + n_val),
        "test": (n_train + n_val, len(y)),
    }
    return {name: (X[a:b], y[a:b]) for name, (a, b) in bounds.items()}


def _json_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def sample_request_json(X: np.ndarray) -> str:
    """The JSON request body the server accepts: ``{"instances": [[f1, ..., f8], ...]}``."""
    return json.dumps({"instances": [[_json_number(v) for v in row] for row in X]}) + "\n"


def write_dataset(out_dir: str | Path, X: np.ndarray, y: np.ndarray, seed: int) -> dict[str, int]:
    """Write the channels and sample payloads; return the row count of each split."""
    if len(y) < MIN_ROWS:
        raise UsageError(f"need at least {MIN_ROWS} rows to make train/validation/test splits, got {len(y)}")
    out = Path(out_dir)
    parts = split(X, y, seed)
    for name, (Xs, ys) in parts.items():
        if len(np.unique(ys)) < 2:
            raise UsageError(
                f"the {name} split has only one class; provide more rows with both labels 0 and 1"
            )
        tabular.write_labeled_csv(out / name / f"{name}.csv", Xs, ys)
    sample = parts["test"][0][:SAMPLE_ROWS]
    tabular.write_features_csv(out / "sample_request.csv", sample)
    fsutil.write_text(out / "sample_request.json", sample_request_json(sample))
    return {name: len(ys) for name, (_, ys) in parts.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_code.data", description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", required=True, help="output directory (e.g. /opt/ml/processing/output)")
    parser.add_argument("--raw", help="raw CSV with a header naming the label and every feature")
    parser.add_argument("--seed", type=int, default=synthetic.DEFAULT_SEED, help="generation and split seed")
    parser.add_argument(
        "--rows", type=int, default=synthetic.DEFAULT_ROWS, help="rows to generate (no --raw)"
    )
    args = parser.parse_args(argv)
    if args.raw:
        X, y = tabular.read_raw_csv(args.raw)
    else:
        if args.rows < MIN_ROWS:
            parser.error(f"--rows must be at least {MIN_ROWS}")
        X, y = synthetic.generate(args.rows, args.seed)
    counts = write_dataset(args.out_dir, X, y, args.seed)
    summary = ", ".join(f"{k}={v}" for k, v in counts.items())
    print(f"wrote {summary} rows (positive rate {y.mean():.3f}) to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main, prog="model_code.data"))
