"""A fault-injecting HTTP proxy on loopback, in front of the moto emulator, started by the tests.

The release tool is pointed at the proxy (AWS_ENDPOINT_URL); every request is forwarded to the emulator
unless a rule for its operation says otherwise. A request's operation is its `X-Amz-Target` suffix
(`DescribeModelPackage`), its query `Action`, or for REST APIs `<METHOD> <path>` (`GET /bucket/key`,
`POST /endpoints/x/invocations`); a rule matches when its `operation` occurs in that text.

Faults, as AWS or a network sends them:
* `throttle`: 400 ThrottlingException (JSON protocols) or 503 SlowDown (S3);
* `error500`: 500 InternalFailure;
* `garbage`: 200 with a body that is not what the protocol promises;
* `truncate`: the emulator's real answer, cut in half under its full Content-Length, then the connection closes;
* `hang`: no answer for `hang_s` seconds (longer than the client's read timeout), then the connection closes;
* `drop`: the connection closes without an answer;
* `rewrite`: the emulator's real answer with the regular expression `old` replaced by `new` (a service that
  answers inconsistently, or with a field of the wrong type).
"""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FAULTS = ("throttle", "error500", "garbage", "truncate", "hang", "drop", "rewrite")


@dataclass
class Rule:
    operation: str
    fault: str
    times: int | None = None  # None: every matching request
    old: bytes = b""
    new: bytes = b""
    hang_s: float = 5.0
    used: int = 0


@dataclass
class FaultProxy:
    upstream: str  # http://127.0.0.1:PORT of the emulator
    rules: list[Rule] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fault(self, operation: str, fault: str, *, times: int | None = None, old: str = "", new: str = "",
              hang_s: float = 5.0) -> Rule:
        assert fault in FAULTS, fault
        rule = Rule(operation, fault, times, old.encode(), new.encode(), hang_s)
        self.rules.append(rule)
        return rule

    def count(self, operation: str) -> int:
        return sum(operation in s for s in self.seen)

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                signature = proxy._signature(self.command, self.path, dict(self.headers), body)
                proxy.seen.append(signature)
                rule = proxy._rule(signature)
                if rule is None or rule.fault == "rewrite":
                    status, headers, answer = proxy._forward(self.command, self.path, dict(self.headers), body)
                    if rule is not None:
                        answer = re.sub(rule.old, rule.new, answer)
                    self._send(status, headers, answer)
                    return
                proxy._inject(self, rule, signature, body)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _any

            def _send(self, status: int, headers: list[tuple[str, str]], body: bytes,
                      length: int | None = None) -> None:
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _signature(self, method: str, path: str, headers: dict[str, str], body: bytes) -> str:
        target = next((v for k, v in headers.items() if k.lower() == "x-amz-target"), "")
        if target:
            return f"{target.rsplit('.', 1)[-1]} {method} {path}"
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        return f"{action} {method} {urlsplit(path).path}".strip()

    def _rule(self, signature: str) -> Rule | None:
        for rule in self.rules:
            if rule.operation in signature and (rule.times is None or rule.used < rule.times):
                rule.used += 1
                return rule
        return None

    def _forward(self, method: str, path: str, headers: dict[str, str],
                 body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        parts = urlsplit(self.upstream)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _inject(self, handler: BaseHTTPRequestHandler, rule: Rule, signature: str, body: bytes) -> None:
        rest = signature.split(" ", 1)[0] in ("GET", "HEAD", "PUT", "POST", "DELETE")  # S3, runtime: no target
        send = handler._send  # type: ignore[attr-defined]
        if rule.fault == "throttle":
            if rest:
                send(503, [("Content-Type", "application/xml")],
                     b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")
            else:
                send(400, [("Content-Type", "application/x-amz-json-1.1"),
                           ("x-amzn-ErrorType", "ThrottlingException")],
                     b'{"__type":"ThrottlingException","message":"Rate exceeded"}')
        elif rule.fault == "error500":
            send(500, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", "InternalFailure")],
                 b'{"__type":"InternalFailure","message":"We encountered an internal error."}')
        elif rule.fault == "garbage":
            send(200, [("Content-Type", "application/x-amz-json-1.1")], b"\x00\xff<html>not an AWS answer{")
        elif rule.fault == "truncate":
            status, headers, answer = self._forward(handler.command, handler.path, dict(handler.headers), body)
            send(status, headers, answer[: len(answer) // 2], length=len(answer))
            handler.wfile.flush()
            handler.close_connection = True
            _hard_close(handler)
        elif rule.fault == "hang":
            self._stop.wait(rule.hang_s)
            handler.close_connection = True
            _hard_close(handler)
        elif rule.fault == "drop":
            handler.close_connection = True
            _hard_close(handler)


def _hard_close(handler: BaseHTTPRequestHandler) -> None:
    with contextlib.suppress(OSError):
        handler.connection.shutdown(socket.SHUT_RDWR)
