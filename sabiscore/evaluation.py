"""Scoring 1X2 forecasts, and the betting market as the forecaster to beat.

Every forecast is an (n, 3) array of probabilities in the class order H, D, A (home win, draw,
away win; indices 0, 1, 2). Four views of its quality, because each answers another question:

* log loss — the headline: what a bettor pays for being confidently wrong (natural log);
* Brier — the multiclass Brier score, the *sum over the 3 classes* of squared errors (0 best,
  2 worst; on the shared files the base rates score 0.648, Pinnacle's close 0.584). Some
  libraries report the mean over classes instead, a third of this: compare like with like;
* RPS — the ranked probability score: the outcomes are ordered (a draw lies between a home and
  an away win), so calling a home win when the away side wins is worse than when it is a draw;
* ECE — the class-wise expected calibration error: a value bettor needs probabilities that
  mean what they say, which sharpness alone does not give.

The market is scored the same way: de-margined bookmaker prices (`sabiscore.odds`) are a
forecast, and Pinnacle's closing line is the standard a model has to approach.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from sabiscore.football_data import book_prices
from sabiscore.odds import ImpliedMethod, implied_probabilities
from sabiscore.outcomes import RESULT_CODES

#: The class order of every probability array and frame: home win, draw, away win, named by
#: football-data's result letters (the columns of a forecast frame and of the stored model).
OUTCOMES: tuple[str, str, str] = RESULT_CODES
_INDEX = {outcome: i for i, outcome in enumerate(OUTCOMES)}

#: Smallest probability that log loss takes the log of (a certain miss costs ~34.5, not inf).
EPSILON = 1e-15

#: Market forecasters: name -> (bookmaker, phase, fallback (bookmaker, phase) or None).
#: Pinnacle's closing line falls back to the market average close where Pinnacle is missing.
MARKET_FORECASTERS: dict[str, tuple[str, str, tuple[str, str] | None]] = {
    "pinnacle_open": ("pinnacle", "open", None),
    "pinnacle_close": ("pinnacle", "close", ("market_avg", "close")),
    "bet365_open": ("bet365", "open", None),
}

BRIER_NOTE = (
    "Brier is the multiclass Brier score: the sum over the 3 classes (H, D, A) of squared "
    "errors, averaged over matches (0 best, 2 worst). RPS is the ranked probability score over "
    "H < D < A, divided by K - 1 = 2. Log loss uses the natural log. ECE is the class-wise "
    "expected calibration error. Every forecaster is scored on the same matches."
)

SCORE_COLUMNS = ("n", "log_loss", "brier", "rps", "accuracy", "ece")


# --- labels and validation ----------------------------------------------------------------------


def outcome_index(results: Iterable[str] | pd.Series | np.ndarray) -> np.ndarray:
    """Full-time results 'H'/'D'/'A' as class indices 0/1/2 (anything else is an error).

    >>> outcome_index(["H", "A", "D"]).tolist()
    [0, 2, 1]
    """
    values = list(results)
    bad = [value for value in values if value not in _INDEX]
    if bad:
        raise ValueError(f"results must be one of H, D, A; got {sorted(map(repr, set(bad)))[:5]}")
    return np.asarray([_INDEX[value] for value in values], dtype=int)


def _labels(y: Sequence | np.ndarray | pd.Series) -> np.ndarray:
    """Class indices from indices 0/1/2 or from 'H'/'D'/'A' results."""
    labels = np.asarray(y)
    if labels.dtype.kind not in "iu":
        return outcome_index(labels)
    if labels.size and (labels.min() < 0 or labels.max() > 2):
        raise ValueError("class indices must be 0 (H), 1 (D) or 2 (A)")
    return labels.astype(int)


def _validated(
    probs: np.ndarray | pd.DataFrame, y: Sequence | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(probs, labels) checked to be n probability rows over H, D, A and n outcomes."""
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 2 or probs.shape[1] != 3:
        raise ValueError(f"probabilities must be an (n, 3) array over H, D, A; got {probs.shape}")
    if len(probs) == 0:
        raise ValueError("there are no forecasts to score")
    if np.isnan(probs).any():
        raise ValueError("probabilities contain NaN")
    if (probs < 0).any() or (probs > 1).any():
        raise ValueError("probabilities must lie in [0, 1]")
    if (np.abs(probs.sum(axis=1) - 1.0) > 1e-6).any():
        raise ValueError("each row of probabilities must sum to 1 (within 1e-6)")
    labels = _labels(y)
    if labels.shape != (len(probs),):
        raise ValueError(f"{len(probs)} forecasts but {labels.size} outcomes")
    return probs, labels


