"""Reading and writing the CSV files that move between pipeline steps.

Convention (kept everywhere): UTF-8 CSV, no header, label in the first column, then the features in
``schema.FEATURES`` order. It is what SageMaker's built-in algorithms expect, so a channel written here can
also feed them. Readers validate every row and name the file, line and column of the first problem.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from model_code import fsutil
from model_code.errors import UsageError
from model_code.plainnum import parse_decimal
from model_code.schema import FEATURES, LABEL, N_FEATURES


def format_number(value: float) -> str:
    """Shortest exact text for a number: integers without a decimal point, other floats via ``repr``."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _csv_text(rows: Iterable[Iterable[float]]) -> str:
    return "".join(",".join(format_number(v) for v in row) + "\n" for row in rows)


def write_labeled_csv(path: str | Path, X: np.ndarray, y: np.ndarray) -> None:
    """Atomically write label-first, header-less rows."""
    rows = (np.concatenate(([label], features)) for label, features in zip(y, X, strict=True))
    fsutil.write_text(path, _csv_text(rows))


def write_features_csv(path: str | Path, X: np.ndarray) -> None:
    """Atomically write header-less feature rows (the shape of a ``text/csv`` inference request)."""
    fsutil.write_text(path, _csv_text(X))


def _parse_float(text: str, where: str, column: str) -> float:
    value = parse_decimal(text)
    if value is not None:
        return value
    try:
        finite = math.isfinite(float(text))
    except ValueError:
        finite = True
    if not finite:
        raise UsageError(f"{where}: column '{column}' must be a finite number, got {text.strip()!r}")
    raise UsageError(
        f"{where}: column '{column}' must be a number, got {text.strip()!r} (plain decimal, ASCII digits, e.g. 12.5)"
    )


def _parse_label(text: str, where: str) -> int:
    value = _parse_float(text, where, LABEL)
    if value not in (0.0, 1.0):
        raise UsageError(f"{where}: label '{LABEL}' must be 0 or 1, got {text.strip()!r}")
    return int(value)


def read_labeled_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse one label-first CSV file; blank lines are skipped."""
    features: list[list[float]] = []
    labels: list[int] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path} line {lineno}"
        cells = line.split(",")
        if len(cells) != N_FEATURES + 1:
            raise UsageError(
                f"{where}: expected {N_FEATURES + 1} columns ('{LABEL}' then {N_FEATURES} features, "
                "no header),"
                f" got {len(cells)}"
            )
        labels.append(_parse_label(cells[0], where))
        features.append([_parse_float(c, where, name) for c, name in zip(cells[1:], FEATURES, strict=True)])
    X = np.asarray(features, dtype=np.float64).reshape(-1, N_FEATURES)
    return X, np.asarray(labels, dtype=np.int64)


def channel_files(directory: str | Path, channel: str) -> list[Path]:
    """The ``.csv`` files of a channel directory, recursively, in a stable (sorted) order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(f"{channel} channel: directory {directory} does not exist")
    files = sorted(p for p in directory.rglob("*.csv") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise UsageError(f"{channel} channel: no .csv files in {directory}")
    return files


def read_channel(directory: str | Path, channel: str) -> tuple[np.ndarray, np.ndarray]:
    """Read and concatenate every CSV file of a channel; at least one row is required."""
    parts = [read_labeled_file(p) for p in channel_files(directory, channel)]
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    if len(y) == 0:
        raise UsageError(f"{channel} channel: {directory} contains no data rows")
    return X, y


def read_raw_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a raw CSV export *with a header row* naming ``LABEL`` and every feature (any order; extra columns
    such as ids are ignored) and return ``(X, y)`` in schema order."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise UsageError(f"{path}: file is empty, expected a header row")
            names = [h.strip() for h in header]
            missing = [c for c in (LABEL, *FEATURES) if c not in names]
            if missing:
                raise UsageError(
                    f"{path}: header is missing column(s) {', '.join(missing)}; "
                    f"required: {LABEL}, {', '.join(FEATURES)}"
                )
            label_idx = names.index(LABEL)
            feature_idx = [names.index(f) for f in FEATURES]
            features: list[list[float]] = []
            labels: list[int] = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                where = f"{path} line {reader.line_num}"
                if len(row) != len(names):
                    raise UsageError(
                        f"{where}: expected {len(names)} columns like the header, got {len(row)}"
                    )
                labels.append(_parse_label(row[label_idx], where))
                features.append(
                    [_parse_float(row[i], where, n) for i, n in zip(feature_idx, FEATURES, strict=True)]
                )
    except FileNotFoundError:
        raise UsageError(f"{path}: raw CSV file does not exist") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    if not labels:
        raise UsageError(f"{path}: no data rows after the header")
    return np.asarray(features, dtype=np.float64).reshape(-1, N_FEATURES), np.asarray(labels, dtype=np.int64)
