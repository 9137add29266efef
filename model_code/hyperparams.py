"""Training hyperparameters: the one declared contract of the training entry point, and its parser.

:data:`ALGORITHMS` declares, per algorithm, every hyperparameter ``train`` accepts: its name (scikit-learn's
own name for it), type, range, default and meaning. That single table drives :func:`parse` (what the
training job accepts), :func:`model_code.train.build_estimator` (what each name means) and the published
JSON Schema ``model_code/contract/hyperparameters.schema.json`` (``python -m model_code.contract``), so the
platform can check a stack's hyperparameters without importing this package and cannot drift from it.

The algorithm is itself a hyperparameter, ``algorithm`` (``linear`` by default, or ``gbt``). SageMaker passes
every value as a *string* in ``/opt/ml/input/config/hyperparameters.json``; local runs may pass typed JSON.
Strings are parsed strictly (:data:`STRING_ENCODING`): ASCII decimal numbers only, so ``1_0``, full-width
digits, ``nan`` or ``inf`` fail the job at once with the name and the allowed values instead of training a
silently different model.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_code.errors import UsageError
from model_code.plainnum import DECIMAL

ALGORITHM_KEY = "algorithm"
DEFAULT_ALGORITHM = "linear"
IGNORED_PREFIXES = ("sagemaker_", "_")
"""Keys SageMaker adds itself (``sagemaker_region``, ``_tuning_objective_metric``): accepted and ignored."""

STRING_ENCODING = (
    "SageMaker passes hyperparameters as strings; a string value is read as: integer - ASCII digits with an "
    "optional sign and an optional all-zero fraction ('300', '300.0'); number - an ASCII decimal number with "
    "an optional exponent ('0.1', '1e-3'; no '_', no non-ASCII digits, no nan/inf); boolean - 'true' or "
    "'false' in any letter case; string - the exact text. Typed JSON values (as a stack file holds them) "
    "must match the schema's types; a boolean is never a number."
)

_INT_TEXT = re.compile(r"[+-]?[0-9]+(?:\.0*)?")


@dataclass(frozen=True)
class Param:
    """One declared hyperparameter. ``default=None`` means "absent: scikit-learn's ``None``" (no limit)."""

    name: str
    kind: str  # "integer" | "number" | "boolean" | "string"
    description: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple[str, ...] = ()

    def allowed(self) -> str:
        """Human text of the allowed values, for error messages."""
        if self.choices:
            return f"one of {', '.join(self.choices)}"
        if self.kind == "boolean":
            return "true or false"
        noun = "an integer" if self.kind == "integer" else "a number"
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"{'<' if self.exclusive_maximum else '<='} {self.maximum:g}")
        return f"{noun} {' and '.join(bounds)}" if bounds else noun

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema (2020-12) of the typed value."""
        schema: dict[str, Any] = {"description": self.description}
        if self.choices:
            schema.update(type="string", enum=list(self.choices))
        else:
            schema["type"] = self.kind
        if self.minimum is not None:
            schema["exclusiveMinimum" if self.exclusive_minimum else "minimum"] = self.minimum
        if self.maximum is not None:
            schema["exclusiveMaximum" if self.exclusive_maximum else "maximum"] = self.maximum
        if self.default is not None:
            schema["default"] = self.default
        return schema

    def parse(self, raw: Any) -> Any:
        """Typed value of ``raw`` (a typed JSON value or SageMaker's string), or :class:`UsageError`."""
        def bad() -> UsageError:
            return UsageError(f"hyperparameter '{self.name}' must be {self.allowed()}, got {raw!r}")

        if self.kind == "string":
            if not isinstance(raw, str) or raw not in self.choices:
                raise bad()
            return raw
        if self.kind == "boolean":
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in ("true", "false"):
                return raw.lower() == "true"
            raise bad()
        if isinstance(raw, bool):
            raise bad()
        value: float
        if isinstance(raw, str):
            pattern = _INT_TEXT if self.kind == "integer" else DECIMAL
            if not pattern.fullmatch(raw):
                raise bad()
            value = float(raw)
        elif isinstance(raw, int | float):
            try:
                value = float(raw)
            except OverflowError:  # an integer beyond float range
                raise bad() from None
        else:
            raise bad()
        if not math.isfinite(value) or (self.kind == "integer" and not value.is_integer()):
            raise bad()
        if self.minimum is not None and (
            value < self.minimum or (self.exclusive_minimum and value == self.minimum)
        ):
            raise bad()
        if self.maximum is not None and (
            value > self.maximum or (self.exclusive_maximum and value == self.maximum)
        ):
            raise bad()
        return int(value) if self.kind == "integer" else value


CLASS_WEIGHT = Param(
    "class_weight",
    "string",
    "Class weights: 'balanced' weighs classes inversely to their frequency; 'none' weighs rows equally.",
    default="none",
    choices=("none", "balanced"),
)
COMMON: tuple[Param, ...] = (
    Param(
        "decision_threshold",
        "number",
        "Score at or above which the predicted label is 1 (used by metrics, the gate and the server).",
        default=0.5,
        minimum=0.0,
        maximum=1.0,
        exclusive_minimum=True,
        exclusive_maximum=True,
    ),
    Param("seed", "integer", "The estimator's random_state.", default=0, minimum=0, maximum=2**32 - 1),
)