# --- metrics ------------------------------------------------------------------------------------


def log_loss(probs: np.ndarray, y: Sequence | np.ndarray) -> float:
    """Mean negative natural log of the probability given to what happened.

    Probabilities are clipped to [1e-15, 1] so that one certain miss costs a lot, not infinity.

    >>> round(log_loss([[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]], [0, 2]), 4)  # -ln(0.5)
    0.6931
    """
    probs, labels = _validated(probs, y)
    chosen = probs[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(chosen, EPSILON, 1.0)).mean())


def brier(probs: np.ndarray, y: Sequence | np.ndarray) -> float:
    """Multiclass Brier score: sum of 3 classes' squared errors, mean over matches.

    The sum (not the mean) over classes is Brier's own (1950) definition, the one football
    forecasts are usually quoted in; it runs from 0 (certain and right) to 2 (certain, wrong).

    >>> brier([[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]], [0, 2])  # (0.375 + 0.38) / 2
    0.3775
    """
    probs, labels = _validated(probs, y)
    observed = np.eye(3)[labels]
    return float(((probs - observed) ** 2).sum(axis=1).mean())


def rps(probs: np.ndarray, y: Sequence | np.ndarray) -> float:
    """Ranked probability score for the ordered outcomes H < D < A, mean over matches.

    Squared gaps between the predicted and observed cumulative distributions, summed over the
    first K - 1 = 2 thresholds and divided by 2: probability put near the outcome counts for
    more than probability put far from it.

    >>> rps([[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]], [0, 2])  # (0.15625 + 0.145) / 2
    0.150625
    """
    probs, labels = _validated(probs, y)
    gaps = np.cumsum(probs, axis=1) - np.cumsum(np.eye(3)[labels], axis=1)
    return float((gaps[:, :-1] ** 2).sum(axis=1).mean() / 2)


def accuracy(probs: np.ndarray, y: Sequence | np.ndarray) -> float:
    """Share of matches whose most probable outcome happened (ties go to H, then D).

    >>> accuracy([[0.5, 0.25, 0.25], [0.2, 0.5, 0.3]], [0, 2])
    0.5
    """
    probs, labels = _validated(probs, y)
    return float((probs.argmax(axis=1) == labels).mean())


def reliability_curve(
    probs: np.ndarray, y: Sequence | np.ndarray, n_bins: int = 10
) -> pd.DataFrame:
    """Class-wise reliability: per class, equal-width bins of that class's probability.

    One row per non-empty (class, bin): the mean predicted probability of the class in the bin,
    the observed frequency of the class there, and the number of matches. A calibrated
    forecaster has `mean_predicted` close to `observed` in every row.

    >>> curve = reliability_curve([[0.8, 0.1, 0.1], [0.8, 0.1, 0.1]], [0, 1])
    >>> print(curve.head(1).to_string(index=False))
    class  bin  mean_predicted  observed  count
        H    8             0.8       0.5      2
    """
    probs, labels = _validated(probs, y)
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    frames = []
    for k, outcome in enumerate(OUTCOMES):
        bins = np.clip(np.floor(probs[:, k] * n_bins).astype(int), 0, n_bins - 1)
        frame = pd.DataFrame({"bin": bins, "p": probs[:, k], "hit": labels == k})
        grouped = frame.groupby("bin").agg(
            mean_predicted=("p", "mean"), observed=("hit", "mean"), count=("p", "size")
        )
        frames.append(grouped.reset_index().assign(**{"class": outcome}))
    curve = pd.concat(frames, ignore_index=True)
    return curve.loc[:, ["class", "bin", "mean_predicted", "observed", "count"]]


