"""The goal-model maths of benchmarks/market_lines.py, checked against hand-computed cases."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import poisson, skellam

SPEC = importlib.util.spec_from_file_location(
    "market_lines", Path(__file__).resolve().parents[2] / "benchmarks" / "market_lines.py"
)
assert SPEC is not None and SPEC.loader is not None
market_lines = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(market_lines)

MU = np.array([[1.6, 1.1], [0.9, 1.7], [2.4, 0.6]])


def outcome_probabilities(mu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    home = skellam.sf(0, mu[:, 0], mu[:, 1])
    away = skellam.cdf(-1, mu[:, 0], mu[:, 1])
    return home, 1.0 - home - away, away


def test_the_fit_recovers_the_means_behind_a_1x2_line() -> None:
    home, _, away = outcome_probabilities(MU)
    np.testing.assert_allclose(market_lines.skellam_fit(home, away), MU, rtol=1e-6)


def test_half_and_whole_handicaps_are_the_outcome_probabilities() -> None:
    home, draw, away = outcome_probabilities(MU)
    cover = market_lines.handicap_cover
    # home -0.5: the home side must win; +0.5: it must not lose
    np.testing.assert_allclose(cover(MU, np.full(3, -0.5)), home)
    np.testing.assert_allclose(cover(MU, np.full(3, 0.5)), home + draw)
    # level (draw no bet): the draw is a push
    np.testing.assert_allclose(cover(MU, np.zeros(3)), home / (home + away))
    # home -1: winning by one is a push
    by_one = skellam.pmf(1, MU[:, 0], MU[:, 1])
    np.testing.assert_allclose(cover(MU, np.full(3, -1.0)), (home - by_one) / (1 - by_one))


def test_a_quarter_handicap_splits_the_stake_over_the_two_lines_beside_it() -> None:
    home, draw, away = outcome_probabilities(MU)
    # -0.25: half on level (the draw pushes), half on -0.5 (the draw loses)
    win, lose = home + home, away + (away + draw)
    np.testing.assert_allclose(
        market_lines.handicap_cover(MU, np.full(3, -0.25)), win / (win + lose)
    )


def test_over_25_is_three_goals_or_more() -> None:
    total = MU.sum(axis=1)
    expected = 1 - sum(poisson.pmf(k, total) for k in range(3))
    np.testing.assert_allclose(market_lines.over_25(MU), expected)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_logit_inverts_the_logistic(p: float) -> None:
    assert 1 / (1 + np.exp(-market_lines.logit(np.array([p]))[0])) == pytest.approx(p)
