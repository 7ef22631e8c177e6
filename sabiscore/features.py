"""Pre-match features: what was known about a match before its kick-off, as numbers.

Every feature of a match is computed from the state *after all matches of earlier dates*:
matches on the same day never see each other's results (the day is processed as a whole, then
the state is updated), and nothing of the match itself is read except its opening prices, which
are quoted before kick-off. Closing prices are never read. Fixtures (rows without a result) get
features from the latest state before their date, and never change the state themselves, so the
same code serves training and upcoming matches.

Families, each switchable in `configs/features.yaml`:

* ``form_``  rolling and exponentially weighted means of points, goals, shots, shots on target
  and corners, for and against, over all of a team's matches and over its home-only (home
  side) or away-only (away side) matches;
* ``elo_``   Elo ratings per league, regressed to the league mean between seasons; a team new to
  a league starts at the mean of the league's lowest third;
* ``pi_``    pi-ratings (Constantinou & Fenton 2013): a home and an away rating per team;
* ``rest_``  days since each team's previous match, capped;
* ``stage_`` how far the season has gone;
* ``mkt_``   the opening market: de-margined probabilities, overrounds, log-odds and the
  disagreement between bookmakers. The stack notes found these the essential input.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sabiscore.config import reject_unknown_keys
from sabiscore.odds import ImpliedMethod, implied_probabilities, overround

__all__ = [
    "FAMILY_PREFIXES",
    "FORM_STATS",
    "SHARP_COLUMNS",
    "EloConfig",
    "FeatureConfig",
    "FormConfig",
    "MarketConfig",
    "PiConfig",
    "RestConfig",
    "SeasonStageConfig",
    "build_features",
    "disagreement_books_of",
    "elo_expected_score",
    "elo_update",
    "ewm_mean_by_group",
    "feature_columns",
    "market_features",
    "pi_expected_goal_difference",
    "pi_goal_difference",
    "pi_update",
    "rolling_mean_by_group",
    "sharp_line",
]

#: Family -> prefix of its column names; `feature_columns` recognises features by these.
FAMILY_PREFIXES: dict[str, str] = {
    "form": "form_",
    "elo": "elo_",
    "pi_ratings": "pi_",
    "rest": "rest_",
    "season_stage": "stage_",
    "market": "mkt_",
}

#: Statistics whose `<base>_for` / `<base>_against` form can be computed: base -> the suffix of
#: the canonical `home_<suffix>` / `away_<suffix>` columns.
_STAT_BASES: dict[str, str] = {
    "goals": "goals",
    "shots": "shots",
    "shots_on_target": "shots_on_target",
    "corners": "corners",
    "fouls": "fouls",
    "yellow": "yellow",
    "red": "red",
}

FORM_STATS: tuple[str, ...] = (
    "points",
    "goals_for",
    "goals_against",
    "shots_for",
    "shots_against",
    "shots_on_target_for",
    "shots_on_target_against",
    "corners_for",
    "corners_against",
)

#: Books quoted (open and close) in every season 2012-13 ... 2023-24 of the shared files. A fixed
#: set keeps the spread of opinions comparable between eras: the number of books fell from ten to
#: five or six over those years, and a spread over more books is a different quantity.
_DISAGREEMENT_BOOKS: tuple[str, ...] = (
    "pinnacle",
    "bet365",
    "bwin",
    "interwetten",
    "william_hill",
    "bet_victor",
)


#: The order in which a book's opening line stands for the market (`MarketConfig.sharp_books`):
#: Pinnacle is the sharp book; the market average where Pinnacle is missing; then Bet365.
_SHARP_BOOKS: tuple[str, ...] = ("pinnacle", "market_avg", "bet365")

#: The columns of the market's own forecast (de-margined H/D/A of the sharp chain): the market
#: member of the stack and the starting score of the anchored boosted models read them.
SHARP_COLUMNS: tuple[str, str, str] = ("mkt_sharp_H", "mkt_sharp_D", "mkt_sharp_A")


# --- configuration -------------------------------------------------------------------------


def _from_mapping(cls: type, d: Mapping[str, Any], what: str, tuples: Sequence[str] = ()) -> Any:
    """Build a config dataclass from a mapping; lists become tuples so the result is hashable."""
    reject_unknown_keys(d, cls, what)
    kwargs = {k: tuple(v) if k in tuples and v is not None else v for k, v in d.items()}
    return cls(**kwargs)


@dataclass(frozen=True)
class FormConfig:
    """Recent-form statistics. `windows` in matches; `ewm_halflife` in matches (None: no EWM)."""

    enabled: bool = True
    windows: tuple[int, ...] = (5, 10)
    ewm_halflife: float | None = 5.0
    stats: tuple[str, ...] = FORM_STATS

    def __post_init__(self) -> None:
        if any(int(w) != w or w < 1 for w in self.windows):
            raise ValueError(f"form windows must be positive integers, got {self.windows}")
        if self.ewm_halflife is not None and not self.ewm_halflife > 0:
            raise ValueError(f"ewm_halflife must be > 0 or null, got {self.ewm_halflife}")
        for stat in self.stats:
            _stat_columns(stat)  # raises on an unknown statistic


@dataclass(frozen=True)
class EloConfig:
    """Elo: `k` points per unit of surprise; `home_advantage` in rating points.

    Between seasons each rating moves `season_regression` of the way to the mean of the league's
    teams; a team new to a league starts at the mean of its weakest `newcomer_fraction`.
    """

    enabled: bool = True
    k: float = 20.0
    home_advantage: float = 60.0
    initial: float = 1500.0
    season_regression: float = 0.2
    newcomer_fraction: float = 0.3333

    def __post_init__(self) -> None:
        _check_pool_settings(self.season_regression, self.newcomer_fraction, "elo")
        if self.k <= 0:
            raise ValueError(f"elo k must be > 0, got {self.k}")


@dataclass(frozen=True)
class PiConfig:
    """Pi-ratings: `learning_rate` (lambda), `catch_up_rate` (gamma), and the b, c constants."""

    enabled: bool = True
    learning_rate: float = 0.035
    catch_up_rate: float = 0.7
    b: float = 10.0
    c: float = 3.0
    season_regression: float = 0.0
    newcomer_fraction: float = 0.3333

    def __post_init__(self) -> None:
        _check_pool_settings(self.season_regression, self.newcomer_fraction, "pi_ratings")
        if self.b <= 1 or self.c <= 0:
            raise ValueError(f"pi-ratings need b > 1 and c > 0, got b={self.b}, c={self.c}")


@dataclass(frozen=True)
class RestConfig:
    """Days since each team's previous match, capped at `cap_days` (also the value for a team
    never seen before: it comes back from a break as far as this data knows)."""

    enabled: bool = True
    cap_days: int = 21

    def __post_init__(self) -> None:
        if self.cap_days < 1:
            raise ValueError(f"rest cap_days must be >= 1, got {self.cap_days}")


@dataclass(frozen=True)
class SeasonStageConfig:
    enabled: bool = True


@dataclass(frozen=True)
class MarketConfig:
    """Opening-price features.

    `sharp_books`: the market's own forecast, `mkt_sharp_H/D/A`, is the de-margined line of the
    first of these books that quotes the match (Pinnacle, else the market average, else Bet365)
    and, when none does, the mean de-margined line of the individual books that do. It exists
    whichever books a caller sends, so the model never meets "a different kind of match" only
    because a book is missing. `books` get columns of their own (NaN where unquoted);
    `disagreement` measures how much `disagreement_books` (None: every individual bookmaker
    quoted) differ.
    """

    enabled: bool = True
    sharp_books: tuple[str, ...] = _SHARP_BOOKS
    books: tuple[str, ...] = ()
    method: str = ImpliedMethod.MULTIPLICATIVE.value
    disagreement: bool = False
    disagreement_books: tuple[str, ...] | None = _DISAGREEMENT_BOOKS

    def __post_init__(self) -> None:
        ImpliedMethod(self.method)  # raises ValueError on an unknown method
        if not self.sharp_books:
            raise ValueError("sharp_books needs at least one book")
        if self.disagreement_books is not None and len(self.disagreement_books) < 2:
            raise ValueError("disagreement_books needs at least two books (or null for all)")


def _check_pool_settings(regression: float, newcomer_fraction: float, what: str) -> None:
    if not 0.0 <= regression <= 1.0:
        raise ValueError(f"{what} season_regression must be in [0, 1], got {regression}")
    if not 0.0 < newcomer_fraction <= 1.0:
        raise ValueError(f"{what} newcomer_fraction must be in (0, 1], got {newcomer_fraction}")


_FAMILY_CONFIGS: dict[str, tuple[type, tuple[str, ...]]] = {
    "form": (FormConfig, ("windows", "stats")),
    "elo": (EloConfig, ()),
    "pi_ratings": (PiConfig, ()),
    "rest": (RestConfig, ()),
    "season_stage": (SeasonStageConfig, ()),
    "market": (MarketConfig, ("sharp_books", "books", "disagreement_books")),
}


@dataclass(frozen=True)
class FeatureConfig:
    """Which feature families to build and their parameters (see `configs/features.yaml`)."""

    form: FormConfig = field(default_factory=FormConfig)
    elo: EloConfig = field(default_factory=EloConfig)
    pi_ratings: PiConfig = field(default_factory=PiConfig)
    rest: RestConfig = field(default_factory=RestConfig)
    season_stage: SeasonStageConfig = field(default_factory=SeasonStageConfig)
    market: MarketConfig = field(default_factory=MarketConfig)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> FeatureConfig:
        """Build from parsed YAML; unknown keys are an error so a typo cannot fall back to a
        default silently. Missing families or keys take the defaults."""
        d = d or {}
        reject_unknown_keys(d, cls, "features config")
        kwargs = {}
        for name, value in d.items():
            family_cls, tuples = _FAMILY_CONFIGS[name]
            kwargs[name] = _from_mapping(family_cls, value or {}, f"features.{name}", tuples)
        return cls(**kwargs)

    def enabled_families(self) -> list[str]:
        return [name for name in FAMILY_PREFIXES if getattr(self, name).enabled]


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
    played = frame["status"].eq("played").to_numpy() & np.isfinite(home_goals + away_goals)
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


# --- form -----------------------------------------------------------------------------------


def _stat_columns(stat: str) -> tuple[str, str] | None:
    """`shots_for` -> (`shots`, `for`); `points` -> None. Raises on an unknown statistic."""
    if stat == "points":
        return None
    base, _, side = stat.rpartition("_")
    if base not in _STAT_BASES or side not in ("for", "against"):
        known = ["points"] + [f"{b}_{s}" for b in _STAT_BASES for s in ("for", "against")]
        raise ValueError(f"unknown form statistic {stat!r}; known: {known}")
    return _STAT_BASES[base], side


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


# --- rest and season stage ------------------------------------------------------------------


def _rest_features(m: _Matches, config: RestConfig) -> dict[str, np.ndarray]:
    """Days since the team's last played match on an earlier day, capped."""
    apps = _appearances(m, ())
    out = {}
    for side, team in (("home", m.team_home), ("away", m.team_away)):
        last = _last_before(apps.team, apps.day, team, m.day)
        days = m.day - _take(apps.day, last)
        out[f"rest_{side}_days"] = np.fmin(
            np.nan_to_num(days, nan=config.cap_days), config.cap_days
        )
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


