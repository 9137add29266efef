"""Checks a stack's hyperparameters against the contract the model code publishes, without importing it.

The model code owns what its training entry point accepts and publishes it as a JSON Schema file
(`model_code/contract/hyperparameters.schema.json`, generated from its one definition). The program reads
that file as data: a hyperparameter the entry point would refuse is a config error at `pulumi preview`,
naming `mlops:models.<m>.training.hyperparameters.<key>`, instead of a failed Train step a day later.

The schema selects a closed `$defs/<algorithm>` object by the `algorithm` key (its `x-algorithm-key`, default
`x-default-algorithm`); each parameter is validated on its own so that every problem names its key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from infra.core.paths import PROJECT_ROOT

CONTRACT_FILE = PROJECT_ROOT / "model_code" / "contract" / "hyperparameters.schema.json"
"""Owned by model_code; regenerated there with `python -m model_code.contract`."""


@cache
def _contract(path: Path = CONTRACT_FILE) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def hyperparameter_problems(values: Mapping[str, Any], path: Path = CONTRACT_FILE) -> list[tuple[str, str]]:
    """(key, problem) for every hyperparameter the training entry point would refuse; empty when all is well."""
    contract = _contract(path)
    algorithm_key = contract["x-algorithm-key"]
    algorithm = values.get(algorithm_key, contract["x-default-algorithm"])
    algorithms = contract["$defs"]
    if algorithm not in algorithms:
        return [(algorithm_key, f"unknown algorithm {algorithm!r}; allowed: {', '.join(sorted(algorithms))}")]
    definition = algorithms[algorithm]
    parameters: dict[str, Any] = definition["properties"]
    ignored = [re.compile(pattern) for pattern in definition.get("patternProperties", {})]
    allowed = sorted(key for key in parameters if key != algorithm_key)
    problems = []
    for key, value in values.items():
        if key == algorithm_key or any(p.search(key) for p in ignored):
            continue
        if key not in parameters:
            problems.append((key, f"not a hyperparameter of algorithm {algorithm!r}; allowed: {', '.join(allowed)}"))
            continue
        error = next(iter(Draft202012Validator(parameters[key]).iter_errors(value)), None)
        if error is not None:
            problems.append((key, f"{_describe(parameters[key], error.message)}; got {json.dumps(value)}"))
    return problems


def _describe(schema: Mapping[str, Any], message: str) -> str:
    """What the parameter accepts, in the stack file's words (types, range, choices)."""
    if "enum" in schema:
        return f"must be one of {', '.join(json.dumps(v) for v in schema['enum'])}"
    kind = schema.get("type", "value")
    bounds = [
        f"{word} {schema[key]}"
        for key, word in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"))
        if key in schema
    ]
    return f"must be {'an' if kind == 'integer' else 'a'} {kind}" + (f" {' and '.join(bounds)}" if bounds else "")
