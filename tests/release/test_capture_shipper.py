"""The Kubernetes model server's capture shipper (`model_code.capture_shipper`) against S3 and KMS in moto's server
mode: where objects land and how they are encrypted, that a file still being written is never shipped, that an S3
outage keeps the local disk bounded (oldest dropped, counted, logged) without ever failing, and that SIGTERM
flushes every captured record before the process exits."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.core import bucket_layout
from model_code import capture, capture_shipper
from model_code.capture_shipper import Shipper, ShipperConfig

ROOT = Path(__file__).resolve().parents[2]
BUCKET, PREFIX = "mlops-shared-capture-111111111111", "dev/fraud/"
HOUR_A = datetime(2026, 3, 10, 23, 59, 58, tzinfo=UTC)
HOUR_B = datetime(2026, 3, 11, 0, 0, 1, tzinfo=UTC)


@pytest.fixture
def store(emulator: object) -> tuple[object, str]:
    """The capture bucket and the shared key, in the emulator; returns (s3 client, key ARN)."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    key = boto3.client("kms").create_key(Description="shared")["KeyMetadata"]["Arn"]
    return s3, key


def _config(directory: Path, key: str, **overrides: float) -> ShipperConfig:
    settings = {"max_bytes": 64 * 1024 * 1024, "seal_seconds": 3600.0, "poll_seconds": 0.05, "flush_seconds": 5.0}
    settings.update(overrides)
    return ShipperConfig(directory=directory, bucket=BUCKET, prefix=PREFIX, kms_key_arn=key, **settings)  # type: ignore[arg-type]


def _capture(writer: capture.CaptureWriter, moment: datetime, n: int = 3) -> None:
    for i in range(n):
        assert writer.capture(f"{i},55.0,0.31,0.42,0,12,4,1".encode(), "text/csv", b"0.1", "text/csv", moment)


def _objects(s3: object) -> dict[str, dict]:
    listing = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])  # type: ignore[attr-defined]
    return {o["Key"]: o for o in listing}


def test_closed_files_land_under_their_hour_with_sse_kms_under_the_shared_key(tmp_path: Path, store) -> None:
    s3, key = store
    writer = capture.CaptureWriter(tmp_path, 100)
    _capture(writer, HOUR_A)
    _capture(writer, HOUR_B, 2)  # the hour changed: the first file is closed into 2026/03/10/23
    writer.close()
    shipper = Shipper(_config(tmp_path, key), s3)
    shipper.run_once()
    objects = _objects(s3)
    assert sorted(k.rsplit("/", 1)[0] for k in objects) == [f"{PREFIX}2026/03/10/23", f"{PREFIX}2026/03/11/00"]
    for name in objects:
        head = s3.head_object(Bucket=BUCKET, Key=name)
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key
        lines = s3.get_object(Bucket=BUCKET, Key=name)["Body"].read().decode().splitlines()
        assert all(json.loads(line)["captureData"]["endpointInput"]["encoding"] == "CSV" for line in lines)
    assert shipper.counters.uploaded_files == 2 and not list((tmp_path / capture.READY_DIR).rglob("*.jsonl"))


def test_a_file_a_worker_still_writes_is_never_uploaded(tmp_path: Path, store) -> None:
    s3, key = store
    writer = capture.CaptureWriter(tmp_path, 100)
    _capture(writer, HOUR_A)
    shipper = Shipper(_config(tmp_path, key, seal_seconds=3600), s3)
    shipper.run_once()  # young and open: stays
    assert _objects(s3) == {}
    [open_file] = (tmp_path / capture.OPEN_DIR).glob("*.jsonl")
    with open(open_file, "rb") as fh:  # a worker mid-line holds the lock: not even a forced seal takes it
        fcntl.flock(fh, fcntl.LOCK_EX)
        assert shipper.seal_idle(force=True) == 0
    assert shipper.seal_idle(force=True) == 1
    _capture(writer, HOUR_A, 2)  # the worker notices its file was closed and starts a new one
    shipper.upload_ready()
    [first] = _objects(s3).values()
    assert s3.get_object(Bucket=BUCKET, Key=first["Key"])["Body"].read().count(b"\n") == 3
    assert len(list((tmp_path / capture.OPEN_DIR).glob("*.jsonl"))) == 1


