"""The SageMaker inference contract as a plain function of (method, path, headers, body).

Keeping the contract independent of the HTTP transport makes it testable without sockets and lets the
transport stay a thin, fast loop. Every client mistake maps to a 4xx with a JSON ``{"error": ...}`` body
naming the problem; only a failure of our own (the model raising on valid input) answers 500.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from model_code import payload
from model_code.artifact import LoadedModel
from model_code.capture import CaptureWriter
from model_code.payload import CSV, JSON, PayloadError


class Response(NamedTuple):
    status: int
    body: bytes
    content_type: str = JSON
    extra_headers: tuple[tuple[str, str], ...] = ()


def error(status: int, message: str, extra_headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, json.dumps({"error": message}).encode() + b"\n", JSON, extra_headers)


_PING_OK = Response(200, b'{"status":"ok"}\n')
_PING_LOADING = error(503, "model is not loaded yet")


def negotiate(accept: str | None, default: str) -> str | None:
    """Pick the response media type from an ``Accept`` header (q-values honoured); ``None`` means 406.

    A missing or wildcard ``Accept`` answers in the request's own format, which is what SageMaker clients that
    send only ``ContentType`` expect.
    """
    if not accept:
        return default
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept.split(",")):
        mtype, _, params = part.partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, index, mtype.strip().lower()))
    for _, _, mtype in sorted(ranked):
        if mtype in payload.SUPPORTED:
            return mtype
        if mtype in ("*/*", "*"):
            return default
        if mtype == "text/*":
            return CSV
        if mtype == "application/*":
            return JSON
    return None


class InferenceApp:
    """Routes ``/ping``, ``/invocations`` and ``/execution-parameters`` for one loaded model."""

    def __init__(self, model: LoadedModel | None, max_body_bytes: int, workers: int = 1,
                 capture: CaptureWriter | None = None) -> None:
        self.model = model
        self.capture = capture  # data capture of answered requests, in SageMaker's format (model_code.capture)
        self.max_body_bytes = max_body_bytes
        self.workers = workers
        self._accept_cache: dict[tuple[str | None, str], str | None] = {}
        self._names = model.feature_names if model else ()
        params = {
            "MaxConcurrentTransforms": workers,
            "BatchStrategy": "MULTI_RECORD",
            "MaxPayloadInMB": max(1, max_body_bytes // (1024 * 1024)),
        }
        self._execution_parameters = Response(200, json.dumps(params).encode() + b"\n")

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Answer one request; never raises."""
        path = path.split("?", 1)[0]
        if path == "/invocations":
            if method != "POST":
                return error(405, f"{method} is not allowed on /invocations; use POST", (("Allow", "POST"),))
            return self.invocations(headers, body)
        if path == "/ping":
            if method not in ("GET", "HEAD"):
                return error(405, f"{method} is not allowed on /ping; use GET", (("Allow", "GET, HEAD"),))
            return _PING_OK if self.model is not None else _PING_LOADING
        if path == "/execution-parameters":
            if method not in ("GET", "HEAD"):
                return error(405, f"{method} is not allowed here; use GET", (("Allow", "GET, HEAD"),))
            return self._execution_parameters
        return error(404, f"no route {path!r}; the server answers GET /ping and POST /invocations")

    def _output_type(self, accept: str | None, request_type: str) -> str | None:
        key = (accept, request_type)
        try:
            return self._accept_cache[key]
        except KeyError:
            chosen = negotiate(accept, request_type)
            if len(self._accept_cache) < 256:
                self._accept_cache[key] = chosen
            return chosen

    def invocations(self, headers: Mapping[str, str], body: bytes) -> Response:
        if self.model is None:
            return error(503, "model is not loaded yet")
        raw_type = headers.get("content-type")
        request_type = payload.media_type(raw_type)
        if request_type not in payload.SUPPORTED:
            got = f"{raw_type!r}" if raw_type else "no Content-Type header"
            return error(415, f"unsupported content type: {got}; use text/csv or application/json")
        output_type = self._output_type(headers.get("accept"), request_type)
        if output_type is None:
            return error(
                406, f"cannot answer in Accept {headers.get('accept')!r}; use text/csv or application/json"
            )
        if not body:
            return error(400, f"request body is empty; send one or more rows of {len(self._names)} features")
        if len(body) > self.max_body_bytes:
            return error(413, f"request body is {len(body)} bytes, the limit is {self.max_body_bytes} bytes")
        try:
            X = payload.parse(body, request_type, self._names)
        except PayloadError as exc:
            return error(exc.status, exc.message)
        try:
            with np.errstate(all="ignore"):  # overflow shows as a non-finite score, answered just below
                scores = self.model.scores(X)
            if not np.isfinite(scores).all():
                rows = np.flatnonzero(~np.isfinite(scores))
                shown = ", ".join(str(r + 1) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
                return error(
                    422,
                    f"the model cannot score row(s) {shown}: their values are too large for it (the score is "
                    "not a finite number); send values in the range the model was trained on",
                )
            labels = (scores >= self.model.threshold).astype(np.int64)
            answer = Response(200, payload.format_predictions(labels, scores, output_type), output_type)
            if self.capture is not None:
                self.capture.capture(body, raw_type or request_type, answer.body, output_type)
            return answer
        except Exception:  # valid input broke the model or formatter: our bug, so 500 and a log line
            traceback.print_exc(file=sys.stderr)
            return error(500, "internal error while predicting; see the server log")
