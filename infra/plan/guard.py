"""Keeps a user's program from taking the CLI hostage: a deadline, Ctrl-C, and its stdout kept off ours.

A program runs on a thread of its own (see runner.py). Python cannot kill a thread, so a run that must stop
(deadline passed, Ctrl-C in the main thread) gets an exception raised asynchronously inside it, and its
event loop is woken so that a program idling on a future that never resolves sees it too. A program stuck
in one long C call (`time.sleep(10**9)`) cannot be reached: the caller stops waiting anyway, and the
thread, a daemon, dies with the process.

While a program runs, whatever it writes to stdout (print, or a child process on file descriptor 1) goes
to stderr: stdout carries the plan alone, so `--format json` stays one valid document.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

STOP_GRACE_SECONDS = 2.0
"""How long a stopped run may take to unwind before the caller stops waiting for it."""


class Stopped(BaseException):  # noqa: N818 - raised into a program, like KeyboardInterrupt; not an error class
    """Raised inside a program run that must stop. A BaseException, so `except Exception` does not eat it."""


class TimedOut(Stopped):
    """The run passed its deadline."""


class Interrupted(Stopped):
    """The user pressed Ctrl-C."""


class DeadlineExceeded(Exception):  # noqa: N818 - reads as what happened
    """The caller's deadline passed before the run finished (raised in the caller's thread)."""


class RunControl:
    """The handle through which the caller stops a run: its thread and its event loop, while it runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread_id: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def enter(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called by the run's thread when the program starts: from now on it may be stopped."""
        with self._lock:
            self._thread_id = threading.get_ident()
            self._loop = loop

    def leave(self) -> None:
        """Called by the run's thread when the program is over; drops a stop that has not fired yet.

        Call it in a loop that retries on `Stopped`: a pending stop may fire before this takes the lock.
        """
        with self._lock:
            if self._thread_id is not None:
                _set_async_exc(self._thread_id, None)
            self._thread_id = None
            self._loop = None

    def stop(self, reason: type[Stopped]) -> None:
        with self._lock:
            if self._thread_id is None:
                return
            _set_async_exc(self._thread_id, reason)
            loop = self._loop
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # closed between the check and the call
                    loop.call_soon_threadsafe(lambda: None)  # wake a loop idling in select()


def run_guarded(work: Callable[[RunControl], T], deadline: float | None) -> T:
    """Run `work` on a fresh daemon thread (fresh context variables) until it ends or `deadline` passes.

    Raises DeadlineExceeded after the deadline, KeyboardInterrupt on Ctrl-C (both after trying to stop the
    run), or whatever `work` raised.
    """
    control = RunControl()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work(control)
        except BaseException as exc:  # noqa: BLE001 - handed back to the calling thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="offline-plan", daemon=True)
    with _stdout_to_stderr():
        thread.start()
        try:
            _join(thread, deadline)
        except KeyboardInterrupt:
            _stop(thread, control, Interrupted)
            raise
        if thread.is_alive():
            _stop(thread, control, TimedOut)
            raise DeadlineExceeded()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _join(thread: threading.Thread, deadline: float | None) -> None:
    # Short waits keep the main thread responsive to Ctrl-C whatever the platform's lock semantics.
    while thread.is_alive():
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return
        thread.join(0.2 if remaining is None else min(0.2, remaining))


def _stop(thread: threading.Thread, control: RunControl, reason: type[Stopped]) -> None:
    give_up = time.monotonic() + STOP_GRACE_SECONDS
    while thread.is_alive() and time.monotonic() < give_up:
        control.stop(reason)
        thread.join(0.1)


def _set_async_exc(thread_id: int, exc_type: type[BaseException] | None) -> None:
    """Raise `exc_type` in the thread at its next bytecode; None (passed as NULL) clears a pending one."""
    exc = None if exc_type is None else ctypes.py_object(exc_type)
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), exc)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Point stdout (Python's and file descriptor 1) at stderr for the duration."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved_fd: int | None = None
    try:
        saved_fd = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no usable descriptors (e.g. closed): Python-level redirection still holds
        saved_fd = None
    saved_stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        sys.stdout = saved_stdout
        if saved_fd is not None:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)
