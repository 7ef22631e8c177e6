"""The betting backtest as pure functions: the bets a forecaster places, and how they fared.

Walk-forward: the test matches are cut into windows — a season each, or every N match days —
and the model that bets on a window is trained only on matches of earlier dates
(`walk_forward_windows`, `training_rows`). Features are leak-free by construction
(`sabiscore.features`), so one feature table serves every window.

Bets follow the staking rules of the `edge` endpoint (`sabiscore.staking.bet_decisions`): an
outcome is backed when model_prob × price − 1 reaches `min_edge` and the sharp line does not
contradict it (sharp_prob × price − 1 ≥ −`sharp_tolerance`, the sharp line being the de-margined
**opening** prices of the first of `sharp_books` that quotes the match), with fractional Kelly
stakes capped per match, at the **opening** prices of one bookmaker (Bet365 by default) or the
best of several. Closing prices never decide a bet; they only measure it (CLV).

Accounting is flat: a stake is a share of the *initial* bankroll (what `bet_decisions` gives,
read against a bankroll of 1.0), never re-sized as the bankroll moves. So turnover and profit
are in units of the initial bankroll, ROI = profit ÷ initial bankroll, yield = profit ÷
turnover (`sabiscore.betting`). Flat, because a compounding bankroll depends on the order of the
bets, which neither a bootstrap nor a per-league slice keeps.

Closing-line value (CLV): price taken ÷ fair closing price − 1, the fair close being Pinnacle's
closing prices de-margined, or the market-average close where Pinnacle has none.

Baselines beside the model: every outcome of every match and the favourite (shortest price),
both at a flat stake; a plain Elo model (`EloOutcomeModel`) and Pinnacle's de-margined opening
line as forecasters under the same staking rules.

Every probability and price triple is in the order H, D, A (home, draw, away).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, TypeGuard

import numpy as np
import pandas as pd

from sabiscore.betting import bankroll_curve, bootstrap_interval, summarize, summary_with_ci
from sabiscore.config import reject_unknown_keys
from sabiscore.evaluation import OUTCOMES, market_probabilities, outcome_index
from sabiscore.football_data import MIN_PRICE, book_prices
from sabiscore.odds import ImpliedMethod, softmax
from sabiscore.staking import (
    SHARP_BOOKS,
    StakingPolicy,
    bet_decisions,
    closing_line_value,
    quality_tier,
)

#: Strategy name of the model under test (the stacked ensemble).
MODEL = "ensemble"

#: Value of the `bookmaker` setting that takes the best opening price among `best_of`.
BEST_PRICE = "best"

#: Elo differences are divided by this before the logistic fit (the Elo scale's own unit).
ELO_SCALE = 400.0

#: The closing line: Pinnacle, else the market-average close (as `evaluation.pinnacle_close`).
CLOSING_BOOK: tuple[str, str] = ("pinnacle", "close")
CLOSING_FALLBACK: tuple[str, str] = ("market_avg", "close")


class Baseline(StrEnum):
    """Strategies the model is set against."""

    ELO = "elo"  # the Elo model's probabilities, same staking as the model
    PINNACLE_OPEN = "pinnacle_open"  # Pinnacle's de-margined opening line, same staking
    EVERY_OUTCOME = "every_outcome"  # a flat stake on H, D and A of every match
    FAVOURITE = "favourite"  # a flat stake on the shortest price of every match


# --- settings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacktestSettings:
    """The backtest's settings (`configs/backtest.yaml`; see the comments there)."""

    bookmaker: str = "bet365"  # opening prices of this book, or "best" of `best_of`
    best_of: tuple[str, ...] = ("bet365", "pinnacle", "market_max")
    retrain_every: str | int = "season"  # "season", or a number of match days
    flat_stake: float = 0.005  # baselines' stake per bet, share of the initial bankroll
    baselines: tuple[Baseline, ...] = tuple(Baseline)
    n_boot: int = 2000
    alpha: float = 0.05
    seed: int = 0
    train: Mapping[str, Any] = field(default_factory=dict)  # overrides of configs/train.yaml
    windows_at_once: str | int = "all"  # windows trained side by side: "all", or a number >= 1

    def __post_init__(self) -> None:
        every = self.retrain_every
        if every != "season" and not (_whole(every) and every >= 1):
            raise ValueError(f"retrain_every must be 'season' or a number >= 1, got {every!r}")
        at_once = self.windows_at_once
        if at_once != "all" and not (_whole(at_once) and at_once >= 1):
            raise ValueError(f"windows_at_once must be 'all' or a number >= 1, got {at_once!r}")
        if not (isinstance(self.flat_stake, int | float) and 0 < self.flat_stake <= 1):
            raise ValueError(f"flat_stake must lie in (0, 1], got {self.flat_stake!r}")
        if not self.best_of:
            raise ValueError("best_of must name at least one bookmaker")
        if not (isinstance(self.n_boot, int) and self.n_boot >= 1) or not 0 < self.alpha < 1:
            raise ValueError("n_boot must be a whole number >= 1 and alpha lie in (0, 1)")
        known = ", ".join(Baseline)
        for name in self.baselines:
            if name not in set(Baseline):
                raise ValueError(f"unknown baseline {name!r}; known: {known}")
        object.__setattr__(self, "baselines", tuple(Baseline(b) for b in self.baselines))
        object.__setattr__(self, "best_of", tuple(self.best_of))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> BacktestSettings:
        """The settings from a mapping; unknown keys are typos and fail."""
        d = dict(d or {})
        reject_unknown_keys(d, cls, "backtest settings")
        d["train"] = dict(d.get("train") or {})
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """Plain types, for JSON and tracking parameters."""
        d = asdict(self)
        d["baselines"] = [str(b) for b in self.baselines]
        d["best_of"] = list(self.best_of)
        return d

    @property
    def strategies(self) -> list[str]:
        """The model first, then the baselines in the configured order."""
        return [MODEL, *map(str, self.baselines)]

    def windows_in_flight(self, n_windows: int) -> int:
        """How many of `n_windows` windows train side by side (`windows_at_once`, at most all).

        >>> [BacktestSettings(windows_at_once=n).windows_in_flight(5) for n in ("all", 2, 9)]
        [5, 2, 5]
        """
        limit = n_windows if self.windows_at_once == "all" else int(self.windows_at_once)
        return max(1, min(limit, n_windows))


