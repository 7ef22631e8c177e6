"""Backtest accounting: settle a ledger of bets, follow the bankroll, summarise, bootstrap.

A ledger is a DataFrame, one row per bet, with at least

* `stake` — flat mode: an amount in the units of `initial_bankroll` (with the default bankroll
  of 1.0, a share of the starting bankroll); compounding mode: a share of the bankroll held
  before that day's results (what `sabiscore.staking.match_stakes` returns);
* `decimal_odds` — the price taken; `won` — whether the bet won (True/False or 1/0);

and optionally `clv` (closing-line value as a fraction), `date`, and grouping columns such as
`league`, `season` or `tier`.

Two ratios that bettors keep apart, both reported:

* roi = total profit ÷ initial bankroll — how much the bankroll grew;
* yield = total profit ÷ turnover (the sum of the amounts staked) — profit per unit staked,
  the figure to compare with the edge and the bookmaker's margin.

Profit alone takes thousands of bets to tell skill from luck, hence the bootstrap intervals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

REQUIRED_COLUMNS: tuple[str, str, str] = ("stake", "decimal_odds", "won")

#: Resample indices are drawn in blocks of at most this many integers (~32 MB of int64).
_BLOCK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class BettingSummary:
    """The headline numbers of a ledger; money figures in the units of the initial bankroll."""

    bets: int
    turnover: float  # sum of the amounts staked
    profit: float  # final bankroll − initial bankroll
    final_bankroll: float
    roi: float  # profit ÷ initial bankroll
    yield_: float  # profit ÷ turnover (NaN when nothing was staked)
    hit_rate: float  # share of bets won (NaN without bets)
    max_drawdown: float  # largest fall from a peak, as a share of that peak
    clv_mean: float  # mean CLV per bet over bets that have one (NaN when none do)


@dataclass(frozen=True)
class BettingSummaryCI:
    """A flat-staking summary with percentile bootstrap intervals at level 1 − alpha."""

    summary: BettingSummary
    yield_ci: tuple[float, float]
    roi_ci: tuple[float, float]
    clv_mean_ci: tuple[float, float]
    alpha: float


# --- settling -----------------------------------------------------------------------------------


def _validated(bets: pd.DataFrame) -> pd.DataFrame:
    """The ledger, checked: known columns, stakes ≥ 0, prices > 1, settled results."""
    missing = [column for column in REQUIRED_COLUMNS if column not in bets.columns]
    if missing:
        raise ValueError(f"bets lack the columns {missing}")
    stakes = bets["stake"].to_numpy(dtype=float)
    if not (np.isfinite(stakes) & (stakes >= 0)).all():
        raise ValueError("stakes must be finite and non-negative")
    odds = bets["decimal_odds"].to_numpy(dtype=float)
    if not (np.isfinite(odds) & (odds > 1.0)).all():
        raise ValueError("decimal odds must be greater than 1.0 and finite")
    if bets["won"].isna().any() or not bets["won"].isin([True, False]).all():
        raise ValueError("'won' must be True or False for every bet (drop unsettled bets)")
    if "date" in bets.columns and bets["date"].isna().any():
        raise ValueError("every bet needs a date when the ledger has a 'date' column")
    return bets


def _in_date_order(bets: pd.DataFrame) -> pd.DataFrame:
    """Bets by date (stable: a day's bets keep their order); as given without dates."""
    if "date" not in bets.columns:
        return bets
    return bets.sort_values("date", kind="stable")


def _unit_return(bets: pd.DataFrame) -> pd.Series:
    """Profit per unit staked: odds − 1 for a win, −1 for a loss."""
    won = bets["won"].astype(bool)
    return (bets["decimal_odds"] - 1.0).where(won, -1.0)


def profit(bets: pd.DataFrame) -> pd.Series:
    """Profit of each bet in stake units: stake × (odds − 1) if it won, else −stake.

    >>> ledger = pd.DataFrame({"stake": [1.0, 2.0], "decimal_odds": [3.0, 1.5], "won": [1, 0]})
    >>> profit(ledger).tolist()
    [2.0, -2.0]
    """
    bets = _validated(bets)
    return (bets["stake"] * _unit_return(bets)).rename("profit")


def _settle(bets: pd.DataFrame, initial_bankroll: float, compounding: bool) -> pd.DataFrame:
    """Per bet, in date order: the amount staked, its profit and the bankroll after it."""
    if not (np.isfinite(initial_bankroll) and initial_bankroll > 0):
        raise ValueError(f"initial_bankroll must be positive, got {initial_bankroll!r}")
    ordered = _in_date_order(_validated(bets))
    stakes = ordered["stake"].astype(float)
    amounts = stakes * _bankroll_before_day(ordered, initial_bankroll) if compounding else stakes
    profits = amounts * _unit_return(ordered)
    bankroll = initial_bankroll + profits.cumsum()
    return pd.DataFrame({"amount": amounts, "profit": profits, "bankroll": bankroll})


def _bankroll_before_day(bets: pd.DataFrame, initial_bankroll: float) -> pd.Series:
    """Per bet, the bankroll before its day's results: the day's stakes are shares of it.

    Without dates every bet is a day of its own. A day whose stakes add up to more than the
    whole bankroll cannot be placed, and is an error rather than a silent overdraft.
    """
    day = bets["date"] if "date" in bets.columns else pd.Series(range(len(bets)), bets.index)
    stakes = bets["stake"].astype(float)
    staked = stakes.groupby(day, sort=False).sum()
    if (staked > 1.0 + 1e-12).any():
        first = staked[staked > 1.0 + 1e-12].index[0]
        raise ValueError(f"stakes on {first} total {staked[first]:.3f} of the bankroll (> 1)")
    growth = 1.0 + (stakes * _unit_return(bets)).groupby(day, sort=False).sum()
    before = initial_bankroll * growth.cumprod().shift(1, fill_value=1.0)
    return day.map(before).astype(float)


def bankroll_curve(
    bets: pd.DataFrame, initial_bankroll: float = 1.0, compounding: bool = False
) -> pd.Series:
    """The bankroll after each bet, bets in date order (index: the ledger's, reordered).

    Flat: stakes are fixed amounts. Compounding: each stake is a share of the bankroll held
    before that day's results, so all of one day's bets are sized on the same bankroll, as
    they would be when placed before the first kick-off.

    >>> ledger = pd.DataFrame({"stake": [0.1, 0.1], "decimal_odds": [2.0, 2.0], "won": [1, 1]})
    >>> bankroll_curve(ledger, compounding=True).round(6).tolist()  # 1.1, then 1.1 + 0.11
    [1.1, 1.21]
    """
    return _settle(bets, initial_bankroll, compounding)["bankroll"]


def max_drawdown(curve: Sequence[float] | np.ndarray | pd.Series) -> float:
    """Largest peak-to-trough fall of a bankroll curve, as a share of the peak.

    Include the starting bankroll as the first value, or a losing start goes unseen.

    >>> round(max_drawdown([1.0, 1.2, 0.9, 1.3, 1.04]), 6)  # 1.2 → 0.9 is a 25 % fall
    0.25
    """
    values = np.asarray(curve, dtype=float)
    if values.size == 0:
        return 0.0
    if not np.isfinite(values).all() or values[0] <= 0:
        raise ValueError("a bankroll curve must be finite and start above 0")
    peaks = np.maximum.accumulate(values)
    return float(((peaks - values) / peaks).max())


# --- summaries ----------------------------------------------------------------------------------


def summarize(
    bets: pd.DataFrame, initial_bankroll: float = 1.0, compounding: bool = False
) -> BettingSummary:
    """Turnover, profit, roi, yield, hit rate, drawdown and mean CLV of a ledger."""
    settled = _settle(bets, initial_bankroll, compounding)
    final = float(settled["bankroll"].iloc[-1]) if len(settled) else float(initial_bankroll)
    turnover = float(settled["amount"].sum())
    total = final - initial_bankroll
    return BettingSummary(
        bets=len(settled),
        turnover=turnover,
        profit=total,
        final_bankroll=final,
        roi=total / initial_bankroll,
        yield_=total / turnover if turnover > 0 else float("nan"),
        hit_rate=float(bets["won"].astype(bool).mean()) if len(bets) else float("nan"),
        max_drawdown=max_drawdown([initial_bankroll, *settled["bankroll"]]),
        clv_mean=_clv_mean(bets),
    )


def _clv_values(bets: pd.DataFrame) -> np.ndarray:
    """The CLV of the bets that have one (a bet without a closing price has NaN)."""
    if "clv" not in bets.columns:
        return np.empty(0)
    values = bets["clv"].to_numpy(dtype=float)
    return values[np.isfinite(values)]


def _clv_mean(bets: pd.DataFrame) -> float:
    values = _clv_values(bets)
    return float(values.mean()) if values.size else float("nan")


def group_summaries(
    bets: pd.DataFrame, by: Sequence[str], initial_bankroll: float = 1.0
) -> pd.DataFrame:
    """One row for all bets ('overall'), then one per value of each column in `by`.

    Columns `by` (the grouping column, or 'overall') and `group` (its value, or 'all'), then
    the fields of `BettingSummary`. Flat staking: a compounding bankroll belongs to the whole
    ledger, not to a slice of it. Bets with a missing group value form a group of their own.
    """
    rows = [{"by": "overall", "group": "all", **asdict(summarize(bets, initial_bankroll))}]
    for column in by:
        if column not in bets.columns:
            raise ValueError(f"bets have no column {column!r} to group by")
        for value, group in bets.groupby(column, sort=True, dropna=False):
            rows.append(
                {"by": column, "group": value, **asdict(summarize(group, initial_bankroll))}
            )
    return pd.DataFrame(rows)


# --- bootstrap ----------------------------------------------------------------------------------


def _resamples(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Blocks of resample indices, shape (rows, n), n_boot rows in all."""
    rng = np.random.default_rng(seed)
    rows = max(1, _BLOCK_ELEMENTS // max(n, 1))
    for start in range(0, n_boot, rows):
        yield rng.integers(0, n, size=(min(rows, n_boot - start), n))


def _check_bootstrap(n: int, n_boot: int, alpha: float) -> None:
    if n == 0:
        raise ValueError("there are no values to bootstrap")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")


def _interval(statistics: np.ndarray, alpha: float) -> tuple[float, float]:
    finite = statistics[np.isfinite(statistics)]
    if not finite.size:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray | pd.Series,
    statistic: Callable[..., np.ndarray] = np.mean,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic(values)`: resample with replacement.

    `statistic` must take `axis=1` (np.mean, np.median, ...): each block of resamples is one
    array call, so 10,000 bets × 2,000 resamples take well under a second.

    >>> bootstrap_ci([2.0, 2.0, 2.0])
    (2.0, 2.0)
    """
    data = np.asarray(values, dtype=float).ravel()
    _check_bootstrap(data.size, n_boot, alpha)
    if not np.isfinite(data).all():
        raise ValueError("values to bootstrap must be finite")
    blocks = [statistic(data[index], axis=1) for index in _resamples(data.size, n_boot, seed)]
    return _interval(np.concatenate(blocks), alpha)


def bootstrap_interval(
    statistic: Callable[[np.ndarray], np.ndarray],
    n: int,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a statistic of `n` units resampled with replacement:
    `statistic` takes a block of resample indices, shape (rows, n), and returns one value per
    row (a ratio of sums, say, which `bootstrap_ci`'s mean of values cannot express).

    >>> stakes = np.array([1.0, 2.0, 4.0]); profits = 0.1 * stakes  # every bet yields 10 %
    >>> yields = lambda rows: profits[rows].sum(axis=1) / stakes[rows].sum(axis=1)
    >>> [round(end, 6) for end in bootstrap_interval(yields, 3)]
    [0.1, 0.1]
    """
    _check_bootstrap(n, n_boot, alpha)
    blocks = [statistic(index) for index in _resamples(n, n_boot, seed)]
    return _interval(np.concatenate(blocks), alpha)


def summary_with_ci(
    bets: pd.DataFrame,
    initial_bankroll: float = 1.0,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> BettingSummaryCI:
    """Flat-staking summary with bootstrap intervals for yield, roi and the mean CLV.

    Bets are resampled as units (profit and stake together), so the yield interval is that of
    the ratio, not of a mean of per-bet ratios. Flat staking, because a compounding bankroll
    depends on the order of the bets, which a resample does not keep.
    """
    settled = _settle(bets, initial_bankroll, compounding=False)
    _check_bootstrap(len(settled), n_boot, alpha)
    profits, amounts = settled["profit"].to_numpy(), settled["amount"].to_numpy()
    totals, turnovers = [], []
    for index in _resamples(len(settled), n_boot, seed):
        totals.append(profits[index].sum(axis=1))
        turnovers.append(amounts[index].sum(axis=1))
    total, turnover = np.concatenate(totals), np.concatenate(turnovers)
    with np.errstate(divide="ignore", invalid="ignore"):
        yields = np.where(turnover > 0, total / turnover, np.nan)
    clv = _clv_values(bets)
    return BettingSummaryCI(
        summary=summarize(bets, initial_bankroll),
        yield_ci=_interval(yields, alpha),
        roi_ci=_interval(total / initial_bankroll, alpha),
        clv_mean_ci=bootstrap_ci(clv, n_boot=n_boot, alpha=alpha, seed=seed)
        if clv.size
        else (float("nan"), float("nan")),
        alpha=alpha,
    )
