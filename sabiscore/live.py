"""Live fixtures and prices: the shape every live source answers in, and the team-name table.

A live source (football-data's fixtures.csv, The Odds API, the Betfair Exchange, or a user's own
plug-in) is one function, `fetch(settings, captured_at) -> LiveSnapshot`, whose HTTP part lives
in `tasks/` and whose parsing lives here, pure. A snapshot holds the canonical `fixtures` and
`odds` tables: the store's own columns (`sabiscore.football_data.MATCH_COLUMNS`' first ones,
`ODDS_COLUMNS`), team names already those of football-data.co.uk, each price stamped with the
moment it was captured, so the store keeps a price history rather than only open and close.

Team names differ between sources ("Manchester United" / "Man United", "Bayern München" /
"Bayern Munich"): every source maps its names through one table, `configs/aliases.yaml`
(`TeamAliases`). A name the table does not know is never guessed: its fixture is set aside
with the reason, and the run lists the names to add.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from sabiscore.store import Partition

#: The canonical fixtures table of a live source (a subset of the store's match columns).
FIXTURE_COLUMNS = (
    "match_id",
    "league",
    "season",
    "date",
    "kickoff",
    "home_team",
    "away_team",
    "status",
    "source",
)

#: The canonical odds table of a live source: the store's odds columns and when each price
#: was seen. `phase` is "open" for a pre-match price (every live price is one); `market` is
#: "1x2"; `outcome` "H", "D" or "A"; `code` the source's own key for the book.
ODDS_COLUMNS = (
    "match_id",
    "league",
    "season",
    "bookmaker",
    "code",
    "phase",
    "market",
    "outcome",
    "price",
    "is_aggregate",
    "source",
    "captured_at",
)


@dataclass(frozen=True)
class SetAside:
    """A fixture a source listed that is not kept, and why (an unmapped team name, say)."""

    source: str
    league: str | None
    home_team: str
    away_team: str
    reason: str


@dataclass(frozen=True)
class LiveSnapshot:
    """What one live source answered at `captured_at`.

    An exchange's prices are as quoted: the edge counts its commission (`staking.commission`).
    `notes` are lines for the person running it (quota left, a setting read but not usable).
    """

    source: str
    captured_at: pd.Timestamp
    fixtures: pd.DataFrame
    odds: pd.DataFrame
    set_aside: tuple[SetAside, ...] = ()
    notes: tuple[str, ...] = ()

    @classmethod
    def empty(cls, source: str, captured_at: pd.Timestamp, *notes: str) -> LiveSnapshot:
        return cls(source, captured_at, empty_fixtures(), empty_odds(), notes=tuple(notes))


def empty_fixtures() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in FIXTURE_COLUMNS})


def empty_odds() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in ODDS_COLUMNS})


def fold(name: str) -> str:
    """A team name as compared: accents, case, punctuation and spacing do not count.

    >>> fold("Bayern München"), fold("Nott'm Forest"), fold("  AFC  Bournemouth ")
    ('bayernmunchen', 'nottmforest', 'afcbournemouth')
    """
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


@dataclass(frozen=True)
class TeamAliases:
    """Source names -> football-data.co.uk names (`configs/aliases.yaml`).

    A football-data name maps to itself; an alias to its name; both compared `fold`ed. Anything
    else is unknown (None): the caller sets the fixture aside and reports the name.

    >>> aliases = TeamAliases.from_config({"teams": {"Man United": ["Manchester United"]}})
    >>> aliases.resolve("Manchester United"), aliases.resolve("man united"), aliases.resolve("X")
    ('Man United', 'Man United', None)
    """

    _names: Mapping[str, str]

    @classmethod
    def from_config(cls, config: Mapping) -> TeamAliases:
        """From the `teams:` mapping of football-data name -> list of its other names."""
        names: dict[str, str] = {}
        for name, others in (config.get("teams") or {}).items():
            for alias in [name, *(others or [])]:
                key = fold(str(alias))
                if names.get(key, name) != name:
                    raise ValueError(
                        f"configs/aliases.yaml: {alias!r} names both {names[key]!r} and {name!r}"
                    )
                names[key] = str(name)
        return cls(names)

    def resolve(self, name: str) -> str | None:
        return self._names.get(fold(name))

    @property
    def names(self) -> frozenset[str]:
        """Every football-data name the table knows."""
        return frozenset(self._names.values())

    def known(self, name: str) -> str:
        """The football-data name of `name`, which `unknown` has passed (KeyError if not)."""
        resolved = self.resolve(name)
        if resolved is None:
            raise KeyError(f"team name {name!r} is not in the alias table")
        return resolved

    def unknown(self, names: Iterable[str]) -> list[str]:
        """The names of `names` the table cannot map, sorted, each once."""
        return sorted({n for n in names if self.resolve(n) is None})


def live_kind(source: str) -> str:
    """The store's partition kind of a live source's latest snapshot.

    >>> live_kind("the-odds-api")
    'live-the-odds-api'
    """
    return f"live-{re.sub(r'[^a-z0-9]+', '-', source.lower()).strip('-')}"


def calendar_year_leagues(partitions: Iterable[Mapping[str, Any]]) -> set[str]:
    """Leagues whose stored results are all in calendar-year seasons (`2024`: football-data's
    extra leagues such as SWE or USA), from the manifest's partition entries.

    >>> calendar_year_leagues([{"kind": "results", "league": "SWE", "season": "2024"},
    ...     {"kind": "results", "league": "E0", "season": "2023-2024"}])
    {'SWE'}
    """
    seasons: dict[str, set[str]] = {}
    for entry in partitions:
        if entry.get("kind") == "results":
            seasons.setdefault(str(entry["league"]), set()).add(str(entry["season"]))
    return {
        league for league, held in seasons.items() if all(re.fullmatch(r"\d{4}", s) for s in held)
    }


def in_calendar_seasons(snapshot: LiveSnapshot, leagues: Iterable[str]) -> LiveSnapshot:
    """The snapshot with the fixtures (and prices) of `leagues` in their calendar year's season,
    as that league's files name them: a live source knows only European seasons."""
    chosen = snapshot.fixtures["league"].isin(set(leagues))
    if not chosen.any():
        return snapshot
    fixtures, odds = snapshot.fixtures.copy(), snapshot.odds.copy()
    years = pd.to_datetime(fixtures.loc[chosen, "date"]).dt.year.astype(str)
    fixtures.loc[chosen, "season"] = years
    season_of_match = dict(zip(fixtures.loc[chosen, "match_id"], years, strict=True))
    priced = odds["match_id"].isin(list(season_of_match))
    odds.loc[priced, "season"] = odds.loc[priced, "match_id"].map(season_of_match)
    return replace(snapshot, fixtures=fixtures, odds=odds)


