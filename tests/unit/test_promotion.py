"""The promotion gate, case by case."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml

from sabiscore.config import configs_dir
from sabiscore.promotion import (
    GateReference,
    HoldoutScores,
    MarketRule,
    PromotionPolicy,
    RefitRule,
    TrainedVersion,
    WhenNoMarket,
    champion_reference,
    chance_ece,
    decide_promotion,
    ece_bound,
    refit_semver,
)

POLICY = PromotionPolicy()
CHAMPION = HoldoutScores("v1", "holdout-a", 1000, 0.9900, 0.5900, 0.2010, 0.020)
MARKET = HoldoutScores("pinnacle_open", "holdout-a", 1000, 0.9880, 0.5890, 0.2005, 0.015)
# On 1,000 matches chance alone is 0.27 * sqrt(10 / 1000) = 0.027, above the market's 0.015:
# the calibration bound is 0.027 + 0.01 = 0.037.


def scores(**changes: float | str | None) -> HoldoutScores:
    return dataclasses.replace(CHAMPION, name="candidate", **changes)


def market_on(candidate: HoldoutScores, **changes: float) -> HoldoutScores:
    """The market scored on the candidate's holdout matches, as the pipeline scores it."""
    return dataclasses.replace(MARKET, holdout_id=candidate.holdout_id, n=candidate.n, **changes)


def with_market(**changes: float | str | WhenNoMarket) -> PromotionPolicy:
    return dataclasses.replace(POLICY, market=dataclasses.replace(POLICY.market, **changes))


CASES = [
    # (candidate, champion, expected promote, words in the reason)
    (scores(log_loss=0.9850), CHAMPION, True, "improves by 0.0050"),
    (scores(), CHAMPION, False, "gain +0.0000"),  # a tie is not an improvement
    (scores(log_loss=0.9895), CHAMPION, False, "< required"),  # too small a gain
    (scores(log_loss=0.9850, ece=0.035), CHAMPION, False, "calibration error 0.0350 vs 0.0200"),
    (scores(log_loss=0.9850, rps=0.2050), CHAMPION, False, "RPS"),
    (scores(log_loss=0.9850, brier=0.6000), CHAMPION, False, "Brier"),
    (scores(log_loss=0.9850, ece=0.080), CHAMPION, False, "sanity failed"),
    (scores(log_loss=None), CHAMPION, False, "missing or NaN"),
    (scores(log_loss=float("nan")), CHAMPION, False, "missing or NaN"),
    (scores(), None, True, "first model"),  # 0.0020 behind the market: within the tolerance
    (scores(), dataclasses.replace(CHAMPION, log_loss=None), True, "no holdout metrics"),
    (scores(log_loss=0.98, holdout_id="holdout-b"), CHAMPION, False, "different holdout"),
]


@pytest.mark.parametrize(("candidate", "champion", "promote", "words"), CASES)
def test_gate_cases(candidate, champion, promote, words) -> None:
    decision = decide_promotion(candidate, champion, market_on(candidate), POLICY)
    assert decision.promote is promote
    assert words in decision.reason


# --- the market ---------------------------------------------------------------------------------


def test_the_market_is_reported_in_every_reason() -> None:
    decision = decide_promotion(scores(log_loss=0.9850), CHAMPION, MARKET, POLICY)
    assert decision.promote
    assert decision.reason.endswith("market (pinnacle_open) log loss 0.9880, candidate -0.0030")
    assert decision.market_gap == pytest.approx(-0.0030)


def test_a_candidate_behind_the_market_beyond_the_tolerance_is_kept_out() -> None:
    candidate = scores(log_loss=0.9901)  # 0.0021 behind the market, 0.0049 ahead of champion
    champion = scores(log_loss=0.9950)
    decision = decide_promotion(candidate, champion, MARKET, POLICY)
    assert not decision.promote
    assert decision.reason == (
        "worse than the market (pinnacle_open) by 0.0021 > tolerance 0.002 on 1000 holdout "
        "matches (log loss 0.9901 vs 0.9880)"
    )
    assert decision.market_gap == pytest.approx(0.0021) and decision.market_tolerance == 0.002
    champion = scores(log_loss=0.9950)
    relaxed = decide_promotion(candidate, champion, MARKET, with_market(required=False))
    assert relaxed.promote
    assert "market (pinnacle_open) log loss 0.9880, candidate +0.0021" in relaxed.reason
    assert decide_promotion(candidate, champion, MARKET, with_market(tolerance=0.0025)).promote


def test_a_first_model_behind_the_market_leaves_no_champion_and_says_so() -> None:
    candidate = scores(n=380, log_loss=0.9911, ece=0.030)
    decision = decide_promotion(candidate, None, market_on(candidate), POLICY)
    assert not decision.promote
    assert decision.reason == (
        "worse than the market (pinnacle_open) by 0.0031 > tolerance 0.002 on 380 holdout "
        "matches (log loss 0.9911 vs 0.9880); no champion"
    )
    # the same candidate at the tolerance's edge (0.9880 + 0.0020) is the first champion
    level = dataclasses.replace(candidate, log_loss=0.9900)
    assert decide_promotion(level, None, market_on(level), POLICY).promote


