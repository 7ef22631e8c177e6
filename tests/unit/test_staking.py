"""Edge, Kelly stakes, tiers and closing-line value, on hand-computed cases."""

from __future__ import annotations

import dataclasses
import doctest
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import yaml

from sabiscore import staking
from sabiscore.config import configs_dir
from sabiscore.odds import ImpliedMethod, implied_probabilities
from sabiscore.staking import (
    BetReason,
    ClosingLineModel,
    QualityTier,
    StakingPolicy,
    TierThresholds,
    bet_decisions,
    closing_line_value,
    edge,
    kelly_fraction_full,
    match_edges,
    match_stakes,
    quality_tier,
    sharp_book,
)

POLICY = StakingPolicy()


# --- edge and Kelly -----------------------------------------------------------------------------


def test_edge_is_expected_profit_per_unit() -> None:
    assert edge(0.30, 3.5) == pytest.approx(0.05)  # 0.30 × 3.5 − 1
    assert edge(0.25, 4.0) == pytest.approx(0.0)
    assert np.allclose(edge(np.array([0.5, 0.2]), np.array([2.2, 4.0])), [0.1, -0.2])


def test_the_net_price_takes_the_commission_off_the_winnings_only() -> None:
    assert staking.net_price(3.0, 0.05) == pytest.approx(2.9)  # wins 2.0, keeps 95 % of it
    assert staking.net_price(2.0, 0.0) == 2.0
    assert staking.net_price(1.01, 0.05) == pytest.approx(1.0095)


def test_full_kelly_is_edge_over_net_odds_and_never_negative() -> None:
    assert kelly_fraction_full(0.30, 3.5) == pytest.approx(0.02)  # 0.05 / 2.5
    assert kelly_fraction_full(0.25, 4.0) == 0.0  # no edge
    assert kelly_fraction_full(0.20, 4.0) == 0.0  # negative edge: no lay bets
    assert np.allclose(kelly_fraction_full([0.6, 0.1], [2.0, 5.0]), [0.2, 0.0])


def test_quarter_kelly_on_one_outcome() -> None:
    stakes = match_stakes([0.30, 0.30, 0.40], [3.5, 3.2, 2.2], POLICY)
    # home: 0.25 × 0.02; draw: edge −0.04; away: edge −0.12
    assert np.allclose(stakes, [0.005, 0.0, 0.0])


def test_stakes_above_the_cap_are_scaled_in_proportion() -> None:
    # edges 0.2, 0.2, −0.5; quarter Kelly 0.05 and 0.01667 (total 0.0667 > 0.05):
    # each × 0.05 / 0.0667 = 0.75.
    stakes = match_stakes([0.6, 0.3, 0.1], [2.0, 4.0, 5.0], POLICY)
    assert np.allclose(stakes, [0.0375, 0.0125, 0.0])
    assert stakes.sum() == pytest.approx(0.05)


def test_stakes_below_the_cap_are_untouched() -> None:
    policy = dataclasses.replace(POLICY, max_stake_fraction=0.10)
    stakes = match_stakes([0.6, 0.3, 0.1], [2.0, 4.0, 5.0], policy)
    assert np.allclose(stakes, [0.05, 0.05 / 3, 0.0])


def test_min_edge_is_inclusive() -> None:
    # 17/32 × 2.0 − 1 = 0.0625 exactly; quarter Kelly 0.0625 / 1 / 4 = 0.015625
    at = dataclasses.replace(POLICY, min_edge=0.0625)
    above = dataclasses.replace(POLICY, min_edge=0.0626)
    probs, odds = [17 / 32, 7 / 32, 8 / 32], [2.0, 3.0, 3.0]
    assert match_stakes(probs, odds, at)[0] == 0.015625
    assert match_stakes(probs, odds, above)[0] == 0.0


def test_zero_edge_is_never_bet_even_with_min_edge_zero() -> None:
    policy = dataclasses.replace(POLICY, min_edge=0.0)
    assert match_stakes([0.5, 0.25, 0.25], [2.0, 4.0, 4.0], policy).tolist() == [0.0, 0.0, 0.0]