# --- the opening market ---------------------------------------------------------------------


@dataclass(frozen=True)
class _OpeningQuotes:
    """Every opening 1X2 quote of the matches: row position, bookmaker, outcome (0/1/2), price.

    Closing rows are dropped here, before anything else is read: nothing downstream can see them.
    """

    row: np.ndarray
    book_code: np.ndarray  # codes into `bookmakers`
    bookmakers: pd.Index
    outcome: np.ndarray
    price: np.ndarray

    @classmethod
    def from_odds(cls, odds: pd.DataFrame, match_id: pd.Index) -> _OpeningQuotes:
        opening = ((odds["phase"] == "open") & (odds["market"] == "1x2")).to_numpy(bool)
        row = _positions(odds["match_id"], match_id)[opening]
        outcome = _positions(odds["outcome"], pd.Index(["H", "D", "A"]))[opening]
        book_code, bookmakers = pd.factorize(odds["bookmaker"])
        price = odds["price"].to_numpy(dtype=float, na_value=np.nan)[opening]
        price = np.where(np.isfinite(price) & (price > 1.0), price, np.nan)  # not a price: unquoted
        keep = (row >= 0) & (outcome >= 0)
        return cls(
            row[keep], book_code[opening][keep], pd.Index(bookmakers), outcome[keep], price[keep]
        )

    def prices(self, n_matches: int, books: Sequence[str]) -> np.ndarray:
        """Prices as an array (match, book, H/D/A), NaN where not quoted. The first quoted price
        wins, as in `football_data.one_x_two`."""
        out = np.full((n_matches, len(books), 3), np.nan)
        book = np.append(pd.Index(list(books)).get_indexer(self.bookmakers), -1)[self.book_code]
        keep = np.flatnonzero(book >= 0)[::-1]  # reversed: the last write is the first quote
        out[self.row[keep], book[keep], self.outcome[keep]] = self.price[keep]
        return out


