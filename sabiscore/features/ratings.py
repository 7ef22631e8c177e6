"""``elo_`` and ``pi_``: ratings updated one day at a time, per league pool."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable

import numpy as np

from sabiscore.features.config import EloConfig, PiConfig
from sabiscore.features.maths import elo_update, pi_update
from sabiscore.features.prepare import _Matches

# --- ratings (sequential, one day at a time) --------------------------------------------------


class _LeaguePool:
    """Ratings of the teams of one league, carried from season to season.

    At a new season the ratings of last season's teams move `regression` of the way to their
    mean, and that mean is moved to `centre` if given (Elo: otherwise newcomers, who start below
    the teams they replace, drag the scale down season after season); everyone else (promoted,
    returning after years away, new to the data) starts at the mean of the weakest
    `newcomer_fraction` of them, component by component.
    """

    def __init__(
        self,
        initial: tuple[float, ...],
        regression: float,
        newcomer_fraction: float,
        centre: tuple[float, ...] | None,
    ):
        self.season: str | None = None
        self.ratings: dict[int, tuple[float, ...]] = {}
        self.active: set[int] = set()
        self.newcomer = initial
        self._regression = regression
        self._fraction = newcomer_fraction
        self._centre = centre

    def view(self, season: str) -> tuple[dict[int, tuple[float, ...]], tuple[float, ...]]:
        """Ratings as they stand for a match of `season`, without committing a season change."""
        if self.season is None or season <= self.season:
            return self.ratings, self.newcomer
        return self._next_season()

    def start(self, season: str) -> None:
        """Commit the change of season (only a played match of the new season does this)."""
        if self.season is None:
            self.season = season
        elif season > self.season:
            self.ratings, self.newcomer = self._next_season()
            self.season, self.active = season, set()

    def add(self, team: int, delta: tuple[float, ...]) -> None:
        self.ratings[team] = tuple(map(operator.add, self.ratings.get(team, self.newcomer), delta))
        self.active.add(team)

    def _next_season(self) -> tuple[dict[int, tuple[float, ...]], tuple[float, ...]]:
        if not self.active:
            return self.ratings, self.newcomer
        teams = sorted(self.active)
        values = np.array([self.ratings[t] for t in teams])
        mean = values.mean(axis=0)
        centre = mean if self._centre is None else np.asarray(self._centre)
        values = centre + (1.0 - self._regression) * (values - mean)
        weakest = max(1, math.ceil(self._fraction * len(teams)))
        newcomer = tuple(np.sort(values, axis=0)[:weakest].mean(axis=0).tolist())
        return dict(zip(teams, map(tuple, values.tolist()), strict=True)), newcomer


def _run_ratings(
    m: _Matches,
    new_pool: Callable[[], _LeaguePool],
    update: Callable[[tuple[float, ...], tuple[float, ...], float, float], tuple[tuple, tuple]],
) -> tuple[np.ndarray, np.ndarray]:
    """Pre-match ratings (home team's, away team's) of every row, processing day by day.

    All rows of a day read the state first; then the day's played matches update it. `update`
    maps (home ratings, away ratings, home goals, away goals) to the new ratings of both teams.
    """
    leagues = m.frame["league"].astype(str).tolist()
    seasons = m.frame["season"].astype(str).tolist()
    home, away, day = m.team_home.tolist(), m.team_away.tolist(), m.day.tolist()
    played, hg, ag = m.played.tolist(), m.home_goals.tolist(), m.away_goals.tolist()
    pools: dict[str, _LeaguePool] = {}
    pending: list[tuple[_LeaguePool, int, int, tuple[float, ...], tuple[float, ...]]] = []
    home_rows, away_rows = [], []
    for i in range(len(day)):
        if i and day[i] != day[i - 1]:
            _apply(pending)
        pool = pools.get(leagues[i])
        if pool is None:
            pool = pools[leagues[i]] = new_pool()
        if played[i]:
            pool.start(seasons[i])
        ratings, newcomer = pool.view(seasons[i])
        h, a = ratings.get(home[i], newcomer), ratings.get(away[i], newcomer)
        home_rows.append(h)
        away_rows.append(a)
        if played[i]:
            new_h, new_a = update(h, a, hg[i], ag[i])
            delta_h, delta_a = (
                tuple(map(operator.sub, new_h, h)),
                tuple(map(operator.sub, new_a, a)),
            )
            pending.append((pool, home[i], away[i], delta_h, delta_a))
    shape = (len(day), len(new_pool().newcomer))
    return np.array(home_rows, dtype=float).reshape(shape), np.array(away_rows).reshape(shape)


def _apply(pending: list) -> None:
    """Add a finished day's rating changes (as deltas: a team listed twice keeps both)."""
    for pool, home, away, delta_home, delta_away in pending:
        pool.add(home, delta_home)
        pool.add(away, delta_away)
    pending.clear()


def _elo_features(m: _Matches, config: EloConfig) -> dict[str, np.ndarray]:
    def update(h: tuple[float, ...], a: tuple[float, ...], hg: float, ag: float) -> tuple:
        new_h, new_a = elo_update(h[0], a[0], hg, ag, config.k, config.home_advantage)
        return (new_h,), (new_a,)

    def new_pool() -> _LeaguePool:
        initial = (config.initial,)
        return _LeaguePool(initial, config.season_regression, config.newcomer_fraction, initial)

    home, away = _run_ratings(m, new_pool, update)
    diff = home[:, 0] + config.home_advantage - away[:, 0]
    return {
        "elo_home": home[:, 0],
        "elo_away": away[:, 0],
        "elo_diff": diff,
        "elo_expected_home": 1.0 / (1.0 + 10.0 ** (-diff / 400.0)),
    }


def _pi_features(m: _Matches, config: PiConfig) -> dict[str, np.ndarray]:
    def update(h: tuple[float, ...], a: tuple[float, ...], hg: float, ag: float) -> tuple:
        return pi_update((h[0], h[1]), (a[0], a[1]), hg, ag, config)

    def new_pool() -> _LeaguePool:
        return _LeaguePool((0.0, 0.0), config.season_regression, config.newcomer_fraction, None)

    home, away = _run_ratings(m, new_pool, update)
    b, c = config.b, config.c
    expected = np.sign(home[:, 0]) * (b ** (np.abs(home[:, 0]) / c) - 1) - np.sign(away[:, 1]) * (
        b ** (np.abs(away[:, 1]) / c) - 1
    )
    return {
        "pi_home_home": home[:, 0],
        "pi_home_away": home[:, 1],
        "pi_away_home": away[:, 0],
        "pi_away_away": away[:, 1],
        "pi_expected_goal_diff": expected,
    }