def test_vectorised_stakes_match_one_match_at_a_time() -> None:
    probs = np.array([[0.6, 0.3, 0.1], [0.30, 0.30, 0.40], [0.5, 0.25, 0.25]])
    odds = np.array([[2.0, 4.0, 5.0], [3.5, 3.2, 2.2], [2.0, 4.0, 4.0]])
    together = match_stakes(probs, odds, POLICY)
    assert together.shape == (3, 3)
    for row in range(3):
        assert np.allclose(together[row], match_stakes(probs[row], odds[row], POLICY))


def test_cap_holds_over_random_matches() -> None:
    rng = np.random.default_rng(7)
    probs = rng.dirichlet([2.0, 1.5, 1.5], size=5000)
    odds = 1.01 + rng.exponential(3.0, size=(5000, 3))
    for policy in (POLICY, dataclasses.replace(POLICY, kelly_fraction=1.0, min_edge=0.0)):
        stakes = match_stakes(probs, odds, policy)
        edges = probs * odds - 1
        assert (stakes >= 0).all()
        assert (stakes.sum(axis=1) <= policy.max_stake_fraction + 1e-12).all()
        assert (stakes[edges < policy.min_edge] == 0).all()
        assert (stakes[edges <= 0] == 0).all()
        assert (stakes.sum(axis=1) > policy.max_stake_fraction - 1e-12).any()  # the cap bit


@pytest.mark.parametrize(
    "call",
    [
        lambda: edge(0.5, 1.0),
        lambda: kelly_fraction_full(0.5, 0.5),
        lambda: match_stakes([0.5, 0.3, 0.2], [2.0, float("nan"), 4.0], POLICY),
        lambda: match_stakes([0.5, 0.3, 0.2], [2.0, float("inf"), 4.0], POLICY),
        lambda: closing_line_value(1.0, 0.5),
        lambda: match_edges([0.5, 0.3, 0.2], {"a": [2.0, 3.0, 4.0], "b": [2.0, 0.99, 4.0]}, POLICY),
    ],
)
def test_bad_prices_raise(call) -> None:
    with pytest.raises(ValueError, match="decimal odds must be greater than 1.0"):
        call()


def test_bad_probabilities_and_shapes_raise() -> None:
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        edge(1.2, 2.0)
    with pytest.raises(ValueError, match="triples of equal shape"):
        match_stakes([0.5, 0.5], [2.0, 2.0], POLICY)
    with pytest.raises(ValueError, match="triples of equal shape"):
        match_stakes([[0.5, 0.3, 0.2]], [2.0, 3.0, 4.0], POLICY)


# --- the sharp check ----------------------------------------------------------------------------

# Binary fractions, so every edge below is exact: the model (9/16, 4/16, 3/16) at (2, 4, 4) has
# edges +0.125, 0 and −0.25; the sharp line (7/16, 5/16, 4/16) there −0.125, +0.25 and 0.
PROBS, ODDS, SHARP = [9 / 16, 4 / 16, 3 / 16], [2.0, 4.0, 4.0], [7 / 16, 5 / 16, 4 / 16]


def test_a_sharp_line_that_agrees_lets_the_bet_through() -> None:
    agrees = [9 / 16, 4 / 16, 3 / 16]  # the sharp line is the model's: sharp edge +0.125
    bets = bet_decisions(PROBS, ODDS, agrees, POLICY)
    assert bets.reasons.tolist() == [
        BetReason.VALUE_BET,
        BetReason.BELOW_MIN_EDGE,
        BetReason.BELOW_MIN_EDGE,
    ]
    assert bets.stakes.tolist() == [0.25 * 0.125 / 1.0, 0.0, 0.0]
    assert bets.edges.tolist() == [0.125, 0.0, -0.25]
    assert bets.sharp_edges.tolist() == [0.125, 0.0, -0.25]


