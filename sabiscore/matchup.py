"""Features of a match named by its league and teams: the row `build_features` would give it.

A caller (the prediction service) names a match that is in no table yet and needs its feature
row in well under a millisecond. Fixtures never change the state and every feature but two
families is fixed by the state after the last played day, so those are computed once, by
`build_features` itself, for every ordered pair of each league's teams: the pairs are appended
to the history as fixtures dated the day after it and built in one run. A request then only
copies its pair's row and fills what depends on the request: the rest days (from the kick-off)
and the opening market (from the quoted prices, through `features.market_features`).

The season of a request is the league's latest in the history: that of its last played match,
or a later one where the history lists fixtures of it (next season's first matchdays), with
the rating regression and empty season counts those fixtures get.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from sabiscore.features import (
    FeatureConfig,
    build_features,
    disagreement_books_of,
    market_features,
)
from sabiscore.features.prepare import played_mask
from sabiscore.features.rest_stage import capped_rest_days
from sabiscore.football_data import AGGREGATES, BOOKMAKERS

__all__ = ["MatchupFeaturizer", "UnknownLeague", "UnknownTeam"]

_REST_COLUMNS = ("rest_home_days", "rest_away_days", "rest_diff_days")
_UNQUOTED = (math.nan, math.nan, math.nan)
STATE_FORMAT = 1  # of `to_files`
_LISTED = 30  # names an error message lists before it only counts the rest


class UnknownLeague(ValueError):
    """A league the history does not hold."""


class UnknownTeam(ValueError):
    """A team of neither the league's latest season nor its listed fixtures."""


@dataclass(frozen=True)
class _League:
    """One league's teams and, for each ordered pair, the row fixed by the state."""

    season: str
    teams: tuple[str, ...]  # sorted
    position: dict[str, int]
    rows: np.ndarray  # (home, away, column); rest and market columns left NaN
    last_played: np.ndarray  # proleptic ordinal of each team's last played day, NaN if none


