"""Request bodies in, predictions out: the serving formats, shared by the server and the drift job.

Inputs (``text/csv`` or ``application/json``) become a float64 matrix of shape ``(rows, n_features)``.
Anything else raises :class:`PayloadError` with the HTTP status to answer and a message that names the row,
the feature and what is allowed - the client made the mistake, so it must be able to fix it from the message.

* CSV: one row per line, features in model order, no label; an optional first line equal to the feature names
  is skipped.
* JSON: ``{"instances": [row, ...]}``, a bare list of rows, or a single row; a row is a list of numbers,
  ``{"features": [numbers]}`` (SageMaker built-in algorithm style), or an object keyed by feature name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from model_code.plainnum import DECIMAL, parse_decimal

CSV = "text/csv"
JSON = "application/json"
SUPPORTED = (CSV, JSON)


class PayloadError(ValueError):
    """The client's request cannot be used; ``status`` is the 4xx code to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def media_type(header: str | None) -> str:
    """``'Text/CSV; charset=utf-8'`` -> ``'text/csv'``."""
    if not header:
        return ""
    return header.split(";", 1)[0].strip().lower()


def _feature(names: Sequence[str], col: int) -> str:
    return f"feature {col + 1} ('{names[col]}')" if col < len(names) else f"value {col + 1}"


# --------------------------------------------------------------------------------------------------- CSV
def _diagnose_csv(rows: list[list[str]], names: Sequence[str], first_line: int) -> PayloadError:
    """Find the first bad cell; only called when the fast path failed, so it may be slow."""
    n = len(names)
    for i, cells in enumerate(rows):
        where = f"CSV row {i + first_line}"
        if len(cells) != n:
            return PayloadError(
                f"{where} has {len(cells)} values, expected {n} features ({', '.join(names)})"
            )
        for col, cell in enumerate(cells):
            text = cell.strip()
            if parse_decimal(cell) is not None:
                continue
            try:
                finite = math.isfinite(float(text))
            except ValueError:
                finite = True
            if not finite:
                return PayloadError(f"{where}, {_feature(names, col)}: {text!r} is not a finite number")
            shown = repr(text) if text else "an empty value"
            return PayloadError(
                f"{where}, {_feature(names, col)}: {shown} is not a number (plain decimal, ASCII digits, e.g. 12.5)"
            )
    return PayloadError("CSV body could not be parsed as numbers")


_NUMERIC_CSV_BYTES = b"0123456789.-+eE, \t\r\n"


def _parse_csv_fast(body: bytes, n: int) -> np.ndarray | None:
    """The common case - only numbers, commas and line breaks - parsed as JSON by orjson (about twice as fast
    as splitting and converting in Python). ``None`` means "use the careful path", which explains errors."""
    if body.translate(None, _NUMERIC_CSV_BYTES):
        return None  # letters, quotes, a header...
    try:
        X = np.array(orjson.loads(b"[[" + body.strip().replace(b"\n", b"],[") + b"]]"), dtype=np.float64)
    except (orjson.JSONDecodeError, ValueError):  # e.g. "1.", ".5", blank lines, ragged rows
        return None
    if X.ndim != 2 or X.shape[1] != n:
        return None
    return X


def parse_csv(body: bytes, names: Sequence[str]) -> np.ndarray:
    if body.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark, as spreadsheet exports write
        body = body[3:]
    X = _parse_csv_fast(body, len(names))
    if X is not None:
        return X
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"body is not valid UTF-8 text (bad byte at offset {exc.start})") from None
    rows = [line.split(",") for line in text.splitlines() if line and not line.isspace()]
    first_line = 1
    if rows and [c.strip() for c in rows[0]] == list(names):
        rows = rows[1:]
        first_line = 2
    if not rows:
        raise PayloadError(
            f"CSV body has no data rows; send one line of {len(names)} comma-separated features per row"
        )
    # numpy (like float()) would also read '3_0', full-width digits and other spellings: check every cell.
    if not all(DECIMAL.fullmatch(cell.strip(" \t")) for cells in rows for cell in cells):
        raise _diagnose_csv(rows, names, first_line)
    try:
        X = np.array(rows, dtype=np.float64)
    except ValueError:  # ragged rows
        raise _diagnose_csv(rows, names, first_line) from None
    if X.shape[1] != len(names) or not np.isfinite(X).all():
        raise _diagnose_csv(rows, names, first_line)
    return X


# -------------------------------------------------------------------------------------------------- JSON
_NUMBER_TYPES = (int, float)  # exact types: bool is an int subclass and must not pass


