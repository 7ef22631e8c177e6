"""The promotion gate, case by case."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml

from sabiscore.config import configs_dir
from sabiscore.promotion import HoldoutScores, PromotionPolicy, decide_promotion

POLICY = PromotionPolicy()
CHAMPION = HoldoutScores("v1", "holdout-a", 1000, 0.9900, 0.5900, 0.2010, 0.020)
MARKET = HoldoutScores("pinnacle_open", "holdout-a", 1000, 0.9880, 0.5890, 0.2005, 0.015)


def scores(**changes: float | str | None) -> HoldoutScores:
    return dataclasses.replace(CHAMPION, name="candidate", **changes)


CASES = [
    # (candidate, champion, expected promote, words in the reason)
    (scores(log_loss=0.9850), CHAMPION, True, "improves by 0.0050"),
    (scores(), CHAMPION, False, "gain +0.0000"),  # a tie is not an improvement
    (scores(log_loss=0.9895), CHAMPION, False, "< required"),  # too small a gain
    (scores(log_loss=0.9850, ece=0.045), CHAMPION, False, "calibration error"),
    (scores(log_loss=0.9850, rps=0.2050), CHAMPION, False, "RPS"),
    (scores(log_loss=0.9850, brier=0.6000), CHAMPION, False, "Brier"),
    (scores(log_loss=0.9850, ece=0.080), CHAMPION, False, "sanity failed"),
    (scores(log_loss=None), CHAMPION, False, "missing or NaN"),
    (scores(log_loss=float("nan")), CHAMPION, False, "missing or NaN"),
    (scores(), None, True, "first model"),
    (scores(), dataclasses.replace(CHAMPION, log_loss=None), True, "no holdout metrics"),
    (scores(log_loss=0.98, holdout_id="holdout-b"), CHAMPION, False, "different holdout"),
]


@pytest.mark.parametrize(("candidate", "champion", "promote", "words"), CASES)
def test_gate_cases(candidate, champion, promote, words) -> None:
    decision = decide_promotion(candidate, champion, MARKET, POLICY)
    assert decision.promote is promote
    assert words in decision.reason


def test_market_is_always_reported_and_can_be_required() -> None:
    candidate = scores(log_loss=0.9885)
    relaxed = decide_promotion(candidate, CHAMPION, MARKET, POLICY)
    assert relaxed.promote and "market (pinnacle_open) log loss 0.9880, candidate +0.0005" in (
        relaxed.reason
    )
    strict = decide_promotion(
        candidate, CHAMPION, MARKET, dataclasses.replace(POLICY, require_beat_market=True)
    )
    assert not strict.promote and "does not beat the market" in strict.reason


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
    with pytest.raises(ValueError, match="unknown promotion policy keys"):
        PromotionPolicy.from_dict({"min_logloss_gain": 0.01})
