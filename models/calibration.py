"""Optional recalibration of the stack's H/D/A probabilities, one class against the rest.

Why optional and off by default: the meta-learner is a multinomial logistic regression on
log-probabilities, which is already a calibration map (it can rescale the temperature of
each base model and shift each class). A second, one-vs-rest map fitted on the few thousand
out-of-fold rows mostly adds variance; isotonic regression in particular needs many rows per
bin. It is here so that the choice can be measured (see `MetaLearner.oof_ece_`).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from models.base import N_CLASSES

_EPS = 1e-6


class Calibration(StrEnum):
    NONE = "none"
    ISOTONIC = "isotonic"
    SIGMOID = "sigmoid"


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p)).reshape(-1, 1)


def fit_calibrators(probs: np.ndarray, y: np.ndarray, method: Calibration) -> list | None:
    """One map per class from forecast to observed frequency (None for `none`)."""
    method = Calibration(method)
    if method is Calibration.NONE:
        return None
    maps = []
    for k in range(N_CLASSES):
        hit = (y == k).astype(float)
        if hit.min() == hit.max():
            raise ValueError(f"calibration needs every outcome in its rows; class {k} is not")
        if method is Calibration.ISOTONIC:
            maps.append(IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip"))
            maps[-1].fit(probs[:, k], hit)
        else:
            maps.append(LogisticRegression(C=1e4).fit(_logit(probs[:, k]), hit))
    return maps


def apply_calibrators(calibrators: list | None, probs: np.ndarray) -> np.ndarray:
    """Map each class's probability, then renormalise the rows to sum to 1."""
    if calibrators is None:
        return probs
    columns = []
    for k, calibrator in enumerate(calibrators):
        if isinstance(calibrator, IsotonicRegression):
            columns.append(calibrator.predict(probs[:, k]))
        else:
            columns.append(calibrator.predict_proba(_logit(probs[:, k]))[:, 1])
    mapped = np.column_stack(columns) + _EPS
    return mapped / mapped.sum(axis=1, keepdims=True)
