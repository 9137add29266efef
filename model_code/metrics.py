"""Binary-classification metrics shared by training (printed for the job's metric definitions) and the
evaluation gate (written to ``evaluation.json``), so both report the same numbers for the same data."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from model_code.errors import UsageError

GATE_METRICS = ("auc", "accuracy", "precision", "recall", "f1")
"""Metrics that may gate a model; for all of them higher is better."""


def binary_metrics(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """AUC, accuracy, precision, recall, F1 (at ``threshold``) and log loss of positive-class ``scores``."""
    if len(np.unique(y_true)) < 2:
        raise UsageError("metrics need both classes (0 and 1) in the labels, but only one is present")
    predicted = (scores >= threshold).astype(np.int64)
    return {
        "auc": float(skm.roc_auc_score(y_true, scores)),
        "accuracy": float(skm.accuracy_score(y_true, predicted)),
        "precision": float(skm.precision_score(y_true, predicted, zero_division=0)),
        "recall": float(skm.recall_score(y_true, predicted, zero_division=0)),
        "f1": float(skm.f1_score(y_true, predicted, zero_division=0)),
        "logloss": float(skm.log_loss(y_true, np.clip(scores, 1e-15, 1 - 1e-15), labels=[0, 1])),
    }


def confusion_matrix(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, dict[str, int]]:
    """Confusion matrix keyed ``{actual: {predicted: count}}`` as SageMaker model-quality reports show it."""
    predicted = (scores >= threshold).astype(np.int64)
    cm = skm.confusion_matrix(y_true, predicted, labels=[0, 1])
    return {str(a): {str(p): int(cm[a, p]) for p in (0, 1)} for a in (0, 1)}
