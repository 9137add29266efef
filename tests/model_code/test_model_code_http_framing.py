"""HTTP/1.1 framing by llhttp (httptools): every hostile framing gets a 4xx with a reason and a closed
connection, never a traceback, a dead worker or a request smuggled past the parser.

Each case is sent on its own connection to the session server (1 MiB payload limit). The survival test sends
the whole list again to a server of its own, so it proves what it claims whatever else ran before it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time

import pytest

ROW = b"66,108.6,0.067,0.411,0,33.1,9,0"
POST = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"


def chunked(size_line: bytes, data: bytes = b"a" * 22) -> bytes:
    return POST + b"Transfer-Encoding: chunked\r\n\r\n" + size_line + b"\r\n" + data + b"\r\n0\r\n\r\n"


def with_length(value: bytes, body: bytes = ROW) -> bytes:
    return POST + b"Content-Length: " + value + b"\r\n\r\n" + body


# (id, raw request, status, phrase in the error message)
HOSTILE: list[tuple[str, bytes, int, str]] = [
    # Content-Length that is not plain ASCII digits, or too long to be a number
    ("cl-arabic-indic-digits", with_length("\u0663\u0661".encode()), 400, "Invalid character in Content-Length"),
    ("cl-full-width-digits", with_length("\uff13\uff11".encode()), 400, "Invalid character in Content-Length"),
    ("cl-superscript-digit", with_length("\u00b3".encode()), 400, "Invalid character in Content-Length"),
    ("cl-5000-digits", with_length(b"1" * 5000), 400, "Content-Length overflow"),
    ("cl-underscore", with_length(b"3_1"), 400, "Invalid character in Content-Length"),
    ("cl-hex", with_length(b"0x1f"), 400, "Invalid character in Content-Length"),
    ("cl-plus-sign", with_length(b"+31"), 400, "Invalid character in Content-Length"),
    ("cl-negative", with_length(b"-1"), 400, "Invalid character in Content-Length"),
    ("cl-decimal-point", with_length(b"31.0"), 400, "Invalid character in Content-Length"),
    ("cl-two-numbers", with_length(b"31 31"), 400, "Invalid character in Content-Length"),
    ("cl-empty", with_length(b""), 400, "Empty Content-Length"),
    ("cl-word", with_length(b"ten"), 400, "Invalid character in Content-Length"),
    ("cl-duplicate-different", POST + b"Content-Length: 31\r\nContent-Length: 30\r\n\r\n" + ROW, 400, "Duplicate"),
    ("cl-duplicate-same", POST + b"Content-Length: 31\r\nContent-Length: 31\r\n\r\n" + ROW, 400, "Duplicate"),
    ("cl-above-limit", with_length(b"50000000", b""), 413, "the limit is 1048576 bytes"),
    # chunk sizes that only a lenient parser reads as a number
    ("chunk-0x-prefix", chunked(b"0x16"), 400, "Invalid character in chunk size"),
    ("chunk-plus-sign", chunked(b"+16"), 400, "Invalid character in chunk size"),
    ("chunk-underscore", chunked(b"1_6"), 400, "Invalid character in chunk size"),
    ("chunk-negative", chunked(b"-16"), 400, "Invalid character in chunk size"),
    ("chunk-leading-space", chunked(b" 16"), 400, "Invalid character in chunk size"),
    ("chunk-trailing-space", chunked(b"16 "), 400, "Invalid character in chunk size"),
    ("chunk-full-width", chunked("\uff11\uff16".encode()), 400, "Invalid character in chunk size"),
    ("chunk-overflow", chunked(b"f" * 40), 400, "Chunk size overflow"),
    ("chunk-data-longer-than-size", chunked(b"2", b"abXY"), 400, "malformed HTTP request"),
    ("chunk-bare-lf", POST + b"Transfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n", 400, "malformed HTTP"),
    ("chunk-above-limit", chunked(b"200000", b"1" * 0x200000), 413, "exceeds the limit of 1048576 bytes"),
    # Transfer-Encoding games
    ("te-and-cl", POST + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "Content-Length"),
    ("te-gzip", POST + b"Transfer-Encoding: gzip\r\n\r\n", 400, "Transfer-Encoding"),
    ("te-identity", POST + b"Transfer-Encoding: identity\r\n\r\n", 400, "Transfer-Encoding"),
    ("te-chunked-twice", POST + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400, "Transfer-Encoding"),
    ("te-two-headers", POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "Transfer"),
    ("te-with-parameter", POST + b"Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", 400, "Transfer-Encoding"),
    # request line and header syntax
    ("invalid-method", b"GARBAGE\r\n\r\n", 400, "Invalid method"),
    ("http-2.0", b"GET /ping HTTP/2.0\r\n\r\n", 400, "unsupported protocol HTTP/2.0"),
    ("http-0.9", b"GET /ping HTTP/0.9\r\n\r\n", 400, "unsupported protocol HTTP/0.9"),
    ("http-1.2", b"GET /ping HTTP/1.2\r\n\r\n", 400, "Invalid HTTP version"),
    ("lower-case-version", b"GET /ping http/1.1\r\n\r\n", 400, "malformed HTTP request"),
    ("space-in-target", b"GET /pi ng HTTP/1.1\r\n\r\n", 400, "malformed HTTP request"),
    ("non-ascii-target", "GET /p\u00efng HTTP/1.1\r\n\r\n".encode(), 400, "Invalid char in url"),
    ("header-without-colon", b"POST /invocations HTTP/1.1\r\nBad Header\r\n\r\n", 400, "Invalid header token"),
    ("space-before-colon", b"GET /ping HTTP/1.1\r\nHost : x\r\n\r\n", 400, "Invalid header token"),
    ("obsolete-line-folding", b"GET /ping HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", 400, "malformed HTTP request"),
    ("nul-in-header-value", b"GET /ping HTTP/1.1\r\nX-A: a\x00b\r\n\r\n", 400, "Invalid header value char"),
    ("bare-lf-line-endings", b"GET /ping HTTP/1.1\nHost: x\n\n", 400, "malformed HTTP request"),
    ("cr-line-endings", b"GET /ping HTTP/1.1\rHost: x\r\r", 400, "malformed HTTP request"),
    ("conflicting-content-types", POST + b"Content-Type: application/json\r\nContent-Length: 31\r\n\r\n" + ROW, 400,
     "conflicting duplicate content-type"),
    ("header-over-64-KiB", b"GET /ping HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431, "exceed 65536 bytes"),
    ("many-headers-over-64-KiB", b"GET /ping HTTP/1.1\r\n" + b"X-A: 0123456789\r\n" * 5000 + b"\r\n", 431, "exceed"),
]


def exchange(port: int, data: bytes, timeout: float = 30) -> bytes:
    """Send ``data`` on a new connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # The server may answer and close before taking everything (e.g. 413): then read the answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return received


