"""Ship a Kubernetes model server's data capture to the capture bucket: ``python -m model_code.capture_shipper``.

Runs as a native sidecar of the model server pod (an init container with ``restartPolicy: Always``, same serving
image; docs/monitoring.md says why a sidecar and not a thread in the server). The server's workers write capture
files in SageMaker's format into a shared emptyDir and close them into ``ready/<yyyy>/<mm>/<dd>/<hh>/``
(:mod:`model_code.capture`). This process, every ``CAPTURE_POLL_SECONDS``:

1. closes capture files no worker has written for ``CAPTURE_SEAL_SECONDS`` (an idle worker's last file);
2. keeps the directory under ``CAPTURE_MAX_MB``: when S3 is unreachable for long, the oldest closed files are
   dropped, counted and logged, so the emptyDir never fills and the server is never evicted or slowed;
3. uploads closed files, oldest first, each as one ``PutObject`` (never a multipart upload, so an object exists
   whole or not at all; ``Content-MD5`` makes S3 refuse a body damaged on the way) under
   ``CAPTURE_S3_URI`` + ``<yyyy>/<mm>/<dd>/<hh>/<file>``, encrypted with SSE-KMS under ``CAPTURE_KMS_KEY_ARN``; a
   file is deleted only after S3 accepted it; a failure waits an exponential backoff (with jitter) before the next.

On SIGTERM (Kubernetes stops a native sidecar after the server container has exited) it closes every file left
and uploads until nothing is left or ``CAPTURE_FLUSH_SECONDS`` have passed, then exits 0. It never exits on an S3
error. Credentials come from the pod's IRSA web identity, as for any boto3 client.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_code import cli
from model_code.capture import OPEN_DIR, READY_DIR, seal
from model_code.errors import UsageError

PROG = "model_code.capture_shipper"
CONTENT_TYPE = "application/jsonlines"


def log(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ShipperConfig:
    directory: Path
    bucket: str
    prefix: str
    kms_key_arn: str
    max_bytes: int
    seal_seconds: float
    poll_seconds: float
    flush_seconds: float
    max_backoff_seconds: float = 60.0


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/prefix/` -> (bucket, prefix ending in `/`)."""
    if not uri.startswith("s3://") or "/" not in uri[5:] or not uri[5:].split("/", 1)[0]:
        raise UsageError(f"CAPTURE_S3_URI must be s3://<bucket>/<prefix>/, got {uri!r}")
    bucket, prefix = uri[5:].split("/", 1)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # also refuses nan
        raise UsageError(f"{name} must be a number from {low:g} to {high:g}, got {raw!r}")
    return value


def config_from(env: Mapping[str, str]) -> ShipperConfig:
    """The settings, each validated at start (one line naming the variable and exit 2 on a bad one)."""
    missing = [n for n in ("CAPTURE_DIR", "CAPTURE_S3_URI", "CAPTURE_KMS_KEY_ARN") if not env.get(n, "").strip()]
    if missing:
        raise UsageError(f"{', '.join(missing)} must be set")
    key = env["CAPTURE_KMS_KEY_ARN"].strip()
    if not key.startswith("arn:") or ":kms:" not in key:
        raise UsageError(f"CAPTURE_KMS_KEY_ARN must be a KMS key ARN, got {key!r}")
    bucket, prefix = parse_s3_uri(env["CAPTURE_S3_URI"].strip())
    return ShipperConfig(
        directory=Path(env["CAPTURE_DIR"].strip()), bucket=bucket, prefix=prefix, kms_key_arn=key,
        max_bytes=int(_number(env, "CAPTURE_MAX_MB", 256, 1, 1024 * 1024) * 1024 * 1024),
        seal_seconds=_number(env, "CAPTURE_SEAL_SECONDS", 120, 1, 3600),
        poll_seconds=_number(env, "CAPTURE_POLL_SECONDS", 2, 0.05, 60),
        flush_seconds=_number(env, "CAPTURE_FLUSH_SECONDS", 15, 0, 600),
    )


@dataclass
class Counters:
    uploaded_files: int = 0
    uploaded_bytes: int = 0
    failed_uploads: int = 0
    dropped_files: int = 0
    dropped_bytes: int = 0


