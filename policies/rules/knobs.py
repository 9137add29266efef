"""Knob schemas: the JSON-schema fragments of the rules' config knobs (defaults are the strict choice)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def bool_knob(description: str, default: bool) -> dict[str, Any]:
    return {"type": "boolean", "default": default, "description": description}


def int_knob(description: str, default: int, minimum: int = 0, maximum: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "integer",
        "default": default,
        "minimum": minimum,
        "description": description,
    }
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def strings_knob(description: str, default: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {"type": "string"},
        "uniqueItems": True,
        "default": list(default),
        "description": description,
    }