def test_a_contradicting_sharp_line_refuses_the_bet() -> None:
    bets = bet_decisions(PROBS, ODDS, SHARP, POLICY)
    assert bets.reasons[0] is BetReason.SHARP_CONTRADICTS  # 7/16 × 2 − 1 = −0.125
    assert bets.sharp_edges.tolist() == [-0.125, 0.25, 0.0]
    assert bets.stakes.tolist() == [0.0, 0.0, 0.0]
    # the draw's sharp edge is +0.25, but the model's own edge (0) is below min_edge
    assert bets.reasons[1] is BetReason.BELOW_MIN_EDGE


def test_the_tolerance_is_inclusive() -> None:
    at = dataclasses.replace(POLICY, sharp_tolerance=0.125)
    inside = dataclasses.replace(POLICY, sharp_tolerance=0.124)
    assert bet_decisions(PROBS, ODDS, SHARP, at).reasons[0] is BetReason.VALUE_BET
    assert bet_decisions(PROBS, ODDS, SHARP, at).stakes[0] == 0.03125  # 0.25 × 0.125 / 1
    assert bet_decisions(PROBS, ODDS, SHARP, inside).reasons[0] is BetReason.SHARP_CONTRADICTS


def test_without_a_sharp_line_the_edge_alone_decides() -> None:
    for missing in (None, [math.nan] * 3):
        bets = bet_decisions(PROBS, ODDS, missing, POLICY)
        assert bets.reasons[0] is BetReason.VALUE_BET and bets.stakes[0] == 0.03125
        assert np.isnan(bets.sharp_edges).all()
    assert match_stakes(PROBS, ODDS, POLICY).tolist() == [0.03125, 0.0, 0.0]


def test_a_refused_outcome_leaves_the_cap_to_the_others() -> None:
    # As in the cap test above: quarter Kelly 0.05 on home and 0.01667 on the draw, scaled by
    # 0.75 to the 5 % cap. The sharp line (0.55, 0.2, 0.25) refuses the draw (0.2 × 4 − 1 =
    # −0.2) and backs home (0.55 × 2 − 1 = +0.1): home alone keeps its whole 0.05.
    probs, odds = [0.6, 0.3, 0.1], [2.0, 4.0, 5.0]
    bets = bet_decisions(probs, odds, [0.55, 0.2, 0.25], POLICY)
    assert bets.reasons.tolist() == [
        BetReason.VALUE_BET,
        BetReason.SHARP_CONTRADICTS,
        BetReason.BELOW_MIN_EDGE,
    ]
    assert bets.stakes == pytest.approx([0.05, 0.0, 0.0])
    assert match_stakes(probs, odds, POLICY) == pytest.approx([0.0375, 0.0125, 0.0])


def test_vectorised_decisions_match_one_match_at_a_time() -> None:
    probs = np.array([PROBS, [0.6, 0.3, 0.1], PROBS])
    odds = np.array([ODDS, [2.0, 4.0, 5.0], ODDS])
    sharp = np.array([SHARP, [0.55, 0.2, 0.25], [np.nan] * 3])
    together = bet_decisions(probs, odds, sharp, POLICY)
    assert together.stakes.shape == together.reasons.shape == (3, 3)
    for row in range(3):
        alone = bet_decisions(probs[row], odds[row], sharp[row], POLICY)
        assert together.stakes[row].tolist() == alone.stakes.tolist()
        assert together.reasons[row].tolist() == alone.reasons.tolist()


def test_the_rule_holds_over_random_matches() -> None:
    rng = np.random.default_rng(11)
    probs = rng.dirichlet([2.0, 1.5, 1.5], size=5000)
    odds = 1.01 + rng.exponential(3.0, size=(5000, 3))
    sharp = rng.dirichlet([2.0, 1.5, 1.5], size=5000)
    sharp[::7] = np.nan  # some matches without a sharp line
    policy = dataclasses.replace(POLICY, sharp_tolerance=0.03)
    bets = bet_decisions(probs, odds, sharp, policy)
    sharp_edges = sharp * odds - 1
    assert (bets.stakes.sum(axis=1) <= policy.max_stake_fraction + 1e-12).all()
    assert (bets.stakes[sharp_edges < -0.03] == 0).all()
    assert (bets.stakes[probs * odds - 1 < policy.min_edge] == 0).all()
    assert ((bets.stakes > 0) == (bets.reasons == BetReason.VALUE_BET)).all()
    unchecked = bets.stakes[::7]  # no sharp line: the stakes of the edge alone
    assert np.array_equal(unchecked, match_stakes(probs[::7], odds[::7], policy))


