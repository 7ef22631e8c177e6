"""The betting backtest's domain: hand-worked ledgers, windows, the Elo baseline, and the
synthetic league, where the true probabilities are known."""

from __future__ import annotations

import dataclasses
import doctest
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sabiscore import backtest
from sabiscore.backtest import (
    BacktestSettings,
    Baseline,
    BettingMarket,
    EloOutcomeModel,
    Window,
    backtest_ledger,
    bankroll_paths,
    betting_market,
    close_confirms,
    every_outcome_bets,
    favourite_bets,
    forecast_table,
    opening_prices,
    policy_bets,
    results_by_strategy,
    strategy_results,
    training_rows,
    walk_forward_windows,
)
from sabiscore.config import configs_dir
from sabiscore.evaluation import market_probabilities
from sabiscore.football_data import one_x_two, parse_football_data
from sabiscore.staking import BetReason, StakingPolicy, match_edges
from sabiscore.synthetic import (
    FOOTBALL_DATA_COLUMNS,
    LeagueSpec,
    SyntheticConfig,
    generate_league,
)

POLICY = StakingPolicy()  # min edge 2 %, quarter Kelly, 5 % cap per match, tiers 2 / 4 / 8 %


def test_doctests() -> None:
    assert doctest.testmod(backtest).failed == 0


# --- a hand-worked market -----------------------------------------------------------------------


