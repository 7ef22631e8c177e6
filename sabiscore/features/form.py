"""``form_``: rolling and exponentially weighted means of a team's recent matches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sabiscore.features.config import FormConfig, _stat_columns
from sabiscore.features.maths import ewm_mean_by_group, rolling_mean_by_group
from sabiscore.features.prepare import _group_starts, _last_before, _Matches, _numeric, _take

# --- form -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Appearances:
    """Each played match twice, once from each team's side, sorted by (team, day)."""

    team: np.ndarray
    venue: np.ndarray  # 0 home, 1 away
    league_season: np.ndarray
    day: np.ndarray
    values: np.ndarray  # (n, len(stats)), the team's own view: for = its own numbers


def _appearances(m: _Matches, stats: Sequence[str]) -> _Appearances:
    rows = np.flatnonzero(m.played)
    home_goals, away_goals = m.home_goals[rows], m.away_goals[rows]
    columns = []
    for stat in stats:
        spec = _stat_columns(stat)
        if spec is None:
            home = np.where(home_goals > away_goals, 3.0, np.where(home_goals == away_goals, 1, 0))
            away = np.where(away_goals > home_goals, 3.0, np.where(home_goals == away_goals, 1, 0))
        else:
            suffix, side = spec
            own, other = (
                _numeric(m.frame, f"home_{suffix}")[rows],
                _numeric(m.frame, f"away_{suffix}")[rows],
            )
            home, away = (own, other) if side == "for" else (other, own)
        columns.append(np.concatenate([home, away]))
    team = np.concatenate([m.team_home[rows], m.team_away[rows]])
    day = np.concatenate([m.day[rows], m.day[rows]])
    order = np.lexsort((np.concatenate([rows, rows]), day, team))
    values = np.column_stack(columns) if columns else np.empty((len(team), 0))
    return _Appearances(
        team=team[order],
        venue=np.repeat([0, 1], len(rows))[order],
        league_season=np.concatenate([m.league_season[rows]] * 2)[order],
        day=day[order],
        values=values[order],
    )


def _form_features(m: _Matches, config: FormConfig) -> dict[str, np.ndarray]:
    """Means over the last N matches (and EWM) of each team, overall and at the venue it plays
    this match, as they stood after the last day before the match."""
    apps = _appearances(m, config.stats)
    out: dict[str, np.ndarray] = {}
    for scope in ("all", "venue"):
        key = apps.team if scope == "all" else apps.team * 2 + apps.venue
        order = np.lexsort((np.arange(len(key)), apps.day, key))
        key, day, values = key[order], apps.day[order], apps.values[order]
        starts = _group_starts(key)
        summaries = {f"mean{w}": rolling_mean_by_group(values, starts, w) for w in config.windows}
        if config.ewm_halflife is not None:
            summaries["ewm"] = ewm_mean_by_group(values, starts, config.ewm_halflife)
        for side, team, venue in (("home", m.team_home, 0), ("away", m.team_away, 1)):
            query = team if scope == "all" else team * 2 + venue
            last = _last_before(key, day, query, m.day)
            for name, summary in summaries.items():
                taken = _take(summary, last)
                for j, stat in enumerate(config.stats):
                    out[f"form_{side}_{scope}_{stat}_{name}"] = taken[:, j]
    return out