def check_refused(response: bytes, status: int, phrase: str) -> None:
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), response[:300]
    assert b"\r\nConnection: close" in head
    assert phrase in json.loads(body)["error"]


@pytest.mark.parametrize(("raw", "status", "phrase"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_framing_gets_4xx_and_close(server, raw: bytes, status: int, phrase: str) -> None:
    check_refused(exchange(server.port, raw), status, phrase)


def test_the_hostile_list_covers_the_reported_families() -> None:
    ids = [c[0] for c in HOSTILE]
    assert sum(i.startswith("cl-") for i in ids) >= 14
    assert sum(i.startswith("chunk-") for i in ids) >= 10
    assert all(400 <= c[2] < 500 for c in HOSTILE)


def test_a_head_trickled_past_64_KiB_is_431(server) -> None:
    """A head that never ends, sent in small pieces, is cut off: llhttp alone would buffer it forever."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nX-Slow: ")
        response = b""
        for _ in range(100):
            try:
                sock.sendall(b"a" * 2048)
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.002)
        while chunk := sock.recv(65536):
            response += chunk
    check_refused(response, 431, "exceed 65536 bytes")


def test_trailer_fields_cannot_override_headers(server) -> None:
    body = ROW + b"\n" + ROW
    raw = (
        POST + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + b"%x\r\n%s\r\n0\r\nContent-Type: application/json\r\n\r\n" % (len(body), body)
    )
    response = exchange(server.port, raw)
    assert response.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Type: text/csv" in response  # answered as the header said, not as the trailer said
    assert len(response.partition(b"\r\n\r\n")[2].splitlines()) == 2


def test_a_smuggled_request_after_a_refused_one_is_never_answered(server) -> None:
    """``0x0`` would end the body for a lenient parser and make the rest a second request."""
    smuggled = b"GET /execution-parameters HTTP/1.1\r\nHost: x\r\n\r\n"
    raw = POST + b"Transfer-Encoding: chunked\r\n\r\n0x0\r\n\r\n" + smuggled
    response = exchange(server.port, raw)
    assert response.count(b"HTTP/1.1 ") == 1
    check_refused(response, 400, "Invalid character in chunk size")


def test_valid_pipelined_requests_before_a_bad_one_are_answered(server) -> None:
    good = POST + b"Content-Length: %d\r\n\r\n%s" % (len(ROW), ROW)
    response = exchange(server.port, good + good + with_length(b"1_0"))
    parts = response.split(b"HTTP/1.1 ")[1:]
    assert [p[:3] for p in parts] == [b"200", b"200", b"400"]


def test_server_survives_every_hostile_request(spawn_server, model_dir) -> None:
    """A server of its own takes the whole hostile list (and the bad payloads), then still answers; no worker
    died or was restarted and nothing was logged as a crash."""
    srv = spawn_server(model_dir, "--workers", "2", SAGEMAKER_MAX_PAYLOAD_IN_MB="1")
    bad_payloads = [
        POST + b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        for body in (b"1,2,3", b"66,abc,0,0,0,0,0,0", b"3_0,1,1,1,1,1,1,1", "\uff13,1,1,1,1,1,1,1".encode(),
                     b"1,1,1e308,-1e308,1,1,1,1", b"\xff\xfe")
    ]
    statuses = []
    for raw in [c[1] for c in HOSTILE] + bad_payloads:
        response = exchange(srv.port, raw)
        statuses.append(int(response.split(b" ", 2)[1]))
    assert [s for s in statuses if not 400 <= s < 500] == [], statuses
    ok = exchange(srv.port, POST + b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(ROW), ROW))
    assert ok.startswith(b"HTTP/1.1 200 OK")
    assert srv.worker_pids() == srv.initial_workers
    log = srv.log_text()
    assert "exited unexpectedly" not in log
    assert "Traceback" not in log
