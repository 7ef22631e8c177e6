"""The rating and rolling-mean arithmetic, scalar (doctested) and by group."""

from __future__ import annotations

import math

import numpy as np

from sabiscore.features.config import PiConfig

# --- the maths -----------------------------------------------------------------------------


def elo_expected_score(home_rating: float, away_rating: float, home_advantage: float) -> float:
    """The home side's expected score (win = 1, draw = 1/2) from the Elo logistic curve.

    >>> round(elo_expected_score(1500.0, 1500.0, 0.0), 3)
    0.5
    >>> round(elo_expected_score(1600.0, 1500.0, 0.0), 3)
    0.64
    """
    return 1.0 / (1.0 + 10.0 ** (-(home_rating + home_advantage - away_rating) / 400.0))


def elo_update(
    home_rating: float,
    away_rating: float,
    home_goals: float,
    away_goals: float,
    k: float,
    home_advantage: float,
) -> tuple[float, float]:
    """Ratings after a match: the home side gains k * (score - expected), the away side loses it.

    >>> elo_update(1500.0, 1500.0, 1, 0, k=20.0, home_advantage=0.0)
    (1510.0, 1490.0)
    """
    score = 1.0 if home_goals > away_goals else 0.5 if home_goals == away_goals else 0.0
    delta = k * (score - elo_expected_score(home_rating, away_rating, home_advantage))
    return home_rating + delta, away_rating - delta


def pi_goal_difference(rating: float, b: float = 10.0, c: float = 3.0) -> float:
    """Expected goal difference against an average side of a pi-rating: sign(r)(b^(|r|/c) - 1).

    >>> round(pi_goal_difference(3.0), 6), round(pi_goal_difference(-3.0), 6)
    (9.0, -9.0)
    """
    magnitude = b ** (abs(rating) / c) - 1.0
    return magnitude if rating >= 0 else -magnitude


def pi_expected_goal_difference(
    home_team_home_rating: float, away_team_away_rating: float, b: float = 10.0, c: float = 3.0
) -> float:
    """Expected home-minus-away goal difference: the home side's home rating against the away
    side's away rating.

    >>> pi_expected_goal_difference(0.0, 0.0)
    0.0
    """
    return pi_goal_difference(home_team_home_rating, b, c) - pi_goal_difference(
        away_team_away_rating, b, c
    )


def pi_update(
    home_team: tuple[float, float],
    away_team: tuple[float, float],
    home_goals: float,
    away_goals: float,
    config: PiConfig,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Pi-ratings `(home rating, away rating)` of both teams after a match.

    The error between observed and expected goal difference is damped to c*log10(1 + e), so a
    5-0 teaches little more than a 3-0; the venue played moves by lambda times that, and the other
    venue's rating follows by gamma of the move.

    >>> home, away = pi_update((0.0, 0.0), (0.0, 0.0), 1, 0, PiConfig())
    >>> [round(r, 6) for r in home + away]
    [0.031608, 0.022126, -0.022126, -0.031608]
    """
    lam, gamma, b, c = config.learning_rate, config.catch_up_rate, config.b, config.c
    expected = pi_expected_goal_difference(home_team[0], away_team[1], b, c)
    observed = home_goals - away_goals
    psi = c * math.log10(1.0 + abs(observed - expected))
    home_move = lam * (psi if observed > expected else -psi)
    away_move = lam * (psi if observed < expected else -psi)
    new_home = (home_team[0] + home_move, home_team[1] + gamma * home_move)
    new_away = (away_team[0] + gamma * away_move, away_team[1] + away_move)
    return new_home, new_away


def rolling_mean_by_group(values: np.ndarray, group_start: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last `window` rows of each row's group, the row included; NaN values are
    skipped (a match without statistics still counts as one of the window's matches).

    Rows must be grouped contiguously; `group_start[i]` is the first row of row i's group.

    >>> x = np.array([[1.0], [3.0], [np.nan], [5.0], [10.0]])
    >>> rolling_mean_by_group(x, np.array([0, 0, 0, 0, 4]), 2).ravel().tolist()
    [1.0, 2.0, 3.0, 5.0, 10.0]
    """
    finite = np.isfinite(values)
    sums = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(np.where(finite, values, 0), 0)])
    counts = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(finite, 0)])
    row = np.arange(len(values))
    low = np.maximum(row - window + 1, group_start)
    total, n = sums[row + 1] - sums[low], counts[row + 1] - counts[low]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / n, np.nan)


def ewm_mean_by_group(values: np.ndarray, group_start: np.ndarray, halflife: float) -> np.ndarray:
    """Exponentially weighted mean of each row's group up to and including the row: a match
    `halflife` matches ago weighs half as much as the latest. NaN values get no weight but their
    match still ages the older ones.

    >>> x = np.array([[2.0], [4.0], [np.nan], [7.0]])
    >>> ewm_mean_by_group(x, np.array([0, 0, 0, 3]), 1.0).ravel().tolist()
    [2.0, 3.3333333333333335, 3.3333333333333335, 7.0]
    """
    decay = 0.5 ** (1.0 / halflife)
    finite = np.isfinite(values)
    sums = np.where(finite, values, 0.0)
    weights = finite.astype(float)
    position = np.arange(len(values)) - group_start
    by_position = np.argsort(position, kind="stable")
    bounds = np.searchsorted(position[by_position], np.arange(position.max(initial=0) + 2))
    for p in range(1, len(bounds) - 1):  # one vectorised step per position within a group
        rows = by_position[bounds[p] : bounds[p + 1]]
        sums[rows] += decay * sums[rows - 1]
        weights[rows] += decay * weights[rows - 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weights > 0, sums / weights, np.nan)