def _whole(value: Any) -> TypeGuard[int]:
    """An int that is not a bool (YAML's `true` is not a number of anything)."""
    return isinstance(value, int) and not isinstance(value, bool)


# --- walk-forward windows -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Window:
    """Matches bet on with one trained model; it trains on matches of dates before `start`."""

    label: str  # "2021-2022", or "2021-2022 days 1-10" with a match-day cadence
    season: str
    start: pd.Timestamp  # the first match day of the window
    matches: pd.Index  # match ids, in kick-off order


def walk_forward_windows(
    info: pd.DataFrame, test: pd.Series, retrain_every: str | int = "season"
) -> list[Window]:
    """The test matches (`test` True) in windows: one per season, or every N match days.

    `info` has `season` and `kickoff`, indexed by match id in kick-off order. A match day is a
    date on which some test match is played; with N, a season's match days are taken N at a
    time.

    >>> info = pd.DataFrame({"season": ["s1", "s2", "s2", "s2"],
    ...     "kickoff": pd.to_datetime(["2020-05-01", "2020-09-01", "2020-09-08", "2020-09-08"])},
    ...     index=["a", "b", "c", "d"])
    >>> [(w.label, list(w.matches)) for w in walk_forward_windows(info, info["season"] == "s2", 1)]
    [('s2 days 1-1', ['b']), ('s2 days 2-2', ['c', 'd'])]
    """
    chosen = info.loc[test.reindex(info.index, fill_value=False).to_numpy(bool)]
    windows = []
    for season, rows in chosen.groupby("season", sort=True):
        days = rows["kickoff"].dt.normalize()
        if retrain_every == "season":
            windows.append(Window(str(season), str(season), days.min(), rows.index))
            continue
        distinct = np.sort(days.unique())
        for first in range(0, len(distinct), int(retrain_every)):
            chunk = distinct[first : first + int(retrain_every)]
            label = f"{season} days {first + 1}-{first + len(chunk)}"
            members = rows.index[days.isin(chunk).to_numpy()]
            windows.append(Window(label, str(season), pd.Timestamp(chunk[0]), members))
    return sorted(windows, key=lambda w: (w.start, w.label))


