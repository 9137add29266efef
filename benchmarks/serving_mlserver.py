"""MLServer side of ``benchmarks/serving.py``: its own virtualenv, its model repository, its request bodies.

MLServer is installed into a separate virtualenv (default ``benchmarks/.venv-mlserver``) because its gRPC and
protobuf pins may conflict with the project's development environment. The same ``model.joblib`` our training
wrote is served by MLServer's scikit-learn runtime.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

MODEL_NAME = "credit-default"


def pins() -> list[str]:
    """MLServer pins plus this environment's exact scikit-learn/numpy/joblib, so both load the same pickle.

    ``uvloop`` is pinned to 0.21.0: MLServer 1.7.1 leaves it unpinned, and with uvloop 0.23 its inference
    workers crash at start (``asyncio.get_event_loop()`` raises "There is no current event loop").
    """
    import joblib
    import sklearn

    return [
        "mlserver==1.7.1",
        "mlserver-sklearn==1.7.1",
        "uvloop==0.21.0",
        f"scikit-learn=={sklearn.__version__}",
        f"numpy=={np.__version__}",
        f"joblib=={joblib.__version__}",
    ]


def ensure_venv(venv: Path) -> Path:
    """Create or reuse the MLServer virtualenv; returns the ``mlserver`` executable."""
    marker = venv / ".benchmark-pins"
    wanted = "\n".join(pins()) + "\n"
    exe = venv / "bin" / "mlserver"
    if exe.exists() and marker.exists() and marker.read_text() == wanted:
        return exe
    print(f"creating MLServer virtualenv in {venv} ({', '.join(pins())})", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *pins()], check=True)
    marker.write_text(wanted)
    return exe


def write_repository(root: Path, model_file: Path, http_port: int, grpc_port: int, workers: int) -> None:
    """Server settings tuned for speed (no access log, no metrics server, no gzip) and one sklearn model."""
    (root / MODEL_NAME).mkdir(parents=True, exist_ok=True)
    (root / MODEL_NAME / "model.joblib").write_bytes(model_file.read_bytes())
    (root / MODEL_NAME / "model-settings.json").write_text(
        json.dumps(
            {
                "name": MODEL_NAME,
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib", "version": "v1"},
            }
        )
    )
    (root / "settings.json").write_text(
        json.dumps(
            {
                "debug": False,
                "host": "127.0.0.1",
                "http_port": http_port,
                "grpc_port": grpc_port,
                "metrics_endpoint": None,
                "gzip_enabled": False,
                "parallel_workers": workers,
                "load_models_at_startup": True,
            }
        )
    )


def infer_path() -> str:
    return f"/v2/models/{MODEL_NAME}/infer"


def ready_path() -> str:
    return f"/v2/models/{MODEL_NAME}/ready"


def request_body(X: np.ndarray) -> bytes:
    """Open Inference Protocol (V2) request asking for ``predict_proba``, the same work our server does."""
    return json.dumps(
        {
            "inputs": [
                {"name": "input-0", "shape": list(X.shape), "datatype": "FP64", "data": X.ravel().tolist()}
            ],
            "outputs": [{"name": "predict_proba"}],
        }
    ).encode()


def scores_from_response(body: bytes) -> np.ndarray:
    output = json.loads(body)["outputs"][0]
    return np.asarray(output["data"], dtype=np.float64).reshape(output["shape"])[:, 1]
