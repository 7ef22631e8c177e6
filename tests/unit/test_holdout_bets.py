"""The candidate's bets on the gate's holdout: the backtest's rules, reported as figures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sabiscore.backtest import BacktestSettings
from sabiscore.holdout_bets import holdout_bets
from sabiscore.staking import StakingPolicy

INFO = pd.DataFrame(
    {
        "kickoff": pd.to_datetime(["2024-05-01", "2024-05-02"]),
        "league": "E0",
        "season": "2023-2024",
        "result": ["H", "A"],
    },
    index=["m1", "m2"],
)
PROBS = pd.DataFrame(
    [[0.5, 0.27, 0.23], [0.5, 0.27, 0.23]], index=INFO.index, columns=["H", "D", "A"]
)


def _wide(**books: list[float]) -> pd.DataFrame:
    """Both matches priced alike: book_phase -> [H, D, A]."""
    columns = {
        f"{book}_{outcome}": [price, price]
        for book, prices in books.items()
        for outcome, price in zip("HDA", prices, strict=True)
    }
    return pd.DataFrame(columns, index=INFO.index)


def test_bets_at_the_backtests_bookmaker_settled_against_the_close() -> None:
    wide = _wide(bet365_open=[2.2, 3.5, 3.4], pinnacle_close=[2.0, 3.6, 4.2])
    bets = holdout_bets(PROBS, wide, INFO, BacktestSettings(n_boot=50), StakingPolicy())
    # home in both (edge 0.5 * 2.2 - 1 = 0.10): one won, one lost
    assert (bets.bookmaker, bets.priced, bets.bets, bets.clv_bets) == ("bet365", 2, 2, 2)
    fair_home = 0.5 / (1 / 2.0 + 1 / 3.6 + 1 / 4.2)
    assert bets.clv_mean == pytest.approx(2.2 * fair_home - 1)
    assert bets.clv_ci == pytest.approx((bets.clv_mean, bets.clv_mean))  # the same CLV twice
    stake = bets.turnover / 2
    assert bets.yield_ == pytest.approx((stake * 1.2 - stake) / (2 * stake))  # +1.2, -1 units
    assert bets.tags() == {
        "bets": 2,
        "clv_mean": bets.clv_mean,
        "clv_low": bets.clv_ci[0],
        "clv_high": bets.clv_ci[1],
        "clv_bets": 2,
    }


def test_no_prices_no_bets_and_plain_json() -> None:
    wide = _wide(pinnacle_close=[2.0, 3.6, 4.2])  # no Bet365 opening prices at all
    bets = holdout_bets(PROBS, wide, INFO, BacktestSettings(n_boot=50), StakingPolicy())
    assert (bets.priced, bets.bets, bets.clv_bets) == (0, 0, 0)
    assert math.isnan(bets.clv_mean) and all(np.isnan(bets.clv_ci))
    plain = bets.to_dict()
    assert plain["clv_mean"] is None and plain["clv_ci"] == [None, None]
    assert plain["yield"] is None and plain["bets"] == 0


def test_best_price_names_its_books() -> None:
    wide = _wide(bet365_open=[2.2, 3.5, 3.4], pinnacle_open=[2.1, 3.6, 3.5])
    settings = BacktestSettings(bookmaker="best", best_of=("bet365", "pinnacle"), n_boot=10)
    bets = holdout_bets(PROBS, wide, INFO, settings, StakingPolicy())
    assert bets.bookmaker == "best of bet365, pinnacle" and bets.priced == 2
    assert bets.clv_bets == 0 and bets.bets > 0  # no closing prices: bets without a CLV