def hand_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(wide prices, match info, model) of `hand_market`."""
    ids = ["m1", "m2", "m3"]
    wide = pd.DataFrame(
        {
            "bet365_open_H": [2.2, 3.5, np.nan],
            "bet365_open_D": [3.0, 3.2, np.nan],
            "bet365_open_A": [4.0, 2.2, np.nan],
            "pinnacle_open_H": [2.1, 3.2, 2.0],
            "pinnacle_open_D": [3.1, 3.4, 3.5],
            "pinnacle_open_A": [4.2, 2.2, 4.0],
            "pinnacle_close_H": [2.0, np.nan, 2.0],
            "pinnacle_close_D": [3.6, np.nan, 3.5],
            "pinnacle_close_A": [4.5, np.nan, 4.0],
            "market_avg_close_H": [2.0, 3.0, 2.0],
            "market_avg_close_D": [3.5, 3.0, 3.5],
            "market_avg_close_A": [4.0, 3.0, 4.0],
        },
        index=ids,
    )
    info = pd.DataFrame(
        {
            "kickoff": pd.to_datetime(["2023-08-12 15:00", "2023-08-19 15:00", "2023-08-26 15:00"]),
            "league": ["E0", "SP1", "E0"],
            "season": ["2023-2024"] * 3,
            "result": ["H", "A", "D"],
        },
        index=ids,
    )
    model = pd.DataFrame(
        [[0.5, 0.3, 0.2], [0.3, 0.3, 0.4], [0.6, 0.2, 0.2]], index=ids, columns=list("HDA")
    )
    return wide, info, model


#: Pinnacle's de-margined opening home probabilities of m1 and m2 (multiplicative).
SHARP_H = [(1 / 2.1) / (1 / 2.1 + 1 / 3.1 + 1 / 4.2), (1 / 3.2) / (1 / 3.2 + 1 / 3.4 + 1 / 2.2)]


def hand_market() -> tuple[BettingMarket, pd.DataFrame]:
    """Three matches on three dates; the third has no Bet365 price.

    m1: model (0.5, 0.3, 0.2) at (2.2, 3.0, 4.0): edges +0.10, −0.10, −0.20 → back H, a quarter
        of Kelly 0.10 / 1.2: stake 0.0208333, premium. H won: profit 0.0208333 × 1.2 = 0.025.
        Pinnacle opened at (2.1, 3.1, 4.2): fair H 0.45926, × 2.2 − 1 = +1.0 %, no contradiction.
        Pinnacle closed at (2.0, 3.6, 4.5), margin-free already: fair H 0.5, CLV 2.2 × 0.5 − 1.
    m2: model (0.3, 0.3, 0.4) at (3.5, 3.2, 2.2): edges +0.05, −0.04, −0.12 → back H, stake
        0.25 × 0.05 / 2.5 = 0.005, value. A won: profit −0.005. Pinnacle opened at (3.2, 3.4,
        2.2): fair H 0.29449, × 3.5 − 1 = +3.1 %. No Pinnacle close: the market average (3.0,
        3.0, 3.0), fair 1/3 each: CLV 3.5 / 3 − 1.
    """
    wide, info, model = hand_frames()
    return betting_market(wide, info, "bet365"), model


def test_the_model_bets_by_the_staking_rules_by_hand() -> None:
    market, model = hand_market()
    bets = policy_bets("ensemble", model, market, POLICY)
    assert bets["match_id"].tolist() == ["m1", "m2"]  # m3 has no price: no bet
    assert bets["outcome"].tolist() == ["H", "H"]
    assert bets["stake"].tolist() == pytest.approx([0.25 * 0.10 / 1.2, 0.25 * 0.05 / 2.5])
    assert bets["edge"].tolist() == pytest.approx([0.10, 0.05])
    assert bets["tier"].tolist() == ["premium", "value"]
    assert bets["won"].tolist() == [True, False]
    # CLV: m1 against Pinnacle's close, m2 against the market-average close (no Pinnacle)
    assert bets["clv"].tolist() == pytest.approx([2.2 * 0.5 - 1, 3.5 / 3 - 1])
    assert bets["sharp_prob"].tolist() == pytest.approx(SHARP_H)  # what the bets were checked on


def test_a_contradicting_sharp_opening_line_refuses_the_bet() -> None:
    """Pinnacle opens m2 at (3.6, 3.3, 2.1): fair H 0.26280, × 3.5 − 1 = −8.0 %: no bet on m2,
    unless the tolerance allows 8 %."""
    wide, info, model = hand_frames()
    wide.loc["m2", ["pinnacle_open_H", "pinnacle_open_D", "pinnacle_open_A"]] = [3.6, 3.3, 2.1]
    market = betting_market(wide, info, "bet365")
    assert market.sharp_prob.loc["m2", "H"] == pytest.approx(
        (1 / 3.6) / (1 / 3.6 + 1 / 3.3 + 1 / 2.1)
    )
    bets = policy_bets("ensemble", model, market, POLICY)
    assert bets["match_id"].tolist() == ["m1"]
    assert bets["stake"].tolist() == pytest.approx([0.25 * 0.10 / 1.2])  # m1 is untouched
    tolerant = dataclasses.replace(POLICY, sharp_tolerance=0.081)
    assert policy_bets("ensemble", model, market, tolerant)["match_id"].tolist() == ["m1", "m2"]
    # a sharp order without Pinnacle, and no other sharp book quoted: the edge alone decides
    betfair = dataclasses.replace(POLICY, sharp_books=("betfair",))
    alone = betting_market(wide, info, "bet365", sharp_books=betfair.sharp_books)
    assert alone.sharp_prob.isna().all(axis=None)
    assert policy_bets("ensemble", model, alone, betfair)["match_id"].tolist() == ["m1", "m2"]


def test_the_sharp_line_falls_back_to_the_next_sharp_book() -> None:
    """No Pinnacle opening price for m2; the market average opened at (3.6, 3.3, 2.1)."""
    wide, info, model = hand_frames()
    wide.loc["m2", ["pinnacle_open_H", "pinnacle_open_D", "pinnacle_open_A"]] = np.nan
    for outcome, price in zip("HDA", [3.6, 3.3, 2.1], strict=True):
        wide[f"market_avg_open_{outcome}"] = [np.nan, price, np.nan]
    market = betting_market(wide, info, "bet365")
    assert market.sharp_prob["H"].tolist()[:2] == pytest.approx(
        [SHARP_H[0], (1 / 3.6) / (1 / 3.6 + 1 / 3.3 + 1 / 2.1)]
    )
    m3 = 1 / np.array([2.0, 3.5, 4.0])  # Pinnacle's opening prices of m3
    assert market.sharp_prob.loc["m3"].tolist() == pytest.approx(m3 / m3.sum())
    assert policy_bets("ensemble", model, market, POLICY)["match_id"].tolist() == ["m1"]


def test_closing_prices_never_decide_a_bet() -> None:
    """A close that would contradict every bet changes the CLV, not the bets."""
    wide, info, model = hand_frames()
    before = policy_bets("ensemble", model, betting_market(wide, info, "bet365"), POLICY)
    for book in ("pinnacle", "market_avg"):
        for outcome, price in zip("HDA", [9.0, 1.2, 1.2], strict=True):
            wide[f"{book}_close_{outcome}"] = price
    after = policy_bets("ensemble", model, betting_market(wide, info, "bet365"), POLICY)
    columns = ["match_id", "outcome", "stake", "sharp_prob"]
    pd.testing.assert_frame_equal(before[columns], after[columns])
    assert (after["clv"] < before["clv"]).all()


def test_roi_yield_drawdown_and_clv_by_hand() -> None:
    market, model = hand_market()
    ledger = policy_bets("ensemble", model, market, POLICY)
    row = strategy_results(ledger, ["ensemble"], n_boot=200).iloc[0]
    turnover = 0.25 * 0.10 / 1.2 + 0.005
    assert row["bets"] == 2 and row["turnover"] == pytest.approx(turnover)
    assert row["profit"] == pytest.approx(0.025 - 0.005)
    assert row["roi"] == pytest.approx(0.02)  # profit ÷ the initial bankroll of 1
    assert row["yield"] == pytest.approx(0.02 / turnover)  # profit ÷ turnover = 0.774
    assert row["hit_rate"] == pytest.approx(0.5)
    assert row["max_drawdown"] == pytest.approx(0.005 / 1.025)  # 1 → 1.025 → 1.020
    assert row["clv_mean"] == pytest.approx((0.10 + 3.5 / 3 - 1) / 2)
    assert row["roi_low"] <= row["roi"] <= row["roi_high"]
    assert row["clv_low"] <= row["clv_mean"] <= row["clv_high"]


def test_every_outcome_baseline_by_hand() -> None:
    """Flat 0.01 on H, D, A of m1 and m2: +0.012 −0.01 −0.01, then −0.01 −0.01 +0.012."""
    market, _ = hand_market()
    ledger = every_outcome_bets(market, 0.01)
    assert ledger["outcome"].tolist() == ["H", "D", "A", "H", "D", "A"]
    assert ledger["tier"].isna().all() and ledger["model_prob"].isna().all()
    row = strategy_results(ledger, ["every_outcome"], n_boot=200).iloc[0]
    assert row["turnover"] == pytest.approx(0.06)
    assert row["profit"] == pytest.approx(-0.016)
    assert row["yield"] == pytest.approx(-0.016 / 0.06)
    assert row["hit_rate"] == pytest.approx(2 / 6)
    # bankroll 1.012, 1.002, 0.992, 0.982, 0.972, 0.984: the fall from 1.012 to 0.972
    assert row["max_drawdown"] == pytest.approx(0.04 / 1.012)
    fair = {"m1": [0.5, 1 / 3.6 / (0.5 + 1 / 3.6 + 1 / 4.5), 1 / 4.5 / (0.5 + 1 / 3.6 + 1 / 4.5)]}
    assert ledger["clv"].iloc[0] == pytest.approx(2.2 * 0.5 - 1)
    assert ledger["clv"].iloc[1] == pytest.approx(3.0 * fair["m1"][1] - 1)


def test_favourite_baseline_backs_the_shortest_price() -> None:
    market, _ = hand_market()
    ledger = favourite_bets(market, 0.01)
    assert list(zip(ledger["match_id"], ledger["outcome"], strict=True)) == [
        ("m1", "H"),
        ("m2", "A"),
    ]
    row = strategy_results(ledger, ["favourite"], n_boot=200).iloc[0]
    assert row["profit"] == pytest.approx(0.024) and row["yield"] == pytest.approx(1.2)
    assert row["max_drawdown"] == 0.0


def test_same_stakes_as_the_edge_endpoint() -> None:
    """For one book, or the best price of several, the backtest stakes what `match_edges` says."""
    rng = np.random.default_rng(3)
    probs = rng.dirichlet([4, 2.5, 3], size=40)
    books = {b: 1 / (rng.dirichlet([4, 2.5, 3], size=40) * 1.05) for b in ("bet365", "pinnacle")}
    ids = [f"m{i}" for i in range(40)]
    wide = pd.DataFrame(
        {f"{b}_open_{o}": books[b][:, k] for b in books for k, o in enumerate("HDA")}, index=ids
    )
    info = pd.DataFrame(
        {
            "kickoff": pd.date_range("2023-08-01", periods=40),
            "league": "E0",
            "season": "2023-2024",
            "result": "H",
        },
        index=ids,
    )
    model = pd.DataFrame(probs, index=ids, columns=list("HDA"))
    # Bet365 alone (and no sharp book in the policy: the endpoint sees no Pinnacle price), or
    # the best of both, checked against Pinnacle's line in both places.
    no_sharp = dataclasses.replace(POLICY, sharp_books=())
    reasons = set()
    for bookmaker, sent, policy in (
        ("bet365", ["bet365"], no_sharp),
        ("best", ["bet365", "pinnacle"], POLICY),
    ):
        market = betting_market(
            wide, info, bookmaker, ["bet365", "pinnacle"], sharp_books=policy.sharp_books
        )
        bets = policy_bets("x", model, market, policy).set_index(["match_id", "outcome"])
        for i, match in enumerate(ids):
            edges = match_edges(probs[i], {b: books[b][i] for b in sent}, policy)
            reasons.update(e.reason for e in edges)
            for e in edges:
                key = (match, {"home": "H", "draw": "D", "away": "A"}[e.outcome])
                staked = bets["stake"].get(key, 0.0)
                assert staked == pytest.approx(e.kelly_stake_percentage / 100)
                if staked:
                    assert bets.loc[key, "decimal_odds"] == pytest.approx(e.decimal_odds)
                    assert bets.loc[key, "tier"] == e.quality.value
    assert reasons == set(BetReason)  # some bets were refused by the sharp check


def test_a_quote_of_one_or_less_is_no_price() -> None:
    wide = pd.DataFrame({"bet365_open_H": [1.0], "bet365_open_D": [3.0], "bet365_open_A": [5.0]})
    assert opening_prices(wide, "bet365").isna().all(axis=None)


# --- results --------------------------------------------------------------------------------------


def test_a_strategy_without_bets_still_reports_and_flat_ones_have_no_tiers() -> None:
    market, model = hand_market()
    forecasts = {"ensemble": model, "elo": model.iloc[:0]}
    ledger = backtest_ledger(forecasts, market, POLICY, ["ensemble", "elo", "favourite"], 0.01)
    results = strategy_results(ledger, ["ensemble", "elo", "favourite"], n_boot=100)
    elo = results[results["strategy"] == "elo"]
    assert len(elo) == 1 and elo["bets"].item() == 0 and math.isnan(elo["yield"].item())
    assert "tier" not in set(results.loc[results["strategy"] == "favourite", "by"])
    assert set(results.loc[results["strategy"] == "ensemble", "by"]) == {
        "overall",
        "league",
        "season",
        "tier",
    }
    nested = results_by_strategy(results)
    assert nested["overall"]["elo"]["yield"] is None
    assert (
        nested["overall"]["ensemble"]["roi_ci"][0]
        <= 0.02
        <= nested["overall"]["ensemble"]["roi_ci"][1]
    )
    assert set(nested["by_tier"]["ensemble"]) == {"premium", "value"}
    assert set(nested["by_league"]["ensemble"]) == {"E0", "SP1"}
    with pytest.raises(ValueError, match="no forecast for strategy 'pinnacle_open'"):
        backtest_ledger(forecasts, market, POLICY, ["pinnacle_open"], 0.01)


def test_bankroll_paths_start_at_one() -> None:
    market, model = hand_market()
    ledger = policy_bets("ensemble", model, market, POLICY)
    path = bankroll_paths(ledger, ["ensemble", "none"], start=pd.Timestamp("2023-08-01"))
    assert list(path) == ["ensemble"]
    assert path["ensemble"].tolist() == pytest.approx([1.0, 1.025, 1.02])
    assert path["ensemble"].index[0] == pd.Timestamp("2023-08-01")


# --- walk-forward windows ---------------------------------------------------------------------


def season_info() -> pd.DataFrame:
    days = [
        "2021-05-20",
        "2021-08-14",
        "2021-08-14",
        "2021-08-21",
        "2021-08-28",
        "2022-08-06",
        "2022-08-13",
    ]
    times = ["15:00", "12:30", "15:00", "15:00", "15:00", "15:00", "15:00"]
    kickoff = pd.to_datetime([f"{d} {t}" for d, t in zip(days, times, strict=True)])
    seasons = ["2020-2021"] + ["2021-2022"] * 4 + ["2022-2023"] * 2
    return pd.DataFrame(
        {"season": seasons, "kickoff": kickoff, "status": "played"},
        index=[f"m{i}" for i in range(7)],
    )


def test_a_window_per_season_trains_on_every_earlier_match() -> None:
    info = season_info()
    test = info["season"] >= "2021-2022"
    windows = walk_forward_windows(info, test)
    assert [w.label for w in windows] == ["2021-2022", "2022-2023"]
    assert list(windows[0].matches) == ["m1", "m2", "m3", "m4"]
    allowed = pd.Series(True, info.index)
    assert training_rows(info, allowed, windows[0]).tolist() == [True] + [False] * 6
    assert training_rows(info, allowed, windows[1]).sum() == 5
    not_ingested = allowed.copy()
    not_ingested["m0"] = False
    assert training_rows(info, not_ingested, windows[0]).sum() == 0


def test_every_n_match_days_retrains_within_the_season() -> None:
    info = season_info()
    windows = walk_forward_windows(info, info["season"] == "2021-2022", retrain_every=2)
    assert [w.label for w in windows] == ["2021-2022 days 1-2", "2021-2022 days 3-3"]
    assert [list(w.matches) for w in windows] == [["m1", "m2", "m3"], ["m4"]]
    assert windows[1].start == pd.Timestamp("2021-08-28")
    # the second window trains on the first one's matches too: they were played before
    rows = training_rows(info, pd.Series(True, info.index), windows[1])
    assert rows[rows].index.tolist() == ["m0", "m1", "m2", "m3"]


def test_no_window_sees_its_own_day() -> None:
    info = season_info()
    window = Window("w", "2021-2022", pd.Timestamp("2021-08-14"), pd.Index(["m2"]))
    rows = training_rows(info, pd.Series(True, info.index), window)
    assert rows[rows].index.tolist() == ["m0"]  # m1 kicked off earlier the same day: not seen


# --- the Elo baseline ---------------------------------------------------------------------------


def test_the_elo_model_recovers_a_known_model() -> None:
    truth = EloOutcomeModel((0.0, -0.6, -0.2), (0.0, -0.9, -2.4))
    rng = np.random.default_rng(0)
    diff = rng.normal(60, 180, size=20_000)
    probs = truth.predict_proba(diff)
    y = (rng.random(len(diff))[:, None] > probs.cumsum(axis=1)).sum(axis=1)
    fitted = EloOutcomeModel.fit(diff, y)
    assert fitted.intercepts == pytest.approx(truth.intercepts, abs=0.06)
    assert fitted.slopes == pytest.approx(truth.slopes, abs=0.12)
    assert fitted.n_matches == 20_000
    p = fitted.predict_proba([-400.0, 0.0, 400.0])
    assert np.allclose(p.sum(axis=1), 1.0)
    assert (np.diff(p[:, 0]) > 0).all() and (np.diff(p[:, 2]) < 0).all()  # stronger home side


def test_the_elo_model_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="finite"):
        EloOutcomeModel.fit([0.0, np.nan, 1.0], [0, 1, 2])
    with pytest.raises(ValueError, match="at least 3"):
        EloOutcomeModel.fit([0.0, 1.0], [0, 2])


# --- settings -------------------------------------------------------------------------------------


def test_the_config_file_parses_and_names_every_setting() -> None:
    settings = yaml.safe_load((configs_dir() / "backtest.yaml").read_text())
    parsed = BacktestSettings.from_dict(settings)
    assert parsed.bookmaker == "bet365" and parsed.retrain_every == "season"
    assert parsed.strategies == ["ensemble", "elo", "pinnacle_open", "every_outcome", "favourite"]
    assert set(settings) == set(BacktestSettings.__dataclass_fields__)
    assert parsed == BacktestSettings()  # the YAML holds the code's defaults
    assert parsed.to_dict()["baselines"] == [str(b) for b in Baseline]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"retrain_every": 0}, "retrain_every"),
        ({"retrain_every": "weekly"}, "retrain_every"),
        ({"flat_stake": 2}, "flat_stake"),
        ({"baselines": ["coin_flip"]}, "unknown baseline"),
        ({"windows_at_once": 0}, "windows_at_once"),
        ({"windows_at_once": True}, "windows_at_once"),
        ({"windows_at_once": "many"}, "windows_at_once"),
        ({"bookie": "bet365"}, "unknown backtest settings keys"),
    ],
)
def test_bad_settings_fail(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BacktestSettings.from_dict(settings)


# --- the synthetic league: the truth is known -----------------------------------------------------


@pytest.fixture(scope="module")
def synthetic() -> tuple[BettingMarket, pd.DataFrame, pd.DataFrame]:
    """Two seasons of a 20-team league read as football-data files: market, truth, prices."""
    config = SyntheticConfig(
        seed=3, first_season=2019, n_seasons=2, leagues=(LeagueSpec("SY1", 20, 1, "Sylvania"),)
    )
    league = generate_league(config)
    infos, odds, truths = [], [], []
    for (div, season), part in league.matches.groupby(["Div", "Season"]):
        data = part[list(FOOTBALL_DATA_COLUMNS)].to_csv(index=False, float_format="%.2f")
        parsed = parse_football_data(data.encode(), f"{div}/{season}.csv")
        ids = parsed.matches["match_id"]
        infos.append(parsed.matches.set_index("match_id"))
        odds.append(parsed.odds)
        truth = league.truth.loc[part.index, ["p_home", "p_draw", "p_away"]]
        truths.append(truth.set_axis(ids).set_axis(list("HDA"), axis=1))
    info, wide = pd.concat(infos), one_x_two(pd.concat(odds))
    return betting_market(wide, info, "bet365"), pd.concat(truths), wide.reindex(info.index)


def true_expected_yield(ledger: pd.DataFrame, truth: pd.DataFrame) -> float:
    """Expected profit per unit staked if the true probabilities hold."""
    p_true = truth.loc[ledger["match_id"]].to_numpy()
    p_bet = p_true[np.arange(len(ledger)), pd.Index(list("HDA")).get_indexer(ledger["outcome"])]
    ev = ledger["stake"] * (p_bet * ledger["decimal_odds"] - 1)
    return float(ev.sum() / ledger["stake"].sum())


NO_SHARP = dataclasses.replace(POLICY, sharp_books=())


def edge_alone(market: BettingMarket) -> BettingMarket:
    """The market without a sharp line: the edge alone decides."""
    return dataclasses.replace(market, sharp_prob=market.sharp_prob * np.nan, sharp_books=())


def test_the_true_probabilities_find_value_against_a_noisy_book(synthetic) -> None:
    """Bet365's opening view of the truth is noisy: the truth backs its mistakes, and by kick-off
    the market has corrected part of them, so the bets beat the close."""
    market, truth, _ = synthetic
    ledger = policy_bets("truth", truth, edge_alone(market), NO_SHARP)
    row = strategy_results(ledger, ["truth"], n_boot=1000).iloc[0]
    assert row["bets"] > 400
    assert true_expected_yield(ledger, truth) > 0.08  # every bet has edge >= 2 % in truth
    assert row["yield"] > 0 and row["profit"] > 0  # and it showed in the results
    assert row["clv_low"] > 0.02  # beat the de-margined close, beyond noise


def test_the_sharp_check_keeps_the_better_of_the_truths_bets(synthetic) -> None:
    """Pinnacle's opening line is a sharper view of the truth than Bet365's: where it agrees with
    the bet the truth's edge is larger still (fewer bets, each worth more, and a larger CLV)."""
    market, truth, _ = synthetic
    assert market.sharp_prob.notna().all(axis=None)  # Pinnacle quotes every match
    alone = policy_bets("truth", truth, edge_alone(market), NO_SHARP)
    checked = policy_bets("truth", truth, market, POLICY)
    assert 30 < len(checked) < len(alone) / 5
    keys = ["match_id", "outcome"]
    assert set(map(tuple, checked[keys].to_numpy())) <= set(map(tuple, alone[keys].to_numpy()))
    assert (checked["sharp_prob"] * checked["decimal_odds"] >= 1).all()
    assert true_expected_yield(checked, truth) > true_expected_yield(alone, truth)
    assert checked["clv"].mean() > alone["clv"].mean()