def test_an_idle_workers_file_is_shipped_after_its_age(tmp_path: Path, store) -> None:
    s3, key = store
    writer = capture.CaptureWriter(tmp_path, 100)
    _capture(writer, HOUR_A)
    [open_file] = (tmp_path / capture.OPEN_DIR).glob("*.jsonl")
    old = time.time() - 300
    os.utime(open_file, (old, old))
    Shipper(_config(tmp_path, key, seal_seconds=120), s3).run_once()
    assert len(_objects(s3)) == 1


def test_a_failed_write_leaves_no_half_record_to_ship(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = capture.CaptureWriter(tmp_path, 100)
    _capture(writer, HOUR_A, 2)
    real_write = os.write

    def half(fd: int, data: bytes) -> int:  # a full disk: part of the line, then the error
        real_write(fd, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(capture.os, "write", half)
    assert writer.capture(b"9,9,9,9,9,9,9,9", "text/csv", b"1", "text/csv", HOUR_A) is False
    monkeypatch.setattr(capture.os, "write", real_write)
    writer.close()
    [file] = (tmp_path / capture.READY_DIR).rglob("*.jsonl")
    assert [json.loads(line)["eventVersion"] for line in file.read_text().splitlines()] == ["0", "0"]


def test_files_rotate_by_size_and_by_age(tmp_path: Path) -> None:
    now = [0.0]
    writer = capture.CaptureWriter(tmp_path, 100, rotate_bytes=600, rotate_seconds=30, clock=lambda: now[0])
    _capture(writer, HOUR_A, 4)  # each record is ~300 bytes: a new file every second record
    assert len(list((tmp_path / capture.READY_DIR).rglob("*.jsonl"))) == 1
    now[0] = 31.0
    _capture(writer, HOUR_A, 1)  # the open file is 31 s old: closed before this record
    assert len(list((tmp_path / capture.READY_DIR).rglob("*.jsonl"))) == 2


def test_an_s3_outage_keeps_the_disk_bounded_counts_drops_and_never_raises(tmp_path: Path, store, capsys) -> None:
    s3, key = store
    with socket.socket() as sock:  # a loopback port nothing listens on: S3 unreachable
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}",
                        config=boto3.session.Config(connect_timeout=0.2, retries={"max_attempts": 1}))
    now = [0.0]
    budget = 3000
    shipper = Shipper(_config(tmp_path, key, max_bytes=budget, poll_seconds=1.0), dead, clock=lambda: now[0],
                      jitter=lambda: 1.0)
    writer = capture.CaptureWriter(tmp_path, 100, rotate_bytes=600)
    for _ in range(20):
        _capture(writer, HOUR_A, 2)
        shipper.run_once()
        usage = sum(p.stat().st_size for p in tmp_path.rglob("*.jsonl"))
        assert usage <= budget + 600  # the budget, plus at most the one file a worker is writing
        now[0] += 0.5
    assert shipper.counters.dropped_files > 0 and shipper.counters.failed_uploads >= 1
    err = capsys.readouterr().err
    assert "dropped the oldest file" in err and "failure(s) in a row" in err
    # Backoff: with S3 down, a pass does not try again before its delay (1, 2, 4 ... s, at most 60 s).
    attempts = shipper.counters.failed_uploads
    shipper.run_once()
    assert shipper.counters.failed_uploads == attempts or now[0] >= shipper._next_attempt
    # S3 is back: what is left is shipped, the newest data (the oldest was dropped).
    writer.close()
    shipper.s3 = s3
    assert shipper.flush() is True
    shipped = sorted(_objects(s3))
    assert shipped and not list((tmp_path / capture.READY_DIR).rglob("*.jsonl"))


