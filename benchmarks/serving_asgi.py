"""Candidate measured beside our server (``benchmarks/serving.py --uvicorn``): the same
:class:`~model_code.inference.InferenceApp` as a bare ASGI app (no framework) under uvicorn with its httptools
(llhttp) parser. Not used in production; kept so the choice of our asyncio server can be re-measured against
the most common Python ASGI stack with the same HTTP parser.

Each uvicorn worker process imports this module, loads the model and configures itself as our workers do
(one BLAS/OpenMP thread, scikit-learn's finite check skipped because the payload parser already did it).
"""

from __future__ import annotations

import os
from typing import Any

import sklearn
from threadpoolctl import threadpool_limits

from model_code import artifact
from model_code.inference import InferenceApp

threadpool_limits(1)
sklearn.set_config(assume_finite=True)
_app = InferenceApp(artifact.load(os.environ["BENCH_MODEL_DIR"]), 6 * 1024 * 1024)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1")
        if key in ("content-type", "accept"):
            headers[key] = value.decode("latin-1")
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    resp = _app.handle(scope["method"], scope["path"], headers, body)
    await send(
        {
            "type": "http.response.start",
            "status": resp.status,
            "headers": [
                (b"content-type", resp.content_type.encode()),
                (b"content-length", str(len(resp.body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": resp.body})
