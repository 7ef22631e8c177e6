"""Recalibrating an overconfident base model on its out-of-fold forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.recalibration import recalibrate
from sabiscore.evaluation import log_loss


class _Overconfident:
    """Knows the true probabilities but reports them at temperature 1/3 (far too sharp)."""

    model_name = "overconfident"

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        sharp = np.exp(3 * np.log(X[["p_h", "p_d", "p_a"]].to_numpy()))
        return sharp / sharp.sum(axis=1, keepdims=True)

    def get_feature_importance(self, top_n: int | None = 20) -> pd.Series:
        return pd.Series({"p_h": 0.5, "p_a": 0.5}).head(top_n)


def _world(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.dirichlet([4.5, 2.5, 3.0], size=n)
    y = np.array([rng.choice(3, p=p) for p in truth])
    return pd.DataFrame(truth, columns=["p_h", "p_d", "p_a"]), y


def test_recalibration_undoes_overconfidence_out_of_sample() -> None:
    model = _Overconfident()
    X_oof, y_oof = _world(4000, seed=1)
    X_new, y_new = _world(4000, seed=2)
    calibrated = recalibrate(model, model.predict_proba(X_oof), y_oof)
    raw = log_loss(model.predict_proba(X_new), y_new)
    fixed = log_loss(calibrated.predict_proba(X_new), y_new)
    truth = log_loss(X_new.to_numpy(), y_new)
    assert fixed < raw - 0.05
    assert abs(fixed - truth) < 0.01
    assert calibrated.model_name == "overconfident"
    assert list(calibrated.get_feature_importance(1).index) == ["p_h"]
    assert np.allclose(calibrated.predict_proba(X_new).sum(axis=1), 1.0)