def _row_from_object(row: dict[str, Any], names: Sequence[str], where: str) -> list[Any]:
    if "features" in row and len(row) == 1:
        return row["features"]
    missing = [n for n in names if n not in row]
    unknown = [k for k in row if k not in names]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown {', '.join(map(str, unknown))}")
        raise PayloadError(
            f"{where}: {'; '.join(parts)}; an object row needs exactly the features {', '.join(names)}"
            ' (or {"features": [...]})'
        )
    return [row[n] for n in names]


def _check_row(row: Any, names: Sequence[str], where: str) -> None:
    if not isinstance(row, list):
        raise PayloadError(
            f"{where} must be a list of {len(names)} numbers or an object, got {_json_type(row)}"
        )
    if len(row) != len(names):
        raise PayloadError(
            f"{where} has {len(row)} values, expected {len(names)} features ({', '.join(names)})"
        )
    for col, value in enumerate(row):
        if type(value) not in _NUMBER_TYPES:
            raise PayloadError(
                f"{where}, {_feature(names, col)}: expected a number, got {_json_type(value)} {value!r}"
            )
        if not math.isfinite(value):
            raise PayloadError(f"{where}, {_feature(names, col)}: {value!r} is not a finite number")


def _json_type(value: Any) -> str:
    return {
        bool: "boolean",
        str: "string",
        type(None): "null",
        dict: "object",
        list: "list",
        int: "number",
        float: "number",
    }.get(type(value), type(value).__name__)


def parse_json(body: bytes, names: Sequence[str]) -> np.ndarray:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:  # also raised for invalid UTF-8, NaN and Infinity
        raise PayloadError(f"body is not valid JSON: {exc}") from None
    if isinstance(obj, dict):
        if "instances" not in obj:
            raise PayloadError(
                'JSON object must have an "instances" list, e.g. {"instances": [[...8 numbers...]]}'
                f"; got keys {', '.join(map(str, obj)) or '(none)'}"
            )
        rows = obj["instances"]
        if not isinstance(rows, list):
            raise PayloadError(f'"instances" must be a list of rows, got {_json_type(rows)}')
    elif isinstance(obj, list):
        rows = obj if obj and isinstance(obj[0], (list, dict)) else [obj]
    else:
        raise PayloadError(f'JSON body must be an object with "instances" or a list, got {_json_type(obj)}')
    if not rows or rows == [[]]:
        raise PayloadError("JSON body has no rows; send at least one row of features")
    n = len(names)
    # Fast path: numpy infers int/float only if every value is a number; strings, nulls, objects and ragged
    # rows give another dtype or raise. Booleans would silently become 0/1, hence the literal scan.
    if b"true" not in body and b"false" not in body:
        try:
            X = np.array(rows)
        except ValueError:
            X = None
        if X is not None and X.dtype.kind in "fi" and X.ndim == 2 and X.shape[1] == n:
            return X.astype(np.float64, copy=False)
    fixed = []
    for i, row in enumerate(rows):
        where = f"JSON row {i + 1}"
        if isinstance(row, dict):
            row = _row_from_object(row, names, where)
        _check_row(row, names, where)
        fixed.append(row)
    return np.array(fixed, dtype=np.float64)


def parse(body: bytes, content_type: str, names: Sequence[str]) -> np.ndarray:
    """Parse a request body of ``content_type`` (a media type without parameters)."""
    if content_type == CSV:
        return parse_csv(body, names)
    if content_type == JSON:
        return parse_json(body, names)
    raise PayloadError(f"unsupported content type {content_type!r}; use text/csv or application/json", 415)


# ------------------------------------------------------------------------------------------------ output
_LABEL_PREFIX = (b"0,", b"1,")


def format_csv(labels: np.ndarray, scores: np.ndarray) -> bytes:
    """One ``predicted_label,score`` line per input row. Scores use the shortest text that round-trips to the
    same float64 (orjson's formatter, about 3x faster than ``repr`` per number)."""
    scores = np.ascontiguousarray(scores, dtype=np.float64)  # orjson serialises only C-contiguous arrays
    texts = orjson.dumps(scores, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].split(b",")
    prefixes = [_LABEL_PREFIX[label] for label in labels.tolist()]
    return b"\n".join(map(bytes.__add__, prefixes, texts)) + b"\n"


def format_json(labels: np.ndarray, scores: np.ndarray) -> bytes:
    """``{"predictions": [{"predicted_label": 1, "score": 0.87}, ...]}`` (SageMaker linear-learner shape)."""
    items = [
        {"predicted_label": label, "score": score}
        for label, score in zip(labels.tolist(), scores.tolist(), strict=True)
    ]
    return orjson.dumps({"predictions": items})


def format_predictions(labels: np.ndarray, scores: np.ndarray, media: str) -> bytes:
    """``labels`` are 0/1 integers and ``scores`` float64, one per input row."""
    return format_csv(labels, scores) if media == CSV else format_json(labels, scores)