def training_rows(info: pd.DataFrame, allowed: pd.Series, window: Window) -> pd.Series:
    """Played matches among `allowed` whose date is before the window's first match day.

    >>> kickoff = pd.to_datetime(["2020-01-01 15:00", "2020-01-02 12:00", "2020-01-02 20:00"])
    >>> info = pd.DataFrame({"status": "played", "kickoff": kickoff})
    >>> w = Window("w", "s", pd.Timestamp("2020-01-02"), pd.Index([2]))
    >>> training_rows(info, pd.Series(True, info.index), w).tolist()  # not the same day
    [True, False, False]
    """
    earlier = info["kickoff"].dt.normalize() < window.start
    return (info["status"] == "played") & earlier & allowed.reindex(info.index, fill_value=False)


# --- the Elo baseline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EloOutcomeModel:
    """P(home win, draw, away win | Elo difference): a multinomial logistic regression.

    The naive rating model: one number per match, the home side's Elo rating plus home
    advantage minus the away side's (`elo_diff` of `sabiscore.features`), and per outcome a
    score intercept + slope × diff / 400, turned into probabilities by the softmax. The home
    win is the reference (0, 0). No market information at all.
    """

    intercepts: tuple[float, float, float] = (0.0, 0.0, 0.0)
    slopes: tuple[float, float, float] = (0.0, 0.0, 0.0)
    n_matches: int = 0

    @classmethod
    def fit(cls, elo_diff: Any, y: Any, l2: float = 1e-4, iterations: int = 50) -> EloOutcomeModel:
        """Maximum likelihood (with a whisper of L2) by Newton's method on 4 parameters."""
        x = np.asarray(elo_diff, dtype=float) / ELO_SCALE
        labels = np.asarray(y, dtype=int)
        if x.ndim != 1 or x.shape != labels.shape or not np.isfinite(x).all():
            raise ValueError("elo_diff must be finite numbers, one per outcome in y")
        if x.size < 3:
            raise ValueError("need at least 3 matches to fit the Elo model")
        design = np.column_stack([np.ones_like(x), x])
        theta = np.zeros(4)  # draw (intercept, slope), away (intercept, slope)
        for _ in range(iterations):
            step = _newton_step(design, np.eye(3)[labels], theta, l2)
            theta = theta - step
            if np.abs(step).max() < 1e-10:
                break
        return cls((0.0, theta[0], theta[2]), (0.0, theta[1], theta[3]), int(x.size))

    def predict_proba(self, elo_diff: Any) -> np.ndarray:
        """(n, 3) probabilities over H, D, A.

        >>> model = EloOutcomeModel((0.0, -0.5, -0.5), (0.0, -1.0, -2.0))
        >>> model.predict_proba([0.0]).round(4).tolist()  # softmax(0, -0.5, -0.5)
        [[0.4519, 0.2741, 0.2741]]
        """
        x = np.asarray(elo_diff, dtype=float).reshape(-1, 1) / ELO_SCALE
        scores = np.asarray(self.intercepts) + np.asarray(self.slopes) * x
        return softmax(scores)