class Shipper:
    """One pass at a time (`run_once`); `run` loops until stopped, then `flush`es. Clock and sleep are injectable."""

    def __init__(self, cfg: ShipperConfig, s3: Any, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, jitter: Callable[[], float] = random.random) -> None:
        self.cfg = cfg
        self.s3 = s3
        self.counters = Counters()
        self._clock, self._wall, self._jitter = clock, wall, jitter
        self._next_attempt = 0.0
        self._streak = 0  # consecutive failed uploads

    # -- the three duties of a pass ------------------------------------------------------------------------------
    def seal_idle(self, *, force: bool = False) -> int:
        """Close open files no worker wrote to for `seal_seconds` (all of them with `force`)."""
        sealed = 0
        for path in sorted((self.cfg.directory / OPEN_DIR).glob("*.jsonl")):
            if seal(self.cfg.directory, path, older_than=None if force else self.cfg.seal_seconds, now=self._wall()):
                sealed += 1
        return sealed

    def ready_files(self) -> list[Path]:
        """Closed files, oldest hour first (their path is their hour), then oldest file."""
        root = self.cfg.directory / READY_DIR
        files = [p for p in root.rglob("*.jsonl") if p.is_file()]
        return sorted(files, key=lambda p: (p.relative_to(root).parts[:4], _mtime(p), p.name))

    def enforce_limit(self) -> None:
        """Drop the oldest closed files while everything under the directory exceeds `max_bytes`."""
        usage = sum(_size(p) for p in self.cfg.directory.rglob("*.jsonl"))
        for path in self.ready_files():
            if usage <= self.cfg.max_bytes:
                return
            size = _size(path)
            path.unlink(missing_ok=True)
            usage -= size
            self.counters.dropped_files += 1
            self.counters.dropped_bytes += size
            log(f"capture over its {self.cfg.max_bytes // (1024 * 1024)} MiB budget: dropped the oldest file "
                f"{path.name} ({size} bytes); dropped so far: {self.counters.dropped_files} file(s), "
                f"{self.counters.dropped_bytes} bytes")

    def upload_ready(self, *, ignore_backoff: bool = False) -> bool:
        """Upload closed files oldest first; stop at the first failure. True when nothing is left to upload."""
        for path in self.ready_files():
            if not ignore_backoff and self._clock() < self._next_attempt:
                return False
            if not self._upload(path):
                return False
        return True

    def run_once(self) -> None:
        self.seal_idle()
        self.enforce_limit()
        self.upload_ready()

    # -- one file ----------------------------------------------------------------------------------------------
    def key_of(self, path: Path) -> str:
        return self.cfg.prefix + path.relative_to(self.cfg.directory / READY_DIR).as_posix()

    def _upload(self, path: Path) -> bool:
        try:
            body = path.read_bytes()
        except FileNotFoundError:  # dropped meanwhile
            return True
        if not body:
            path.unlink(missing_ok=True)
            return True
        try:
            self.s3.put_object(
                Bucket=self.cfg.bucket, Key=self.key_of(path), Body=body, ContentType=CONTENT_TYPE,
                ContentMD5=base64.b64encode(hashlib.md5(body).digest()).decode("ascii"),  # noqa: S324 - integrity
                ServerSideEncryption="aws:kms", SSEKMSKeyId=self.cfg.kms_key_arn,
            )
        except Exception as exc:  # botocore's ClientError, EndpointConnectionError, ...: never fatal
            self._failed(path, exc)
            return False
        path.unlink(missing_ok=True)
        self.counters.uploaded_files += 1
        self.counters.uploaded_bytes += len(body)
        self._streak, self._next_attempt = 0, 0.0
        return True

    def _failed(self, path: Path, exc: Exception) -> None:
        self.counters.failed_uploads += 1
        self._streak += 1
        delay = min(self.cfg.max_backoff_seconds, self.cfg.poll_seconds * 2 ** min(self._streak - 1, 16))
        delay *= 0.5 + self._jitter() / 2  # full-ish jitter: replicas that lost S3 together do not retry together
        self._next_attempt = self._clock() + delay
        if self._streak == 1 or self._streak % 10 == 0:
            log(f"upload of {path.name} failed ({type(exc).__name__}: {str(exc)[:200]}); "
                f"{self._streak} failure(s) in a row, next try in {delay:.1f} s; the file is kept")

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def flush(self) -> bool:
        """Close every file and upload until nothing is left or `flush_seconds` passed. True when all shipped."""
        deadline = self._clock() + self.cfg.flush_seconds
        self.seal_idle(force=True)
        while True:
            if self.upload_ready(ignore_backoff=True):
                log(f"flushed: {self.counters.uploaded_files} file(s) shipped in all, "
                    f"{self.counters.dropped_files} dropped")
                return True
            if self._clock() >= deadline:
                left = len(self.ready_files())
                log(f"flush gave up after {self.cfg.flush_seconds:g} s: {left} file(s) not shipped")
                return False
            time.sleep(min(0.5, max(0.0, deadline - self._clock())))

    def run(self, stop: threading.Event) -> int:
        log(f"shipping {self.cfg.directory} to s3://{self.cfg.bucket}/{self.cfg.prefix}")
        while not stop.is_set():
            try:
                self.run_once()
            except OSError as exc:  # a vanished file or a full disk: report, keep going
                log(f"pass failed: {exc}")
            stop.wait(self.cfg.poll_seconds)
        self.flush()
        return 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def s3_client() -> Any:
    """A boto3 S3 client with short timeouts and few SDK retries: the shipper does its own backoff, so one pass
    never blocks for long (the region and credentials come from the pod's environment, as IRSA sets them)."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(connect_timeout=3, read_timeout=20,
                                            retries={"max_attempts": 2, "mode": "standard"}))


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        raise UsageError("model_code.capture_shipper takes no arguments; it is configured by CAPTURE_* variables")
    cfg = config_from(os.environ)
    for sub in (OPEN_DIR, READY_DIR):
        (cfg.directory / sub).mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    return Shipper(cfg, s3_client()).run(stop)


if __name__ == "__main__":
    sys.exit(cli.run(main, prog=PROG))