def expected_calibration_error(
    probs: np.ndarray, y: Sequence | np.ndarray, n_bins: int = 10
) -> float:
    """Class-wise ECE: per class, the count-weighted mean |mean predicted - observed| over its
    equal-width bins; then the average over H, D and A.

    >>> round(expected_calibration_error([[0.5, 0.3, 0.2]] * 2, [0, 0]), 4)  # (.5 + .3 + .2) / 3
    0.3333
    """
    curve = reliability_curve(probs, y, n_bins)
    gap = (curve["mean_predicted"] - curve["observed"]).abs() * curve["count"]
    per_class = gap.groupby(curve["class"]).sum() / curve.groupby("class")["count"].sum()
    return float(per_class.mean())


@dataclass(frozen=True)
class Scores:
    """One forecaster's scores on n matches (Brier: sum of 3 classes)."""

    n: int
    log_loss: float
    brier: float
    rps: float
    accuracy: float
    ece: float


def score(probs: np.ndarray | pd.DataFrame, y: Sequence | np.ndarray, n_bins: int = 10) -> Scores:
    """All the scores of one forecast; rejects NaN, a wrong shape, or rows not summing to 1."""
    probs, labels = _validated(probs, y)
    return Scores(
        n=len(labels),
        log_loss=log_loss(probs, labels),
        brier=brier(probs, labels),
        rps=rps(probs, labels),
        accuracy=accuracy(probs, labels),
        ece=expected_calibration_error(probs, labels, n_bins),
    )


# --- the market as a forecaster -----------------------------------------------------------------


