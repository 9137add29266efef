"""The model artifact: what training writes to the model directory and what the server and evaluation load.

Layout (the same inside SageMaker's ``model.tar.gz``):

* ``model.joblib`` - the fitted scikit-learn pipeline (also loadable by MLServer's scikit-learn runtime);
* ``metadata.json`` - feature names, decision threshold, hyperparameters, metrics and library versions;
* ``baseline.json`` - per-feature training statistics for drift detection.

``joblib`` files are pickles: load only artifacts produced by your own training jobs.
"""

from __future__ import annotations

import contextlib
import json
import tarfile
import tempfile
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from model_code import fsutil
from model_code.errors import UsageError
from model_code.hyperparams import ALGORITHMS

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
BASELINE_FILE = "baseline.json"
TARBALL = "model.tar.gz"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class LoadedModel:
    """A fitted estimator plus what is needed to call it correctly."""

    estimator: Any
    feature_names: tuple[str, ...]
    threshold: float
    metadata: dict[str, Any]

    def scores(self, X: np.ndarray) -> np.ndarray:
        """Positive-class probability for each row of ``X`` (float64, shape ``(n_features,)`` per row)."""
        return self.estimator.predict_proba(X)[:, 1]


def save(model_dir: str | Path, estimator: Any, metadata: dict[str, Any], baseline: dict[str, Any]) -> None:
    """Write the three artifact files atomically; the model file goes last-but-one so ``metadata.json``
    (written last) never describes a model that is not there."""
    model_dir = Path(model_dir)
    fsutil.write_json(model_dir / BASELINE_FILE, baseline)
    fsutil.write_with(model_dir / MODEL_FILE, lambda p: joblib.dump(estimator, p))
    fsutil.write_json(model_dir / METADATA_FILE, {"format_version": FORMAT_VERSION, **metadata})


def read_metadata(model_dir: Path) -> dict[str, Any]:
    """``metadata.json``, checked field by field: everything the server, evaluation and drift rely on."""
    path = model_dir / METADATA_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"model directory {model_dir} has no {METADATA_FILE}") from None
    except (OSError, ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise UsageError(f"cannot read {path}: {exc}") from None
    if not isinstance(meta, dict):
        raise UsageError(f"{path}: expected a JSON object, got {type(meta).__name__}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise UsageError(f"{path}: unsupported format_version {meta.get('format_version')!r}, expected 1")
    names = meta.get("feature_names")
    if (
        not isinstance(names, list)
        or not names
        or not all(isinstance(n, str) and n for n in names)
        or len(set(names)) != len(names)
    ):
        raise UsageError(f"{path}: 'feature_names' must be a non-empty list of distinct feature names")
    threshold = meta.get("threshold")
    if type(threshold) not in (int, float) or not 0.0 < threshold < 1.0:
        raise UsageError(f"{path}: 'threshold' must be a number strictly between 0 and 1, got {threshold!r}")
    algorithm = meta.get("algorithm", "linear")  # artifacts written before 'algorithm' existed are linear
    if algorithm not in ALGORITHMS:
        raise UsageError(f"{path}: 'algorithm' must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    return meta


def load(model_dir: str | Path) -> LoadedModel:
    """Load an extracted model directory, failing with a clear :class:`UsageError` if anything is missing."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise UsageError(f"model directory {model_dir} does not exist")
    meta = read_metadata(model_dir)
    path = model_dir / MODEL_FILE
    if not path.is_file():
        raise UsageError(f"model directory {model_dir} has no {MODEL_FILE}")
    try:
        with warnings.catch_warnings():
            # A version mismatch is reported below with both versions; sklearn's own warning is noisier.
            warnings.simplefilter("ignore")
            estimator = joblib.load(path)
    except Exception as exc:  # any unpickling failure means the same thing to the operator
        raise UsageError(f"cannot load {path}: {type(exc).__name__}: {exc}") from None
    if not hasattr(estimator, "predict_proba"):
        raise UsageError(f"{path} does not contain a classifier with predict_proba")
    fitted = getattr(estimator, "n_features_in_", None)
    if fitted != len(meta["feature_names"]):
        raise UsageError(
            f"{path} was fitted on {fitted} features but {METADATA_FILE} names {len(meta['feature_names'])}; "
            "the model and its metadata do not belong together"
        )
    return LoadedModel(
        estimator=estimator,
        feature_names=tuple(meta["feature_names"]),
        threshold=float(meta["threshold"]),
        metadata=meta,
    )


def version_mismatch(meta: dict[str, Any]) -> str | None:
    """A warning if the running scikit-learn differs from the one that trained the model, else ``None``."""
    import sklearn

    trained = meta.get("versions", {}).get("scikit-learn")
    if trained and trained != sklearn.__version__:
        return f"model was trained with scikit-learn {trained} but {sklearn.__version__} is installed"
    return None


@contextlib.contextmanager
def resolved(path: str | Path) -> Iterator[Path]:
    """Yield an extracted model directory for ``path``: an extracted directory, a directory holding
    ``model.tar.gz`` (what a SageMaker processing input receives) or the tarball itself."""
    path = Path(path)
    tarball: Path | None = None
    if path.is_file():
        tarball = path
    elif path.is_dir() and not (path / MODEL_FILE).is_file() and (path / TARBALL).is_file():
        tarball = path / TARBALL
    if tarball is None:
        if not path.exists():
            raise UsageError(f"model path {path} does not exist")
        if not (path / MODEL_FILE).is_file():
            raise UsageError(f"model directory {path} contains neither {MODEL_FILE} nor {TARBALL}")
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="model-") as tmp:
        try:
            with tarfile.open(tarball, "r:*") as tar:
                tar.extractall(tmp, filter="data")  # 'data' refuses absolute paths, links out, devices
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:  # EOFError: a truncated archive
            raise UsageError(f"cannot extract {tarball}: {type(exc).__name__}: {exc}") from None
        yield Path(tmp)
