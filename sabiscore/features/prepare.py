"""The input, checked and sorted: matches as arrays keyed by team and day."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# --- the input, checked and sorted ----------------------------------------------------------


_REQUIRED = ("match_id", "league", "season", "date", "home_team", "away_team", "status")
_DAY_SPAN = 1 << 22  # more days than any history holds: keys * _DAY_SPAN + day sorts by (key, day)


@dataclass(frozen=True)
class _Matches:
    """The match table as arrays, in kick-off order, with integer codes for fast grouping."""

    frame: pd.DataFrame
    match_id: pd.Index
    day: np.ndarray  # int64 days since the first date (>= 0)
    team_home: np.ndarray  # team codes
    team_away: np.ndarray
    league_season: np.ndarray  # codes of (league, season)
    played: np.ndarray  # bool: has a result, may update the state
    home_goals: np.ndarray
    away_goals: np.ndarray


def _prepare(matches: pd.DataFrame) -> _Matches:
    missing = [c for c in _REQUIRED if c not in matches]
    if missing:
        raise ValueError(f"matches lacks columns: {missing}")
    incomplete = matches[list(_REQUIRED)].isna().any(axis=1)
    if incomplete.any():
        raise ValueError(f"{int(incomplete.sum())} rows lack one of {list(_REQUIRED)}")
    if matches["match_id"].duplicated().any():
        raise ValueError("match_id must be unique")
    order = ["date", "kickoff"] if "kickoff" in matches else ["date"]
    frame = matches.sort_values(order, kind="stable").reset_index(drop=True)
    dates = frame["date"].to_numpy("datetime64[D]").astype(np.int64)
    home_goals = _numeric(frame, "home_goals")
    away_goals = _numeric(frame, "away_goals")
    played = played_mask(frame)
    teams = pd.factorize(np.concatenate([frame["home_team"], frame["away_team"]]))[0]
    league_season = pd.factorize(frame["league"].astype(str) + "\x1f" + frame["season"])[0]
    return _Matches(
        frame=frame,
        match_id=pd.Index(frame["match_id"], name="match_id"),
        day=dates - dates.min(initial=0),
        team_home=teams[: len(frame)],
        team_away=teams[len(frame) :],
        league_season=league_season,
        played=played,
        home_goals=home_goals,
        away_goals=away_goals,
    )


def played_mask(matches: pd.DataFrame) -> np.ndarray:
    """The rows that move the teams' state: status played and both scores known.

    >>> played_mask(pd.DataFrame({"status": ["played", "played", "fixture"],
    ...                           "home_goals": [1, None, None], "away_goals": [0, 2, None]}))
    array([ True, False, False])
    """
    goals = _numeric(matches, "home_goals") + _numeric(matches, "away_goals")
    return matches["status"].eq("played").to_numpy() & np.isfinite(goals)


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _last_before(
    hist_key: np.ndarray, hist_day: np.ndarray, key: np.ndarray, day: np.ndarray
) -> np.ndarray:
    """For each query (key, day): the index of the last history row with the same key and an
    *earlier* day, or -1. History must be sorted by (key, day). This one comparison (strictly
    earlier day) is what keeps same-day results out of every rolling feature.

    >>> _last_before(np.array([0, 0, 1]), np.array([1, 5, 2]), np.array([0, 0, 1, 1]),
    ...              np.array([5, 6, 2, 3])).tolist()
    [0, 1, -1, 2]
    """
    position = np.searchsorted(hist_key * _DAY_SPAN + hist_day, key * _DAY_SPAN + day) - 1
    found = position >= 0
    found[found] = hist_key[position[found]] == key[found]
    return np.where(found, position, -1)


def _group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    return np.searchsorted(sorted_keys, sorted_keys, side="left")


def _take(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Rows of `values` at `index`, NaN where the index is -1 (no history)."""
    if len(values) == 0:  # nothing played yet: only fixtures
        return np.full((len(index), *values.shape[1:]), np.nan)
    out = values[np.maximum(index, 0)].astype(float)
    out[index < 0] = np.nan
    return out