def market_probabilities(
    wide: pd.DataFrame,
    bookmaker: str,
    phase: str,
    method: ImpliedMethod | str = ImpliedMethod.MULTIPLICATIVE,
    fallback: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """De-margined probabilities of one book, indexed like `wide`, columns H, D, A.

    Rows where the book lacks a full quote (or quotes a price <= 1.01) are NaN, unless a
    `fallback` (bookmaker, phase) such as ("market_avg", "close") quotes them.
    """
    probs = implied_probabilities(book_prices(wide, bookmaker, phase), method)
    if fallback is not None:
        missing = np.isnan(probs).any(axis=1)
        probs[missing] = implied_probabilities(book_prices(wide, *fallback), method)[missing]
    return pd.DataFrame(probs, index=wide.index, columns=list(OUTCOMES))


def market_forecasts(
    wide: pd.DataFrame,
    method: ImpliedMethod | str = ImpliedMethod.MULTIPLICATIVE,
    names: Iterable[str] = tuple(MARKET_FORECASTERS),
) -> dict[str, pd.DataFrame]:
    """The market forecasters named (default: all of `MARKET_FORECASTERS`), in that order."""
    forecasts = {}
    for name in names:
        if name not in MARKET_FORECASTERS:
            raise KeyError(f"unknown market forecaster {name!r}; known: {list(MARKET_FORECASTERS)}")
        bookmaker, phase, fallback = MARKET_FORECASTERS[name]
        forecasts[name] = market_probabilities(wide, bookmaker, phase, method, fallback)
    return forecasts


# --- comparing forecasters ----------------------------------------------------------------------


def without_unpriced(
    forecasts: Mapping[str, pd.DataFrame], results: pd.Series
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """`forecasts` less those without a full H/D/A row on any match of `results` that has a
    result (a book the files lack: no Pinnacle columns, say), and the names left out. Left in,
    they would empty `common_matches`; a caller says which it left out.

    >>> results = pd.Series(["H", None], index=["m1", "m2"])
    >>> some = pd.DataFrame({"H": [0.5, np.nan], "D": 0.3, "A": 0.2}, index=["m1", "m2"])
    >>> none = pd.DataFrame({"H": [np.nan, 0.5], "D": 0.3, "A": 0.2}, index=["m1", "m2"])
    >>> kept, left_out = without_unpriced({"some": some, "none": none}, results)
    >>> list(kept), left_out
    (['some'], ['none'])
    """
    played = results.index[results.notna()]
    kept, left_out = {}, []
    for name, probs in forecasts.items():
        if probs.reindex(played).loc[:, list(OUTCOMES)].notna().all(axis=1).any():
            kept[name] = probs
        else:
            left_out.append(name)
    return kept, left_out


def common_matches(forecasts: dict[str, pd.DataFrame], results: pd.Series) -> pd.Index:
    """Matches with a result and a full H/D/A row from every forecaster, in `results` order.

    Scoring each forecaster on its own matches would compare different seasons and leagues;
    only the common set makes the rows of a table comparable.
    """
    index = results.index[results.notna()]
    for name, probs in forecasts.items():
        missing = [outcome for outcome in OUTCOMES if outcome not in probs.columns]
        if missing or not probs.index.is_unique:
            raise ValueError(f"forecast {name!r} needs columns H, D, A and a unique match index")
        full = probs.index[probs.loc[:, list(OUTCOMES)].notna().all(axis=1)]
        index = index.intersection(full, sort=False)
    return index


def comparison_table(
    forecasts: dict[str, pd.DataFrame],
    results: pd.Series,
    groups: pd.Series | None = None,
    n_bins: int = 10,
) -> pd.DataFrame:
    """Scores of every forecaster on the common matches: all pooled, then per group.

    `forecasts` maps a name to a frame indexed by match_id with columns H, D, A; `results`
    ('H'/'D'/'A', NaN for unplayed) and `groups` (e.g. league) are indexed by match_id too.
    Rows come group by group ("all" first), forecasters in the order given.
    """
    if not forecasts:
        raise ValueError("there are no forecasters to compare")
    if results.index.has_duplicates:
        raise ValueError("results must have one row per match_id")
    index = common_matches(forecasts, results)
    if index.empty:
        raise ValueError("no match has a result and a forecast from every forecaster")
    labels = outcome_index(results.loc[index])
    arrays = {
        name: probs.loc[index, list(OUTCOMES)].to_numpy() for name, probs in forecasts.items()
    }
    rows = []
    for group, mask in _group_masks(index, groups):
        for name, probs in arrays.items():
            scores = score(probs[mask], labels[mask], n_bins)
            rows.append({"forecaster": name, "group": group, **asdict(scores)})
    return pd.DataFrame(rows, columns=["forecaster", "group", *SCORE_COLUMNS])


def _group_masks(index: pd.Index, groups: pd.Series | None) -> list[tuple[object, np.ndarray]]:
    """("all", every match), then (group value, its matches) in sorted order."""
    masks: list[tuple[object, np.ndarray]] = [("all", np.ones(len(index), dtype=bool))]
    if groups is None:
        return masks
    group_of = groups.reindex(index)
    for value in sorted(group_of.dropna().unique()):
        masks.append((value, (group_of == value).to_numpy()))
    return masks


def _cell(value: object, digits: int) -> str:
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else f"{value:.{digits}f}"
    return str(value).replace("|", "\\|")


def to_markdown(table: pd.DataFrame, digits: int = 4) -> str:
    """A comparison table as GitHub markdown, with the note that Brier sums the 3 classes.

    >>> table = pd.DataFrame({"forecaster": ["x"], "n": [2], "brier": [0.3775]})
    >>> print(to_markdown(table))  # doctest: +ELLIPSIS
    | forecaster | n | brier |
    |---|---:|---:|
    | x | 2 | 0.3775 |
    <BLANKLINE>
    Brier is the multiclass Brier score: ...
    """
    numeric = [pd.api.types.is_numeric_dtype(table[column]) for column in table.columns]
    lines = [
        "| " + " | ".join(map(str, table.columns)) + " |",
        "|" + "|".join("---:" if is_number else "---" for is_number in numeric) + "|",
    ]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(value, digits) for value in row) + " |")
    return "\n".join([*lines, "", BRIER_NOTE])
