"""Random forest: the low-variance member of the stack.

Bagged, depth-limited trees make errors that differ from the boosters', which is what a stack
needs. Missing values are filled with the training median of each column (`medians_`): the
same numbers at training and at prediction, learned inside the model so that a stacking fold
never sees a median computed on rows from its future.

`class_weight="balanced"` (the design's default) up-weights draws; it shifts the probabilities
towards D, which the meta-learner's logistic layer corrects but a standalone forecast does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier

from models.base import BaseModel, expand_to_classes


def learn_medians(X: pd.DataFrame) -> np.ndarray:
    """Per-column median ignoring NaN; 0.0 for a column with no value at all."""
    values = X.to_numpy(dtype=float, na_value=np.nan)
    has_value = np.isfinite(values).any(axis=0)
    medians = np.zeros(values.shape[1])
    if has_value.any():
        medians[has_value] = np.nanmedian(values[:, has_value], axis=0)
    return medians


def fill_missing(X: pd.DataFrame, medians: np.ndarray) -> np.ndarray:
    """X as a float32 array with NaN replaced by the column's learned median."""
    values = X.to_numpy(dtype=np.float32, na_value=np.nan)
    return np.where(np.isnan(values), medians.astype(np.float32), values)


class RandomForestModel(BaseModel):
    """scikit-learn's RandomForestClassifier with median imputation and out-of-bag scoring."""

    model_name = "random_forest"

    def __init__(
        self,
        n_estimators: int = 200,
        max_depth: int | None = 10,
        min_samples_split: int = 10,
        min_samples_leaf: int = 5,
        max_features: str | float | int = "sqrt",
        class_weight: str | None = "balanced",
        oob_score: bool = True,
        n_jobs: int = 2,
        random_state: int | None = 42,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.class_weight = class_weight
        self.oob_score = oob_score
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        self.medians_ = learn_medians(X)
        self.estimator_ = RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_split=self.min_samples_split,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            class_weight=self.class_weight,
            oob_score=self.oob_score,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        ).fit(fill_missing(X, self.medians_), y)

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        probs = self.estimator_.predict_proba(fill_missing(X, self.medians_))
        return expand_to_classes(probs, self.estimator_.classes_)

    def _importances(self) -> np.ndarray:
        return self.estimator_.feature_importances_

    def out_of_fold_copy(self) -> RandomForestModel:
        """Same trees without the out-of-bag pass (~12 % of the fit), never read on a fold."""
        return clone(self).set_params(oob_score=False)

    def get_tree_count(self) -> int:
        """Number of fitted trees."""
        return len(self.estimator_.estimators_)

    def get_oob_score(self) -> float | None:
        """Out-of-bag accuracy: a free validation score (None when oob_score=False).

        Rows are sampled without regard to time, so it is optimistic for football; trust the
        time-ordered scores of the meta-learner for model choice.
        """
        return float(self.estimator_.oob_score_) if self.oob_score else None
