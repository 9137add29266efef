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
import contextlib
import fcntl
import json
import os
import random
import sys
import time
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


OPEN_DIR = "open"
"""Files a worker is still appending to: `open/<yyyymmddhh>-<pid>-<id>.jsonl` (the hour of every record in it)."""
READY_DIR = "ready"
"""Closed files, complete line by line, waiting to be shipped: `ready/<yyyy>/<mm>/<dd>/<hh>/<pid>-<id>.jsonl`, the
hourly layout SageMaker's own data capture uses under its destination
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html, "View captured data":
`s3://{destination-bucket-prefix}/{endpoint-name}/{variant-name}/yyyy/mm/dd/hh/filename.jsonl`)."""


def ready_path(directory: Path, open_file: Path) -> Path:
    """Where an open file goes when it is closed: under its hour in `ready/`."""
    hour, rest = open_file.name.split("-", 1)
    return directory / READY_DIR / hour[0:4] / hour[4:6] / hour[6:8] / hour[8:10] / rest


def _same_file(path: Path, fd: int) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def seal(directory: Path, open_file: Path, *, older_than: float | None = None, now: float | None = None) -> bool:
    """Close an open capture file for shipping: rename it into `ready/` (atomic on one filesystem) while holding its
    lock, so no worker is half-way through a line. With `older_than`, only a file whose last write is that many
    seconds old (an idle worker's). Returns False when the file is busy, young or gone. Used by the writer when it
    rotates and by the shipper (`model_code.capture_shipper`) for idle files and on shutdown."""
    try:
        fd = os.open(open_file, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if not _same_file(open_file, fd):
            return False
        if older_than is not None and (now if now is not None else time.time()) - os.fstat(fd).st_mtime < older_than:
            return False
        target = ready_path(directory, open_file)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(open_file, target)
        return True
    finally:
        os.close(fd)  # releases the lock


class CaptureWriter:
    """Appends a sampled share of requests to one open file per worker process, and closes (seals) it into
    `ready/<yyyy>/<mm>/<dd>/<hh>/` when it reaches `rotate_bytes`, is `rotate_seconds` old, or the UTC hour changes,
    so every shipped file is complete and holds one hour. Each line is written whole under the file's lock; a
    failed or short write is cut back off the file, so a file never holds half a record. A failed write is logged
    once and counted, never fails a request. The capture shipper (`model_code.capture_shipper`) uploads `ready/`."""

    def __init__(self, directory: str | Path, percent: float, rng: Callable[[], float] = random.random, *,
                 rotate_bytes: int = 16 * 1024 * 1024, rotate_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < percent <= 100:
            raise UsageError(f"capture percent must be in (0, 100], got {percent}")
        if rotate_bytes < 1 or rotate_seconds <= 0:
            raise UsageError("capture rotation needs rotate_bytes >= 1 and rotate_seconds > 0")
        self.directory = Path(directory)
        self.percent = percent
        self.rotate_bytes = rotate_bytes
        self.rotate_seconds = rotate_seconds
        self._rng = rng
        self._clock = clock
        self.failures = 0
        self._pid = 0
        self._fd: int | None = None
        self._path: Path | None = None
        self._hour = ""
        self._opened = 0.0
        self._size = 0

    def sampled(self) -> bool:
        return self._rng() * 100 < self.percent

    def _new_file(self, hour: str) -> None:
        self._path = self.directory / OPEN_DIR / f"{hour}-{os.getpid()}-{uuid.uuid4().hex[:12]}.jsonl"
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o640)
        self._hour, self._opened, self._size = hour, self._clock(), 0

    def _forget(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd, self._path, self._size = None, None, 0

    def close(self) -> None:
        """Seal this process's open file (a worker calls it when it stops)."""
        if self._fd is not None and self._path is not None and self._pid == os.getpid():
            path = self._path
            self._forget()
            if path.exists() and path.stat().st_size:
                seal(self.directory, path)
            else:
                path.unlink(missing_ok=True)
        self._fd, self._path = None, None

    def _due(self, hour: str) -> bool:
        return (self._fd is None or self._pid != os.getpid() or hour != self._hour or self._size >= self.rotate_bytes
                or self._clock() - self._opened >= self.rotate_seconds)

    def write(self, record: dict[str, Any], moment: datetime) -> bool:
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        hour = moment.astimezone(UTC).strftime("%Y%m%d%H")
        try:
            if self._pid != os.getpid():  # forked: the parent's file is not ours
                self._fd, self._path, self._pid = None, None, os.getpid()
            if self._due(hour):
                self.close()
                self._new_file(hour)
            assert self._fd is not None and self._path is not None
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            if not _same_file(self._path, self._fd):  # the shipper sealed it while this worker was idle
                self._forget()
                self._new_file(hour)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._append(line)
            return True
        except OSError as exc:
            self.failures += 1
            if self.failures == 1:
                print(f"model_code.capture: cannot write under {self.directory}: {exc.strerror or exc}",
                      file=sys.stderr)
            return False
        finally:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _append(self, line: bytes) -> None:
        """Write one whole line or nothing: a short or failed write is truncated away before the error goes up."""
        assert self._fd is not None
        start = os.fstat(self._fd).st_size
        try:
            written = os.write(self._fd, line)
            if written != len(line):
                raise OSError(28, "short write")  # ENOSPC-like: the disk is full
        except OSError:
            try:
                os.ftruncate(self._fd, start)
            except OSError:  # cannot even cut it back: drop the file rather than ship half a record
                path = self._path
                self._forget()
                if path is not None:
                    path.unlink(missing_ok=True)
            raise
        self._size = start + len(line)

    def capture(self, request: bytes, request_type: str, response: bytes, response_type: str,
                now: datetime | None = None) -> bool:
        if not self.sampled():
            return False
        moment = now or datetime.now(UTC)
        return self.write(capture_record(request, request_type, response, response_type, uuid.uuid4().hex,
                                         moment), moment)
