"""A small HTTP/1.1 server on asyncio's low-level ``Protocol`` API, for one worker process.

Why hand-written: the work per request is a ~170 µs ``predict_proba`` call, so a framework's per-request
overhead (ASGI scopes, routing, pydantic models, a separate inference process) is most of the latency. This
loop parses the request line and headers, frames the body (``Content-Length`` or chunked), calls the
transport-independent :class:`~model_code.inference.InferenceApp` synchronously and writes one response. It
supports keep-alive, pipelining, ``Expect: 100-continue``, idle and slow-request timeouts, write back-pressure
and a graceful drain on SIGTERM. It is not a general web server: no TLS, no HTTP/2 (the platform's load
balancer or SageMaker's front end terminates those).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from model_code.inference import InferenceApp, Response, error

MAX_HEAD_BYTES = 64 * 1024
LINGER_SECONDS = 2.0

REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@dataclass
class Limits:
    max_body_bytes: int
    keepalive_timeout: float = 75.0  # idle keep-alive connections are closed after this
    request_timeout: float = 60.0  # a request must arrive completely within this once it has started


@dataclass
class WorkerState:
    """Connections of one worker, so the sweeper and the drain can reach them."""

    limits: Limits
    connections: set[HttpConnection] = field(default_factory=set)
    draining: bool = False
    all_closed: asyncio.Event = field(default_factory=asyncio.Event)
    setting_up: int = 0  # connections received from the master whose transport is not ready yet
    channel_open: bool = True  # the master may still hand over connections

    def check_drained(self) -> None:
        """Set ``all_closed`` once draining, the master has closed the channel, and no connection is left."""
        if self.draining and not self.channel_open and not self.connections and not self.setting_up:
            self.all_closed.set()


class _Request:
    __slots__ = (
        "method",
        "target",
        "headers",
        "keep_alive",
        "length",
        "chunked",
        "body",
        "chunk_left",
        "chunk_state",
        "head_only",
        "http10",
    )

    def __init__(
        self, method: str, target: str, headers: dict[str, str], keep_alive: bool, http10: bool
    ) -> None:
        self.method = method
        self.http10 = http10
        self.target = target
        self.headers = headers
        self.keep_alive = keep_alive
        self.head_only = method == "HEAD"
        self.length = 0
        self.chunked = False
        self.body = bytearray()
        self.chunk_left = 0
        self.chunk_state = "size"  # size -> data -> data_crlf -> size ... -> trailer


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _parse_head(head: bytes) -> _Request:
    """Parse the request line and headers (``head`` excludes the blank line)."""
    lines = head.split(b"\n")
    try:
        request_line = lines[0].rstrip(b"\r").decode("ascii")
    except UnicodeDecodeError:
        raise _BadRequest(400, "request line is not ASCII") from None
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise _BadRequest(400, f"malformed request line {request_line[:100]!r}")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise _BadRequest(400, f"unsupported protocol {version[:20]!r}; use HTTP/1.1")
    headers: dict[str, str] = {}
    for raw in lines[1:]:
        name, sep, value = raw.rstrip(b"\r").partition(b":")
        if not sep or not name or name.strip() != name:
            raise _BadRequest(400, f"malformed header line {raw[:100]!r}")
        key = name.decode("latin-1").lower()
        text = value.strip().decode("latin-1")
        if key in headers:
            if key in ("content-length", "transfer-encoding", "content-type") and headers[key] != text:
                raise _BadRequest(400, f"conflicting duplicate {key} headers")
            if key not in ("content-length", "content-type"):
                headers[key] = f"{headers[key]}, {text}"
            continue
        headers[key] = text
    connection = headers.get("connection", "").lower()
    # HTTP/1.1 connections persist unless closed; HTTP/1.0 ones only if the client asks.
    keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    req = _Request(method, target, headers, keep_alive, version == "HTTP/1.0")
    te = headers.get("transfer-encoding")
    cl = headers.get("content-length")
    if te is not None:
        if cl is not None:
            raise _BadRequest(400, "both Transfer-Encoding and Content-Length are set; send only one")
        if te.lower() != "chunked":
            raise _BadRequest(400, f"unsupported Transfer-Encoding {te!r}; use Content-Length or chunked")
        req.chunked = True
    elif cl is not None:
        if not cl.isdigit():
            raise _BadRequest(400, f"invalid Content-Length {cl!r}")
        req.length = int(cl)
    return req


def _response_bytes(resp: Response, keep_alive: bool, head_only: bool = False, http10: bool = False) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in resp.extra_headers)
    # HTTP/1.0 keep-alive must be confirmed; HTTP/1.1 keep-alive is the default.
    conn = ("Connection: keep-alive\r\n" if http10 else "") if keep_alive else "Connection: close\r\n"
    head = (
        f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Unknown')}\r\n"
        f"Content-Type: {resp.content_type}\r\nContent-Length: {len(resp.body)}\r\n{extra}{conn}\r\n"
    ).encode("latin-1")
    return head if head_only else head + resp.body


class HttpConnection(asyncio.Protocol):
    """One client connection: buffers bytes, frames requests, answers them in order."""

    def __init__(self, app: InferenceApp, state: WorkerState) -> None:
        self.app = app
        self.state = state
        self.limits = state.limits
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.req: _Request | None = None
        self.last_activity = time.monotonic()
        self.request_started = 0.0
        self.closing = False
        self.paused = False

    # ---------------------------------------------------------------- asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # always a socket transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=4 * 1024 * 1024)
        self.state.connections.add(self)
        if self.state.draining and not self.has_pending_input():
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.state.connections.discard(self)
        self.state.check_drained()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.last_activity = time.monotonic()
        if not self.buf and self.req is None:
            self.request_started = self.last_activity
        self.buf += data
        self._process()

    def pause_writing(self) -> None:
        """The client is not reading its responses: stop reading its requests until it catches up."""
        self.paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()
            self._process()

    # ---------------------------------------------------------------- framing
    def _process(self) -> None:
        buf = self.buf
        while not self.closing and not self.paused:
            req = self.req
            if req is None:
                while buf[:2] == b"\r\n":  # tolerate stray CRLFs between pipelined requests
                    del buf[:2]
                end = buf.find(b"\r\n\r\n")
                sep = 4
                if end < 0:
                    end = buf.find(b"\n\n")
                    sep = 2
                if end < 0:
                    if len(buf) > MAX_HEAD_BYTES:
                        self._fail(431, f"request line and headers exceed {MAX_HEAD_BYTES} bytes")
                    return
                if end > MAX_HEAD_BYTES:
                    self._fail(431, f"request line and headers exceed {MAX_HEAD_BYTES} bytes")
                    return
                head = bytes(buf[:end])
                del buf[: end + sep]
                try:
                    req = _parse_head(head)
                except _BadRequest as exc:
                    self._fail(exc.status, exc.message)
                    return
                if req.length > self.limits.max_body_bytes:
                    self._fail(
                        413,
                        f"request body is {req.length} bytes, the limit is "
                        f"{self.limits.max_body_bytes} bytes (SAGEMAKER_MAX_PAYLOAD_IN_MB)",
                    )
                    return
                self.req = req
                expects_continue = "100-continue" in req.headers.get("expect", "").lower()
                if (
                    expects_continue
                    and (req.length or req.chunked)
                    and not buf
                    and self.transport is not None
                ):
                    self.transport.write(_CONTINUE)
            if req.chunked:
                try:
                    if not self._read_chunked(req):
                        return
                except _BadRequest as exc:
                    self._fail(exc.status, exc.message)
                    return
                body = bytes(req.body)
            else:
                if len(buf) < req.length:
                    return
                body = bytes(buf[: req.length])
                del buf[: req.length]
            self.req = None
            self._respond(req, body)
            if buf:
                self.request_started = time.monotonic()

    def _read_chunked(self, req: _Request) -> bool:
        """Consume chunked body bytes from the buffer; ``True`` once the whole body (and trailer) is in."""
        buf = self.buf
        limit = self.limits.max_body_bytes
        while True:
            if req.chunk_state == "size":
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > 1024:
                        raise _BadRequest(400, "malformed chunk size line")
                    return False
                size_text = bytes(buf[:end]).split(b";", 1)[0].strip()
                del buf[: end + 2]
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise _BadRequest(400, f"malformed chunk size {size_text[:20]!r}") from None
                if size < 0:
                    raise _BadRequest(400, "negative chunk size")
                if size == 0:
                    req.chunk_state = "trailer"
                    continue
                if len(req.body) + size > limit:
                    raise _BadRequest(
                        413,
                        f"chunked request body exceeds the limit of {limit} bytes "
                        "(SAGEMAKER_MAX_PAYLOAD_IN_MB)",
                    )
                req.chunk_left = size
                req.chunk_state = "data"
            elif req.chunk_state == "data":
                if not buf:
                    return False
                take = min(req.chunk_left, len(buf))
                req.body += buf[:take]
                del buf[:take]
                req.chunk_left -= take
                if req.chunk_left:
                    return False
                req.chunk_state = "data_crlf"
            elif req.chunk_state == "data_crlf":
                if len(buf) < 2:
                    return False
                if buf[:2] != b"\r\n":
                    raise _BadRequest(400, "chunk data is not followed by CRLF")
                del buf[:2]
                req.chunk_state = "size"
            else:  # trailer: header lines until an empty line
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD_BYTES:
                        raise _BadRequest(431, "chunked trailer too large")
                    return False
                del buf[: end + 2]
                if end == 0:
                    return True

    # ---------------------------------------------------------------- responses
    def _respond(self, req: _Request, body: bytes) -> None:
        try:
            resp = self.app.handle(req.method, req.target, req.headers, body)
        except Exception:  # the app promises not to raise; if it does anyway, answer instead of dropping
            traceback.print_exc(file=sys.stderr)
            resp = error(500, "internal server error; see the server log")
        keep_alive = req.keep_alive and not self.state.draining
        out = _response_bytes(resp, keep_alive, req.head_only, req.http10)
        assert self.transport is not None
        self.transport.write(out)
        self.last_activity = time.monotonic()
        if not keep_alive:
            self.close()

    def _fail(self, status: int, message: str) -> None:
        """Answer a request we could not frame, then close: the rest of the stream cannot be trusted.

        The close lingers: we send FIN and discard what the client is still sending (e.g. the rest of a body
        we refused with 413) for up to ``LINGER_SECONDS``. Closing with unread input would make the kernel
        send RST, and the client would see "connection reset" instead of our response.
        """
        transport = self.transport
        if transport is None or transport.is_closing():
            self.close()
            return
        transport.write(_response_bytes(error(status, message), keep_alive=False))
        self.closing = True
        self.buf.clear()
        if not transport.can_write_eof():
            self.close()
            return
        transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_SECONDS, self.close)

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    @property
    def idle(self) -> bool:
        return self.req is None and not self.buf

    def has_pending_input(self) -> bool:
        """Whether request bytes wait in the kernel that the loop has not read yet (checked only while
        draining, so a request that already arrived is answered instead of reset)."""
        sock = self.transport.get_extra_info("socket") if self.transport is not None else None
        if sock is None:
            return False
        try:
            with socket.socket(fileno=os.dup(sock.fileno())) as dup:
                return bool(dup.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except OSError:  # BlockingIOError: nothing there; anything else: the connection is gone
            return False


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
                conn._fail(408, f"request not received completely within {state.limits.request_timeout:g} s")


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