def _newton_step(
    design: np.ndarray, onehot: np.ndarray, theta: np.ndarray, l2: float
) -> np.ndarray:
    """Newton step of the penalised log likelihood; classes D and A against H."""
    coef = theta.reshape(2, 2)
    probs = softmax(np.column_stack([np.zeros(len(design)), design @ coef.T]))
    gradient = ((onehot - probs)[:, 1:].T @ design).ravel() - l2 * theta
    hessian = np.empty((4, 4))
    for j in range(2):
        for k in range(2):
            weight = probs[:, j + 1] * (float(j == k) - probs[:, k + 1])
            hessian[2 * j : 2 * j + 2, 2 * k : 2 * k + 2] = -(design * weight[:, None]).T @ design
    return np.linalg.solve(hessian - l2 * np.eye(4), gradient)


# --- the market bet into ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BettingMarket:
    """Per test match: what happened, the prices on offer at opening, the sharp opening line
    the bets are checked against, the fair closing line they are measured by."""

    info: pd.DataFrame  # date, league, season, result; index match_id, kick-off order
    prices: pd.DataFrame  # H, D, A opening prices at the chosen book (a row of NaN: no bet)
    closing_prob: pd.DataFrame  # H, D, A de-margined closing probabilities (NaN: no close)
    sharp_prob: pd.DataFrame  # H, D, A de-margined sharp opening line (NaN: no sharp check)
    sharp_books: tuple[str, ...] = SHARP_BOOKS  # the books `sharp_prob` was taken from, in order


def opening_prices(wide: pd.DataFrame, bookmaker: str, best_of: Sequence[str] = ()) -> pd.DataFrame:
    """H, D, A opening prices of `bookmaker` — or, for "best", the highest price of each
    outcome among `best_of` — from `football_data.one_x_two`'s wide frame.

    A match without a full triple of prices above 1.01 gets a row of NaN: no bet there.

    >>> wide = pd.DataFrame({"bet365_open_H": [2.0], "bet365_open_D": [3.4],
    ...     "bet365_open_A": [4.0], "pinnacle_open_H": [2.1], "pinnacle_open_D": [3.3],
    ...     "pinnacle_open_A": [3.9]}, index=["m"])
    >>> opening_prices(wide, "best", ["bet365", "pinnacle"]).to_numpy().tolist()
    [[2.1, 3.4, 4.0]]
    """
    books = list(best_of) if bookmaker == BEST_PRICE else [bookmaker]
    stacked = np.stack([book_prices(wide, book, "open") for book in books])
    prices = np.where(np.isnan(stacked), -np.inf, stacked).max(axis=0)
    prices = np.where((prices > MIN_PRICE).all(axis=1, keepdims=True), prices, np.nan)
    return pd.DataFrame(prices, index=wide.index, columns=list(OUTCOMES))


def sharp_probabilities(
    wide: pd.DataFrame,
    sharp_books: Sequence[str] = SHARP_BOOKS,
    method: ImpliedMethod | str = ImpliedMethod.MULTIPLICATIVE,
) -> pd.DataFrame:
    """H, D, A de-margined **opening** line of the first of `sharp_books` that fully quotes
    each match (a row of NaN where none does): the sharp reference of the bets. Opening, as the
    prices bet into are: the close is not known when a bet is struck.

    >>> wide = pd.DataFrame({"pinnacle_open_H": [2.0, np.nan], "pinnacle_open_D": [4.0, np.nan],
    ...     "pinnacle_open_A": [4.0, np.nan], "market_avg_open_H": [1.9, 2.5],
    ...     "market_avg_open_D": [3.5, 2.5], "market_avg_open_A": [4.0, 5.0]}, index=["m1", "m2"])
    >>> sharp_probabilities(wide, ["pinnacle", "market_avg"]).round(6).to_numpy().tolist()
    [[0.5, 0.25, 0.25], [0.4, 0.4, 0.2]]
    """
    probs = np.full((len(wide), 3), np.nan)
    for book in sharp_books:
        missing = np.isnan(probs).any(axis=1)
        probs[missing] = market_probabilities(wide, book, "open", method).to_numpy()[missing]
    return pd.DataFrame(probs, index=wide.index, columns=list(OUTCOMES))