@pytest.mark.parametrize(
    ("sharp", "words"),
    [
        ([0.5, 0.5], "shaped like the odds"),
        ([0.5, math.nan, 0.25], "three probabilities or none"),
        ([0.5, 0.3, 0.3], "de-margined: each line sums to 1"),
        ([1.2, -0.1, -0.1], r"lie in \[0, 1\]"),
    ],
)
def test_bad_sharp_lines_raise(sharp: list[float], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        bet_decisions(PROBS, ODDS, sharp, POLICY)


def test_the_sharp_book_is_the_first_of_sharp_books_sent() -> None:
    assert sharp_book(["bet365", "market_avg", "pinnacle"], POLICY) == "pinnacle"
    assert sharp_book(["bet365", "market_avg"], POLICY) == "market_avg"
    assert sharp_book(["bet365"], POLICY) is None
    assert sharp_book(["pinnacle"], dataclasses.replace(POLICY, sharp_books=())) is None


# --- tiers and the policy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "tier"),
    [
        (0.20, QualityTier.PREMIUM),
        (0.08, QualityTier.PREMIUM),
        (0.0799, QualityTier.VALUE),
        (0.04, QualityTier.VALUE),
        (0.0399, QualityTier.MARGINAL),
        (0.02, QualityTier.MARGINAL),
        (0.0199, QualityTier.AVOID),
        (-0.30, QualityTier.AVOID),
        (math.nan, QualityTier.AVOID),
    ],
)
def test_tiers_at_their_boundaries(value: float, tier: QualityTier) -> None:
    assert quality_tier(value, POLICY) is tier


def test_the_config_file_is_the_default_policy() -> None:
    settings = yaml.safe_load((configs_dir() / "staking.yaml").read_text())
    assert StakingPolicy.from_dict(settings) == StakingPolicy()


