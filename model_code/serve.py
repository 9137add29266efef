"""Serving entry point: ``python -m model_code.serve [--model-dir M] [--port P] [--host H] [--workers N]``.

A pre-fork server. The master loads the model once (workers share its memory copy-on-write), opens the
port only after the model is loaded (so ``GET /ping`` can never succeed before that), forks the workers,
restarts a worker that dies, and on SIGTERM/SIGINT asks every worker to drain, waits up to the grace period,
and exits 0. Each worker is a single-threaded asyncio loop (:mod:`model_code.httpserver`); prediction is
CPU-bound, so one worker per core is the right shape, and workers pin BLAS/OpenMP to one thread.

Settings (command-line options win over the environment), each validated at start against sane bounds; a
bad value is one line naming the variable and exit 2, never clamped silently:

=================================  ============================================  =============  ================
variable                           meaning                                       default        allowed
=================================  ============================================  =============  ================
``SAGEMAKER_BIND_TO_PORT``         TCP port                                      8080           0-65535
``SAGEMAKER_MODEL_SERVER_WORKERS`` worker processes                              usable CPUs    1-4 x usable CPUs
``SAGEMAKER_MAX_PAYLOAD_IN_MB``    largest request body accepted (413 above)     6              > 0, <= 100
``SM_MODEL_DIR``                   model directory                               /opt/ml/model
``MODEL_SERVER_GRACEFUL_TIMEOUT``  seconds a draining worker may finish requests 20             0-3600
``MODEL_SERVER_KEEPALIVE_TIMEOUT`` seconds an idle keep-alive connection is kept 75             1-3600
=================================  ============================================  =============  ================
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import re
import selectors
import signal
import socket
import sys
import time
import traceback
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from model_code import artifact, cli
from model_code.errors import UsageError
from model_code.plainnum import parse_decimal

DEFAULT_PORT = 8080
DEFAULT_MODEL_DIR = "/opt/ml/model"
DEFAULT_MAX_PAYLOAD_MB = 6.0
DEFAULT_GRACE_SECONDS = 20.0
DEFAULT_KEEPALIVE_SECONDS = 75.0
RESTART_WINDOW_SECONDS = 30.0
MAX_RESTARTS_IN_WINDOW = 5

PROG = "model_code.serve"
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def log(message: str) -> None:
    print(f"{PROG}[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def usable_cpus() -> int:
    """CPUs this process may run on (honours cpusets/affinity, unlike ``os.cpu_count``); at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ServeConfig:
    model_dir: Path
    host: str
    port: int
    workers: int
    max_body_bytes: int
    grace_seconds: float
    keepalive_seconds: float
    capture_dir: Path | None = None
    capture_percent: float = 0.0
    capture_rotate_seconds: float = 60.0
    capture_rotate_bytes: int = 16 * 1024 * 1024


WORKERS_PER_CPU = 4
"""Workers beyond this many per usable CPU only add memory and context switches (prediction is CPU-bound)."""
MAX_PAYLOAD_MB = 100.0  # SageMaker's largest MaxPayloadInMB (batch transform); real-time endpoints allow 6
MAX_SECONDS = 3600.0
_ASCII_INT = re.compile(r"\+?[0-9]+")


@dataclass(frozen=True)
class Setting:
    """One numeric setting: its variable (or option), bounds and unit, for parsing and for error messages."""

    name: str
    minimum: float
    maximum: float
    integer: bool = False
    exclusive_minimum: bool = False
    unit: str = ""

    def allowed(self) -> str:
        noun = "an integer" if self.integer else "a number"
        low = f"> {self.minimum:g}" if self.exclusive_minimum else f"from {self.minimum:g}"
        high = f"and <= {self.maximum:g}" if self.exclusive_minimum else f"to {self.maximum:g}"
        return f"{noun} {low} {high}{f' {self.unit}' if self.unit else ''}"

    def parse(self, raw: str) -> float:
        """Plain ASCII decimal only: ``nan``, ``inf``, ``1e300``, ``1_0`` and non-ASCII digits are refused."""
        text = raw.strip(" \t")
        value = parse_decimal(text)
        if self.integer and not _ASCII_INT.fullmatch(text):
            value = None
        if (
            value is None
            or value < self.minimum
            or (self.exclusive_minimum and value == self.minimum)
            or value > self.maximum
        ):
            raise UsageError(f"{self.name} must be {self.allowed()}, got {raw!r}")
        return value