def _positions(values: pd.Series, targets: pd.Index) -> np.ndarray:
    """Position of each value in `targets` (-1 if absent), hashing each distinct value once."""
    codes, uniques = pd.factorize(values)
    return np.append(targets.get_indexer(pd.Index(uniques).astype(object)), -1)[codes]


def _market_features(
    m: _Matches, odds: pd.DataFrame, config: MarketConfig
) -> dict[str, np.ndarray]:
    """The opening market of every row, from the odds table (see `market_features`)."""
    quotes = _OpeningQuotes.from_odds(odds, m.match_id)
    books = config.disagreement_books
    if books is None:
        books = disagreement_books_of(quotes.bookmakers, _aggregate_books(odds))
    n_matches = len(m.match_id)
    individual = disagreement_books_of(quotes.bookmakers, _aggregate_books(odds))
    return market_features(
        quotes.prices(n_matches, config.books),
        quotes.prices(n_matches, books),
        config,
        sharp_prices=quotes.prices(n_matches, config.sharp_books),
        consensus_prices=quotes.prices(n_matches, individual),
    )


def disagreement_books_of(bookmakers: Iterable[str], aggregates: Iterable[str]) -> tuple[str, ...]:
    """The books whose disagreement is measured when the config names none: every individual
    bookmaker, in name order (the order fixes the floating-point sums).

    >>> disagreement_books_of(["pinnacle", "market_avg", "bet365"], ["market_avg"])
    ('bet365', 'pinnacle')
    """
    return tuple(sorted(set(bookmakers) - set(aggregates)))


