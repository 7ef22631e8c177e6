"""Stacking: a logistic regression over the base models' out-of-fold forecasts.

Why out-of-fold, and why time-ordered: a base model's forecasts on its own training rows are
better than anything it will produce later (a deep forest is nearly perfect in-sample), so a
meta-learner trained on them learns to trust the most overfitted model. Every forecast that
the meta-learner learns from is therefore made by a copy of the base model that never saw that
row — and, because football is a time series, never saw a row from that row's future either.

The rows (in time order, or sorted by `order`) are cut into `n_folds` contiguous blocks. For
block k >= 1, fresh copies of the base models are trained on blocks 0..k-1 and forecast block k
(an expanding window, as the models are used in production). Block 0 has no forecast and is
left out of the meta-training set. After that the base models are refitted on all rows.

The meta-features are LOG-probabilities, 3 per base model. A multinomial logistic regression
on them is a weighted geometric pool of the base forecasts with per-class corrections: it can
reproduce any single base model exactly (weight 1 on its own logs), sharpen or soften it
(weights above or below 1) and remove its class bias (intercepts). On raw probabilities it
could do none of these exactly.

The market is a member of its own (`members` naming "market"): the de-margined opening line of a
sharp book (`market_columns`, the features' sharp line) enters the layer as log-probabilities
beside the models', and the layer's penalty shrinks towards the market rather than towards the
uniform forecast (`models.pool`), so with no evidence the pool IS the market and it moves only
as far as the models earn. The market needs no fitting, so its "out-of-fold" forecast is simply
its price. Rows without any opening price are forecast by a second layer fitted on the models
alone (`meta_model_no_market_`).

The same expanding scheme is applied once more inside the out-of-fold rows to score the stack
itself out of sample (`oof_scores_`, `oof_ece_`) and to fit the optional calibration.

`fit` does all of this. `fit_from_forecasts` takes base models fitted elsewhere (the training
flow runs them as parallel tasks with `fit_and_forecast` on the same `time_ordered_folds`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from models import MARKET
from models.base import CLASS_NAMES, N_CLASSES, BaseModel, expand_to_classes
from models.calibration import Calibration, apply_calibrators, fit_calibrators
from models.pool import AnchoredLogistic, market_anchor
from sabiscore.evaluation import expected_calibration_error, log_loss
from sabiscore.features import SHARP_COLUMNS

_MIN_PROB = 1e-4  # log(1e-4) = -9.2: a class a base model never saw cannot dominate the stack


@dataclass(frozen=True)
class Fold:
    """Positions of the rows a fold trains on and the later block it forecasts."""

    train: np.ndarray
    predict: np.ndarray


def time_ordered_folds(n_rows: int, n_folds: int, order: Any = None) -> list[Fold]:
    """Expanding-window folds: fold k trains on blocks 0..k-1 and forecasts block k (k >= 1).

    With `order` (e.g. kick-off times) rows are taken in that order, and block edges move
    forward past ties, so matches played at the same time never end on both sides.

    >>> [(f.train.tolist(), f.predict.tolist()) for f in time_ordered_folds(6, 3)]
    [([0, 1], [2, 3]), ([0, 1, 2, 3], [4, 5])]
    """
    if n_folds < 2:
        raise ValueError("n_folds must be at least 2: block 0 only ever trains")
    if n_rows < n_folds:
        raise ValueError(f"{n_rows} rows cannot make {n_folds} time blocks")
    sequence = np.arange(n_rows)
    edges = np.linspace(0, n_rows, n_folds + 1).round().astype(int)
    if order is not None:
        keys = np.asarray(order)
        if len(keys) != n_rows:
            raise ValueError(f"order has {len(keys)} values for {n_rows} rows")
        sequence = np.argsort(keys, kind="stable")
        sorted_keys = keys[sequence]
        inner = np.searchsorted(sorted_keys, sorted_keys[edges[1:-1] - 1], side="right")
        edges = np.unique(np.concatenate([[0], inner, [n_rows]]))
    return [
        Fold(train=sequence[: edges[k]], predict=sequence[edges[k] : edges[k + 1]])
        for k in range(1, len(edges) - 1)
    ]


def unique_model_names(models: Sequence[BaseModel]) -> list[str]:
    """Each model's `model_name`, suffixed _2, _3 ... when a name repeats."""
    names: list[str] = []
    for model in models:
        name, copy = model.model_name, 2
        while name in names:
            name, copy = f"{model.model_name}_{copy}", copy + 1
        names.append(name)
    return names