def test_without_market_prices_the_rule_does_as_the_policy_says() -> None:
    candidate = scores(log_loss=0.9990, ece=0.030)  # far behind any market: nobody can tell
    skipped = decide_promotion(candidate, None, None, POLICY)
    assert skipped.promote and skipped.market_gap is None and skipped.market_tolerance is None
    assert skipped.reason == (
        "first model: sanity passed; pinnacle_open prices none of the 1000 holdout matches: the "
        "market rule did not apply (market.when_missing: skip)"
    )
    assert skipped.ece_bound == pytest.approx(0.037)  # chance alone (0.027) + the margin
    # the champion still applies: 0.9990 is no gain on 0.9900
    assert not decide_promotion(candidate, CHAMPION, None, POLICY).promote
    refused = decide_promotion(candidate, None, None, with_market(when_missing="refuse"))
    assert not refused.promote
    assert "market.when_missing: refuse" in refused.reason
    assert refused.reason.endswith("; no champion")
    partial = HoldoutScores("pinnacle_open", "holdout-a", 950, None, None, None, None)
    assert (
        "pinnacle_open prices only 950 of the 1000 holdout matches: the market rule did not "
        "apply" in decide_promotion(candidate, None, partial, POLICY).reason
    )
    # a market that is not required is not missed either
    assert decide_promotion(candidate, None, None, with_market(required=False)).reason == (
        "first model: sanity passed; market: pinnacle_open prices none of the 1000 holdout matches"
    )


def test_a_market_scored_on_other_matches_is_not_comparable() -> None:
    elsewhere = dataclasses.replace(MARKET, holdout_id="holdout-b")
    decision = decide_promotion(scores(log_loss=0.95), CHAMPION, elsewhere, POLICY)
    assert not decision.promote and "not comparable: the market" in decision.reason


# --- calibration --------------------------------------------------------------------------------


def test_the_calibration_bound_is_one_the_market_itself_passes() -> None:
    """E0 2022-23: the first model (ECE 0.059) was refused by a fixed 0.05 while Pinnacle's
    opening line scored 0.052 on the same 380 matches. Now the bound is 0.052 + 0.01."""
    candidate = scores(n=380, log_loss=0.9890, ece=0.059)
    market = market_on(candidate, ece=0.052)
    decision = decide_promotion(candidate, None, market, POLICY)
    assert decision.promote and decision.reason.startswith("first model: sanity passed")
    assert decision.ece_bound == pytest.approx(0.062)
    worse = dataclasses.replace(candidate, ece=0.065)
    refused = decide_promotion(worse, None, market, POLICY)
    assert not refused.promote
    assert refused.reason == (
        "sanity failed: calibration error 0.0650 > bound 0.0620 (pinnacle_open's 0.0520 on the "
        "same 380 matches + margin); no champion"
    )


def test_a_market_lucky_on_the_holdout_sets_no_bar_below_chance() -> None:
    candidate = scores(n=380, log_loss=0.9890, ece=0.050)
    market = market_on(candidate, ece=0.030)  # chance alone is 0.0438 on 380 matches
    assert decide_promotion(candidate, None, market, POLICY).promote
    refused = decide_promotion(dataclasses.replace(candidate, ece=0.055), None, market, POLICY)
    assert "bound 0.0538 (chance alone 0.0438 on 380 matches + margin)" in refused.reason


def test_chance_and_bound_by_hand() -> None:
    assert chance_ece(1000) == pytest.approx(0.027)  # 0.27 * sqrt(10 / 1000)
    assert chance_ece(250, n_bins=5) == pytest.approx(0.27 * 0.1414, abs=1e-4)
    assert ece_bound(1000, 0.015, 0.01) == pytest.approx(0.037)  # chance above the market
    assert ece_bound(1000, 0.040, 0.01) == pytest.approx(0.050)  # the market above chance
    assert ece_bound(1000, float("nan"), 0.0) == pytest.approx(0.027)
    with pytest.raises(ValueError, match="at least one match"):
        chance_ece(0)


# --- probabilities and settings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("probs", "words"),
    [
        (np.array([[0.5, 0.3, 0.3]]), "do not sum to 1"),
        (np.array([[0.5, np.nan, 0.5]]), "NaN"),
        (np.array([[1.2, -0.1, -0.1]]), "outside [0, 1]"),
        (np.array([0.5, 0.3, 0.2]), "shape"),
    ],
)
def test_invalid_probabilities_fail_sanity(probs, words) -> None:
    decision = decide_promotion(scores(log_loss=0.95), None, None, POLICY, probs)
    assert not decision.promote and words in decision.reason