@dataclass(frozen=True)
class MatchupFeaturizer:
    """Feature rows of hypothetical matches after the history's last played day.

    Build it once with `from_history`; `features` is then plain numpy on one row.
    """

    columns: list[str]
    state_date: pd.Timestamp
    config: FeatureConfig
    #: The kick-off of the history's last result (its day where no time is known): a match
    #: can be priced when it kicks off after this, the same day included.
    state_time: pd.Timestamp
    _leagues: dict[str, _League] = field(repr=False)
    _bookmakers: frozenset[str] = field(repr=False)
    _aggregates: frozenset[str] = field(repr=False)
    _no_market: np.ndarray = field(repr=False)
    _rest_at: tuple[int, ...] = field(repr=False)

    @classmethod
    def from_history(
        cls, matches: pd.DataFrame, odds: pd.DataFrame, config: FeatureConfig
    ) -> MatchupFeaturizer:
        """Compute every pair's state-fixed features from `matches` (played rows and any listed
        fixtures) and `odds` (the tidy price table: only its bookmaker names are read here)."""
        played = played_mask(matches)
        if not played.any():
            raise ValueError("the history has no played match: there is no state to start from")
        state_date = pd.Timestamp(matches.loc[played, "date"].max()).normalize()
        state_time = _last_result_time(matches[played])
        rosters = _rosters(matches, played)
        pairs = _pair_fixtures(rosters, state_date + pd.Timedelta(days=1))
        without_market = replace(config, market=replace(config.market, enabled=False))
        built = build_features(pd.concat([matches, pairs], ignore_index=True), odds, without_market)
        no_market = _market_row(config, {}, ())
        columns = built.columns.tolist() + list(no_market)
        bookmakers = set(odds["bookmaker"].astype(str)) if len(odds) else set()
        aggregates = odds.loc[odds["is_aggregate"].astype(bool), "bookmaker"] if len(odds) else ()
        return cls(
            columns=columns,
            state_date=state_date,
            config=config,
            state_time=state_time,
            _leagues=_league_tables(
                rosters, built.loc[pairs["match_id"]].to_numpy(), len(columns), matches[played]
            ),
            _bookmakers=frozenset(bookmakers | set(BOOKMAKERS.values())),
            _aggregates=frozenset(AGGREGATES | set(map(str, aggregates))),
            _no_market=np.fromiter(no_market.values(), dtype=float),
            _rest_at=tuple(columns.index(c) for c in _REST_COLUMNS if c in columns),
        )

    # --- as files (the versioned serving state) ---------------------------------------------

    def to_files(self, directory: Path) -> list[Path]:
        """The state as explicit files, no pickle: `featurizer.json` (names, days, teams) and
        `featurizer.npz` (each league's pair rows and last played days). The feature settings
        are not written: they are the model's own (`from_files` takes them)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        leagues = sorted(self._leagues)
        manifest = {
            "format": STATE_FORMAT,
            "columns": self.columns,
            "state_date": self.state_date.isoformat(),
            "state_time": self.state_time.isoformat(),
            "leagues": [
                {
                    "league": name,
                    "season": self._leagues[name].season,
                    "teams": list(self._leagues[name].teams),
                }
                for name in leagues
            ],
            "bookmakers": sorted(self._bookmakers),
            "aggregates": sorted(self._aggregates),
            "rest_at": list(self._rest_at),
        }
        arrays = {"no_market": self._no_market}
        for i, name in enumerate(leagues):
            arrays[f"rows_{i}"] = self._leagues[name].rows
            arrays[f"last_played_{i}"] = self._leagues[name].last_played
        paths = [directory / "featurizer.json", directory / "featurizer.npz"]
        paths[0].write_text(json.dumps(manifest, indent=1))
        np.savez(paths[1], **arrays)  # type: ignore[arg-type] # numpy's stubs: no **arrays
        return paths

    @classmethod
    def from_files(cls, directory: Path, config: FeatureConfig) -> MatchupFeaturizer:
        """The featurizer `to_files` wrote, with the model's feature settings."""
        directory = Path(directory)
        manifest = json.loads((directory / "featurizer.json").read_text())
        if manifest.get("format") != STATE_FORMAT:
            raise ValueError(
                f"{directory}: featurizer format {manifest.get('format')!r}, this "
                f"code reads {STATE_FORMAT}"
            )
        with np.load(directory / "featurizer.npz", allow_pickle=False) as arrays:
            leagues = {
                entry["league"]: _League(
                    season=entry["season"],
                    teams=tuple(entry["teams"]),
                    position={team: k for k, team in enumerate(entry["teams"])},
                    rows=arrays[f"rows_{i}"],
                    last_played=arrays[f"last_played_{i}"],
                )
                for i, entry in enumerate(manifest["leagues"])
            }
            no_market = arrays["no_market"]
        return cls(
            columns=list(manifest["columns"]),
            state_date=pd.Timestamp(manifest["state_date"]),
            config=config,
            state_time=pd.Timestamp(manifest["state_time"]),
            _leagues=leagues,
            _bookmakers=frozenset(manifest["bookmakers"]),
            _aggregates=frozenset(manifest["aggregates"]),
            _no_market=no_market,
            _rest_at=tuple(manifest["rest_at"]),
        )

    def teams(self) -> dict[str, list[str]]:
        """League -> its teams, sorted: those of its latest season and of its listed fixtures."""
        return {league: list(table.teams) for league, table in sorted(self._leagues.items())}

    def features(
        self,
        league: str,
        home_team: str,
        away_team: str,
        kickoff: pd.Timestamp | datetime | str | None = None,
        odds: Mapping[str, Sequence[float]] | None = None,
    ) -> np.ndarray:
        """The feature row of `home_team` v `away_team` in `league`, in `columns` order.

        `kickoff` (default: the day after `state_date`) sets the rest days; `odds` maps a
        bookmaker to its (home, draw, away) opening decimal prices. Without odds the market
        features are those of an unpriced fixture (NaN, and no books counted).
        """
        table = self._league(league)
        home, away = _team(table, league, home_team), _team(table, league, away_team)
        if home == away:
            raise ValueError(f"a match needs two teams: {home_team!r} is named twice")
        day = self._kickoff_day(kickoff)
        quotes = self._checked_quotes(odds or {})
        row = table.rows[home, away].copy()
        if self._rest_at:
            cap = float(self.config.rest.cap_days)
            home_rest = _rest_days(day, table.last_played[home], cap)
            away_rest = _rest_days(day, table.last_played[away], cap)
            row[list(self._rest_at)] = (home_rest, away_rest, home_rest - away_rest)
        if self.config.market.enabled:
            market = _market_row(self.config, quotes, self._aggregates) if quotes else None
            row[-len(self._no_market) :] = (
                self._no_market if market is None else np.fromiter(market.values(), dtype=float)
            )
        return row

    def features_frame(self, requests: Sequence[Mapping]) -> pd.DataFrame:
        """`features` of each request (a mapping of its arguments), one row each, in order."""
        allowed = {"league", "home_team", "away_team", "kickoff", "odds"}
        rows = []
        for request in requests:
            unknown = set(request) - allowed
            if unknown:
                raise ValueError(
                    f"unknown request keys {sorted(unknown)}; known: {sorted(allowed)}"
                )
            rows.append(self.features(**request))
        values = np.vstack(rows) if rows else np.empty((0, len(self.columns)))
        return pd.DataFrame(values, columns=self.columns)

    # --- request checks ------------------------------------------------------------------

    def _league(self, league: str) -> _League:
        table = self._leagues.get(league)
        if table is None:
            raise UnknownLeague(f"unknown league {league!r}; known: {_listing(self._leagues)}")
        return table

    def _kickoff_day(self, kickoff: pd.Timestamp | datetime | str | None) -> int:
        """The kick-off's day as a proleptic ordinal; it must come after the history's last
        result (by time: a later match of the same day is priced)."""
        state_day = self.state_date.toordinal()
        if kickoff is None:
            return state_day + 1
        stamp = pd.Timestamp(kickoff)
        if pd.isna(stamp):
            raise ValueError(f"kickoff is not a date: {kickoff!r}")
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        last = self.state_time
        if stamp <= last:
            raise ValueError(
                f"kickoff {stamp} is not after {last}, the kick-off of the last result in the "
                "history: its state is only valid for later matches"
            )
        return stamp.toordinal()

    def _checked_quotes(self, odds: Mapping[str, Sequence[float]]) -> dict[str, tuple]:
        quotes = {}
        for book, prices in odds.items():
            if book not in self._bookmakers:
                raise ValueError(f"unknown bookmaker {book!r}; known: {_listing(self._bookmakers)}")
            try:
                decimal_odds = tuple(float(p) for p in prices)
            except (TypeError, ValueError):
                raise ValueError(f"decimal odds must be numbers: {book} {prices!r}") from None
            if len(decimal_odds) != 3:
                raise ValueError(f"{book} needs (home, draw, away) prices, got {decimal_odds}")
            if not all(math.isfinite(p) and p > 1.0 for p in decimal_odds):
                raise ValueError(f"decimal odds must be greater than 1.0: {book} {decimal_odds}")
            quotes[book] = decimal_odds
        return quotes