ALGORITHMS: dict[str, tuple[str, tuple[Param, ...]]] = {
    "linear": (
        "Standardised features, then scikit-learn LogisticRegression (L2, lbfgs).",
        (
            Param(
                "C",
                "number",
                "Inverse of L2 regularisation strength (LogisticRegression C).",
                default=1.0,
                minimum=0.0,
                maximum=1e6,
                exclusive_minimum=True,
            ),
            Param("max_iter", "integer", "lbfgs iterations at most.", default=500, minimum=1, maximum=100_000),
            CLASS_WEIGHT,
            *COMMON,
        ),
    ),
    "gbt": (
        "Gradient-boosted trees: scikit-learn HistGradientBoostingClassifier (names as in scikit-learn).",
        (
            Param(
                "learning_rate",
                "number",
                "Shrinkage of each tree's contribution.",
                default=0.1,
                minimum=0.0,
                maximum=1.0,
                exclusive_minimum=True,
            ),
            Param("max_iter", "integer", "Boosting iterations (trees).", default=100, minimum=1, maximum=10_000),
            Param("max_leaf_nodes", "integer", "Leaves per tree at most.", default=31, minimum=2, maximum=4096),
            Param("max_depth", "integer", "Depth of each tree at most; absent means no limit.", minimum=1, maximum=64),
            Param("min_samples_leaf", "integer", "Rows per leaf at least.", default=20, minimum=1, maximum=100_000),
            Param(
                "l2_regularization",
                "number",
                "L2 regularisation of the leaf values.",
                default=0.0,
                minimum=0.0,
                maximum=1e6,
            ),
            Param("max_bins", "integer", "Histogram bins per feature.", default=255, minimum=2, maximum=255),
            Param(
                "early_stopping",
                "boolean",
                "Stop when a held-out 10 % of the train channel stops improving.",
                default=False,
            ),
            CLASS_WEIGHT,
            *COMMON,
        ),
    ),
}


def params_of(algorithm: str) -> dict[str, Param]:
    return {p.name: p for p in ALGORITHMS[algorithm][1]}


class Hyperparameters:
    """Validated hyperparameters of one algorithm, every declared parameter present (defaults filled in).

    ``Hyperparameters(algorithm="gbt", max_iter=50)`` validates like the training job does.
    """

    __slots__ = ("algorithm", "_values")

    def __init__(self, algorithm: str = DEFAULT_ALGORITHM, **values: Any) -> None:
        parsed = parse({ALGORITHM_KEY: algorithm, **values})
        self.algorithm: str = parsed.algorithm
        self._values: dict[str, Any] = parsed._values

    @classmethod
    def _make(cls, algorithm: str, values: dict[str, Any]) -> Hyperparameters:
        obj = cls.__new__(cls)
        obj.algorithm = algorithm
        obj._values = values
        return obj

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    @property
    def decision_threshold(self) -> float:
        return float(self._values["decision_threshold"])

    @property
    def seed(self) -> int:
        return int(self._values["seed"])

    def as_dict(self) -> dict[str, Any]:
        return {ALGORITHM_KEY: self.algorithm, **self._values}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hyperparameters) and other.as_dict() == self.as_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.as_dict(), sort_keys=True))

    def __repr__(self) -> str:
        return f"Hyperparameters({self.as_dict()!r})"


def parse(raw: Mapping[str, Any]) -> Hyperparameters:
    """Validate a mapping of hyperparameters against the declared contract of its ``algorithm``.

    Keys starting with ``sagemaker_`` or ``_`` (SageMaker's own) are ignored; any other unknown key is an
    error that names the algorithm and lists what it allows.
    """
    algorithms = tuple(ALGORITHMS)
    algorithm = raw.get(ALGORITHM_KEY, DEFAULT_ALGORITHM)
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise UsageError(f"hyperparameter '{ALGORITHM_KEY}' must be one of {', '.join(algorithms)}, got {algorithm!r}")
    declared = params_of(algorithm)
    values = {name: p.default for name, p in declared.items()}
    for key, value in raw.items():
        if key == ALGORITHM_KEY or key.startswith(IGNORED_PREFIXES):
            continue
        if key not in declared:
            raise UsageError(
                f"unknown hyperparameter '{key}' for algorithm '{algorithm}'; allowed: "
                f"{', '.join((ALGORITHM_KEY, *declared))}"
            )
        values[key] = declared[key].parse(value)
    return Hyperparameters._make(algorithm, values)


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
        except UnicodeDecodeError:
            raise UsageError(f"hyperparameters: {source} is not UTF-8 text") from None
        except OSError as exc:
            raise UsageError(f"hyperparameters: cannot read {source} ({exc.strerror})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"hyperparameters: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise UsageError("hyperparameters: JSON is nested too deeply") from None
    if not isinstance(obj, dict):
        raise UsageError(f"hyperparameters: expected a JSON object, got {type(obj).__name__}")
    return obj
