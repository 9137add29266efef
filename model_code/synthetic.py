"""Deterministic synthetic credit-default data.

The data is generated rather than downloaded so that every run (laptop, CI, processing job) sees the same
rows without network access. The label follows a logistic model of the features with a non-linear term, so a
linear model does well but not perfectly, which keeps the evaluation gate meaningful.
"""

from __future__ import annotations

import numpy as np

from model_code.schema import FEATURES

DEFAULT_SEED = 42
DEFAULT_ROWS = 6000


def generate(n_rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(X, y)``: ``X`` is float64 of shape ``(n_rows, len(FEATURES))``, ``y`` is int64 0/1.

    Values are rounded to the precision a real record would have, so the CSV text is short and round-trips
    exactly.
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(21, 76, n_rows).astype(np.float64)
    income_k = np.clip(np.round(np.exp(rng.normal(np.log(55.0), 0.45, n_rows)), 1), 8.0, 400.0)
    debt_to_income = np.round(np.clip(rng.gamma(2.0, 0.16, n_rows), 0.0, 2.5), 3)
    credit_utilization = np.round(rng.beta(2.0, 3.0, n_rows), 3)
    late_payments = rng.poisson(0.3 + 1.4 * credit_utilization).astype(np.float64)
    history = np.round(np.clip((age - 18.0) * rng.uniform(0.3, 1.0, n_rows), 0.0, None), 1)
    open_accounts = (rng.poisson(4.0, n_rows) + 1).astype(np.float64)
    inquiries = rng.poisson(0.4 + 0.8 * debt_to_income, n_rows).astype(np.float64)

    logit = (
        -1.9
        + 3.4 * (debt_to_income - 0.32)
        + 3.8 * (credit_utilization - 0.4)
        + 0.95 * late_payments
        - 0.04 * (age - 48.0)
        - 1.4 * np.log(income_k / 55.0)
        - 0.045 * history
        + 0.45 * inquiries
        + 4.0 * np.maximum(credit_utilization - 0.8, 0.0)
    )
    y = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    X = np.column_stack(
        [age, income_k, debt_to_income, credit_utilization, late_payments, history, open_accounts, inquiries]
    )
    assert X.shape[1] == len(FEATURES)
    return X, y