def _env_setting(env: Mapping[str, str], setting: Setting, default: float) -> float:
    raw = env.get(setting.name, "")
    return default if not raw.strip() else setting.parse(raw)


def config_from(args: argparse.Namespace, env: Mapping[str, str]) -> ServeConfig:
    """Merge options and environment, validating each value against sane bounds and naming the variable (or
    option) that is wrong. Nothing is clamped silently: a value out of bounds is a start-up error."""
    max_workers = WORKERS_PER_CPU * usable_cpus()
    workers_bound = f"({WORKERS_PER_CPU} x {usable_cpus()} usable CPUs)"
    if args.port is not None:
        port = int(Setting("--port", 0, 65535, integer=True).parse(str(args.port)))
    else:
        port = int(_env_setting(env, Setting("SAGEMAKER_BIND_TO_PORT", 0, 65535, integer=True), DEFAULT_PORT))
    if args.workers is not None:
        workers = int(Setting("--workers", 1, max_workers, integer=True, unit=workers_bound).parse(str(args.workers)))
    else:
        workers = int(
            _env_setting(
                env,
                Setting("SAGEMAKER_MODEL_SERVER_WORKERS", 1, max_workers, integer=True, unit=workers_bound),
                usable_cpus(),
            )
        )
    payload_mb = _env_setting(
        env,
        Setting("SAGEMAKER_MAX_PAYLOAD_IN_MB", 0, MAX_PAYLOAD_MB, exclusive_minimum=True, unit="(MB)"),
        DEFAULT_MAX_PAYLOAD_MB,
    )
    max_body_bytes = int(payload_mb * 1024 * 1024)
    if max_body_bytes < 1:
        raw = env.get("SAGEMAKER_MAX_PAYLOAD_IN_MB")
        raise UsageError(f"SAGEMAKER_MAX_PAYLOAD_IN_MB must be at least one byte, got {raw!r}")
    model_dir = args.model_dir or env.get("SM_MODEL_DIR") or DEFAULT_MODEL_DIR
    return ServeConfig(
        model_dir=Path(model_dir),
        host=args.host,
        port=port,
        workers=workers,
        max_body_bytes=max_body_bytes,
        grace_seconds=_env_setting(
            env, Setting("MODEL_SERVER_GRACEFUL_TIMEOUT", 0, MAX_SECONDS, unit="seconds"), DEFAULT_GRACE_SECONDS
        ),
        keepalive_seconds=_env_setting(
            env, Setting("MODEL_SERVER_KEEPALIVE_TIMEOUT", 1, MAX_SECONDS, unit="seconds"), DEFAULT_KEEPALIVE_SECONDS
        ),
        **_capture_settings(env),
    )


def _capture_settings(env: Mapping[str, str]) -> dict[str, object]:
    """Capture is on with MODEL_SERVER_CAPTURE_DIR and MODEL_SERVER_CAPTURE_PERCENT > 0; a worker closes its file at
    MODEL_SERVER_CAPTURE_ROTATE_SECONDS (1-3600, default 60) of age or MODEL_SERVER_CAPTURE_ROTATE_MB (1-1024, 16)."""
    percent = _env_setting(env, Setting("MODEL_SERVER_CAPTURE_PERCENT", 0, 100, unit="(%)"), 0.0)
    directory = env.get("MODEL_SERVER_CAPTURE_DIR", "").strip()
    if percent and not directory:
        raise UsageError("MODEL_SERVER_CAPTURE_PERCENT is set, so MODEL_SERVER_CAPTURE_DIR is required")
    rotate_seconds = _env_setting(env, Setting("MODEL_SERVER_CAPTURE_ROTATE_SECONDS", 1, MAX_SECONDS), 60.0)
    rotate_mb = _env_setting(env, Setting("MODEL_SERVER_CAPTURE_ROTATE_MB", 1, 1024, integer=True, unit="(MiB)"), 16)
    return {"capture_dir": Path(directory) if directory and percent else None, "capture_percent": percent,
            "capture_rotate_seconds": rotate_seconds, "capture_rotate_bytes": int(rotate_mb) * 1024 * 1024}


