"""XGBoost: histogram gradient boosting on the softmax of three class scores.

The native API (`xgb.train` with `num_class=3`) is used instead of `XGBClassifier` because it
keeps all three class scores even when a class is absent from a training fold (the wrapper
insists on labels 0..k-1), takes the market anchor as a (n, 3) `base_margin`, and predicts
with `inplace_predict`, which skips building a DMatrix per call.

`max_bin` matters most for speed: the stack notes measured 13-20 s for 200 rounds on
5k x 220 at the default 256 bins and 4.6 s at 64; see configs/train.yaml for the chosen value.
xgboost is imported inside the methods: it costs ~1.5 s, which `import models` should not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from models.anchoring import MarketAnchored, early_stopping_split
from models.base import BaseModel

_N_CLASSES = 3


class XGBoostModel(MarketAnchored, BaseModel):
    """Gradient-boosted trees (hist); optionally boosted from the market's log-probabilities.

    `base_margin_columns`: three column names of X holding de-margined market probabilities
    H/D/A. When set, each row starts from their logs instead of a constant, so the trees learn
    a correction to the market (the columns stay usable as features too). Default None.
    `early_stopping_rounds`: when set, the rounds are chosen on the last `validation_fraction`
    of the (time-ordered) rows — boosting stops once their log loss has not improved for that
    many rounds, at most `n_estimators` — and the model is then refitted on all rows for the
    chosen number of rounds.
    """

    model_name = "xgboost"

    def __init__(
        self,
        n_estimators: int = 200,
        max_depth: int = 6,
        learning_rate: float = 0.1,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        gamma: float = 0.1,
        reg_alpha: float = 0.1,
        reg_lambda: float = 1.0,
        min_child_weight: float = 1.0,
        tree_method: str = "hist",
        max_bin: int = 256,
        base_margin_columns: Sequence[str] | None = None,
        early_stopping_rounds: int | None = None,
        validation_fraction: float = 0.2,
        n_jobs: int = 2,
        random_state: int | None = 42,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.gamma = gamma
        self.reg_alpha = reg_alpha
        self.reg_lambda = reg_lambda
        self.min_child_weight = min_child_weight
        self.tree_method = tree_method
        self.max_bin = max_bin
        self.base_margin_columns = base_margin_columns
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _booster_params(self) -> dict[str, Any]:
        return {
            "objective": "multi:softprob",
            "num_class": _N_CLASSES,
            "eval_metric": "mlogloss",
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "gamma": self.gamma,
            "alpha": self.reg_alpha,
            "lambda": self.reg_lambda,
            "min_child_weight": self.min_child_weight,
            "tree_method": self.tree_method,
            "max_bin": self.max_bin,
            "nthread": self.n_jobs,
            "seed": 0 if self.random_state is None else self.random_state,
            "verbosity": 0,
        }

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        import xgboost as xgb

        self._learn_anchor(X, y)
        values, margin = _values(X), self._margin(X)
        self.best_rounds_ = self.n_estimators
        if self.early_stopping_rounds:
            self.best_rounds_ = self._rounds_by_early_stopping(values, y, margin)
        train = xgb.DMatrix(values, label=y, base_margin=margin, nthread=self.n_jobs)
        self.booster_ = xgb.train(self._booster_params(), train, num_boost_round=self.best_rounds_)

    def _rounds_by_early_stopping(
        self, values: np.ndarray, y: np.ndarray, margin: np.ndarray | None
    ) -> int:
        """Rounds until the held-out last rows stop improving (at least 1)."""
        import xgboost as xgb

        fit, watch = early_stopping_split(len(values), self.validation_fraction)

        def part(rows: slice) -> Any:
            start = None if margin is None else margin[rows]
            return xgb.DMatrix(values[rows], label=y[rows], base_margin=start, nthread=self.n_jobs)

        booster = xgb.train(
            self._booster_params(),
            part(fit),
            num_boost_round=self.n_estimators,
            evals=[(part(watch), "watch")],
            verbose_eval=False,
            early_stopping_rounds=self.early_stopping_rounds,
        )
        return int(booster.best_iteration) + 1

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        probs = self.booster_.inplace_predict(_values(X), base_margin=self._margin(X))
        probs = np.asarray(probs, dtype=float).reshape(len(X), _N_CLASSES)
        return probs / probs.sum(axis=1, keepdims=True)  # float32 softmax: sum off by ~1e-7

    def _importances(self) -> np.ndarray:
        gains = self.booster_.get_score(importance_type="total_gain")
        return np.array([gains.get(f"f{i}", 0.0) for i in range(self.n_features_in_)])

    def get_booster_info(self) -> dict[str, Any]:
        """Rounds, trees and the settings that decide speed and starting point."""
        rounds = self.booster_.num_boosted_rounds()
        return {
            "n_rounds": rounds,
            "n_trees": rounds * _N_CLASSES,
            "best_iteration": rounds - 1,  # the refit stops at the chosen round: the last
            "tree_method": self.tree_method,
            "max_bin": self.max_bin,
            "anchored_on": self.margin_columns_,
        }


def _values(X: pd.DataFrame) -> np.ndarray:
    """float32 values; NaN is XGBoost's missing value, learned a default branch per split."""
    return X.to_numpy(dtype=np.float32, na_value=np.nan)