def betting_market(
    wide: pd.DataFrame,
    info: pd.DataFrame,
    bookmaker: str = "bet365",
    best_of: Sequence[str] = (),
    method: ImpliedMethod | str = ImpliedMethod.MULTIPLICATIVE,
    sharp_books: Sequence[str] = SHARP_BOOKS,
) -> BettingMarket:
    """The market of the matches in `info` (kickoff, league, season, result; index match id);
    `sharp_books` as the policy's (`StakingPolicy.sharp_books`)."""
    wide = wide.reindex(info.index)
    closing = market_probabilities(wide, *CLOSING_BOOK, method=method, fallback=CLOSING_FALLBACK)
    frame = info.assign(date=info["kickoff"].dt.normalize())
    return BettingMarket(
        frame.loc[:, ["date", "league", "season", "result"]],
        opening_prices(wide, bookmaker, best_of),
        closing,
        sharp_probabilities(wide, sharp_books, method),
        tuple(sharp_books),
    )


def forecast_table(forecasts: Mapping[str, pd.DataFrame], market: BettingMarket) -> pd.DataFrame:
    """One row per test match: date, league, season, result, each forecaster's `<name>_H/D/A`
    and the fair close the bets are measured by (`closing_H/D/A`): the report's forecasts.csv.

    >>> info = pd.DataFrame({"date": pd.to_datetime(["2020-01-01"]), "league": "E0",
    ...     "season": "2019-2020", "result": "H"}, index=pd.Index(["m"], name="match_id"))
    >>> line = pd.DataFrame([[0.5, 0.3, 0.2]], index=["m"], columns=list(OUTCOMES))
    >>> market = BettingMarket(info, line, line, line)
    >>> forecast_table({"ensemble": line}, market).columns.tolist()[4:]
    ['ensemble_H', 'ensemble_D', 'ensemble_A', 'closing_H', 'closing_D', 'closing_A']
    """
    index = market.info.index
    frames = {**forecasts, "closing": market.closing_prob}
    parts = [market.info] + [
        frame.reindex(index).loc[:, list(OUTCOMES)].add_prefix(f"{name}_")
        for name, frame in frames.items()
    ]
    return pd.concat(parts, axis=1).rename_axis("match_id")


def close_confirms(
    forecast: pd.DataFrame,
    opening: pd.DataFrame,
    closing: pd.DataFrame,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, Any]:
    """How far the line moved by the close towards where `forecast` departed from the sharp
    `opening` line, on the matches all three price (H, D, A each).

    `slope` is that of (closing − opening) on (forecast − opening), through the origin: 1 when
    the close moves all the way to the forecast, 0 when the departures foretell nothing of the
    move (a bet's CLV then comes from the soft book's price alone, not from the forecast);
    `slope_ci` resamples matches. `corr` is the correlation of the two differences.

    >>> opening = pd.DataFrame([[0.5, 0.25, 0.25], [0.4, 0.3, 0.3]], columns=list(OUTCOMES))
    >>> departure = np.array([[0.1, -0.05, -0.05], [-0.1, 0.05, 0.05]])
    >>> forecast, closing = opening + departure, opening + departure / 2
    >>> result = close_confirms(forecast, opening, closing, n_boot=50)
    >>> result["matches"], round(result["slope"], 6), round(result["corr"], 6)
    (2, 0.5, 1.0)
    """
    columns = list(OUTCOMES)
    index = forecast.index.intersection(opening.index).intersection(closing.index)
    triple = [f.loc[index, columns].to_numpy(float) for f in (forecast, opening, closing)]
    priced = np.isfinite(np.concatenate(triple, axis=1)).all(axis=1)
    departure = (triple[0] - triple[1])[priced]
    move = (triple[2] - triple[1])[priced]
    if not len(departure):
        return {"matches": 0, "slope": None, "slope_ci": [None, None], "corr": None}
    together, alone = (departure * move).sum(axis=1), (departure**2).sum(axis=1)
    low, high = bootstrap_interval(
        lambda rows: together[rows].sum(axis=1) / alone[rows].sum(axis=1),
        len(together),
        n_boot,
        alpha,
        seed,
    )
    return {
        "matches": int(len(departure)),
        "slope": float(together.sum() / alone.sum()),
        "slope_ci": [low, high],
        "corr": float(np.corrcoef(departure.ravel(), move.ravel())[0, 1]),
        "mean_abs_departure": float(np.abs(departure).mean()),
        "mean_abs_move": float(np.abs(move).mean()),
    }