def test_policy_from_dict_and_back() -> None:
    policy = StakingPolicy.from_dict(
        {"kelly_fraction": 0.5, "implied_method": "shin", "tiers": {"premium": 0.1}}
    )
    assert policy.implied_method is ImpliedMethod.SHIN
    assert policy.tiers == TierThresholds(premium=0.1, value=0.04, marginal=0.02)
    assert StakingPolicy.from_dict(json.loads(json.dumps(policy.to_dict()))) == policy
    assert StakingPolicy.from_dict(None) == StakingPolicy()
    sharp = StakingPolicy.from_dict(
        {"sharp_books": ["betfair", "pinnacle"], "sharp_tolerance": 0.01}
    )
    assert sharp.sharp_books == ("betfair", "pinnacle") and sharp.sharp_tolerance == 0.01
    assert sharp.to_dict()["sharp_books"] == ["betfair", "pinnacle"]
    assert StakingPolicy.from_dict(json.loads(json.dumps(sharp.to_dict()))) == sharp


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"kelly_fractoin": 0.25}, "unknown staking policy keys"),
        ({"tiers": {"premium": 0.1, "good": 0.05}}, "unknown staking tiers keys"),
        ({"kelly_fraction": 0.0}, r"kelly_fraction must lie in \(0, 1\]"),
        ({"kelly_fraction": 1.5}, r"kelly_fraction must lie in \(0, 1\]"),
        ({"max_stake_fraction": 0}, r"max_stake_fraction must lie in \(0, 1\]"),
        ({"max_stake_fraction": "5%"}, r"max_stake_fraction must lie in \(0, 1\]"),
        ({"min_edge": -0.01}, "min_edge must be"),
        ({"implied_method": "bogus"}, "implied_method must be one of"),
        ({"tiers": {"premium": 0.03}}, "marginal < value < premium"),
        ({"tiers": {"value": 0.02}}, "marginal < value < premium"),
        ({"tiers": {"marginal": -0.01}}, "0 <= marginal"),
        ({"sharp_books": "pinnacle"}, "sharp_books must be a list of bookmaker names"),
        ({"sharp_books": ["pinnacle", ""]}, "sharp_books must be a list of bookmaker names"),
        ({"sharp_books": ["pinnacle", "pinnacle"]}, "names a bookmaker twice"),
        ({"sharp_tolerance": -0.01}, r"sharp_tolerance must lie in \[0, 1\)"),
        ({"sharp_tolerance": math.nan}, r"sharp_tolerance must lie in \[0, 1\)"),
        ({"sharp_tolernace": 0.01}, "unknown staking policy keys"),
    ],
)
def test_bad_policies_are_rejected(settings: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        StakingPolicy.from_dict(settings)


# --- closing-line value -------------------------------------------------------------------------


def test_closing_line_value_by_hand() -> None:
    assert closing_line_value(2.10, 0.50) == pytest.approx(0.05)  # 2.10 against fair 2.00
    assert closing_line_value(1.90, 0.50) == pytest.approx(-0.05)
    assert np.allclose(closing_line_value([4.0, 2.0], [0.25, 0.55]), [0.0, 0.1])


def test_identity_model_predicts_no_move() -> None:
    model = ClosingLineModel.identity()
    opened = np.array([[0.5, 0.3, 0.2], [0.7, 0.2, 0.1]])
    assert np.allclose(model.predict_close_prob(opened), opened)
    assert np.allclose(model.expected_clv([2.1, 3.0, 5.0], [0.5, 0.3, 0.2]), [0.05, -0.1, 0.0])


def test_prediction_by_hand() -> None:
    # home log-odds 0 + ln 2 → odds 2:1 → 2/3; draw and away stay 1/4; rescaled by 6/7.
    model = ClosingLineModel(intercepts=(math.log(2.0), 0.0, 0.0), slopes=(0.0, 0.0, 0.0))
    assert np.allclose(model.predict_close_prob([0.5, 0.25, 0.25]), [4 / 7, 3 / 14, 3 / 14])
    assert model.expected_clv([2.0, 4.0, 4.0], [0.5, 0.25, 0.25]) == pytest.approx(
        [1 / 7, -1 / 7, -1 / 7]
    )


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def test_fit_recovers_a_known_linear_drift() -> None:
    rng = np.random.default_rng(3)
    opened = rng.dirichlet([4.0, 2.5, 3.0], size=4000)
    intercepts, slopes = np.array([0.05, -0.02, -0.03]), np.array([0.04, 0.0, -0.06])
    x = _logit(opened)
    moved = x + intercepts + slopes * x + rng.normal(0.0, 0.05, size=x.shape)
    closed = 1 / (1 + np.exp(-moved))  # per outcome, not rescaled: the fit is per outcome
    model = ClosingLineModel.fit(opened, closed)
    assert model.n_matches == 4000
    assert np.allclose(model.intercepts, intercepts, atol=0.005)
    assert np.allclose(model.slopes, slopes, atol=0.005)
    exact = 1 / (1 + np.exp(-(x + intercepts + slopes * x)))
    assert np.allclose(
        model.predict_close_prob(opened), exact / exact.sum(1, keepdims=True), atol=0.005
    )


def test_fit_on_unmoved_lines_is_the_identity() -> None:
    opened = np.random.default_rng(1).dirichlet([3.0, 2.0, 2.0], size=50)
    model = ClosingLineModel.fit(opened, opened)
    assert np.allclose(model.intercepts, 0.0, atol=1e-9)
    assert np.allclose(model.slopes, 0.0, atol=1e-9)


def test_fit_leaves_out_matches_without_both_lines_and_needs_three() -> None:
    opened = np.array([[0.5, 0.3, 0.2], [0.4, 0.3, 0.3], [0.6, 0.2, 0.2], [0.3, 0.3, 0.4]])
    closed = opened.copy()
    closed[1, 0] = np.nan
    assert ClosingLineModel.fit(opened, closed).n_matches == 3
    closed[2, 0] = np.nan
    with pytest.raises(ValueError, match="at least 3 matches"):
        ClosingLineModel.fit(opened, closed)
    with pytest.raises(ValueError, match=r"expected \(n, 3\)"):
        ClosingLineModel.fit(opened, closed[:, :2])
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        ClosingLineModel.fit(opened * 2, opened)


def test_model_round_trips_through_json() -> None:
    model = ClosingLineModel(intercepts=(0.01, -0.02, 0.03), slopes=(0.1, 0.0, -0.1), n_matches=9)
    text = json.dumps(model.to_dict())
    assert ClosingLineModel.from_dict(json.loads(text)) == model
    with pytest.raises(ValueError, match="unknown closing-line model keys"):
        ClosingLineModel.from_dict({"intercept": [0, 0, 0]})
    with pytest.raises(ValueError, match="intercepts must be 3 finite numbers"):
        ClosingLineModel.from_dict({"intercepts": [0.0, 0.0]})


# --- one match across books ---------------------------------------------------------------------

# A is a fair book (implied 1/2, 1/4, 1/4); B prices 2.2 / 3.6 / 3.6: 1/2.2 + 2/3.6 = 100/99, so
# B's multiplicative implied probabilities are 0.45, 0.275, 0.275.
BOOKS = {"A": [2.0, 4.0, 4.0], "B": [2.2, 3.6, 3.6]}
MODEL = [0.5, 0.25, 0.25]


def test_an_aggregate_is_never_the_price_taken() -> None:
    """market_max (the best of many books: no one offers it) once made the top "edges": it
    informs the sharp line, but the price taken is a real book's."""
    books = {"B": [2.2, 3.6, 3.6], "market_max": [2.6, 4.5, 4.5], "market_avg": [2.1, 3.5, 3.5]}
    edges = match_edges(MODEL, books, POLICY)
    assert [(e.bookmaker, e.decimal_odds) for e in edges] == [("B", 2.2), ("B", 3.6), ("B", 3.6)]
    assert edges[0].sharp_prob == pytest.approx(
        implied_probabilities(np.array([books["market_avg"]]), POLICY.implied_method)[0, 0]
    )
    with pytest.raises(ValueError, match="no bookmaker's price to take.*aggregates"):
        match_edges(MODEL, {"market_max": [2.6, 4.5, 4.5], "market_avg": [2.1, 3.5, 3.5]}, POLICY)


def test_bets_are_struck_only_at_the_books_named() -> None:
    books = {"A": [2.0, 4.0, 4.0], "B": [2.2, 3.6, 3.6], "pinnacle": [2.1, 3.7, 3.9]}
    edges = match_edges(MODEL, books, POLICY, bet_at=["A"])
    assert {e.bookmaker for e in edges} == {"A"} and edges[0].sharp_prob is not None
    with pytest.raises(ValueError, match=r"no price of the books to bet at \(C\)"):
        match_edges(MODEL, books, POLICY, bet_at=["C"])


def test_an_exchange_price_counts_after_its_commission() -> None:
    """3.0 at 5 % commission is worth 2.9: a book's 2.95 beats it, and the edge and the stake
    are the net price's."""
    policy = dataclasses.replace(POLICY, commission={"exchange": 0.05})
    home = match_edges(
        [0.4, 0.3, 0.3], {"book": [2.95, 3.4, 3.4], "exchange": [3.0, 3.4, 3.4]}, policy
    )[0]
    assert (home.bookmaker, home.decimal_odds, home.net_odds) == ("book", 2.95, 2.95)
    home = match_edges(
        [0.4, 0.3, 0.3], {"book": [2.85, 3.4, 3.4], "exchange": [3.0, 3.4, 3.4]}, policy
    )[0]
    assert (home.bookmaker, home.decimal_odds) == ("exchange", 3.0)
    assert home.net_odds == pytest.approx(2.9)
    assert home.edge_percentage == pytest.approx(100 * (0.4 * 2.9 - 1))
    assert home.kelly_stake_percentage == pytest.approx(100 * 0.25 * (0.4 * 2.9 - 1) / 1.9)
    with pytest.raises(ValueError, match="commission must map a book to a share"):
        dataclasses.replace(POLICY, commission={"exchange": 1.5})


def test_match_edges_by_hand() -> None:
    home, draw, away = match_edges(MODEL, BOOKS, POLICY)
    assert (home.outcome, home.bookmaker, home.decimal_odds) == ("home", "B", 2.2)
    assert home.implied_prob == pytest.approx(0.45)
    assert home.edge_percentage == pytest.approx(10.0)  # 0.5 × 2.2 − 1
    assert home.kelly_stake_percentage == pytest.approx(100 * 0.25 * 0.1 / 1.2)
    assert home.quality is QualityTier.PREMIUM
    assert home.clv_expected is None
    assert (draw.bookmaker, draw.implied_prob, draw.edge_percentage) == ("A", 0.25, 0.0)
    assert draw.kelly_stake_percentage == 0.0 and draw.quality is QualityTier.AVOID
    assert (away.outcome, away.bookmaker) == ("away", "A")
    # neither A nor B is a sharp book: the edge alone decides
    assert [e.reason for e in (home, draw, away)] == [
        BetReason.VALUE_BET,
        BetReason.BELOW_MIN_EDGE,
        BetReason.BELOW_MIN_EDGE,
    ]
    assert {(e.sharp_prob, e.sharp_edge_percentage) for e in (home, draw, away)} == {(None, None)}


# Pinnacle at (1.9, 3.5, 4.2): overround 1/1.9 + 1/3.5 + 1/4.2 = 1.050125, multiplicative
# line (0.50119, 0.27207, 0.22674). The model (0.6, 0.2, 0.2) sees +14 % on home there.
PINNACLE = [1.9, 3.5, 4.2]
OVERROUND = 1 / 1.9 + 1 / 3.5 + 1 / 4.2


def test_a_premium_edge_at_the_sharp_books_own_price_is_refused() -> None:
    home, draw, away = match_edges([0.6, 0.2, 0.2], {"pinnacle": PINNACLE}, POLICY)
    assert home.edge_percentage == pytest.approx(14.0)  # 0.6 × 1.9 − 1: a "premium" edge
    assert home.sharp_prob == pytest.approx(1 / 1.9 / OVERROUND)
    # fair × own price − 1 = 1 / overround − 1: minus Pinnacle's margin share, on every outcome
    for e in (home, draw, away):
        assert e.sharp_edge_percentage == pytest.approx(100 * (1 / OVERROUND - 1))  # −4.77 %
    assert home.reason is BetReason.SHARP_CONTRADICTS
    assert home.kelly_stake_percentage == 0.0 and home.quality is QualityTier.AVOID
    # a tolerance above the margin share lets it through (at a price no sharper than the line)
    loose = dataclasses.replace(POLICY, sharp_tolerance=0.05)
    home = match_edges([0.6, 0.2, 0.2], {"pinnacle": PINNACLE}, loose)[0]
    assert home.reason is BetReason.VALUE_BET and home.quality is QualityTier.PREMIUM
    assert home.kelly_stake_percentage == pytest.approx(100 * 0.25 * 0.14 / 0.9)


def test_a_better_price_than_the_sharp_line_is_bet() -> None:
    # bet365 offers 2.0 on home: Pinnacle's fair line 0.50119 × 2.0 − 1 = +0.24 %
    books = {"bet365": [2.0, 3.3, 4.0], "pinnacle": PINNACLE}
    home, draw, away = match_edges([0.6, 0.2, 0.2], books, POLICY)
    assert (home.bookmaker, home.reason) == ("bet365", BetReason.VALUE_BET)
    assert home.sharp_edge_percentage == pytest.approx(100 * (2.0 / 1.9 / OVERROUND - 1))
    assert home.kelly_stake_percentage == pytest.approx(100 * 0.25 * 0.2 / 1.0)
    assert home.quality is QualityTier.PREMIUM
    # the draw and away are best at Pinnacle's own price, and below min_edge anyway
    assert [draw.reason, away.reason] == [BetReason.BELOW_MIN_EDGE] * 2


def test_the_first_sharp_book_sent_is_the_reference_whatever_reference_book_says() -> None:
    # market_avg at (1.95, 3, 3): fair home 1/1.95 ÷ (1/1.95 + 2/3) = 0.43478, at bet365's 2.0
    # −13 %; Pinnacle's line there is +0.24 %
    books = {"bet365": [2.0, 3.3, 4.0], "market_avg": [1.95, 3.0, 3.0], "pinnacle": PINNACLE}
    identity = ClosingLineModel.identity()
    for reference in (None, "market_avg", "bet365"):
        home = match_edges([0.6, 0.2, 0.2], books, POLICY, identity, reference_book=reference)[0]
        assert home.sharp_prob == pytest.approx(1 / 1.9 / OVERROUND)
        assert home.reason is BetReason.VALUE_BET
    market_first = dataclasses.replace(POLICY, sharp_books=("market_avg", "pinnacle"))
    home = match_edges([0.6, 0.2, 0.2], books, market_first)[0]
    assert home.sharp_prob == pytest.approx(1 / 1.95 / (1 / 1.95 + 2 / 3))
    assert home.reason is BetReason.SHARP_CONTRADICTS and home.kelly_stake_percentage == 0.0


def test_match_edges_stakes_respect_the_cap() -> None:
    books = {"A": [2.0, 4.0, 6.0], "B": [1.9, 4.2, 5.0]}
    edges = match_edges([0.6, 0.3, 0.1], books, POLICY)
    assert [e.bookmaker for e in edges] == ["A", "B", "A"]
    total = sum(e.kelly_stake_percentage for e in edges)
    assert total == pytest.approx(100 * POLICY.max_stake_fraction)


def test_a_tie_for_the_best_price_goes_to_the_first_book() -> None:
    edges = match_edges(MODEL, {"first": [2.0, 4.0, 4.0], "second": [2.0, 4.0, 4.0]}, POLICY)
    assert {e.bookmaker for e in edges} == {"first"}


def test_expected_clv_from_the_reference_book_or_the_consensus() -> None:
    identity = ClosingLineModel.identity()
    from_a = match_edges(MODEL, BOOKS, POLICY, identity, reference_book="A")
    assert [e.clv_expected for e in from_a] == pytest.approx([0.1, 0.0, 0.0])  # 2.2 × 0.5 − 1
    consensus = match_edges(MODEL, BOOKS, POLICY, identity)
    # mean line (0.475, 0.2625, 0.2625): 2.2 × 0.475 − 1 and 4 × 0.2625 − 1
    assert [e.clv_expected for e in consensus] == pytest.approx([0.045, 0.05, 0.05])
    with pytest.raises(ValueError, match="reference book 'C' is not among"):
        match_edges(MODEL, BOOKS, POLICY, identity, reference_book="C")


def test_match_edges_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="must sum to 1"):
        match_edges([0.5, 0.5, 0.5], BOOKS, POLICY)
    with pytest.raises(ValueError, match="expected 3 model probabilities"):
        match_edges([0.5, 0.5], BOOKS, POLICY)
    with pytest.raises(ValueError, match="at least one bookmaker"):
        match_edges(MODEL, {}, POLICY)
    with pytest.raises(ValueError, match="bookmaker 'A': expected 3 prices"):
        match_edges(MODEL, {"A": [2.0, 4.0]}, POLICY)


def test_implied_method_comes_from_the_policy() -> None:
    power = dataclasses.replace(POLICY, implied_method=ImpliedMethod.POWER)
    home = match_edges(MODEL, BOOKS, power)[0]
    assert home.implied_prob != pytest.approx(0.45)  # power moves margin onto long shots
    assert home.implied_prob > 0.45


# --- the module ---------------------------------------------------------------------------------


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(staking).failed == 0


def test_importing_the_modules_loads_no_framework() -> None:
    code = (
        "import sys, sabiscore.staking, sabiscore.betting\n"
        "heavy = ('prefect', 'mlflow', 'bentoml', 'great_expectations')\n"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
