"""The bets a candidate would have placed on the gate's holdout, and whether they beat the close.

Reported beside the promotion gate's decision and never part of it: on one holdout a few dozen
bets say little about profit, but closing-line value (CLV) is the earliest evidence of an edge
(`sabiscore.staking`), and a person deciding to serve a model wants it next to the log loss.

The bets are the betting backtest's own, through its functions (`sabiscore.backtest`): the
opening prices of its bookmaker (`configs/backtest.yaml`, Bet365 by default), the staking rules
of `configs/staking.yaml` (the `edge` endpoint's), flat accounting, CLV against the de-margined
Pinnacle close. Nothing here decides a bet, so a change of the rule there changes these too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sabiscore.backtest import (
    BEST_PRICE,
    MODEL,
    BacktestSettings,
    backtest_ledger,
    betting_market,
    strategy_results,
)
from sabiscore.staking import StakingPolicy


@dataclass(frozen=True)
class HoldoutBets:
    """The candidate's bets on the holdout: how many, their yield and their CLV.

    Money in units of the initial bankroll (flat staking); yield and CLV as fractions, each
    with a percentile bootstrap interval over bets (NaN without bets).
    """

    bookmaker: str  # whose opening prices: a book, or "best of ..."
    priced: int  # holdout matches with a full set of prices there
    bets: int
    turnover: float
    yield_: float
    yield_ci: tuple[float, float]
    clv_mean: float
    clv_ci: tuple[float, float]
    clv_bets: int  # bets with a closing price to measure them by

    def tags(self) -> dict[str, float]:
        """The holdout's CLV figures and the bets behind them (`holdout_*` run metrics)."""
        return {
            "bets": self.bets,
            "clv_mean": self.clv_mean,
            "clv_low": self.clv_ci[0],
            "clv_high": self.clv_ci[1],
            "clv_bets": self.clv_bets,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON, NaN as None."""
        return {
            "bookmaker": self.bookmaker,
            "priced_matches": self.priced,
            "bets": self.bets,
            "turnover": _plain(self.turnover),
            "yield": _plain(self.yield_),
            "yield_ci": [_plain(v) for v in self.yield_ci],
            "clv_mean": _plain(self.clv_mean),
            "clv_ci": [_plain(v) for v in self.clv_ci],
            "clv_bets": self.clv_bets,
        }


def _plain(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def holdout_bets(
    model_prob: pd.DataFrame,
    wide: pd.DataFrame,
    info: pd.DataFrame,
    settings: BacktestSettings,
    policy: StakingPolicy,
) -> HoldoutBets:
    """The bets `model_prob` (H, D, A by match id) places on the matches of `info` (kickoff,
    league, season, result) at the prices of `wide` (`football_data.one_x_two`), settled.

    >>> info = pd.DataFrame({"kickoff": pd.to_datetime(["2024-05-01"]), "league": ["E0"],
    ...     "season": ["2023-2024"], "result": ["H"]}, index=["m"])
    >>> wide = pd.DataFrame({"bet365_open_H": [2.2], "bet365_open_D": [3.5],
    ...     "bet365_open_A": [3.4], "pinnacle_close_H": [2.0], "pinnacle_close_D": [3.6],
    ...     "pinnacle_close_A": [4.2]}, index=["m"])
    >>> probs = pd.DataFrame([[0.5, 0.27, 0.23]], index=["m"], columns=["H", "D", "A"])
    >>> bets = holdout_bets(probs, wide, info, BacktestSettings(n_boot=10), StakingPolicy())
    >>> bets.bets, bets.clv_bets, round(bets.clv_mean, 4)  # home (edge 0.5 * 2.2 - 1 = 0.10)
    (1, 1, 0.0828)

    The close de-margined gives home 0.5 / (1/2.0 + 1/3.6 + 1/4.2) = 0.4922: 2.2 * 0.4922 - 1.
    """
    method = policy.implied_method
    market = betting_market(
        wide, info, settings.bookmaker, settings.best_of, method, policy.sharp_books
    )
    ledger = backtest_ledger({MODEL: model_prob}, market, policy, [MODEL], settings.flat_stake)
    row = strategy_results(
        ledger, [MODEL], settings.n_boot, settings.alpha, settings.seed, by=()
    ).iloc[0]
    bookmaker = settings.bookmaker
    if bookmaker == BEST_PRICE:
        bookmaker = f"best of {', '.join(settings.best_of)}"
    return HoldoutBets(
        bookmaker=bookmaker,
        priced=int(np.isfinite(market.prices.to_numpy(dtype=float)).all(axis=1).sum()),
        bets=int(row["bets"]),
        turnover=float(row["turnover"]),
        yield_=float(row["yield"]),
        yield_ci=(float(row["yield_low"]), float(row["yield_high"])),
        clv_mean=float(row["clv_mean"]),
        clv_ci=(float(row["clv_low"]), float(row["clv_high"])),
        clv_bets=int(row["clv_bets"]),
    )
