"""``rest_`` and ``stage_``: days since each team's last match, how far the season has gone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sabiscore.features.config import RestConfig
from sabiscore.features.form import _Appearances, _appearances
from sabiscore.features.prepare import _DAY_SPAN, _group_starts, _last_before, _Matches, _take

# --- rest and season stage ------------------------------------------------------------------


def capped_rest_days(days_since: np.ndarray | float, cap_days: float) -> np.ndarray:
    """Days since a team's last played match, at most `cap_days`; `cap_days` when it has
    none (NaN): a long rest and no earlier match read alike.

    >>> capped_rest_days(np.array([6.0, 30.0, np.nan]), 21.0)
    array([ 6., 21., 21.])
    """
    return np.fmin(np.nan_to_num(days_since, nan=cap_days), cap_days)


def _rest_features(m: _Matches, config: RestConfig) -> dict[str, np.ndarray]:
    """Days since the team's last played match on an earlier day, capped."""
    apps = _appearances(m, ())
    out = {}
    for side, team in (("home", m.team_home), ("away", m.team_away)):
        last = _last_before(apps.team, apps.day, team, m.day)
        days = m.day - _take(apps.day, last)
        out[f"rest_{side}_days"] = capped_rest_days(days, config.cap_days)
    out["rest_diff_days"] = out["rest_home_days"] - out["rest_away_days"]
    return out


def _season_stage_features(m: _Matches) -> dict[str, np.ndarray]:
    """Games each team has played this season, and the share of the season's games played."""
    apps = _appearances(m, ())
    out = _games_played(m, apps)
    out["stage_season_fraction"] = _season_fraction(m, apps)
    return out


def _games_played(m: _Matches, apps: _Appearances) -> dict[str, np.ndarray]:
    n_codes = int(m.league_season.max(initial=0)) + 1
    key = apps.team * n_codes + apps.league_season
    order = np.lexsort((apps.day, key))
    key, day = key[order], apps.day[order]
    starts = _group_starts(key)
    out = {}
    for side, team in (("home", m.team_home), ("away", m.team_away)):
        last = _last_before(key, day, team * n_codes + m.league_season, m.day)
        out[f"stage_{side}_games_played"] = np.nan_to_num(last + 1.0 - _take(starts, last))
    return out


def _season_fraction(m: _Matches, apps: _Appearances) -> np.ndarray:
    """Games of the league-season played before the day, over the season's n(n-1) games.

    n is the larger of last season's count of teams and the teams seen playing so far this
    season (the day itself included: its fixture list is known before kick-off). Only played rows
    count, so adding fixtures changes no other match.
    """
    games = np.sort(m.league_season[m.played] * _DAY_SPAN + m.day[m.played])
    season_start = m.league_season * _DAY_SPAN
    before = np.searchsorted(games, season_start + m.day) - np.searchsorted(games, season_start)
    n_teams = np.maximum(_teams_seen(m, apps), _previous_season_teams(m, apps))
    return np.clip(before / np.maximum(n_teams * (n_teams - 1.0), 1.0), 0.0, 1.0)


def _teams_seen(m: _Matches, apps: _Appearances) -> np.ndarray:
    """Distinct teams with a played match of the row's league-season on or before its day."""
    first = pd.DataFrame({"ls": apps.league_season, "team": apps.team, "day": apps.day})
    first = first.groupby(["ls", "team"], sort=False)["day"].min().reset_index()
    seen = np.sort(first["ls"].to_numpy() * _DAY_SPAN + first["day"].to_numpy())
    query = m.league_season * _DAY_SPAN
    return np.searchsorted(seen, query + m.day, side="right") - np.searchsorted(seen, query)


def _previous_season_teams(m: _Matches, apps: _Appearances) -> np.ndarray:
    """Teams in the league's previous season present in the data (0 for the first)."""
    teams = pd.Series(apps.team).groupby(apps.league_season).nunique()
    seasons = m.frame[["league", "season"]].assign(ls=m.league_season).drop_duplicates("ls")
    seasons = seasons.sort_values(["league", "season"])
    seasons["n"] = seasons["ls"].map(teams).fillna(0)
    previous = seasons.groupby("league")["n"].shift(1).fillna(0)
    lookup = np.zeros(int(m.league_season.max(initial=0)) + 1)
    lookup[seasons["ls"].to_numpy()] = previous.to_numpy()
    return lookup[m.league_season]
