"""LightGBM: leaf-wise gradient boosting, the fastest of the three base models.

The native API (`lgb.train`, objective `multiclass`, `num_class=3`) is used for the same
reasons as in the XGBoost wrapper: three class scores even when a fold lacks a class, the
market anchor as a (n, 3) `init_score`, and `Booster.predict`, ~9x faster per row than
`LGBMClassifier.predict_proba` (stack notes: 41 vs 366 us).

LightGBM does not store the `init_score` in the model, so predictions add the same market
margin back to the raw scores before the softmax. lightgbm is imported inside the methods:
it costs ~1.7 s, which `import models` should not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from models.anchoring import MarketAnchored, early_stopping_split
from models.base import BaseModel
from sabiscore.odds import softmax

_N_CLASSES = 3


class LightGBMModel(MarketAnchored, BaseModel):
    """Leaf-wise boosted trees; optionally boosted from the market's log-probabilities.

    `base_margin_columns`: three column names of X holding de-margined market probabilities
    H/D/A, used as each row's starting score (`init_score`). Default None (start from zero).
    `col_wise`: LightGBM's histogram layout; None lets it time both on every fit.
    `early_stopping_rounds`, `validation_fraction`: as in `XGBoostModel` (rounds chosen on the
    last rows, then a refit on all rows). `reg_lambda`, `min_split_gain`, `feature_fraction`,
    `bagging_fraction`: LightGBM's `lambda_l2`, `min_gain_to_split`, `feature_fraction`,
    `bagging_fraction` (bagging every iteration when below 1).
    """

    model_name = "lightgbm"

    def __init__(
        self,
        n_estimators: int = 200,
        max_depth: int = 6,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        max_bin: int = 255,
        col_wise: bool | None = None,
        base_margin_columns: Sequence[str] | None = None,
        early_stopping_rounds: int | None = None,
        validation_fraction: float = 0.2,
        reg_lambda: float = 0.0,
        min_split_gain: float = 0.0,
        feature_fraction: float = 1.0,
        bagging_fraction: float = 1.0,
        verbosity: int = -1,
        n_jobs: int = 2,
        random_state: int | None = 42,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.max_bin = max_bin
        self.col_wise = col_wise
        self.base_margin_columns = base_margin_columns
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.reg_lambda = reg_lambda
        self.min_split_gain = min_split_gain
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.verbosity = verbosity
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _booster_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "objective": "multiclass",
            "num_class": _N_CLASSES,
            "max_depth": self.max_depth,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "max_bin": self.max_bin,
            "num_threads": self.n_jobs,
            "seed": 0 if self.random_state is None else self.random_state,
            "deterministic": True,
            "verbosity": self.verbosity,
        }
        params.update(
            lambda_l2=self.reg_lambda,
            min_gain_to_split=self.min_split_gain,
            feature_fraction=self.feature_fraction,
        )
        if self.bagging_fraction < 1.0:
            params.update(bagging_fraction=self.bagging_fraction, bagging_freq=1)
        if self.col_wise is not None:
            params["force_col_wise" if self.col_wise else "force_row_wise"] = True
        return params

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        import lightgbm as lgb

        self._learn_anchor(X, y)
        params = self._booster_params()
        values, margin = _values(X), self._margin(X)
        self.best_rounds_ = self.n_estimators
        if self.early_stopping_rounds:
            self.best_rounds_ = self._rounds_by_early_stopping(params, values, y, margin)
        if self.best_rounds_ == 0:  # LightGBM refuses 0 rounds (and a learning rate of 0): one
            params = {**params, "learning_rate": 1e-12}  # round that moves a score by < 1e-11
        train = lgb.Dataset(values, label=y, init_score=margin, params=params)
        self.booster_ = lgb.train(params, train, num_boost_round=max(self.best_rounds_, 1))

    def _rounds_by_early_stopping(
        self, params: dict[str, Any], values: np.ndarray, y: np.ndarray, margin: np.ndarray | None
    ) -> int:
        """Rounds until the held-out last rows stop improving (at least 1)."""
        import lightgbm as lgb

        fit, watch = early_stopping_split(len(values), self.validation_fraction)

        def part(rows: slice) -> Any:
            start = None if margin is None else margin[rows]
            return lgb.Dataset(values[rows], label=y[rows], init_score=start, params=params)

        booster = lgb.train(
            params,
            part(fit),
            num_boost_round=self.n_estimators,
            valid_sets=[part(watch)],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        return max(int(booster.best_iteration), 1)

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        margin = self._margin(X)
        if margin is None:
            return self.booster_.predict(_values(X), num_threads=self.n_jobs)
        raw = self.booster_.predict(_values(X), raw_score=True, num_threads=self.n_jobs)
        return softmax(raw + margin)

    def _importances(self) -> np.ndarray:
        return self.booster_.feature_importance(importance_type="gain")

    def get_booster_info(self) -> dict[str, Any]:
        """Rounds, tree count and leaf statistics (how much of num_leaves the trees use)."""
        leaves = np.array([tree["num_leaves"] for tree in self.booster_.dump_model()["tree_info"]])
        return {
            "n_rounds": self.booster_.current_iteration(),
            "n_trees": self.booster_.num_trees(),
            "leaves_total": int(leaves.sum()),
            "leaves_mean": float(leaves.mean()) if len(leaves) else 0.0,
            "leaves_min": int(leaves.min()) if len(leaves) else 0,
            "leaves_max": int(leaves.max()) if len(leaves) else 0,
            "max_bin": self.max_bin,
            "anchored_on": self.margin_columns_,
        }


def _values(X: pd.DataFrame) -> np.ndarray:
    """float32 values; LightGBM bins NaN as missing and learns where to send it."""
    return X.to_numpy(dtype=np.float32, na_value=np.nan)