def _team(table: _League, league: str, team: str) -> int:
    position = table.position.get(team)
    if position is None:
        raise UnknownTeam(
            f"unknown team {team!r} in {league}: not in the history or the "
            f"fixtures of the data store (ingest a file that lists it); known: "
            f"{_listing(table.teams)}"
        )
    return position


def _listing(names: Iterable[str]) -> str:
    """Sorted names for an error message, the tail counted rather than listed.

    >>> _listing(["b", "a"])
    'a, b'
    """
    ordered = sorted(names)
    shown = ", ".join(ordered[:_LISTED])
    return shown if len(ordered) <= _LISTED else f"{shown} ... ({len(ordered) - _LISTED} more)"


def _rest_days(day: int, last_played: float, cap: float) -> float:
    """The rest days of a team whose last played day is `last_played` (NaN: none), on `day`:
    the features' own rule (`capped_rest_days`).

    >>> _rest_days(10, 4.0, 21.0), _rest_days(40, 4.0, 21.0), _rest_days(10, math.nan, 21.0)
    (6.0, 21.0, 21.0)
    """
    return float(capped_rest_days(day - last_played, cap))


def _market_row(
    config: FeatureConfig, quotes: Mapping[str, tuple], aggregates: frozenset[str] | tuple
) -> dict[str, float]:
    """Market features of one match quoted `quotes` (bookmaker -> H/D/A opening prices)."""
    market = config.market
    if not market.enabled:
        return {}
    # with no individual book quoted, one unquoted stands in: an unpriced row of the table
    spread_books = market.disagreement_books or disagreement_books_of(quotes, aggregates) or ("",)
    book_prices = np.array([[quotes.get(b, _UNQUOTED) for b in market.books]], dtype=float)
    spread_prices = np.array([[quotes.get(b, _UNQUOTED) for b in spread_books]], dtype=float)
    sharp_prices = np.array([[quotes.get(b, _UNQUOTED) for b in market.sharp_books]], dtype=float)
    individual = disagreement_books_of(quotes, aggregates) or ("",)
    consensus = np.array([[quotes.get(b, _UNQUOTED) for b in individual]], dtype=float)
    features = market_features(
        book_prices, spread_prices, market, sharp_prices=sharp_prices, consensus_prices=consensus
    )
    return {k: v[0] for k, v in features.items()}


# --- the one-off build -----------------------------------------------------------------------


