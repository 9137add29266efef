"""Training hyperparameters: parsing and validation.

SageMaker passes every hyperparameter as a *string* in ``/opt/ml/input/config/hyperparameters.json``; local
runs may pass real JSON numbers. Both are coerced and validated here so a typo fails the job at once with the
offending name and the allowed values, instead of training a silently different model.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from model_code.errors import UsageError

CLASS_WEIGHTS = ("none", "balanced")


@dataclass(frozen=True)
class Hyperparameters:
    """Logistic-regression settings. ``seed`` is the estimator's ``random_state`` (lbfgs is deterministic)."""

    C: float = 1.0
    max_iter: int = 500
    class_weight: str = "none"
    decision_threshold: float = 0.5
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _to_float(name: str, raw: Any) -> float:
    if isinstance(raw, bool):
        raise UsageError(f"hyperparameter '{name}' must be a number, got {raw!r}")
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise UsageError(f"hyperparameter '{name}' must be a number, got {raw!r}") from None


def _to_int(name: str, raw: Any) -> int:
    value = _to_float(name, raw)
    if not value.is_integer():
        raise UsageError(f"hyperparameter '{name}' must be an integer, got {raw!r}")
    return int(value)


def _check(name: str, ok: bool, allowed: str, raw: Any) -> None:
    if not ok:
        raise UsageError(f"hyperparameter '{name}' must be {allowed}, got {raw!r}")


def _parse_C(raw: Any) -> float:
    value = _to_float("C", raw)
    _check("C", value > 0 and value < float("inf"), "a positive number", raw)
    return value


def _parse_max_iter(raw: Any) -> int:
    value = _to_int("max_iter", raw)
    _check("max_iter", 1 <= value <= 100_000, "an integer from 1 to 100000", raw)
    return value


def _parse_class_weight(raw: Any) -> str:
    value = str(raw).strip().lower()
    _check("class_weight", value in CLASS_WEIGHTS, f"one of {', '.join(CLASS_WEIGHTS)}", raw)
    return value


def _parse_threshold(raw: Any) -> float:
    value = _to_float("decision_threshold", raw)
    _check("decision_threshold", 0.0 < value < 1.0, "a number strictly between 0 and 1", raw)
    return value


def _parse_seed(raw: Any) -> int:
    value = _to_int("seed", raw)
    _check("seed", 0 <= value < 2**32, "an integer from 0 to 2**32-1", raw)
    return value


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "C": _parse_C,
    "max_iter": _parse_max_iter,
    "class_weight": _parse_class_weight,
    "decision_threshold": _parse_threshold,
    "seed": _parse_seed,
}
assert set(_PARSERS) == {f.name for f in fields(Hyperparameters)}


def parse(raw: Mapping[str, Any]) -> Hyperparameters:
    """Validate a mapping of hyperparameters. Keys starting with ``sagemaker_`` or ``_`` (added by SageMaker,
    e.g. ``_tuning_objective_metric`` during tuning) are ignored; any other unknown key is an error."""
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key.startswith(("sagemaker_", "_")):
            continue
        if key not in _PARSERS:
            raise UsageError(f"unknown hyperparameter '{key}'; allowed: {', '.join(_PARSERS)}")
        values[key] = _PARSERS[key](value)
    return Hyperparameters(**values)


def load(source: str | None, default_path: Path | None = None) -> dict[str, Any]:
    """Raw hyperparameters from an inline JSON object, a JSON file path, or ``default_path`` if it exists."""
    if source is None:
        if default_path is None or not default_path.is_file():
            return {}
        source = str(default_path)
    text = source
    if not source.lstrip().startswith(("{", "[")):  # inline JSON, else a file path
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"hyperparameters: cannot read {source} ({exc.strerror})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"hyperparameters: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(obj, dict):
        raise UsageError(f"hyperparameters: expected a JSON object, got {type(obj).__name__}")
    return obj