def test_pinnacles_opening_line_passes_its_own_check(synthetic) -> None:
    """As a forecaster, Pinnacle's line is the sharp line: its edge is its sharp edge, so the
    check refuses nothing and the baseline bets as before."""
    market, _, wide = synthetic
    pinnacle = market_probabilities(wide, "pinnacle", "open")
    checked = policy_bets("pinnacle_open", pinnacle, market, POLICY)
    alone = policy_bets("pinnacle_open", pinnacle, edge_alone(market), NO_SHARP)
    assert len(checked) > 10
    pd.testing.assert_frame_equal(
        checked.drop(columns="sharp_prob"), alone.drop(columns="sharp_prob")
    )
    assert checked["sharp_prob"].tolist() == pytest.approx(checked["model_prob"].tolist())


def test_the_market_and_the_policy_name_the_same_sharp_books() -> None:
    market, model = hand_market()
    with pytest.raises(ValueError, match="build the market with the policy's sharp_books"):
        policy_bets("ensemble", model, market, NO_SHARP)


def test_the_books_own_prices_find_no_edge(synthetic) -> None:
    """De-margined Bet365 against Bet365: every edge is 1 / overround − 1 < 0, so no bet."""
    market, truth, wide = synthetic
    own = market_probabilities(wide, "bet365", "open")
    edges = own.to_numpy() * market.prices.to_numpy() - 1
    overround = (1 / market.prices.to_numpy()).sum(axis=1, keepdims=True)
    assert np.allclose(edges, 1 / overround - 1)
    assert (edges < 0).all()
    ledger = backtest_ledger({"own": own}, market, POLICY, ["own"], 0.01)
    row = strategy_results(ledger, ["own"], n_boot=100).iloc[0]
    assert row["bets"] == 0 and row["profit"] == 0.0
    # and backing everything at that book pays its margin, in expectation and at the close
    every = every_outcome_bets(market, 0.01)
    assert true_expected_yield(every, truth) < -0.03
    assert strategy_results(every, ["every_outcome"], n_boot=200).iloc[0]["clv_high"] < 0


