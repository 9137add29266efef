"""Reading SageMaker endpoint data capture files (JSON Lines) back into feature rows.

Each line is one captured request::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "...", "encoding": "CSV" | "BASE64" | "JSON"},
                     "endpointOutput": {...}},
     "eventMetadata": {"eventId": "...", "inferenceTime": "..."}, "eventVersion": "0"}

The request body is decoded with the same parser the server uses, so what drift sees is exactly what the model
saw. A captured request the server would have rejected is skipped and counted; a line that is not a capture
record at all is an error, because it means the input is not what we think it is.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model_code import payload
from model_code.errors import UsageError
from model_code.payload import PayloadError


@dataclass
class CaptureBatch:
    X: np.ndarray
    records: int = 0
    skipped: list[str] = field(default_factory=list)


def capture_files(path: str | Path) -> list[Path]:
    """One file, or every ``*.jsonl`` file under a directory (SageMaker writes ``yyyy/mm/dd/hh/*.jsonl``)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.jsonl") if p.is_file())
        if not files:
            raise UsageError(f"capture: no .jsonl files under {path}")
        return files
    raise UsageError(f"capture: {path} does not exist")


def _field(obj: Any, key: str, where: str, path: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise UsageError(f"{where}: not a SageMaker data capture record (missing {path}{key})")
    return obj[key]


def decode_input(record: Any, where: str) -> tuple[bytes, str]:
    """Return ``(body, media_type)`` of a capture record's endpoint input."""
    data_in = _field(_field(record, "captureData", where, ""), "endpointInput", where, "captureData.")
    data = _field(data_in, "data", where, "captureData.endpointInput.")
    encoding = data_in.get("encoding", "CSV")
    observed = data_in.get("observedContentType")
    if not isinstance(encoding, str):
        raise UsageError(f"{where}: endpointInput.encoding must be a string, got {encoding!r}")
    if observed is not None and not isinstance(observed, str):
        raise UsageError(f"{where}: endpointInput.observedContentType must be a string, got {observed!r}")
    encoding = encoding.upper()
    media = payload.media_type(observed)
    if encoding == "BASE64":
        if not isinstance(data, str):
            raise UsageError(f"{where}: endpointInput.data must be a base64 string")
        try:
            body = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise UsageError(f"{where}: endpointInput.data is not valid base64") from None
    elif encoding in ("CSV", "JSON"):
        body = (data if isinstance(data, str) else json.dumps(data)).encode("utf-8")
    else:
        raise UsageError(
            f"{where}: unknown endpointInput.encoding {encoding!r}; expected CSV, JSON or BASE64"
        )
    if not media:
        media = payload.JSON if encoding == "JSON" else payload.CSV
    return body, media


def read_capture(path: str | Path, names: Sequence[str]) -> CaptureBatch:
    """All feature rows of all captured requests under ``path``."""
    rows: list[np.ndarray] = []
    batch = CaptureBatch(X=np.empty((0, len(names))))
    for file in capture_files(path):
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"capture: cannot read {file}: {exc}") from None
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{file} line {lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{where}: not valid JSON ({exc.msg})") from None
            except RecursionError:
                raise UsageError(f"{where}: JSON is nested too deeply") from None
            body, media = decode_input(record, where)
            batch.records += 1
            try:
                rows.append(payload.parse(body, media, names))
            except PayloadError as exc:
                batch.skipped.append(f"{where}: {exc.message}")
    if rows:
        batch.X = np.concatenate(rows)
    return batch
