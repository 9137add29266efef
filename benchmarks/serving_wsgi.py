"""Candidate transport measured while choosing the server (``benchmarks/serving.py --candidates``): the same
:class:`~model_code.inference.InferenceApp` behind gunicorn as a plain WSGI app. Not used in production; kept
so the choice of the hand-written asyncio server can be re-measured."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from model_code import artifact
from model_code.httpconnection import REASONS
from model_code.inference import InferenceApp

_app = InferenceApp(artifact.load(os.environ["BENCH_MODEL_DIR"]), 6 * 1024 * 1024)


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    headers = {"content-type": environ.get("CONTENT_TYPE", ""), "accept": environ.get("HTTP_ACCEPT", "")}
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    resp = _app.handle(environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/"), headers, body)
    start_response(
        f"{resp.status} {REASONS.get(resp.status, 'Unknown')}",
        [("Content-Type", resp.content_type), ("Content-Length", str(len(resp.body)))],
    )
    return [resp.body]