def test_sigterm_flushes_open_and_closed_files_then_exits_0(tmp_path: Path, store, emulator: object) -> None:
    s3, key = store
    writer = capture.CaptureWriter(tmp_path, 100)
    _capture(writer, HOUR_A)
    _capture(writer, HOUR_B)  # one file closed (hour A), one still open (hour B): both must reach S3
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CAPTURE_")},
           "PYTHONPATH": str(ROOT), "CAPTURE_DIR": str(tmp_path), "CAPTURE_S3_URI": f"s3://{BUCKET}/{PREFIX}",
           "CAPTURE_KMS_KEY_ARN": key, "CAPTURE_POLL_SECONDS": "60", "CAPTURE_SEAL_SECONDS": "3600",
           "CAPTURE_FLUSH_SECONDS": "10"}
    proc = subprocess.Popen([sys.executable, "-m", "model_code.capture_shipper"], env=env, cwd=ROOT,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not _objects(s3) and time.monotonic() < deadline:  # the first pass ships the closed file
        time.sleep(0.05)
    assert len(_objects(s3)) == 1
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert sorted(k.rsplit("/", 1)[0] for k in _objects(s3)) == [f"{PREFIX}2026/03/10/23", f"{PREFIX}2026/03/11/00"]
    assert "flushed" in err and not list(tmp_path.rglob("*.jsonl"))


@pytest.mark.parametrize(("change", "named"), [
    ({"CAPTURE_S3_URI": "https://bucket/x"}, "CAPTURE_S3_URI"),
    ({"CAPTURE_S3_URI": "s3:///x/"}, "CAPTURE_S3_URI"),
    ({"CAPTURE_KMS_KEY_ARN": "alias/mine"}, "CAPTURE_KMS_KEY_ARN"),
    ({"CAPTURE_DIR": ""}, "CAPTURE_DIR"),
    ({"CAPTURE_MAX_MB": "nan"}, "CAPTURE_MAX_MB"),
    ({"CAPTURE_MAX_MB": "0"}, "CAPTURE_MAX_MB"),
    ({"CAPTURE_FLUSH_SECONDS": "-1"}, "CAPTURE_FLUSH_SECONDS"),
    ({"CAPTURE_POLL_SECONDS": "1e9"}, "CAPTURE_POLL_SECONDS"),
])
def test_bad_settings_are_one_line_and_exit_2(tmp_path: Path, change: dict[str, str], named: str) -> None:
    env = {"CAPTURE_DIR": str(tmp_path), "CAPTURE_S3_URI": f"s3://{BUCKET}/{PREFIX}",
           "CAPTURE_KMS_KEY_ARN": "arn:aws:kms:us-east-1:111111111111:key/k", **change}
    with pytest.raises(capture_shipper.UsageError, match=named):
        capture_shipper.config_from(env)
    result = subprocess.run([sys.executable, "-m", "model_code.capture_shipper"], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT), **env}, timeout=60)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1 and named in result.stderr


ZONES = [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9, minutes=30))]


@settings(max_examples=60, deadline=None)
@given(moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31),
                           timezones=st.sampled_from(ZONES)),
       environment=st.sampled_from(["dev", "staging", "prod"]), model=st.sampled_from(["fraud", "churn"]))