# --- bets ---------------------------------------------------------------------------------------

LEDGER_COLUMNS = (
    "strategy",
    "match_id",
    "date",
    "league",
    "season",
    "outcome",
    "model_prob",
    "sharp_prob",
    "decimal_odds",
    "edge",
    "tier",
    "stake",
    "won",
    "clv",
)


def policy_bets(
    strategy: str, model_prob: pd.DataFrame, market: BettingMarket, policy: StakingPolicy
) -> pd.DataFrame:
    """The bets a forecaster places under `policy`: the rules of the `edge` endpoint.

    `model_prob` has columns H, D, A indexed by match id; matches without a forecast or without
    prices are passed over. Stakes are `bet_decisions` (`min_edge`, the sharp check against
    the market's sharp opening line where there is one, fractional Kelly, the cap per match),
    the tier that of each bet's edge.
    """
    if market.sharp_books != policy.sharp_books:
        raise ValueError(
            f"the market's sharp line is of {list(market.sharp_books)}, the policy's sharp_books "
            f"are {list(policy.sharp_books)}: build the market with the policy's sharp_books"
        )
    probs = model_prob.reindex(market.info.index).loc[:, list(OUTCOMES)].to_numpy(dtype=float)
    prices = market.prices.to_numpy(dtype=float)
    sharp = market.sharp_prob.to_numpy(dtype=float)
    usable = np.isfinite(probs).all(axis=1) & np.isfinite(prices).all(axis=1)
    stakes, all_edges = np.zeros_like(prices), np.zeros_like(prices)
    decisions = bet_decisions(probs[usable], prices[usable], sharp[usable], policy)
    stakes[usable], all_edges[usable] = decisions.stakes, decisions.edges
    row, outcome = np.nonzero(stakes > 0)
    edges = all_edges[row, outcome]
    tiers = [quality_tier(float(e), policy).value for e in edges]
    return _ledger(
        strategy, market, row, outcome, stakes[row, outcome], probs[row, outcome], edges, tiers
    )


def every_outcome_bets(market: BettingMarket, flat_stake: float) -> pd.DataFrame:
    """A flat stake on each of H, D and A of every priced match: the bookmaker's margin, paid."""
    priced = np.flatnonzero(np.isfinite(market.prices.to_numpy()).all(axis=1))
    row, outcome = np.repeat(priced, 3), np.tile(np.arange(3), len(priced))
    return _flat_ledger(str(Baseline.EVERY_OUTCOME), market, row, outcome, flat_stake)


def favourite_bets(market: BettingMarket, flat_stake: float) -> pd.DataFrame:
    """A flat stake on the shortest price of every priced match (a tie goes to H, then D)."""
    prices = market.prices.to_numpy()
    row = np.flatnonzero(np.isfinite(prices).all(axis=1))
    return _flat_ledger(
        str(Baseline.FAVOURITE), market, row, prices[row].argmin(axis=1), flat_stake
    )


def backtest_ledger(
    forecasts: Mapping[str, pd.DataFrame],
    market: BettingMarket,
    policy: StakingPolicy,
    strategies: Sequence[str],
    flat_stake: float,
) -> pd.DataFrame:
    """Every strategy's bets in one ledger, strategy by strategy in the order given.

    A flat baseline needs no forecast; any other strategy bets its forecast in `forecasts`.
    """
    ledgers = []
    for strategy in strategies:
        if strategy == Baseline.EVERY_OUTCOME:
            ledgers.append(every_outcome_bets(market, flat_stake))
        elif strategy == Baseline.FAVOURITE:
            ledgers.append(favourite_bets(market, flat_stake))
        elif strategy in forecasts:
            ledgers.append(policy_bets(strategy, forecasts[strategy], market, policy))
        else:
            raise ValueError(f"no forecast for strategy {strategy!r}; have {sorted(forecasts)}")
    return pd.concat(ledgers, ignore_index=True)


