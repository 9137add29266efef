"""One HTTP/1.1 client connection on asyncio's ``Protocol`` API: framing, limits, answers, back-pressure.

The worker loop that owns these connections (handing over, sweeping, draining) is :mod:`model_code.httpserver`;
why this server exists at all (and why ``httptools`` frames the requests) is said there.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
import traceback
from collections import deque
from dataclasses import dataclass, field

import httptools

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
    422: "Unprocessable Content",
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
    """One request as the parser frames it; the app sees ``method``, ``target``, ``headers`` and ``body``."""

    __slots__ = (
        "method",
        "url",
        "headers",
        "headers_done",
        "keep_alive",
        "http10",
        "head_only",
        "body",
        "expects_continue",
        "continue_sent",
    )

    def __init__(self) -> None:
        self.method = ""
        self.url = bytearray()
        self.headers: dict[str, str] = {}
        self.headers_done = False
        self.keep_alive = False
        self.http10 = False
        self.head_only = False
        self.body = bytearray()
        self.expects_continue = False
        self.continue_sent = False

    @property
    def target(self) -> str:
        return self.url.decode("latin-1")


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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
    """One client connection: ``httptools`` (llhttp) frames the requests, this class answers them in order.

    llhttp validates the request line, header syntax, ``Content-Length`` (ASCII digits only, no overflow, no
    duplicates), ``Transfer-Encoding`` and chunk sizes (hex digits only: ``0x16``, ``+16``, ``1_6`` are
    errors); anything it refuses is a 400 and the connection is closed, since the rest of the stream cannot be
    trusted. This class adds the limits llhttp leaves to its user: head size (431), body size (413), the
    HTTP version, and conflicting ``Content-Type`` headers.
    """

    def __init__(self, app: InferenceApp, state: WorkerState) -> None:
        self.app = app
        self.state = state
        self.limits = state.limits
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.req: _Request | None = None  # the request being framed
        self.ready: deque[_Request] = deque()  # framed, not yet answered (only while writing is paused)
        self.head_bytes = 0  # bytes of the current request's line and complete headers
        self.head_fed = 0  # bytes fed while the current request's head stayed unfinished
        self.begun_in_feed = False
        self.error: _BadRequest | None = None  # set by a callback that aborts parsing
        self.upgrade = False
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
        if self.closing or self.upgrade:
            return
        self.last_activity = time.monotonic()
        if self.idle:
            self.request_started = self.last_activity
        self.begun_in_feed = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.upgrade = True  # CONNECT or Upgrade: answer what was framed, then close (no protocol switch)
        except httptools.HttpParserError as exc:
            error_ = self.error or _BadRequest(400, f"malformed HTTP request: {exc}")
            self._answer_ready(ignore_pause=True)
            self.fail(error_.status, error_.message)
            return
        req = self.req
        if req is not None and not req.headers_done:
            # llhttp buffers a header it has not finished; bound what a slow or endless head can make it hold.
            # Every byte of this feed belongs to the unfinished head unless the request began in it.
            self.head_fed += 0 if self.begun_in_feed else len(data)
            if self.head_fed > MAX_HEAD_BYTES:
                self._answer_ready(ignore_pause=True)
                self.fail(431, f"request line and headers exceed {MAX_HEAD_BYTES} bytes")
                return
        elif req is not None and req.expects_continue and not req.body and not req.continue_sent:
            req.continue_sent = True
            assert self.transport is not None
            self.transport.write(_CONTINUE)
        self._answer_ready()
        if self.upgrade and not self.closing:
            self.close()

    def pause_writing(self) -> None:
        """The client is not reading its responses: stop reading its requests until it catches up."""
        self.paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()
            self._answer_ready()

    # ---------------------------------------------------------------- parser callbacks (httptools)
    def _abort(self, status: int, message: str) -> None:
        """Stop parsing from inside a callback; :meth:`data_received` answers ``status`` and closes."""
        self.error = _BadRequest(status, message)
        raise self.error

    def _count_head(self, n: int) -> None:
        self.head_bytes += n
        if self.head_bytes > MAX_HEAD_BYTES:
            self._abort(431, f"request line and headers exceed {MAX_HEAD_BYTES} bytes")

    def on_message_begin(self) -> None:
        self.req = _Request()
        self.head_bytes = self.head_fed = 0
        self.begun_in_feed = True

    def on_url(self, url: bytes) -> None:
        assert self.req is not None
        self._count_head(len(url))
        self.req.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        req = self.req
        assert req is not None
        if req.headers_done:  # a chunked body's trailer fields: not used
            return
        self._count_head(len(name) + len(value) + 4)
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1").strip()
        headers = req.headers
        if key in headers:
            if key == "content-type" and headers[key] != text:
                self._abort(400, "conflicting duplicate content-type headers")
            if key != "content-type":
                headers[key] = f"{headers[key]}, {text}"
            return
        headers[key] = text

    def on_headers_complete(self) -> None:
        req = self.req
        assert req is not None
        req.headers_done = True
        version = self.parser.get_http_version()
        if version not in ("1.1", "1.0"):
            self._abort(400, f"unsupported protocol HTTP/{version[:8]}; use HTTP/1.1")
        req.method = self.parser.get_method().decode("ascii")
        req.head_only = req.method == "HEAD"
        req.http10 = version == "1.0"
        req.keep_alive = self.parser.should_keep_alive()
        length = req.headers.get("content-length")  # llhttp has checked it: ASCII digits, no overflow
        if length is not None and int(length) > self.limits.max_body_bytes:
            self._abort(
                413,
                f"request body is {length} bytes, the limit is {self.limits.max_body_bytes} bytes "
                "(SAGEMAKER_MAX_PAYLOAD_IN_MB)",
            )
        has_body = (length is not None and length != "0") or "transfer-encoding" in req.headers
        req.expects_continue = has_body and "100-continue" in req.headers.get("expect", "").lower()

    def on_body(self, body: bytes) -> None:
        req = self.req
        assert req is not None
        if len(req.body) + len(body) > self.limits.max_body_bytes:
            self._abort(
                413,
                f"chunked request body exceeds the limit of {self.limits.max_body_bytes} bytes "
                "(SAGEMAKER_MAX_PAYLOAD_IN_MB)",
            )
        req.body += body

    def on_message_complete(self) -> None:
        assert self.req is not None
        self.ready.append(self.req)
        self.req = None

    # ---------------------------------------------------------------- framing
    def _answer_ready(self, ignore_pause: bool = False) -> None:
        """Answer framed requests in order, unless the client stopped reading (then :meth:`resume_writing`)."""
        while self.ready and not self.closing and (ignore_pause or not self.paused):
            req = self.ready.popleft()
            if self.upgrade and not self.ready:
                req.keep_alive = False
            self._respond(req, bytes(req.body))
        if self.req is not None or self.ready:
            self.request_started = time.monotonic()

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

    def fail(self, status: int, message: str) -> None:
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
        self.ready.clear()
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
        return self.req is None and not self.ready

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
