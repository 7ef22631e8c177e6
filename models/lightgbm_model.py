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

from models.anchoring import MarketAnchored
from models.base import BaseModel, softmax

_N_CLASSES = 3


class LightGBMModel(MarketAnchored, BaseModel):
    """Leaf-wise boosted trees; optionally boosted from the market's log-probabilities.

    `base_margin_columns`: three column names of X holding de-margined market probabilities
    H/D/A, used as each row's starting score (`init_score`). Default None (start from zero).
    `col_wise`: LightGBM's histogram layout; None lets it time both on every fit.
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
        if self.col_wise is not None:
            params["force_col_wise" if self.col_wise else "force_row_wise"] = True
        return params

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        import lightgbm as lgb

        self._learn_anchor(X, y)
        params = self._booster_params()
        train = lgb.Dataset(_values(X), label=y, init_score=self._margin(X), params=params)
        self.booster_ = lgb.train(params, train, num_boost_round=self.n_estimators)

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