def _flat_ledger(
    strategy: str, market: BettingMarket, row: np.ndarray, outcome: np.ndarray, stake: float
) -> pd.DataFrame:
    nan = np.full(len(row), np.nan)
    return _ledger(
        strategy, market, row, outcome, np.full(len(row), float(stake)), nan, nan, [None] * len(row)
    )


def _ledger(
    strategy: str,
    market: BettingMarket,
    row: np.ndarray,
    outcome: np.ndarray,
    stake: np.ndarray,
    model_prob: np.ndarray,
    edge: np.ndarray,
    tier: Sequence[str | None],
) -> pd.DataFrame:
    """One row per bet, settled: whether it won and its closing-line value."""
    order = np.lexsort((outcome, row))  # kick-off order, then H, D, A
    row, outcome = row[order], outcome[order]
    info = market.info.iloc[row]
    odds = market.prices.to_numpy()[row, outcome]
    close = market.closing_prob.to_numpy(dtype=float)[row, outcome]
    sharp = market.sharp_prob.to_numpy(dtype=float)[row, outcome]
    results = info["result"].to_numpy()
    won = outcome_index(results) == outcome if len(results) else np.zeros(0, dtype=bool)
    return pd.DataFrame(
        {
            "strategy": strategy,
            "match_id": info.index.to_numpy(),
            "date": info["date"].to_numpy(),
            "league": info["league"].to_numpy(),
            "season": info["season"].to_numpy(),
            "outcome": np.asarray(OUTCOMES)[outcome],
            "model_prob": np.asarray(model_prob)[order],
            "sharp_prob": sharp,
            "decimal_odds": odds,
            "edge": np.asarray(edge)[order],
            "tier": np.asarray(tier, dtype=object)[order],
            "stake": np.asarray(stake, dtype=float)[order],
            "won": won,
            "clv": _clv(odds, close),
        },
        columns=list(LEDGER_COLUMNS),
    )


def _clv(odds: np.ndarray, closing_prob: np.ndarray) -> np.ndarray:
    """CLV where the close is known (NaN elsewhere)."""
    out = np.full(odds.shape, np.nan)
    known = np.isfinite(closing_prob)
    if known.any():
        out[known] = closing_line_value(odds[known], closing_prob[known])
    return out


# --- results ------------------------------------------------------------------------------------

#: The slices reported for each strategy, after its overall row.
GROUPINGS: tuple[str, ...] = ("league", "season", "tier")

RESULT_COLUMNS = (
    "strategy",
    "by",
    "group",
    "bets",
    "turnover",
    "profit",
    "roi",
    "roi_low",
    "roi_high",
    "yield",
    "yield_low",
    "yield_high",
    "hit_rate",
    "max_drawdown",
    "clv_mean",
    "clv_low",
    "clv_high",
    "clv_bets",
)