def test_policy_comes_from_config_and_rejects_typos() -> None:
    settings = yaml.safe_load((configs_dir() / "promotion.yaml").read_text())
    assert PromotionPolicy.from_dict(settings) == PromotionPolicy()
    assert set(settings) == {f.name for f in dataclasses.fields(PromotionPolicy)}
    assert set(settings["market"]) == {f.name for f in dataclasses.fields(MarketRule)}
    assert set(settings["refit"]) == {f.name for f in dataclasses.fields(RefitRule)}
    assert PromotionPolicy.from_dict(settings).refit.enabled is True  # on by default
    with pytest.raises(ValueError, match="unknown promotion policy keys"):
        PromotionPolicy.from_dict({"min_logloss_gain": 0.01})
    with pytest.raises(ValueError, match="unknown promotion policy keys"):
        PromotionPolicy.from_dict({"max_ece": 0.05})  # replaced by the market-relative bound
    with pytest.raises(ValueError, match="unknown promotion market keys"):
        PromotionPolicy.from_dict({"market": {"tolerence": 0.01}})
    with pytest.raises(ValueError, match="unknown promotion refit keys"):
        PromotionPolicy.from_dict({"refit": {"enable": True}})
    with pytest.raises(ValueError, match="refit.enabled must be true or false"):
        PromotionPolicy.from_dict({"refit": {"enabled": "yes"}})


@pytest.mark.parametrize(
    ("market", "words"),
    [
        ({"forecaster": "pinnacle_opening"}, "unknown market forecaster"),
        ({"tolerance": -0.001}, "tolerance must be a number >= 0"),
        ({"when_missing": "promote"}, "when_missing must be one of skip, refuse"),
        ({"required": "yes"}, "required must be true or false"),
    ],
)
def test_market_rule_rejects_nonsense(market, words) -> None:
    with pytest.raises(ValueError, match=words):
        PromotionPolicy.from_dict({"market": market})


def test_market_rule_reads_its_mode_as_an_enum() -> None:
    assert MarketRule(when_missing="refuse").when_missing is WhenNoMarket.REFUSE


# --- a refitted champion at the gate ------------------------------------------------------------

JUDGED = TrainedVersion("3", "2022-05-22 15:00:00")  # the version the gate promoted
REFIT = TrainedVersion("4", "2023-05-28 15:00:00", JUDGED)  # it, on the holdout season too
SAME_SEASON = "2022-08-06 15:00:00"  # the holdout's first kick-off: the season refitted on
NEW_SEASON = "2023-08-12 15:00:00"  # a season played since the refit


@pytest.mark.parametrize(
    ("champion", "holdout_start", "expected"),
    [
        # no refit: the champion itself, comparable or not, with nothing to explain
        (JUDGED, SAME_SEASON, GateReference("3", True)),
        (JUDGED, "2022-05-01 15:00:00", GateReference("3", False)),
        (TrainedVersion("3", None), SAME_SEASON, GateReference("3", False)),  # unknown: seen
        # a refit on the season it refitted on: the version it refits stands for it
        (
            REFIT,
            SAME_SEASON,
            GateReference(
                "3",
                True,
                (
                    "champion: version 4 is a refit that trained on the holdout "
                    "(through 2023-05-28 15:00:00); scored in its place: version 3, which it refits"
                ),
            ),
        ),
        # a new season: the refit is comparable itself
        (
            REFIT,
            NEW_SEASON,
            GateReference(
                "4",
                True,
                (
                    "champion: version 4, a refit of version 3 trained through "
                    "2023-05-28 15:00:00, before the holdout"
                ),
            ),
        ),
        # both saw the holdout: the champion, not comparable
        (
            REFIT,
            "2022-01-01 15:00:00",
            GateReference(
                "4",
                False,
                (
                    "champion: version 4 is a refit of version 3, "
                    "and both trained on holdout matches"
                ),
            ),
        ),
        # the version it refits was deleted: as a champion without a refit
        (TrainedVersion("4", "2023-05-28 15:00:00"), SAME_SEASON, GateReference("4", False)),
    ],
)
def test_which_version_stands_for_the_champion(champion, holdout_start, expected) -> None:
    assert champion_reference(champion, holdout_start) == expected


def test_the_reason_says_which_version_stood_for_the_champion() -> None:
    note = champion_reference(REFIT, SAME_SEASON).note
    candidate = scores(log_loss=0.9850)
    decision = decide_promotion(candidate, CHAMPION, market_on(candidate), POLICY, None, note)
    assert decision.promote and decision.reason.startswith("log loss improves by 0.0050")
    assert decision.reason.endswith(f"; {note}")
    # without a champion there is none to name; without a note the reason is as it was
    first = decide_promotion(candidate, None, market_on(candidate), POLICY, None, note)
    assert note not in first.reason
    plain = decide_promotion(candidate, CHAMPION, market_on(candidate), POLICY)
    assert decision.reason == f"{plain.reason}; {note}"


def test_a_refit_is_a_patch_of_the_judged_version() -> None:
    assert refit_semver("1.0.0", ["1.0.0"]) == "1.0.1"
    assert refit_semver("2.0.0", ["1.0.0", "1.0.1", "2.0.0"]) == "2.0.1"
    # another pipeline registered 2.0.1 meanwhile: the next free patch of the line
    assert refit_semver("2.0.0", ["2.0.0", "2.0.1", "3.0.0", "?"]) == "2.0.2"
    with pytest.raises(ValueError, match="not a semantic version"):
        refit_semver("2.0", ["2.0"])
