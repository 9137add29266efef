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
import os
import random
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


# --------------------------------------------------------------------------- writing (the model server's side)

CAPTURE_ENCODINGS = {payload.CSV: "CSV", payload.JSON: "JSON"}
"""How SageMaker's data capture labels a body it stores as text; anything else is stored as BASE64."""


def capture_record(request: bytes, request_type: str, response: bytes, response_type: str, event_id: str,
                   inference_time: datetime) -> dict[str, Any]:
    """One capture line in SageMaker's data capture format (the module docstring), so the same monitor and
    `read_capture` judge a Kubernetes model server's traffic and an endpoint's."""

    def side(body: bytes, media: str, mode: str) -> dict[str, str]:
        encoding = CAPTURE_ENCODINGS.get(payload.media_type(media) or "", "BASE64")
        if encoding != "BASE64":
            try:
                return {"observedContentType": media, "mode": mode, "data": body.decode("utf-8"),
                        "encoding": encoding}
            except UnicodeDecodeError:
                pass
        return {"observedContentType": media, "mode": mode, "data": base64.b64encode(body).decode("ascii"),
                "encoding": "BASE64"}

    return {
        "captureData": {"endpointInput": side(request, request_type, "INPUT"),
                        "endpointOutput": side(response, response_type, "OUTPUT")},
        "eventMetadata": {"eventId": event_id,
                          "inferenceTime": inference_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
        "eventVersion": "0",
    }


class CaptureWriter:
    """Appends a sampled share of requests to ``<dir>/<yyyy>/<mm>/<dd>/<hh>/<pid>.jsonl`` (UTC hours, SageMaker's
    layout). One file per worker process and hour, so forked workers never interleave lines; a sidecar ships
    finished hours to the capture bucket (docs/monitoring.md). A failed write is logged, never fails a request."""

    def __init__(self, directory: str | Path, percent: float, rng: Callable[[], float] = random.random) -> None:
        if not 0 < percent <= 100:
            raise UsageError(f"capture percent must be in (0, 100], got {percent}")
        self.directory = Path(directory)
        self.percent = percent
        self._rng = rng
        self.failures = 0

    def sampled(self) -> bool:
        return self._rng() * 100 < self.percent

    def path_for(self, moment: datetime) -> Path:
        return self.directory / moment.astimezone(UTC).strftime("%Y/%m/%d/%H") / f"{os.getpid()}.jsonl"

    def write(self, record: dict[str, Any], moment: datetime) -> bool:
        path = self.path_for(moment)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, separators=(",", ":")) + "\n")
            return True
        except OSError as exc:
            self.failures += 1
            if self.failures == 1:
                print(f"model_code.capture: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
            return False

    def capture(self, request: bytes, request_type: str, response: bytes, response_type: str,
                now: datetime | None = None) -> bool:
        if not self.sampled():
            return False
        moment = now or datetime.now(UTC)
        return self.write(capture_record(request, request_type, response, response_type, uuid.uuid4().hex,
                                         moment), moment)