def bind(host: str, port: int) -> socket.socket:
    """The listening socket; only the master accepts on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


def _worker_main(channel: socket.socket, app: object, cfg: ServeConfig) -> int:
    """Body of a forked worker process; returns its exit code."""
    import sklearn
    from threadpoolctl import threadpool_limits

    from model_code import httpserver

    threadpool_limits(1)  # one busy thread per worker process; BLAS threads would fight the other workers
    # Payload parsing has already rejected NaN and infinity, so skip scikit-learn's second check.
    sklearn.set_config(assume_finite=True)
    limits = httpserver.Limits(max_body_bytes=cfg.max_body_bytes, keepalive_timeout=cfg.keepalive_seconds)
    try:
        asyncio.run(httpserver.serve_worker(channel, app, limits, cfg.grace_seconds))  # type: ignore[arg-type]
    finally:  # the drained worker's last capture file goes to the shipper now, not at its next age
        if getattr(app, "capture", None) is not None:
            app.capture.close()  # type: ignore[attr-defined]
    return 0


@dataclass
class _Worker:
    index: int
    channel: socket.socket  # master's end of the socket pair used to hand over connections


class Master:
    """Accepts connections and deals them round-robin to the workers, restarts dead workers, and on
    SIGTERM/SIGINT stops accepting and lets every worker drain before exiting.

    The master never parses HTTP: after ``accept`` it passes the descriptor to a worker (``SCM_RIGHTS``), so
    its cost is per connection, not per request. Its loop wakes on the listening socket and on signals
    (``signal.set_wakeup_fd``), including SIGCHLD for worker exits.
    """

    def __init__(self, cfg: ServeConfig, app: object, listener: socket.socket) -> None:
        self.cfg = cfg
        self.app = app
        self.listener: socket.socket | None = listener
        self.workers: dict[int, _Worker] = {}  # pid -> worker
        self.next_worker = 0
        self.stopping = False
        self.exit_code = 0
        self.restarts: deque[float] = deque(maxlen=MAX_RESTARTS_IN_WINDOW)
        self.pending_signals: list[int] = []

    # -------------------------------------------------------------- workers
    def spawn(self, index: int) -> None:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # Block the stop signals across fork so a child never runs the master's handlers.
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                self._become_worker(parent_end, child_end)
            child_end.close()
            parent_end.setblocking(False)
            self.workers[pid] = _Worker(index, parent_end)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)

    def _become_worker(self, parent_end: socket.socket, child_end: socket.socket) -> None:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for sig in (*_STOP_SIGNALS, signal.SIGALRM, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            parent_end.close()
            if self.listener is not None:
                self.listener.close()
            for other in self.workers.values():
                other.channel.close()
            self.workers.clear()
            code = _worker_main(child_end, self.app, self.cfg)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def reap(self) -> None:
        """Collect exited workers; restart them unless stopping or crash-looping."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            worker.channel.close()
            if self.stopping:
                continue
            log(
                f"worker {pid} exited unexpectedly (exit code {os.waitstatus_to_exitcode(status)}); "
                "restarting it"
            )
            now = time.monotonic()
            self.restarts.append(now)
            if (
                len(self.restarts) == MAX_RESTARTS_IN_WINDOW
                and now - self.restarts[0] < RESTART_WINDOW_SECONDS
            ):
                log(
                    f"{MAX_RESTARTS_IN_WINDOW} worker restarts within {RESTART_WINDOW_SECONDS:g} s; giving up"
                )
                self.exit_code = 1
                self.stop(signal.SIGTERM)
                continue
            self.spawn(worker.index)

    # -------------------------------------------------------------- connections
    def accept_all(self) -> None:
        """Accept every pending connection and hand each to the next worker whose channel takes it."""
        while self.listener is not None:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:  # e.g. EMFILE: leave the rest in the backlog for the next turn
                log(f"accept failed: {exc.strerror}")
                return
            with conn:
                self.hand_over(conn)

    def hand_over(self, conn: socket.socket) -> None:
        workers = list(self.workers.values())
        for _ in range(len(workers)):
            worker = workers[self.next_worker % len(workers)]
            self.next_worker += 1
            try:
                socket.send_fds(worker.channel, [b"c"], [conn.fileno()])
                return
            except OSError:  # that worker's channel is full or gone: try the next one
                continue
        log("no worker could take a connection; closing it")

    # -------------------------------------------------------------- signals
    def on_signal(self, signum: int, frame: FrameType | None = None) -> None:
        """Signal handler: only record the signal. The loop (woken through the wake-up fd) acts on it, so no
        handler ever writes to stderr while the main thread is in the middle of writing."""
        self.pending_signals.append(signum)

    def handle_signals(self) -> None:
        while self.pending_signals:
            signum = self.pending_signals.pop(0)
            if signum == signal.SIGALRM:
                self.kill_all()
            elif signum in _STOP_SIGNALS:
                self.stop(signum)

    def stop(self, signum: int) -> None:
        """Forward a graceful stop to every worker and set a hard deadline."""
        if self.stopping:
            return
        self.stopping = True
        for pid in list(self.workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        log(f"received {signal.Signals(signum).name}; draining {len(self.workers)} worker(s)")
        signal.alarm(int(self.cfg.grace_seconds) + 5)

    def kill_all(self) -> None:
        log("grace period over; killing remaining workers")
        self.exit_code = 1
        for pid in list(self.workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def run(self) -> int:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        for sig in (*_STOP_SIGNALS, signal.SIGALRM):
            signal.signal(sig, self.on_signal)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # only to wake the loop; reaped below
        selector = selectors.DefaultSelector()
        assert self.listener is not None
        selector.register(self.listener, selectors.EVENT_READ)
        selector.register(wake_r, selectors.EVENT_READ)
        for index in range(self.cfg.workers):
            self.spawn(index)
        try:
            while self.workers:
                events = selector.select(timeout=1.0)
                self.handle_signals()
                if self.stopping and self.listener is not None:
                    self.accept_all()  # hand over the backlog rather than resetting those clients
                    selector.unregister(self.listener)
                    self.listener.close()  # refuse new connections while the workers drain
                    self.listener = None
                    for worker in self.workers.values():
                        worker.channel.close()  # end of file: the worker gets no more connections
                for key, _ in events:
                    if self.listener is not None and key.fileobj is self.listener:
                        self.accept_all()
                    elif key.fileobj == wake_r:
                        with contextlib.suppress(BlockingIOError):
                            os.read(wake_r, 512)
                self.reap()
        finally:
            signal.alarm(0)
            signal.set_wakeup_fd(-1)
            selector.close()
            os.close(wake_r)
            os.close(wake_w)
            if self.listener is not None:
                self.listener.close()
        log("stopped")
        return self.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_code.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", help="model directory (default: $SM_MODEL_DIR or /opt/ml/model)")
    parser.add_argument("--host", default="0.0.0.0", help="address to bind (default: 0.0.0.0)")
    parser.add_argument(
        "--port", type=int, help="port (default: $SAGEMAKER_BIND_TO_PORT or 8080; 0 = any free)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="worker processes (default: $SAGEMAKER_MODEL_SERVER_WORKERS or the number of usable CPUs)",
    )
    args = parser.parse_args(argv)
    cfg = config_from(args, os.environ)

    from model_code.inference import InferenceApp

    model = artifact.load(cfg.model_dir)
    warning = artifact.version_mismatch(model.metadata)
    if warning:
        log(f"warning: {warning}")
    from model_code.capture import CaptureWriter

    capture = (CaptureWriter(cfg.capture_dir, cfg.capture_percent, rotate_bytes=cfg.capture_rotate_bytes,
                             rotate_seconds=cfg.capture_rotate_seconds) if cfg.capture_dir is not None else None)
    app = InferenceApp(model, cfg.max_body_bytes, cfg.workers, capture)
    listener = bind(cfg.host, cfg.port)
    host, port = listener.getsockname()[:2]
    gc.freeze()  # keep the loaded model out of the workers' GC scans, so its pages stay shared
    log(f"model loaded from {cfg.model_dir}; listening on http://{host}:{port} with {cfg.workers} worker(s)")
    return Master(cfg, app, listener).run()


if __name__ == "__main__":
    sys.exit(cli.run(main, prog=PROG))
