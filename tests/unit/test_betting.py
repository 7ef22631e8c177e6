"""Backtest accounting on hand-worked ledgers."""

from __future__ import annotations

import doctest
import math
import time

import numpy as np
import pandas as pd
import pytest

from sabiscore import betting
from sabiscore.betting import (
    bankroll_curve,
    bootstrap_ci,
    group_summaries,
    max_drawdown,
    profit,
    summarize,
    summary_with_ci,
)


def flat_ledger() -> pd.DataFrame:
    """Five bets in units of a 10-unit bank, listed out of date order.

    In date order: +1.5, −2 (same day), +1, −1, +1 → bank 11.5, 9.5, 10.5, 9.5, 10.5.
    """
    return pd.DataFrame(
        {
            "date": pd.to_datetime(
                ["2024-08-17", "2024-08-10", "2024-08-24", "2024-08-10", "2024-08-31"]
            ),
            "stake": [1.0, 1.0, 1.0, 2.0, 2.0],
            "decimal_odds": [2.0, 2.5, 3.0, 1.8, 1.5],
            "won": [True, True, False, False, True],
            "clv": [0.03, 0.02, 0.00, -0.01, np.nan],
            "league": ["E0", "E0", "SP1", "SP1", "E0"],
            "tier": ["value", "premium", "value", "marginal", "value"],
        },
        index=[40, 10, 30, 20, 50],
    )


def test_profit_per_bet() -> None:
    assert profit(flat_ledger()).tolist() == [1.0, 1.5, -1.0, -2.0, 1.0]


def test_flat_curve_is_in_date_order_and_keeps_a_days_order() -> None:
    curve = bankroll_curve(flat_ledger(), initial_bankroll=10.0)
    assert curve.index.tolist() == [10, 20, 40, 30, 50]
    assert np.allclose(curve, [11.5, 9.5, 10.5, 9.5, 10.5])


def test_flat_summary_by_hand() -> None:
    summary = summarize(flat_ledger(), initial_bankroll=10.0)
    assert summary.bets == 5
    assert summary.turnover == pytest.approx(7.0)
    assert summary.profit == pytest.approx(0.5)  # 1.5 − 2 + 1 − 1 + 1
    assert summary.final_bankroll == pytest.approx(10.5)
    assert summary.roi == pytest.approx(0.05)  # 0.5 / 10
    assert summary.yield_ == pytest.approx(0.5 / 7)
    assert summary.hit_rate == pytest.approx(0.6)
    assert summary.max_drawdown == pytest.approx(2.0 / 11.5)  # 11.5 → 9.5
    assert summary.clv_mean == pytest.approx(0.01)  # (0.03 + 0.02 + 0 − 0.01) / 4


def test_a_losing_start_counts_from_the_initial_bankroll() -> None:
    ledger = pd.DataFrame({"stake": [1.0, 1.0], "decimal_odds": [2.0, 2.0], "won": [0, 1]})
    summary = summarize(ledger, initial_bankroll=4.0)
    assert summary.max_drawdown == pytest.approx(0.25)  # 4 → 3
    assert math.isnan(summary.clv_mean)  # no clv column


def compounding_ledger() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": ["2024-01-06", "2024-01-06", "2024-01-13"],
            "stake": [0.10, 0.05, 0.10],
            "decimal_odds": [2.0, 3.0, 1.5],
            "won": [True, False, True],
        }
    )


def test_compounding_sizes_a_days_bets_on_the_bank_before_it() -> None:
    # Day 1 on a bank of 1.0: +0.10, −0.05 → 1.05. Day 2: 0.10 × 1.05 = 0.105 staked, +0.0525.
    curve = bankroll_curve(compounding_ledger(), compounding=True)
    assert np.allclose(curve, [1.10, 1.05, 1.1025])
    summary = summarize(compounding_ledger(), compounding=True)
    assert summary.turnover == pytest.approx(0.255)
    assert summary.profit == pytest.approx(0.1025)
    assert summary.roi == pytest.approx(0.1025)
    assert summary.yield_ == pytest.approx(0.1025 / 0.255)
    assert summary.max_drawdown == pytest.approx(0.05 / 1.10)


def test_compounding_without_dates_takes_each_bet_in_turn() -> None:
    ledger = pd.DataFrame({"stake": [0.5, 0.5], "decimal_odds": [2.0, 2.0], "won": [1, 0]})
    assert np.allclose(bankroll_curve(ledger, compounding=True), [1.5, 0.75])
    assert np.allclose(bankroll_curve(ledger, compounding=False), [1.5, 1.0])


def test_compounding_refuses_to_stake_more_than_the_bank() -> None:
    ledger = compounding_ledger().assign(stake=[0.7, 0.5, 0.1])
    with pytest.raises(ValueError, match="stakes on 2024-01-06 total 1.200"):
        bankroll_curve(ledger, compounding=True)


def test_max_drawdown_cases() -> None:
    assert max_drawdown([1.0, 1.2, 0.9, 1.3, 1.04]) == pytest.approx(0.25)
    assert max_drawdown([1.0, 1.1, 1.2]) == 0.0
    assert max_drawdown([]) == 0.0
    assert max_drawdown(pd.Series([2.0, 1.0, 0.0])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="start above 0"):
        max_drawdown([0.0, 1.0])


