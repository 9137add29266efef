"""Closed-loop HTTP/1.1 load generator used for every server in ``benchmarks/serving.py``.

``concurrency`` keep-alive connections each send a pre-built request, wait for the complete response, record
its latency and send the next one. The loop is bounded by both a duration and a request count, talks only to
the loopback address it is given, and validates every response's status. One generator, identical for every
server, so the servers are compared under the same client cost.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ns: list[int] = field(default_factory=list)
    first_error: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        if not self.latencies_ns:
            return float("nan")
        return float(np.percentile(np.asarray(self.latencies_ns, dtype=np.float64), q)) / 1e6


def build_request(host: str, port: int, path: str, body: bytes, content_type: str, accept: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
        f"Accept: {accept}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1") + body


class _Client(asyncio.Protocol):
    def __init__(self, request: bytes, run: _Run) -> None:
        self.request = request
        self.run = run
        self.buf = bytearray()
        self.sent_at = 0
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.sent_at = time.perf_counter_ns()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        marker = head.find(b"content-length:")
        if marker < 0:
            self.run.fail("response without Content-Length")
            self._stop()
            return
        line_end = head.find(b"\r\n", marker)
        length = int(head[marker + 15 : line_end if line_end >= 0 else len(head)])
        if len(self.buf) < end + 4 + length:
            return
        now = time.perf_counter_ns()
        status = int(head[9:12])
        body = bytes(self.buf[end + 4 : end + 4 + length])
        del self.buf[: end + 4 + length]
        self.run.record(now - self.sent_at, status, body)
        if self.run.more():
            self._send()
        else:
            self._stop()

    def _stop(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class _Run:
    def __init__(self, duration: float, max_requests: int, measuring: bool) -> None:
        self.deadline = time.perf_counter() + duration
        self.max_requests = max_requests
        self.result = LoadResult()
        self.measuring = measuring
        self.sent = 0

    def more(self) -> bool:
        if self.sent >= self.max_requests or time.perf_counter() >= self.deadline:
            return False
        self.sent += 1
        return True

    def record(self, latency_ns: int, status: int, body: bytes) -> None:
        self.result.requests += 1
        if status != 200:
            self.fail(f"HTTP {status}: {body[:200]!r}")
        if self.measuring:
            self.result.latencies_ns.append(latency_ns)

    def fail(self, message: str) -> None:
        self.result.errors += 1
        if not self.result.first_error:
            self.result.first_error = message


async def _phase(
    host: str,
    port: int,
    request: bytes,
    concurrency: int,
    duration: float,
    max_requests: int,
    measuring: bool,
) -> LoadResult:
    loop = asyncio.get_running_loop()
    run = _Run(duration, max_requests, measuring)
    run.sent = concurrency  # each connection's first request
    started = time.perf_counter()
    clients = []
    for _ in range(concurrency):
        _, proto = await loop.create_connection(lambda: _Client(request, run), host, port)
        clients.append(proto)
    try:  # a server that stops answering must not hang the benchmark
        await asyncio.wait_for(asyncio.gather(*(c.closed for c in clients)), duration + 30)
    except TimeoutError:
        run.fail("timed out waiting for responses")
        for c in clients:
            c._stop()
    run.result.seconds = time.perf_counter() - started
    return run.result


def run_load(
    host: str, port: int, request: bytes, concurrency: int, duration: float, warmup: float, max_requests: int
) -> LoadResult:
    """Warm up for ``warmup`` seconds (discarded), then measure for ``duration`` s or ``max_requests``."""
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"refusing to load-test non-loopback address {host}")
    if warmup > 0:
        asyncio.run(_phase(host, port, request, concurrency, warmup, max_requests, measuring=False))
    return asyncio.run(_phase(host, port, request, concurrency, duration, max_requests, measuring=True))
