"""The contract every SabiScore estimator keeps.

Why a contract of our own on top of scikit-learn's: the flows, the registry and the service
want the same few things from every model — H/D/A probabilities in a fixed column order even
when a class never occurred in training, the four match-forecast scores, a named feature
ranking and a record of how it was trained — without knowing which library sits inside.

Subclasses follow scikit-learn's rules (`__init__` only stores its keyword arguments, learned
state ends in `_`), so `sklearn.base.clone` makes the fresh copies that the stacking folds need.
They implement three hooks: `_fit`, `_predict_proba` (an (n, 3) array) and `_importances`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from sabiscore.evaluation import OUTCOMES, accuracy, brier, log_loss, rps

N_CLASSES = 3
CLASSES = np.arange(N_CLASSES)  # 0 = home win (H), 1 = draw (D), 2 = away win (A)
CLASS_NAMES: tuple[str, ...] = OUTCOMES  # column names of a forecast frame


def check_labels(y: Any, n_rows: int) -> np.ndarray:
    """Labels as an int array, rejecting anything but 0/1/2 (H/D/A) early and clearly."""
    labels = np.asarray(y)
    if labels.shape != (n_rows,):
        raise ValueError(f"y must be 1-D with {n_rows} labels, got shape {labels.shape}")
    if not np.all(np.isin(labels, CLASSES)):
        raise ValueError("y must hold integer labels 0/1/2 (home/draw/away)")
    return labels.astype(int)


def check_frame(X: Any) -> pd.DataFrame:
    """Features must come as a DataFrame: the column names are the model's feature names."""
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"X must be a pandas DataFrame, got {type(X).__name__}")
    if X.shape[1] == 0:
        raise ValueError("X has no feature columns")
    return X


def expand_to_classes(probs: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Place probabilities for the classes `seen` in training into H/D/A columns (0 elsewhere).

    >>> expand_to_classes(np.array([[0.4, 0.6]]), np.array([0, 2])).tolist()
    [[0.4, 0.0, 0.6]]
    """
    full = np.zeros((len(probs), N_CLASSES))
    full[:, np.asarray(seen, dtype=int)] = probs
    return full


class BaseModel(ClassifierMixin, BaseEstimator, ABC):
    """A 1X2 classifier: `fit(X, y)` on a float DataFrame, probabilities in H/D/A order."""

    model_name: ClassVar[str] = "base"

    def build(self, **params: Any) -> Self:
        """Override hyperparameters (unknown names raise); returns self for chaining."""
        return self.set_params(**params)

    def train(self, X: pd.DataFrame, y: Any) -> Self:
        """Alias of `fit`, the name the original design used."""
        return self.fit(X, y)

    def fit(self, X: pd.DataFrame, y: Any, **fit_params: Any) -> Self:
        """Learn from X (float DataFrame, NaN allowed) and labels 0/1/2; returns self."""
        X = check_frame(X)
        labels = check_labels(y, len(X))
        started = time.perf_counter()
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.classes_ = CLASSES
        self._fit(X, labels, **fit_params)
        self.training_metadata_ = {
            "model_name": self.model_name,
            "params": self._params_for_metadata(),
            "n_rows": len(X),
            "n_features": X.shape[1],
            "seconds": round(time.perf_counter() - started, 4),
        }
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(n, 3) probabilities, columns H, D, A; X's columns are matched by name."""
        check_is_fitted(self, "training_metadata_")
        return self._predict_proba(self._aligned(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Most probable outcome per row: 0/1/2."""
        return np.argmax(self.predict_proba(X), axis=1)

    def evaluate(self, X: pd.DataFrame, y: Any) -> dict[str, float]:
        """accuracy, brier (sum over the 3 classes), log_loss and rps on (X, y).

        Scored by `sabiscore.evaluation`, so a model and the market are measured alike.
        """
        probs, labels = self.predict_proba(X), check_labels(y, len(X))
        return {
            "accuracy": accuracy(probs, labels),
            "brier": brier(probs, labels),
            "log_loss": log_loss(probs, labels),
            "rps": rps(probs, labels),
        }

    def get_feature_importance(self, top_n: int | None = 20) -> pd.Series:
        """The `top_n` most important features, largest first (all of them for None).

        Importances are shares that sum to 1 over all features, so models can be compared.
        """
        check_is_fitted(self, "training_metadata_")
        importances = np.asarray(self._importances(), dtype=float)
        total = importances.sum()
        shares = importances / total if total > 0 else importances
        ranking = pd.Series(shares, index=self._importance_names(), name=self.model_name)
        ranking = ranking.sort_values(ascending=False, kind="stable")
        return ranking if top_n is None else ranking.head(top_n)

    def out_of_fold_copy(self) -> Self:
        """An unfitted copy for a stacking fold: the same model, without diagnostics that only
        the final fit reports (they would cost time on every fold and never be read)."""
        return clone(self)

    def _aligned(self, X: pd.DataFrame) -> pd.DataFrame:
        X = check_frame(X)
        missing = [name for name in self.feature_names_in_ if name not in X.columns]
        if missing:
            raise KeyError(f"X lacks {len(missing)} training features, e.g. {missing[:3]}")
        return X[list(self.feature_names_in_)]

    def _importance_names(self) -> list[str]:
        return list(self.feature_names_in_)

    def _params_for_metadata(self) -> dict[str, Any]:
        return self.get_params(deep=False)

    @abstractmethod
    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        """Learn from X (columns in training order) and labels 0/1/2."""

    @abstractmethod
    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(n, 3) probabilities for X, already aligned to the training columns."""

    @abstractmethod
    def _importances(self) -> np.ndarray:
        """One non-negative importance per name of `_importance_names()`."""