def test_an_empty_ledger_summarises_to_nothing() -> None:
    summary = summarize(flat_ledger().iloc[:0], initial_bankroll=10.0)
    assert (summary.bets, summary.turnover, summary.profit, summary.roi) == (0, 0.0, 0.0, 0.0)
    assert math.isnan(summary.yield_) and math.isnan(summary.hit_rate)
    assert summary.max_drawdown == 0.0


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda b: b.drop(columns="won"), r"lack the columns \['won'\]"),
        (lambda b: b.assign(stake=[1.0, -1.0, 1.0, 1.0, 1.0]), "non-negative"),
        (lambda b: b.assign(decimal_odds=[2.0, 1.0, 2.0, 2.0, 2.0]), "greater than 1.0"),
        (lambda b: b.assign(won=[True, None, True, False, True]), "True or False"),
        (lambda b: b.assign(won=[1, 2, 0, 0, 1]), "True or False"),
        (lambda b: b.assign(date=[pd.NaT, *b["date"].iloc[1:]]), "needs a date"),
    ],
)
def test_bad_ledgers_raise(change, words) -> None:
    with pytest.raises(ValueError, match=words):
        summarize(change(flat_ledger()))
    with pytest.raises(ValueError, match="initial_bankroll must be positive"):
        summarize(flat_ledger(), initial_bankroll=0.0)


# --- groups -------------------------------------------------------------------------------------


def test_group_summaries_by_league_and_tier() -> None:
    table = group_summaries(flat_ledger(), by=["league", "tier"], initial_bankroll=10.0)
    assert list(table[["by", "group"]].itertuples(index=False, name=None)) == [
        ("overall", "all"),
        ("league", "E0"),
        ("league", "SP1"),
        ("tier", "marginal"),
        ("tier", "premium"),
        ("tier", "value"),
    ]
    e0 = table.set_index(["by", "group"]).loc[("league", "E0")]
    assert (e0["bets"], e0["turnover"], e0["profit"]) == (3, 4.0, 3.5)  # 1.5 + 1 + 1
    assert e0["yield_"] == pytest.approx(3.5 / 4)
    overall = table.iloc[0]
    assert overall["profit"] == pytest.approx(summarize(flat_ledger(), 10.0).profit)
    with pytest.raises(ValueError, match="no column 'season'"):
        group_summaries(flat_ledger(), by=["season"])


# --- bootstrap ----------------------------------------------------------------------------------


def test_bootstrap_ci_contains_the_mean_and_narrows_with_more_data() -> None:
    rng = np.random.default_rng(5)
    small, large = rng.normal(0.02, 1.0, 100), rng.normal(0.02, 1.0, 10_000)
    low_s, high_s = bootstrap_ci(small)
    low_l, high_l = bootstrap_ci(large)
    assert low_s < small.mean() < high_s
    assert low_l < large.mean() < high_l
    assert (high_l - low_l) < (high_s - low_s) / 5  # ~ sqrt(100) times narrower
    assert (high_l - low_l) == pytest.approx(2 * 1.96 / 100, rel=0.1)  # normal theory


def test_bootstrap_ci_is_reproducible_and_takes_other_statistics() -> None:
    values = np.arange(50.0)
    assert bootstrap_ci(values, seed=1) == bootstrap_ci(values, seed=1)
    low, high = bootstrap_ci(values, statistic=np.median, alpha=0.1)
    assert low <= np.median(values) <= high
    assert bootstrap_ci([3.0] * 7) == (3.0, 3.0)


def test_bootstrap_ci_rejects_what_it_cannot_resample() -> None:
    with pytest.raises(ValueError, match="no values"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="finite"):
        bootstrap_ci([1.0, np.nan])
    with pytest.raises(ValueError, match="alpha"):
        bootstrap_ci([1.0, 2.0], alpha=1.5)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci([1.0, 2.0], n_boot=0)


def random_ledger(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    odds = rng.uniform(1.5, 5.0, n)
    return pd.DataFrame(
        {
            "stake": rng.uniform(0.005, 0.02, n),
            "decimal_odds": odds,
            "won": rng.random(n) < 1.02 / odds,
            "clv": rng.normal(0.01, 0.05, n),
        }
    )


def test_summary_with_ci_brackets_the_point_estimates() -> None:
    result = summary_with_ci(random_ledger(2000), n_boot=500)
    summary = result.summary
    assert result.yield_ci[0] < summary.yield_ < result.yield_ci[1]
    assert result.roi_ci[0] < summary.roi < result.roi_ci[1]
    assert result.clv_mean_ci[0] < summary.clv_mean < result.clv_mean_ci[1]
    assert result.alpha == 0.05


def test_summary_with_ci_without_clv_and_without_bets() -> None:
    result = summary_with_ci(random_ledger(50).drop(columns="clv"), n_boot=100)
    assert all(math.isnan(v) for v in result.clv_mean_ci)
    with pytest.raises(ValueError, match="no values"):
        summary_with_ci(random_ledger(0))


def test_bootstrap_of_ten_thousand_bets_is_quick() -> None:
    ledger = random_ledger(10_000)
    start = time.perf_counter()
    summary_with_ci(ledger, n_boot=2000)
    assert time.perf_counter() - start < 10.0


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(betting).failed == 0
