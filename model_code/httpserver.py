"""A small HTTP/1.1 server on asyncio's low-level ``Protocol`` API, for one worker process.

Why not a framework: the work per request is a ~170 µs ``predict_proba`` call, so a framework's per-request
overhead (ASGI scopes, routing, pydantic models, a separate inference process) is most of the latency. Why not
hand-written framing either: HTTP/1.1 framing is where request smuggling lives, so ``httptools`` (llhttp, the
fuzzed parser of Node.js and uvicorn) frames every request (request line, headers, ``Content-Length`` or
chunked body). This loop applies our limits, calls the transport-independent
:class:`~model_code.inference.InferenceApp` synchronously and writes one response. It
supports keep-alive, pipelining, ``Expect: 100-continue``, idle and slow-request timeouts, write back-pressure
and a graceful drain on SIGTERM. It is not a general web server: no TLS, no HTTP/2 (the platform's load
balancer or SageMaker's front end terminates those).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import time
from collections.abc import Callable

from model_code.httpconnection import HttpConnection, Limits, WorkerState
from model_code.inference import InferenceApp

__all__ = ["Limits", "serve_worker"]


async def _sweep(state: WorkerState) -> None:
    """Close idle keep-alive connections and time out slow requests, once a second."""
    while True:
        await asyncio.sleep(1.0)
        now = time.monotonic()
        for conn in list(state.connections):
            if conn.idle:
                if now - conn.last_activity > state.limits.keepalive_timeout:
                    conn.close()
            elif now - conn.request_started > state.limits.request_timeout:
                conn.fail(408, f"request not received completely within {state.limits.request_timeout:g} s")


class ConnectionReceiver:
    """Receives accepted client sockets from the master over a Unix socket (``SCM_RIGHTS``).

    The master accepts every connection and deals them to the workers in turn. Workers accepting from a
    shared socket themselves spread keep-alive connections unevenly (whichever worker the scheduler runs
    first takes a whole burst), and one busy worker with most connections sets the tail latency. End of
    file on the channel means the master hands over nothing more: it is stopping (or gone), which the worker
    treats like SIGTERM.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        channel: socket.socket,
        state: WorkerState,
        app: InferenceApp,
        on_master_gone: Callable[[], None],
    ) -> None:
        self.loop = loop
        self.channel = channel
        self.state = state
        self.app = app
        self.on_master_gone = on_master_gone
        self.pending: set[asyncio.Task[object]] = set()
        channel.setblocking(False)
        loop.add_reader(channel.fileno(), self._receive)

    def _receive(self) -> None:
        """Take every connection queued on the channel."""
        while True:
            try:
                msg, fds, _, _ = socket.recv_fds(self.channel, 1, 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                msg, fds = b"", []
            if not msg and not fds:
                self.close()
                self.state.channel_open = False
                self.on_master_gone()
                self.state.check_drained()
                return
            for fd in fds:
                conn = socket.socket(fileno=fd)
                conn.setblocking(False)
                task = self.loop.create_task(
                    self.loop.connect_accepted_socket(lambda: HttpConnection(self.app, self.state), conn)
                )
                self.pending.add(task)
                self.state.setting_up += 1
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self.pending.discard(task)
        self.state.setting_up -= 1
        if not task.cancelled():
            task.exception()  # a connection reset before it was set up is not worth a log line
        self.state.check_drained()

    def close(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            self.loop.remove_reader(self.channel.fileno())


def _begin_drain(state: WorkerState) -> None:
    """Stop taking connections, close idle ones now, let in-flight requests finish (their responses close).

    Connections the master still hands over (it accepts its backlog before closing the port) and requests
    already sitting in a socket's buffer count as in flight: they are answered, not reset. Draining ends when
    the master has closed the channel and the last connection is gone.
    """
    if state.draining:
        return
    state.draining = True
    for conn in list(state.connections):
        if conn.idle and not conn.has_pending_input():
            conn.close()
    state.check_drained()


async def serve_worker(
    channel: socket.socket, app: InferenceApp, limits: Limits, grace_seconds: float
) -> None:
    """Serve connections handed over on ``channel`` until SIGTERM/SIGINT (or the master going away), then
    drain for at most ``grace_seconds``."""
    loop = asyncio.get_running_loop()
    state = WorkerState(limits)
    stop = asyncio.Event()

    def on_signal() -> None:
        _begin_drain(state)
        stop.set()

    receiver = ConnectionReceiver(loop, channel, state, app, on_signal)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    # The master forks with these signals blocked; accept them only now that they drain instead of kill.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    sweeper = asyncio.create_task(_sweep(state))
    try:
        await stop.wait()
        try:
            await asyncio.wait_for(state.all_closed.wait(), grace_seconds)
        except TimeoutError:
            for conn in list(state.connections):
                if conn.transport is not None:
                    conn.transport.abort()
    finally:
        sweeper.cancel()
        receiver.close()
