"""Preprocessing step: ``python -m model_code.data --out-dir D [--raw CSV [--raw-sha256 DIGEST]] [--seed N]``.

``--raw-sha256`` is the base64 SHA-256 of the raw file the run was pinned to (S3's checksum of the copy that
``infra.release start-training`` made); the step refuses a file with another digest, so a run reads exactly the
data its lineage records. ``unpinned`` (the pipeline's default, a scheduled run) checks nothing.

Writes the three channels the rest of the pipeline consumes (``train/``, ``validation/``, ``test/``, each one
header-less label-first CSV) and two feature-only request payloads (``sample_request.csv`` and
``sample_request.json``) that smoke tests send to a deployed endpoint. Without ``--raw`` the deterministic
synthetic data set is generated, so the step needs no network and the same seed always yields the same bytes.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from model_code import cli, fsutil, synthetic, tabular
from model_code.errors import UsageError

SPLITS = (("train", 0.70), ("validation", 0.15), ("test", 0.15))
SAMPLE_ROWS = 3
MIN_ROWS = 40
MAX_ROWS = 5_000_000  # about 320 MB of features; more is a typo, not a data set
UNPINNED = "unpinned"
"""`--raw-sha256` when no version was pinned; the same word as the pipeline parameter's default
(`RAW_DATA_UNPINNED` in infra/core/pipeline/spec.py; a test holds the two equal)."""


def raw_sha256(path: str | Path) -> str:
    """The file's SHA-256 as S3 reports a full-object checksum: base64 of the 32-byte digest."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode("ascii")


def check_pinned(path: str | Path, expected: str) -> None:
    """Refuse raw data other than the pinned version (a copy overwritten or replaced after it was pinned)."""
    if expected == UNPINNED:
        return
    try:
        actual = raw_sha256(path)
    except OSError as exc:
        raise UsageError(f"--raw {path}: cannot read it to check its SHA-256 ({exc.strerror or exc})") from None
    if actual != expected:
        raise UsageError(f"--raw {path}: SHA-256 {actual} is not the pinned data's {expected}; the run's input "
                         "changed after start-training pinned it")


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


OUTPUTS = ("train", "validation", "test", "sample_request.csv", "sample_request.json")
"""Everything ``write_dataset`` puts in the output directory; an existing directory may hold only these."""


def _check_out_dir(out: Path) -> None:
    """Refuse an output path we could not replace as a whole without destroying someone else's files."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UsageError(f"--out-dir {out} exists and is not a directory")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in OUTPUTS)
        if foreign:
            raise UsageError(
                f"--out-dir {out} holds files this step did not write ({', '.join(foreign[:5])}); "
                "give a new or empty directory, or one written by model_code.data"
            )


def _swap_in(staged: Path, out: Path) -> None:
    """Make ``staged`` the output directory: a reader sees the complete old set or the complete new one."""
    trash: Path | None = None
    if out.is_dir():
        if not any(out.iterdir()):
            try:
                out.rmdir()
            except OSError:  # e.g. a mount point: nothing old in it to mix with, so move the entries in
                for entry in sorted(staged.iterdir()):
                    os.rename(entry, out / entry.name)
                staged.rmdir()
                return
        else:
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rename(out, trash / out.name)
    try:
        os.rename(staged, out)
    except OSError:
        if trash is not None:
            os.rename(trash / out.name, out)  # put the old set back
        raise
    finally:
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)


def write_dataset(out_dir: str | Path, X: np.ndarray, y: np.ndarray, seed: int) -> dict[str, int]:
    """Write the channels and sample payloads as one set (staged next to ``out_dir``, then renamed into
    place); return the row count of each split."""
    if len(y) < MIN_ROWS:
        raise UsageError(f"need at least {MIN_ROWS} rows to make train/validation/test splits, got {len(y)}")
    out = Path(out_dir)
    parts = split(X, y, seed)
    for name, (_, ys) in parts.items():
        if len(np.unique(ys)) < 2:
            raise UsageError(
                f"the {name} split has only one class; provide more rows with both labels 0 and 1"
            )
    _check_out_dir(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    except OSError as exc:
        raise UsageError(f"--out-dir {out}: cannot create it ({exc.strerror})") from None
    try:
        for name, (Xs, ys) in parts.items():
            tabular.write_labeled_csv(staged / name / f"{name}.csv", Xs, ys)
        sample = parts["test"][0][:SAMPLE_ROWS]
        tabular.write_features_csv(staged / "sample_request.csv", sample)
        fsutil.write_text(staged / "sample_request.json", sample_request_json(sample))
        staged.chmod(0o777 & ~fsutil.UMASK)  # mkdtemp makes 0700; give the directory mkdir's permissions
        _swap_in(staged, out)
    except OSError as exc:
        raise UsageError(f"--out-dir {out}: cannot write the data set ({exc.strerror})") from None
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return {name: len(ys) for name, (_, ys) in parts.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_code.data", description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", required=True, help="output directory (e.g. /opt/ml/processing/output)")
    parser.add_argument("--raw", help="raw CSV with a header naming the label and every feature")
    parser.add_argument("--raw-sha256", default=UNPINNED,
                        help=f"base64 SHA-256 the --raw file must have (default {UNPINNED}: not checked)")
    parser.add_argument("--seed", type=int, default=synthetic.DEFAULT_SEED, help="generation and split seed")
    parser.add_argument(
        "--rows", type=int, default=synthetic.DEFAULT_ROWS, help="rows to generate (no --raw)"
    )
    args = parser.parse_args(argv)
    if not 0 <= args.seed < 2**32:
        parser.error(f"--seed must be an integer from 0 to 2**32-1, got {args.seed}")
    if args.raw_sha256 != UNPINNED and not args.raw:
        parser.error("--raw-sha256 needs --raw (the file it checks)")
    if args.raw:
        check_pinned(args.raw, args.raw_sha256)
        X, y = tabular.read_raw_csv(args.raw)
    else:
        if not MIN_ROWS <= args.rows <= MAX_ROWS:
            parser.error(f"--rows must be from {MIN_ROWS} to {MAX_ROWS}, got {args.rows}")
        X, y = synthetic.generate(args.rows, args.seed)
    counts = write_dataset(args.out_dir, X, y, args.seed)
    summary = ", ".join(f"{k}={v}" for k, v in counts.items())
    print(f"wrote {summary} rows (positive rate {y.mean():.3f}) to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main, prog="model_code.data"))
