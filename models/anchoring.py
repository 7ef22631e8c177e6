"""Anchoring boosted trees on the market: the bookmaker's view as the starting score.

Why: the opening prices already carry most of what can be known about a match. Trees that
must rediscover them from the raw price columns waste their splits and, on real data, ended
0.002 log loss behind the market; boosting from the market's log-probabilities (XGBoost's
`base_margin`, LightGBM's `init_score`) lets every tree spend itself on the correction, which
cut the gap to 0.0004 in the walk-forward of the stack notes.

The market columns hold de-margined H/D/A probabilities. Their logs are used as they are
(softmax is shift-invariant, so rows need not sum exactly to 1). Rows without a usable price
start from the training base rates instead; a model none of whose training rows had a price is
not anchored at all (served rows start from the base rates too).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from models.base import N_CLASSES

_MIN_PROB = 1e-6


def check_margin_columns(columns: Sequence[str] | None, X: pd.DataFrame) -> list[str] | None:
    """The three H/D/A market columns, validated against X (None: no anchoring)."""
    if columns is None:
        return None
    names = list(columns)
    if len(names) != N_CLASSES:
        raise ValueError(f"base_margin_columns needs 3 names (H, D, A), got {names}")
    missing = [name for name in names if name not in X.columns]
    if missing:
        raise KeyError(
            f"base_margin_columns not in X: {missing} (the sharp line needs features.market "
            "enabled; or set the model's base_margin_columns to null)"
        )
    return names


def base_rate_margin(y: np.ndarray) -> np.ndarray:
    """Log class frequencies (add-one smoothed): the start for rows without a market price.

    >>> base_rate_margin(np.array([0, 0, 1, 2, 2])).round(3).tolist()
    [-0.981, -1.386, -0.981]
    """
    counts = np.bincount(y, minlength=N_CLASSES) + 1.0
    return np.log(counts / counts.sum())


def priced(X: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Rows with a usable market line: every column finite and positive.

    >>> priced(pd.DataFrame({"h": [0.5, np.nan], "d": 0.3, "a": 0.2}), ["h", "d", "a"]).tolist()
    [True, False]
    """
    probs = X[list(columns)].to_numpy(dtype=float, na_value=np.nan)
    return np.all(np.isfinite(probs) & (probs > 0), axis=1)


def market_margin(X: pd.DataFrame, columns: Sequence[str], fallback: np.ndarray) -> np.ndarray:
    """(n, 3) log-probabilities of the market; `fallback` where a price is missing or <= 0.

    >>> frame = pd.DataFrame({"h": [0.5, np.nan], "d": [0.25, 0.3], "a": [0.25, 0.2]})
    >>> market_margin(frame, ["h", "d", "a"], np.log([0.4, 0.3, 0.3])).round(3).tolist()
    [[-0.693, -1.386, -1.386], [-0.916, -1.204, -1.204]]
    """
    probs = X[list(columns)].to_numpy(dtype=float, na_value=np.nan)
    usable = priced(X, columns)
    margin = np.log(np.clip(np.where(usable[:, None], probs, 1.0), _MIN_PROB, None))
    margin[~usable] = fallback
    return margin


class MarketAnchored:
    """Mixin for boosted models: learn the anchor at fit time, give each row's start score.

    The model sets `base_margin_columns`; `_learn_anchor` stores the validated columns and the
    base-rate fallback, `_margin` returns None when anchoring is off.
    """

    base_margin_columns: Sequence[str] | None

    def _learn_anchor(self, X: pd.DataFrame, y: np.ndarray) -> None:
        columns = check_margin_columns(self.base_margin_columns, X)
        if columns is not None and not priced(X, columns).any():
            # no training row had a price (files with closing prices only): the trees learnt
            # from the base rates, so a served row must start there too, priced or not
            columns = None
        self.margin_columns_ = columns
        self.fallback_margin_ = base_rate_margin(y)

    def _margin(self, X: pd.DataFrame) -> np.ndarray | None:
        if self.margin_columns_ is None:
            return None
        return market_margin(X, self.margin_columns_, self.fallback_margin_)


def early_stopping_split(n_rows: int, validation_fraction: float) -> tuple[slice, slice]:
    """(rows that fit, rows that watch) for early stopping: the LAST `validation_fraction` of
    the rows, which arrive in time order, watch — the model is judged on its future, as in use.

    >>> early_stopping_split(10, 0.2)
    (slice(0, 8, None), slice(8, 10, None))
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must lie in (0, 1), got {validation_fraction!r}")
    cut = int(round(n_rows * (1.0 - validation_fraction)))
    if cut < 1 or cut >= n_rows:
        raise ValueError(f"{n_rows} rows are too few to hold out {validation_fraction:.0%}")
    return slice(0, cut), slice(cut, n_rows)