def market_features(
    book_prices: np.ndarray,
    spread_prices: np.ndarray,
    config: MarketConfig,
    *,
    sharp_prices: np.ndarray,
    consensus_prices: np.ndarray,
) -> dict[str, np.ndarray]:
    """The market's own forecast (the sharp chain), then, as configured, the de-margined
    opening probabilities of each named book with its overround and home-vs-away log-odds, and
    how far the individual books disagree on each outcome.

    Prices are opening decimal odds as (match, book, H/D/A), NaN where not quoted:
    `sharp_prices` of `config.sharp_books`, `consensus_prices` of every individual book quoted
    (their consensus stands in for the sharp line when no sharp book quotes), `book_prices` of
    `config.books`, `spread_prices` of the books whose disagreement is measured.
    `build_features` reads them from the odds table; a caller holding quotes of a match not in
    any table gets the same numbers from here.
    """
    out = sharp_line(sharp_prices, consensus_prices, config.method)
    if not config.books:
        book_prices = np.full((len(sharp_prices), 0, 3), np.nan)
    flat = book_prices.reshape(-1, 3)  # all books in one call: each row is de-margined alone
    probs = implied_probabilities(flat, config.method).reshape(book_prices.shape)
    margins = overround(flat).reshape(book_prices.shape[:2])
    for b, book in enumerate(config.books):
        for j, outcome in enumerate("HDA"):
            out[f"mkt_{book}_{outcome}"] = probs[:, b, j]
        out[f"mkt_{book}_overround"] = margins[:, b]
        out[f"mkt_{book}_log_odds_home_away"] = np.log(probs[:, b, 0] / probs[:, b, 2])
    if config.disagreement:
        out.update(_disagreement(spread_prices, config.method))
    return out