def test_the_shippers_keys_are_the_layouts_for_every_hour(tmp_path_factory: pytest.TempPathFactory, moment: datetime,
                                                          environment: str, model: str) -> None:
    """model_code cannot import infra: the key the shipper builds must equal `bucket_layout.capture_key` anyway,
    for any hour in any zone (midnight, month and year ends, DST-free offsets on both sides of UTC)."""
    directory = tmp_path_factory.mktemp("layout")
    writer = capture.CaptureWriter(directory, 100)
    _capture(writer, moment, 1)
    writer.close()
    [file] = (directory / capture.READY_DIR).rglob("*.jsonl")
    prefix = bucket_layout.capture_prefix(environment, model)
    shipper = Shipper(ShipperConfig(directory=directory, bucket=BUCKET, prefix=prefix, kms_key_arn="arn:aws:kms:k",
                                    max_bytes=1 << 20, seal_seconds=1, poll_seconds=1, flush_seconds=0), s3=None)
    assert shipper.key_of(file) == bucket_layout.capture_key(environment, model, moment, file.name)


class _DownS3:
    """An S3 that refuses every PutObject, recording when it was asked."""

    def __init__(self, clock: list[float]) -> None:
        self.clock, self.calls = clock, []

    def put_object(self, **kwargs: object) -> None:
        self.calls.append(self.clock[0])
        raise ConnectionError("endpoint unreachable")


def test_retries_back_off_exponentially_up_to_a_minute_and_never_sooner(tmp_path: Path) -> None:
    now = [0.0]
    s3 = _DownS3(now)
    shipper = Shipper(_config(tmp_path, "arn:aws:kms:us-east-1:111111111111:key/k", poll_seconds=1.0), s3,
                      clock=lambda: now[0], jitter=lambda: 1.0)
    writer = capture.CaptureWriter(tmp_path, 100)
    _capture(writer, HOUR_A, 1)
    writer.close()
    while now[0] < 400:
        shipper.run_once()
        now[0] += 0.25
    gaps = [round(b - a) for a, b in zip(s3.calls, s3.calls[1:], strict=False)]
    assert gaps[:7] == [1, 2, 4, 8, 16, 32, 60] and set(gaps[7:]) == {60}
    assert len(list((tmp_path / capture.READY_DIR).rglob("*.jsonl"))) == 1  # kept for when S3 is back


def test_a_refusing_bucket_keeps_the_file_and_the_shipper_running(tmp_path: Path, store) -> None:
    s3, key = store
    writer = capture.CaptureWriter(tmp_path, 100)
    _capture(writer, HOUR_A, 1)
    writer.close()
    cfg = _config(tmp_path, key)
    shipper = Shipper(ShipperConfig(**{**cfg.__dict__, "bucket": "no-such-bucket"}), s3)
    shipper.run_once()
    assert shipper.counters.failed_uploads == 1 and len(list(tmp_path.rglob("*.jsonl"))) == 1


def _busy_worker(directory: str, records: int) -> None:
    writer = capture.CaptureWriter(directory, 100, rotate_bytes=2000)
    for i in range(records):
        assert writer.capture(f"{i},1,2,3,4,5,6,7".encode(), "text/csv", b"0.5", "text/csv", HOUR_A)
    writer.close()
    os._exit(0)


def test_workers_and_an_eager_shipper_racing_lose_and_tear_no_record(tmp_path: Path, store) -> None:
    """Three forked workers write while the shipper closes every open file it can lock, as often as it can: every
    object in S3 is whole lines only, and every record arrives exactly once."""
    s3, key = store
    shipper = Shipper(_config(tmp_path, key), s3)
    pids = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child exits in _busy_worker
            _busy_worker(str(tmp_path), 300)
        pids.append(pid)
    running = set(pids)
    while running:
        shipper.seal_idle(force=True)
        shipper.upload_ready()
        for pid in list(running):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                assert os.waitstatus_to_exitcode(status) == 0
                running.discard(pid)
    assert shipper.flush() is True
    lines = [line for key_ in _objects(s3)
             for line in s3.get_object(Bucket=BUCKET, Key=key_)["Body"].read().decode().split("\n") if line]
    ids = [json.loads(line)["eventMetadata"]["eventId"] for line in lines]
    assert len(ids) == len(set(ids)) == 900
