"""A base model's probabilities recalibrated on its own out-of-fold forecasts.

Why: the design's boosting defaults (200 rounds at learning rate 0.1) are overconfident on a
few thousand matches — alone, XGBoost and LightGBM scored worse than the base rates on the
synthetic league. A multinomial logistic map on the model's log-probabilities ("vector
scaling"), fitted only on forecasts the model made for rows it never saw, keeps its ranking and
fixes its temperature and class bias. The stack does not need it (its logistic layer is such a
map already); it makes each base model's own scores honest when shown beside the stack.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from models.base import expand_to_classes

_MIN_PROB = 1e-4


def _log(probs: np.ndarray) -> np.ndarray:
    return np.log(np.clip(probs, _MIN_PROB, 1.0))


class Recalibrated:
    """A fitted model followed by a logistic map fitted on its out-of-fold forecasts."""

    def __init__(self, model: Any, calibrator: LogisticRegression) -> None:
        self.model = model
        self.calibrator = calibrator

    @property
    def model_name(self) -> str:
        return self.model.model_name

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        mapped = self.calibrator.predict_proba(_log(self.model.predict_proba(X)))
        return expand_to_classes(mapped, self.calibrator.classes_)

    def get_feature_importance(self, top_n: int | None = 20) -> pd.Series:
        return self.model.get_feature_importance(top_n)


def recalibrate(
    model: Any, oof_probs: np.ndarray, y_oof: np.ndarray, C: float = 1.0
) -> Recalibrated:
    """Fit the map on out-of-fold forecasts (never on the model's in-sample ones)."""
    calibrator = LogisticRegression(C=C, max_iter=1000).fit(_log(oof_probs), y_oof)
    return Recalibrated(model, calibrator)