def strategy_results(
    ledger: pd.DataFrame,
    strategies: Sequence[str],
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
    by: Sequence[str] = GROUPINGS,
) -> pd.DataFrame:
    """Per strategy: an overall row, then a row per value of each column in `by`.

    Flat accounting on a bankroll of 1.0 (see the module's docstring), with percentile
    bootstrap intervals (bets resampled) for ROI, yield and the mean CLV. A strategy that
    placed no bet still has its overall row (0 bets, NaN ratios). A slice by tier is left out
    for strategies without tiers (the flat baselines).
    """
    rows = []
    for strategy in strategies:
        bets = ledger[ledger["strategy"] == strategy]
        rows.append(_result_row(strategy, "overall", "all", bets, n_boot, alpha, seed))
        for column in by:
            if bets[column].isna().all():
                continue
            for value, group in bets.groupby(column, sort=True):
                rows.append(_result_row(strategy, column, value, group, n_boot, alpha, seed))
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def _result_row(
    strategy: str, by: str, group: Any, bets: pd.DataFrame, n_boot: int, alpha: float, seed: int
) -> dict[str, Any]:
    nan_pair = (math.nan, math.nan)
    if len(bets):
        with_ci = summary_with_ci(bets, n_boot=n_boot, alpha=alpha, seed=seed)
        summary, roi_ci, yield_ci, clv_ci = (
            with_ci.summary,
            with_ci.roi_ci,
            with_ci.yield_ci,
            with_ci.clv_mean_ci,
        )
    else:
        summary, roi_ci, yield_ci, clv_ci = summarize(bets), nan_pair, nan_pair, nan_pair
    return {
        "strategy": strategy,
        "by": by,
        "group": str(group),
        "bets": summary.bets,
        "turnover": summary.turnover,
        "profit": summary.profit,
        "roi": summary.roi,
        "roi_low": roi_ci[0],
        "roi_high": roi_ci[1],
        "yield": summary.yield_,
        "yield_low": yield_ci[0],
        "yield_high": yield_ci[1],
        "hit_rate": summary.hit_rate,
        "max_drawdown": summary.max_drawdown,
        "clv_mean": summary.clv_mean,
        "clv_low": clv_ci[0],
        "clv_high": clv_ci[1],
        "clv_bets": int(np.isfinite(bets["clv"].to_numpy(dtype=float)).sum()),
    }


def bankroll_paths(
    ledger: pd.DataFrame, strategies: Sequence[str], start: pd.Timestamp | None = None
) -> dict[str, pd.Series]:
    """Flat bankroll (from 1.0) after each bet, indexed by date, per strategy with bets.

    Each path begins with the starting bankroll at `start` (default: the first bet's date).

    >>> ledger = pd.DataFrame({"strategy": "x", "stake": [0.1, 0.1], "decimal_odds": 2.0,
    ...     "won": [True, False], "date": pd.to_datetime(["2020-01-01", "2020-01-02"])})
    >>> bankroll_paths(ledger, ["x"])["x"].round(2).tolist()
    [1.0, 1.1, 1.0]
    """
    paths = {}
    for strategy in strategies:
        bets = ledger[ledger["strategy"] == strategy]
        if bets.empty:
            continue
        curve = bankroll_curve(bets)
        dates = bets.loc[curve.index, "date"]
        first = start if start is not None else dates.iloc[0]
        index = pd.DatetimeIndex([first, *dates], name="date")
        paths[strategy] = pd.Series([1.0, *curve.to_numpy()], index=index)
    return paths


def results_by_strategy(results: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """`strategy_results` as nested plain dicts for JSON: overall, by_tier, by_league,
    by_season → strategy → (group →) metrics, each interval a [low, high] pair, NaN as None."""
    nested: dict[str, dict[str, Any]] = {"overall": {}}
    for row in results.to_dict("records"):
        metrics = _metrics(row)
        if row["by"] == "overall":
            nested["overall"][row["strategy"]] = metrics
        else:
            slices = nested.setdefault(f"by_{row['by']}", {})
            slices.setdefault(row["strategy"], {})[row["group"]] = metrics
    return nested


def _metrics(row: Mapping[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        value = value.item() if isinstance(value, np.generic) else value
        return None if isinstance(value, float) and math.isnan(value) else value

    out: dict[str, Any] = {}
    for name in (
        "bets",
        "turnover",
        "profit",
        "roi",
        "yield",
        "hit_rate",
        "max_drawdown",
        "clv_mean",
        "clv_bets",
    ):
        out[name] = plain(row[name])
        prefix = "clv" if name == "clv_mean" else name
        if f"{prefix}_low" in row:
            out[f"{name}_ci"] = [plain(row[f"{prefix}_low"]), plain(row[f"{prefix}_high"])]
    return out