def _last_result_time(played: pd.DataFrame) -> pd.Timestamp:
    """The latest kick-off of `played` rows, each its day where no kick-off time is known.

    >>> rows = pd.DataFrame({"date": pd.to_datetime(["2024-05-19", "2024-05-19"]),
    ...                      "kickoff": pd.to_datetime(["2024-05-19 12:30", None])})
    >>> str(_last_result_time(rows))
    '2024-05-19 12:30:00'
    """
    dates = pd.to_datetime(played["date"])
    kickoffs = pd.to_datetime(played["kickoff"]) if "kickoff" in played else dates
    moments = kickoffs.where(kickoffs.notna(), dates.dt.normalize())
    if getattr(moments.dt, "tz", None) is not None:
        moments = moments.dt.tz_convert("UTC").dt.tz_localize(None)
    return pd.Timestamp(moments.max())


def _rosters(matches: pd.DataFrame, played: np.ndarray) -> dict[str, tuple[str, tuple[str, ...]]]:
    """League -> (the season of a request, its teams).

    The teams are those of the league's latest played season and of its fixtures of that
    season or later (a promoted side appears there first); the season is the latest of them.
    """
    frame = matches[["league", "season", "home_team", "away_team"]].astype(str)
    frame = frame.assign(played=played)
    rosters = {}
    for league, rows in frame.groupby("league", sort=True):
        latest = rows.loc[rows["played"], "season"].max() if rows["played"].any() else ""
        fixtures = ~rows["played"] & (rows["season"] >= latest)
        kept = rows[fixtures | (rows["played"] & (rows["season"] == latest))]
        teams = tuple(sorted(set(kept["home_team"]) | set(kept["away_team"])))
        rosters[str(league)] = (str(kept["season"].max()), teams)
    return rosters


def _ordered_pairs(n_teams: int) -> tuple[np.ndarray, np.ndarray]:
    """(home, away) positions of every ordered pair of distinct teams.

    >>> [pair.tolist() for pair in _ordered_pairs(3)]
    [[0, 0, 1, 1, 2, 2], [1, 2, 0, 2, 0, 1]]
    """
    home, away = np.divmod(np.arange(n_teams * n_teams), n_teams)
    distinct = home != away
    return home[distinct], away[distinct]


def _pair_fixtures(
    rosters: Mapping[str, tuple[str, tuple[str, ...]]], date: pd.Timestamp
) -> pd.DataFrame:
    """A fixture on `date` for every ordered pair of each league's teams, in roster order."""
    frames = []
    for league, (season, teams) in rosters.items():
        home, away = _ordered_pairs(len(teams))
        names = np.array(teams, dtype=object)
        frames.append(
            pd.DataFrame(
                {
                    # a colon never occurs in `make_match_id`'s slugs: no clash with the history
                    "match_id": [
                        f"matchup:{league}:{h}:{a}" for h, a in zip(home, away, strict=True)
                    ],
                    "league": league,
                    "season": season,
                    "home_team": names[home],
                    "away_team": names[away],
                }
            )
        )
    columns = ["match_id", "league", "season", "home_team", "away_team"]
    pairs = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return pairs.assign(date=date, kickoff=date, status="fixture")


def _league_tables(
    rosters: Mapping[str, tuple[str, tuple[str, ...]]],
    pair_rows: np.ndarray,
    n_columns: int,
    played: pd.DataFrame,
) -> dict[str, _League]:
    """Each league's pair rows (in `_pair_fixtures` order) as a (home, away, column) array,
    widened to `n_columns` with NaN for the market, and its teams' last played days."""
    last_played = _last_played(played)
    leagues, start = {}, 0
    for league, (season, teams) in rosters.items():
        rows = np.full((len(teams), len(teams), n_columns), np.nan)
        home, away = _ordered_pairs(len(teams))
        rows[home, away, : pair_rows.shape[1]] = pair_rows[start : start + len(home)]
        start += len(home)
        leagues[league] = _League(
            season=season,
            teams=teams,
            position={team: i for i, team in enumerate(teams)},
            rows=rows,
            last_played=np.array([last_played.get(t, math.nan) for t in teams], dtype=float),
        )
    return leagues


def _last_played(played: pd.DataFrame) -> dict[str, float]:
    """Team -> proleptic ordinal of its last played day, over every league of the history."""
    dates = pd.concat(
        [
            played[["home_team", "date"]].set_axis(["team", "date"], axis=1),
            played[["away_team", "date"]].set_axis(["team", "date"], axis=1),
        ]
    )
    last = dates.groupby(dates["team"].astype(str))["date"].max()
    return {team: float(pd.Timestamp(day).toordinal()) for team, day in last.items()}
