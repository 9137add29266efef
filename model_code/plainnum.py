"""Plain decimal numbers: the only number syntax the model code accepts in text (CSV cells, hyperparameters).

Python's ``float`` (and numpy's) also accept ``3_0``, full-width or Arabic-Indic digits, ``infinity`` and
surrounding Unicode spaces. A value spelled like that did not come from the tools that write our CSVs, so it
is refused rather than silently read as another number.
"""

from __future__ import annotations

import math
import re

DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""ASCII digits, optional sign, optional fraction, optional exponent: ``1``, ``-0.5``, ``.5``, ``1.``, ``2e-3``."""

_SPACE = " \t"


def parse_decimal(text: str) -> float | None:
    """The finite value of a plain decimal number (spaces and tabs around it allowed), else ``None``."""
    text = text.strip(_SPACE)
    if not DECIMAL.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None