def log_prob_features(probs: Sequence[np.ndarray]) -> np.ndarray:
    """Stack (n, 3) forecasts of several models into (n, 3 * models) clipped log-probs."""
    return np.log(np.clip(np.hstack(probs), _MIN_PROB, 1.0))


def market_forecast(X: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """(n, 3) market probabilities from X's sharp-line columns; a row of NaN where not quoted."""
    return normalised_market(X[list(columns)].to_numpy(dtype=float, na_value=np.nan))


def has_market_rows(X: pd.DataFrame, columns: Sequence[str]) -> bool:
    """Whether enough rows of X carry the sharp opening line for the market to be a member
    (every column present, and a full line on at least one row per class)."""
    if any(column not in X.columns for column in columns):
        return True  # the member's own check names the missing columns
    return int(np.isfinite(market_forecast(X, columns)).all(axis=1).sum()) >= N_CLASSES


def normalised_market(probs: np.ndarray) -> np.ndarray:
    """(n, 3) sharp-line values as probabilities summing to 1; a row of NaN where not quoted
    (a value missing or not positive). The stack and the compiled ensemble both read it here.

    >>> normalised_market(np.array([[0.5, 0.3, 0.3], [0.5, np.nan, 0.5]])).round(3).tolist()
    [[0.455, 0.273, 0.273], [nan, nan, nan]]
    """
    quoted = np.isfinite(probs).all(axis=1) & (probs > 0).all(axis=1)
    probs = np.where(quoted[:, None], probs, np.nan)
    return probs / probs.sum(axis=1, keepdims=True)


def fit_and_forecast(
    model: BaseModel, X: pd.DataFrame, y: np.ndarray, train: np.ndarray, predict: np.ndarray | None
) -> tuple[BaseModel, np.ndarray | None]:
    """A fresh copy of `model` trained on `train` rows, and its forecast for `predict` rows.

    `predict=None` is the final refit: a full clone, diagnostics included, forecasting nothing.
    """
    if predict is None:
        return clone(model).fit(X.iloc[train], y[train]), None
    fitted = model.out_of_fold_copy().fit(X.iloc[train], y[train])
    return fitted, fitted.predict_proba(X.iloc[predict])


def _base_rate(y_train: np.ndarray, n_rows: int) -> np.ndarray:
    """The climatology forecast: training class frequencies for every row."""
    frequencies = np.bincount(y_train, minlength=N_CLASSES) / len(y_train)
    return np.tile(frequencies, (n_rows, 1))


class MetaLearner(BaseModel):
    """Time-ordered stacking of base models under a multinomial logistic regression.

    base_models: unfitted (or fitted: they are cloned) BaseModel instances.
    n_folds: time blocks; n_folds - 1 out-of-fold fits per base model plus one refit.
    C: inverse L2 strength of the logistic regression.
    calibration: none | isotonic | sigmoid, fitted on the stack's own out-of-fold forecasts.
    n_jobs: base-model fits run at once (threads); give each base model n_jobs=1 then.
    market: whether the market (X[market_columns]) is a member of the layer.
    market_columns: the de-margined H/D/A opening line (the features' sharp line).
    tied_weights: one weight per member instead of one per member, class and input class
        (`models.pool`: a geometric pool with few free knobs).
    """

    model_name = "meta_learner"

    def __init__(
        self,
        base_models: Sequence[BaseModel],
        n_folds: int = 3,  # = configs/train.yaml stacking.n_folds
        C: float = 1.0,
        calibration: str = "none",
        n_jobs: int = 1,
        random_state: int | None = 42,
        market: bool = False,
        market_columns: Sequence[str] = SHARP_COLUMNS,
        tied_weights: bool = False,
    ) -> None:
        self.base_models = base_models
        self.n_folds = n_folds
        self.C = C
        self.calibration = calibration
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.market = market
        self.market_columns = market_columns
        self.tied_weights = tied_weights

    def fit(self, X: pd.DataFrame, y: Any, order: Any = None) -> MetaLearner:
        """Out-of-fold forecasts in time order, the logistic layer, then refit on all rows.

        order: optional sort keys (e.g. kick-off times) when X's rows are not in time order.
        """
        return super().fit(X, y, order=order)

    def fit_from_forecasts(
        self,
        X: pd.DataFrame,
        y: Any,
        fitted_models: Sequence[BaseModel],
        oof_forecasts: Sequence[np.ndarray],
        order: Any = None,
    ) -> MetaLearner:
        """Stack base models fitted elsewhere (e.g. as parallel Prefect tasks).

        Each forecast must cover blocks 1.. of `time_ordered_folds(len(X), n_folds, order)`,
        in that order, made by copies that never saw those rows; `fitted_models` are the
        refits on all rows. The stack cannot check where the forecasts came from: this is the
        caller's promise that they are out of fold.
        """
        given = (list(fitted_models), [np.asarray(f, dtype=float) for f in oof_forecasts])
        return super().fit(X, y, order=order, given=given)

    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        order: Any = None,
        given: tuple[list[BaseModel], list[np.ndarray]] | None = None,
    ) -> None:
        if given is None and not self.base_models:
            raise ValueError("MetaLearner needs at least one base model")
        calibration = self._checked_calibration()
        self.folds_ = time_ordered_folds(len(X), self.n_folds, order)
        oof_rows = np.concatenate([fold.predict for fold in self.folds_])
        if given is None:
            self.base_model_names_ = unique_model_names(self.base_models)
            forecasts = self._fit_base_models(X, y)
        else:
            forecasts = self._adopt_base_models(*given, n_oof_rows=len(oof_rows))
        self.oof_rows_ = oof_rows
        self.oof_proba_ = dict(zip(self.base_model_names_, forecasts, strict=True))
        market = self._market_of(X)
        if market is not None:
            self.oof_proba_ = {MARKET: market[oof_rows], **self.oof_proba_}
        started = time.perf_counter()
        self._fit_layers(forecasts, None if market is None else market[oof_rows], y[oof_rows])
        self._score_out_of_fold(forecasts, market, y, oof_rows)
        self.calibrators_ = fit_calibrators(self.stack_oof_proba_, y[self.eval_rows_], calibration)
        self.timings_["meta_learner"] = round(time.perf_counter() - started, 4)

    def _checked_calibration(self) -> Calibration:
        """Validate the setting before any expensive fit."""
        calibration = Calibration(self.calibration)
        if calibration is not Calibration.NONE and self.n_folds < 3:
            raise ValueError("calibration needs n_folds >= 3 (a stack forecast to fit it on)")
        return calibration

    def _adopt_base_models(
        self, fitted: list[BaseModel], forecasts: list[np.ndarray], n_oof_rows: int
    ) -> list[np.ndarray]:
        """Take refitted base models and their out-of-fold forecasts from the caller."""
        if len(fitted) != len(forecasts) or not fitted:
            raise ValueError("give one out-of-fold forecast per fitted base model")
        if any(f.shape != (n_oof_rows, N_CLASSES) for f in forecasts):
            raise ValueError(f"each out-of-fold forecast must be ({n_oof_rows}, 3): blocks 1..")
        self.base_model_names_ = unique_model_names(fitted)
        self.base_models_ = fitted
        self.timings_ = {
            name: {"folds": [], "refit": model.training_metadata_["seconds"]}
            for name, model in zip(self.base_model_names_, fitted, strict=True)
        }
        return forecasts

    def _fit_base_models(self, X: pd.DataFrame, y: np.ndarray) -> list[np.ndarray]:
        """Fit every fold copy and final refit, `n_jobs` at a time; return the OOF forecasts.

        Fits are started largest training set first, so the threads finish close together.
        """
        n_models, n_folds = len(self.base_models), len(self.folds_)
        rows = [fold.train for fold in self.folds_] + [np.arange(len(X))]
        targets = [fold.predict for fold in self.folds_] + [None]
        jobs = sorted(
            ((m, k) for k in range(n_folds + 1) for m in range(n_models)),
            key=lambda job: -len(rows[job[1]]),
        )
        results = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(fit_and_forecast)(self.base_models[m], X, y, rows[k], targets[k])
            for m, k in jobs
        )
        done = dict(zip(jobs, results, strict=True))
        self.base_models_ = [done[(m, n_folds)][0] for m in range(n_models)]
        self.timings_ = {
            name: {
                "folds": [done[(m, k)][0].training_metadata_["seconds"] for k in range(n_folds)],
                "refit": self.base_models_[m].training_metadata_["seconds"],
            }
            for m, name in enumerate(self.base_model_names_)
        }
        return [np.vstack([done[(m, k)][1] for k in range(n_folds)]) for m in range(n_models)]

    def _market_of(self, X: pd.DataFrame) -> np.ndarray | None:
        """The market member's forecast of X's rows (None when the market is not a member)."""
        if not self.market:
            return None
        missing = [c for c in self.market_columns if c not in X.columns]
        if missing:
            raise KeyError(f"the market member needs the feature columns {missing}")
        return market_forecast(X, self.market_columns)

    def _logistic(self, n_features: int, anchored: bool) -> Any:
        """The layer: anchored on the market when it is a member (its logs come first)."""
        if anchored:
            return AnchoredLogistic(
                C=self.C, anchor=market_anchor(n_features), tied=self.tied_weights
            )
        if self.tied_weights:
            return AnchoredLogistic(C=self.C, tied=True)
        return LogisticRegression(C=self.C, max_iter=2000, random_state=self.random_state)

    def _layers(
        self, forecasts: Sequence[np.ndarray], market: np.ndarray | None, y: np.ndarray
    ) -> tuple[Any, Any | None]:
        """(layer for rows with a market price, layer for rows without) fitted on these rows.

        Without the market as a member there is one layer for every row (the second is None).
        """
        models_only = log_prob_features(forecasts)
        if market is None:
            return self._logistic(models_only.shape[1], False).fit(models_only, y), None
        quoted = np.isfinite(market).all(axis=1)
        if quoted.sum() < N_CLASSES:
            raise ValueError("the market is a member, but hardly any row has an opening price")
        pooled = log_prob_features([market[quoted], *[f[quoted] for f in forecasts]])
        with_market = self._logistic(pooled.shape[1], True).fit(pooled, y[quoted])
        return with_market, self._logistic(models_only.shape[1], False).fit(models_only, y)

    def _fit_layers(
        self, forecasts: Sequence[np.ndarray], market: np.ndarray | None, y: np.ndarray
    ) -> None:
        self.meta_model_, self.meta_model_no_market_ = self._layers(forecasts, market, y)

    @staticmethod
    def _apply_layers(
        layers: tuple[Any, Any | None], forecasts: Sequence[np.ndarray], market: np.ndarray | None
    ) -> np.ndarray:
        """Probabilities from the layers: the pooled one where a market price exists."""
        with_market, without = layers
        models_only = log_prob_features(forecasts)
        if without is None:
            return expand_to_classes(with_market.predict_proba(models_only), with_market.classes_)
        probs = expand_to_classes(without.predict_proba(models_only), without.classes_)
        quoted = np.isfinite(market).all(axis=1)
        if quoted.any():
            pooled = log_prob_features([market[quoted], *[f[quoted] for f in forecasts]])
            probs[quoted] = expand_to_classes(
                with_market.predict_proba(pooled), with_market.classes_
            )
        return probs

    def _score_out_of_fold(
        self,
        forecasts: Sequence[np.ndarray],
        market: np.ndarray | None,
        y: np.ndarray,
        oof_rows: np.ndarray,
    ) -> None:
        """Scores on the blocks where the stack itself is out of sample (blocks 2..).

        The stack is refitted on the out-of-fold rows of earlier blocks and forecasts the next
        block, so the base models, the stack and the base rate are compared on the same rows.
        With n_folds=2 there is no such block: the base models are scored on block 1 alone.
        """
        starts = np.cumsum([0, *(len(fold.predict) for fold in self.folds_)])
        first = 1 if len(self.folds_) > 1 else 0
        positions = np.arange(starts[first], starts[-1])
        self.eval_rows_ = oof_rows[positions]
        scored = {name: oof[positions] for name, oof in self.oof_proba_.items()}
        oof_market = None if market is None else market[oof_rows]
        if first:
            blocks = range(1, len(self.folds_))
            nested = [
                self._nested_forecast(forecasts, oof_market, y[oof_rows], starts, k) for k in blocks
            ]
            scored["stack"] = np.vstack(nested)
        base_rates = [_base_rate(y[fold.train], len(fold.predict)) for fold in self.folds_[first:]]
        scored["base_rate"] = np.vstack(base_rates)
        self.stack_oof_proba_ = scored.get("stack")
        y_eval = y[self.eval_rows_]
        comparable = np.all([np.isfinite(p).all(axis=1) for p in scored.values()], axis=0)
        self.oof_scores_ = {
            name: log_loss(p[comparable], y_eval[comparable]) for name, p in scored.items()
        }
        self.oof_ece_ = {
            name: expected_calibration_error(p[comparable], y_eval[comparable])
            for name, p in scored.items()
        }

    def _nested_forecast(
        self,
        forecasts: Sequence[np.ndarray],
        market: np.ndarray | None,
        y_oof: np.ndarray,
        starts: np.ndarray,
        k: int,
    ) -> np.ndarray:
        """The stack trained on out-of-fold blocks before k, forecasting block k."""
        seen = slice(0, starts[k])
        block = slice(starts[k], starts[k + 1])
        cut = lambda a, part: None if a is None else a[part]  # noqa: E731
        layers = self._layers([f[seen] for f in forecasts], cut(market, seen), y_oof[seen])
        return self._apply_layers(layers, [f[block] for f in forecasts], cut(market, block))

    def create_meta_features(self, X: pd.DataFrame) -> pd.DataFrame:
        """The layer's inputs for X: log-probabilities of the market (NaN where not quoted) and
        of each refitted base model."""
        X = self._aligned(X)
        forecasts = [model.predict_proba(X) for model in self.base_models_]
        market = self._market_of(X)
        if market is not None:
            forecasts = [market, *forecasts]
        features = np.log(np.clip(np.hstack(forecasts), _MIN_PROB, 1.0))
        return pd.DataFrame(features, index=X.index, columns=self._importance_names())

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        forecasts = [model.predict_proba(X) for model in self.base_models_]
        layers = (self.meta_model_, getattr(self, "meta_model_no_market_", None))
        probs = self._apply_layers(layers, forecasts, self._market_of(X))
        return apply_calibrators(self.calibrators_, probs)

    @property
    def member_names_(self) -> list[str]:
        """The pooled layer's members in the order of its inputs: the market first."""
        return ([MARKET] if self.market else []) + list(self.base_model_names_)

    def _importance_names(self) -> list[str]:
        return [f"{name}_log_p_{c}" for name in self.member_names_ for c in CLASS_NAMES]

    def _importances(self) -> np.ndarray:
        return np.abs(self.meta_model_.coef_).sum(axis=0)

    def get_base_model_weights(self) -> dict[str, float]:
        """Share of the logistic layer's absolute coefficient mass on each base model."""
        members = self.member_names_
        per_feature = self._importances().reshape(len(members), N_CLASSES)
        mass = per_feature.sum(axis=1)
        return dict(zip(members, (mass / mass.sum()).tolist(), strict=True))

    def _params_for_metadata(self) -> dict[str, Any]:
        params = self.get_params(deep=False)
        params["base_models"] = [model.get_params(deep=False) for model in self.base_models]
        params["base_model_names"] = unique_model_names(self.base_models)
        return params