def sharp_line(
    sharp_prices: np.ndarray, consensus_prices: np.ndarray, method: str
) -> dict[str, np.ndarray]:
    """`mkt_sharp_H/D/A`: the de-margined line of the first sharp book quoting each match (in
    the order of the books' axis), else the mean de-margined line of the individual books that
    quote it, else NaN; `mkt_sharp_overround` is that book's (the consensus's mean) margin.

    >>> sharp = np.array([[[np.nan] * 3, [2.0, 4.0, 4.0]]])  # book 0 missing: book 1 stands in
    >>> line = sharp_line(sharp, sharp[:, :0], "multiplicative")
    >>> [line[k].round(3).tolist() for k in ("mkt_sharp_H", "mkt_sharp_D", "mkt_sharp_A")]
    [[0.5], [0.25], [0.25]]
    """
    probs = implied_probabilities(sharp_prices.reshape(-1, 3), method).reshape(sharp_prices.shape)
    margins = overround(sharp_prices.reshape(-1, 3)).reshape(sharp_prices.shape[:2])
    quoted = np.isfinite(probs).all(axis=2)
    first = np.where(quoted.any(axis=1), quoted.argmax(axis=1), -1)
    rows = np.arange(len(probs))
    line = np.where((first >= 0)[:, None], probs[rows, np.maximum(first, 0)], np.nan)
    margin = np.where(first >= 0, margins[rows, np.maximum(first, 0)], np.nan)
    missing = np.flatnonzero(first < 0)
    if missing.size and consensus_prices.shape[1]:
        spread = consensus_prices[missing]
        spread_probs = implied_probabilities(spread.reshape(-1, 3), method).reshape(spread.shape)
        complete = np.isfinite(spread_probs).all(axis=2)
        count = complete.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):  # no book at all: NaN wanted
            line[missing] = (
                np.where(complete[:, :, None], spread_probs, 0.0).sum(axis=1) / count[:, None]
            )
            spread_margins = overround(spread.reshape(-1, 3)).reshape(spread.shape[:2])
            margin[missing] = np.where(complete, spread_margins, 0.0).sum(axis=1) / count
    out = {column: line[:, j] for j, column in enumerate(SHARP_COLUMNS)}
    out["mkt_sharp_overround"] = margin
    return out


def _disagreement(prices: np.ndarray, method: str) -> dict[str, np.ndarray]:
    """Spread of the books' de-margined probabilities (std and max - min); NaN under two books."""
    flat = prices.reshape(-1, 3)
    probs = implied_probabilities(flat, method).reshape(prices.shape)
    complete = np.isfinite(probs).all(axis=2)
    n_books = complete.sum(axis=1)
    several = n_books >= 2
    out: dict[str, np.ndarray] = {"mkt_books_n": n_books.astype(float)}
    # np.nanstd / nanmax / nanmin, written out: a book's row is all NaN or complete, and
    # their generic masking cost more than the rest of a served prediction's features.
    # The same operations in the same order: equal to the last bit (tested).
    quoted = complete[:, :, None]
    count = n_books[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):  # no quotes: 0 / 0, NaN wanted
        mean = np.where(quoted, probs, 0.0).sum(axis=1, keepdims=True) / count[:, None]
        deviation = np.where(quoted, probs - mean, 0.0)
        std = np.sqrt((deviation * deviation).sum(axis=1) / count)
    highest = np.where(quoted, probs, -np.inf).max(axis=1)
    spread = highest - np.where(quoted, probs, np.inf).min(axis=1)
    for j, outcome in enumerate("HDA"):
        out[f"mkt_books_std_{outcome}"] = np.where(several, std[:, j], np.nan)
        out[f"mkt_books_range_{outcome}"] = np.where(several, spread[:, j], np.nan)
    return out


def _aggregate_books(odds: pd.DataFrame) -> list[str]:
    """Best-price and average-price columns: not bookmakers, so not opinions to compare."""
    return odds.loc[odds["is_aggregate"].astype(bool), "bookmaker"].astype(str).unique().tolist()


# --- assembly -------------------------------------------------------------------------------


def build_features(
    matches: pd.DataFrame, odds: pd.DataFrame, config: FeatureConfig | None = None
) -> pd.DataFrame:
    """Numeric pre-match features of every row of `matches` (played and fixtures), indexed by
    match_id in kick-off order. `odds` is the tidy price table of `football_data`; only its
    opening 1X2 rows are read. NaN where a team has no history or a price is missing."""
    config = config or FeatureConfig()
    m = _prepare(matches)
    builders = {
        "form": lambda: _form_features(m, config.form),
        "elo": lambda: _elo_features(m, config.elo),
        "pi_ratings": lambda: _pi_features(m, config.pi_ratings),
        "rest": lambda: _rest_features(m, config.rest),
        "season_stage": lambda: _season_stage_features(m),
        "market": lambda: _market_features(m, odds, config.market),
    }
    columns: dict[str, np.ndarray] = {}
    for family in config.enabled_families():
        columns.update(builders[family]())
    return pd.DataFrame(columns, index=m.match_id, dtype=float)


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The feature columns of a frame (e.g. features joined with labels), in frame order.

    >>> feature_columns(pd.DataFrame({"elo_home": [1.0], "result": ["H"], "mkt_pinnacle_H": [.5]}))
    ['elo_home', 'mkt_pinnacle_H']
    """
    prefixes = tuple(FAMILY_PREFIXES.values())
    return [
        c
        for c in frame.columns
        if str(c).startswith(prefixes) and pd.api.types.is_numeric_dtype(frame[c])
    ]