# --- plots ----------------------------------------------------------------------------------------


def test_plots_are_written(tmp_path: Path) -> None:
    from sabiscore.plots import clv_histogram_plot, roi_by_tier_plot

    market, model = hand_market()
    ledger = pd.concat(
        [policy_bets("ensemble", model, market, POLICY), every_outcome_bets(market, 0.01)],
        ignore_index=True,
    )
    results = strategy_results(ledger, ["ensemble", "every_outcome"], n_boot=50)
    tiers = results[results["by"] == "tier"]
    assert roi_by_tier_plot(tiers, tmp_path / "tiers.png").stat().st_size > 5_000
    clv = {s: ledger.loc[ledger["strategy"] == s, "clv"] for s in ("ensemble", "every_outcome")}
    assert clv_histogram_plot(clv, tmp_path / "clv.png").stat().st_size > 5_000
    with pytest.raises(ValueError, match="no closing-line values"):
        clv_histogram_plot({"x": pd.Series([np.nan])}, tmp_path / "none.png")


# --- the real files -------------------------------------------------------------------------------


@pytest.mark.shared_data
@pytest.mark.slow
def test_the_flat_baselines_on_the_shared_test_seasons(football_data_dir: Path) -> None:
    """Every priced match of 2019-20 … 2023-24 has a fair close (Pinnacle, else the market
    average), and backing everything at Bet365's opening prices loses about its margin."""
    files = [f for f in sorted(football_data_dir.glob("*/*.csv")) if f.stem >= "2019-2020"]
    parsed = [parse_football_data(f.read_bytes(), str(f)) for f in files]
    info = pd.concat([p.matches for p in parsed]).set_index("match_id")
    info = info[info["status"] == "played"]
    wide = one_x_two(pd.concat([p.odds for p in parsed]))
    market = betting_market(wide, info, "bet365")
    priced = market.prices.notna().all(axis=1)
    assert priced.mean() > 0.99
    assert market.closing_prob[priced].notna().all(axis=None)
    ledger = pd.concat([every_outcome_bets(market, 0.01), favourite_bets(market, 0.01)])
    results = strategy_results(ledger, ["every_outcome", "favourite"], n_boot=200, by=())
    for row in results.to_dict("records"):
        assert row["clv_bets"] == row["bets"]
        assert -0.08 < row["clv_mean"] < -0.02 and row["clv_high"] < 0, row
        assert -0.12 < row["yield"] < 0.01, row