def snapshot_partitions(
    snapshot: LiveSnapshot, history: Mapping[tuple[str, str], pd.DataFrame]
) -> list[Partition]:
    """One partition per (league, season) of the snapshot, of kind `live_kind(source)`: its
    fixtures and prices as just captured (`fixtures`, `odds`: what is served), and the price
    history so far (`history`: the previous one of that league and season) with this capture
    appended. Committed, each replaces the source's previous snapshot, and its history only
    grows."""
    parts = []
    fixtures, odds = snapshot.fixtures, snapshot.odds
    for league, season in sorted(set(zip(fixtures["league"], fixtures["season"], strict=True))):
        rows = fixtures[(fixtures["league"] == league) & (fixtures["season"] == season)]
        prices = odds[odds["match_id"].isin(set(rows["match_id"]))]
        before = history.get((league, season))
        grown = prices if before is None or before.empty else pd.concat([before, prices])
        grown = grown.drop_duplicates(["match_id", "bookmaker", "outcome", "captured_at"])
        digest = hashlib.sha256(
            pd.util.hash_pandas_object(grown.astype(str), index=False).to_numpy().tobytes()
        ).hexdigest()
        parts.append(
            Partition(
                league,
                str(season),
                digest,
                snapshot.source,
                {
                    "fixtures": rows.reset_index(drop=True),
                    "odds": prices.reset_index(drop=True),
                    "price_history": grown.reset_index(drop=True),
                },
                kind=live_kind(snapshot.source),
            )
        )
    return parts


def newest_first(odds: pd.DataFrame) -> pd.DataFrame:
    """Prices with the most recently captured first (those without `captured_at`, from a file,
    last), so that a wide table taking each book's first price takes its latest.

    >>> odds = pd.DataFrame({"price": [2.0, 2.2, 2.1],
    ...                      "captured_at": [None, "2024-08-16 10:00", "2024-08-16 09:00"]})
    >>> newest_first(odds)["price"].tolist()
    [2.2, 2.1, 2.0]
    """
    if "captured_at" not in odds or odds.empty:
        return odds
    stamps = pd.to_datetime(odds["captured_at"], utc=True, errors="coerce")
    order = stamps.sort_values(ascending=False, na_position="last", kind="stable").index
    return odds.loc[order]