# --- does the close confirm a forecast's departures from the opening line? ------------------


def _lines(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    opening = rng.dirichlet([4.0, 3.0, 3.0], size=n)
    step = rng.normal(0.0, 0.02, size=(n, 3))
    return pd.DataFrame(opening, columns=list("HDA")), step - step.mean(axis=1, keepdims=True)


def test_a_close_that_moves_all_the_way_to_the_forecast_has_slope_one() -> None:
    opening, step = _lines(400, 1)
    forecast = opening + step
    result = close_confirms(forecast, opening, forecast, n_boot=200)
    assert result["matches"] == 400
    assert result["slope"] == pytest.approx(1.0) and result["corr"] == pytest.approx(1.0)
    assert result["slope_ci"] == pytest.approx([1.0, 1.0])


def test_departures_unrelated_to_the_move_have_slope_near_zero() -> None:
    opening, step = _lines(4000, 2)
    _, other = _lines(4000, 3)
    result = close_confirms(opening + step, opening, opening + other, n_boot=500)
    low, high = result["slope_ci"]
    assert low < 0 < high and abs(result["slope"]) < 0.05
    assert abs(result["corr"]) < 0.05


def test_half_the_move_by_hand_and_unpriced_matches_left_out() -> None:
    opening, step = _lines(50, 4)
    forecast, closing = opening + step, opening + step / 2
    closing.iloc[:10] = np.nan  # no closing line: not counted
    forecast.iloc[10:12, 0] = np.nan  # no forecast: not counted
    result = close_confirms(forecast, opening, closing, n_boot=100)
    assert result["matches"] == 38
    assert result["slope"] == pytest.approx(0.5)
    assert result["mean_abs_departure"] == pytest.approx(np.abs(step[12:]).mean())


def test_no_common_priced_match_reports_nothing() -> None:
    opening, step = _lines(5, 5)
    empty = opening.iloc[:0]
    assert close_confirms(opening + step, opening, empty)["slope"] is None


def test_forecast_table_has_a_row_per_test_match_and_the_fair_close() -> None:
    opening, step = _lines(3, 6)
    index = pd.Index(["a", "b", "c"], name="match_id")
    opening.index = index
    info = pd.DataFrame(
        {"date": pd.to_datetime(["2020-01-01"] * 3), "league": "E0", "season": "2019-2020"},
        index=index,
    ).assign(result=["H", "D", "A"])
    market = BettingMarket(info, opening, opening + step, opening)
    model = (opening + step).iloc[[2, 0]]  # a match without a forecast stays, empty
    table = forecast_table({"ensemble": model}, market)
    assert table.index.tolist() == ["a", "b", "c"]
    assert table.loc["b", ["ensemble_H", "ensemble_D", "ensemble_A"]].isna().all()
    np.testing.assert_allclose(table[["closing_H", "closing_D", "closing_A"]], opening + step)
