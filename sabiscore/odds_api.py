"""The Odds API v4 (https://the-odds-api.com): its `/v4/sports/{sport}/odds` answer, read.

One request per league (`configs/sources.yaml` `leagues:` names its sport key) answers a list
of upcoming events, each with the books that price it:

    {"id": "...", "sport_key": "soccer_epl", "commence_time": "2024-08-24T11:30:00Z",
     "home_team": "Brighton and Hove Albion", "away_team": "Manchester United",
     "bookmakers": [{"key": "pinnacle", "title": "Pinnacle", "last_update": "...",
                     "markets": [{"key": "h2h", "outcomes": [
                         {"name": "Brighton and Hove Albion", "price": 2.4},
                         {"name": "Manchester United", "price": 2.6},
                         {"name": "Draw", "price": 3.75}]}]}]}

`parse_odds` turns the answers into a `sabiscore.live.LiveSnapshot` on football-data.co.uk's
names, so that its match ids join football-data's files. The HTTP part lives in
`tasks/live_sources.py`; nothing here reaches the network.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sabiscore.config import reject_unknown_keys
from sabiscore.football_data import make_match_id, season_of, uk_day
from sabiscore.live import (
    FIXTURE_COLUMNS,
    ODDS_COLUMNS,
    LiveSnapshot,
    SetAside,
    TeamAliases,
    empty_fixtures,
    empty_odds,
    fold,
)
from sabiscore.outcomes import RESULT_CODES

SOURCE = "the-odds-api"
ODDS_PATH = "/v4/sports/{sport}/odds"
#: The only market read: the full-time 1X2 (for football The Odds API's `h2h` has a draw).
#: An exchange's lay prices come as `h2h_lay`: not a price one can back, so left out.
H2H = "h2h"
DRAW = "Draw"
ALIASES_FILE = "configs/aliases.yaml"
QUOTA_HEADERS = ("x-requests-last", "x-requests-used", "x-requests-remaining")


@dataclass(frozen=True)
class OddsApiSettings:
    """`the-odds-api:` of `configs/sources.yaml`.

    `bookmakers` maps The Odds API's book keys to ours (`sabiscore.football_data.BOOKMAKERS`'
    names); its order is the order of preference when two keys name one book (`unibet_eu`,
    `unibet_uk`): the first key listed that prices a match is kept. The exchanges' commission
    is `staking.commission`'s, as for every other source.
    """

    base_url: str = "https://api.the-odds-api.com"
    key_env: str = "ODDS_API_KEY"
    regions: tuple[str, ...] = ("eu", "uk")
    markets: tuple[str, ...] = (H2H,)
    timeout_s: float = 20.0
    bookmakers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regions", tuple(self.regions))
        object.__setattr__(self, "markets", tuple(self.markets))
        if not self.regions or not all(isinstance(r, str) and r for r in self.regions):
            raise ValueError(f"the-odds-api regions must be names, got {self.regions!r}")
        if H2H not in self.markets:
            raise ValueError(f"the-odds-api markets must include {H2H!r}: only it is read")
        if not (isinstance(self.timeout_s, int | float) and self.timeout_s > 0):
            raise ValueError(f"the-odds-api timeout_s must be > 0, got {self.timeout_s!r}")

    @classmethod
    def from_config(cls, sources: Mapping[str, Any]) -> OddsApiSettings:
        """From the whole `configs/sources.yaml` mapping; unknown keys are typos and fail."""
        d = dict(sources.get(SOURCE) or {})
        reject_unknown_keys(d, cls, SOURCE)
        d["bookmakers"] = {str(k): str(v) for k, v in (d.get("bookmakers") or {}).items()}
        return cls(**d)

    def query(self) -> dict[str, str]:
        """The request's query string, less the key (`apiKey`, added by the caller).

        >>> OddsApiSettings().query()["regions"], OddsApiSettings().query()["oddsFormat"]
        ('eu,uk', 'decimal')
        """
        return {
            "regions": ",".join(self.regions),
            "markets": ",".join(self.markets),
            "oddsFormat": "decimal",
            "dateFormat": "iso",
        }


def sport_keys(
    sources: Mapping[str, Any], leagues: Iterable[str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """League -> The Odds API sport key, for `leagues` (None: every league configured), and a
    note for each league asked for that has no key (it is not requested).

    >>> sport_keys({"leagues": {"E0": {"the-odds-api": "soccer_epl"}, "X9": {}}}, ["E0", "X9"])
    ({'E0': 'soccer_epl'}, ['the-odds-api: league X9 has no the-odds-api key in configs/sources.yaml (leagues:), not requested'])
    """  # noqa: E501 - a doctest's answer is one line
    configured = sources.get("leagues") or {}
    wanted = list(configured) if leagues is None else list(leagues)
    keys, notes = {}, []
    for league in wanted:
        sport = (configured.get(league) or {}).get(SOURCE)
        if sport:
            keys[league] = str(sport)
        else:
            notes.append(
                f"{SOURCE}: league {league} has no {SOURCE} key in configs/sources.yaml "
                "(leagues:), not requested"
            )
    return keys, notes


_API_KEY = re.compile(r"(?i)(apikey=)[^&\s'\"]+")


def redact(text: str) -> str:
    """`text` with any `apiKey=` query parameter's value hidden (URLs travel in errors).

    >>> redact("GET https://api.the-odds-api.com/v4/sports/soccer_epl/odds?apiKey=abc123&regions=eu")
    'GET https://api.the-odds-api.com/v4/sports/soccer_epl/odds?apiKey=***&regions=eu'
    """
    return _API_KEY.sub(r"\1***", text)


def quota_note(headers: Mapping[str, str], sport: str) -> str:
    """What the answer's quota headers say, as a line for the run's notes.

    The Odds API charges each request (regions x markets credits) and reports the account's
    usage on every answer, a refused one included.

    >>> quota_note({"X-Requests-Remaining": "480", "x-requests-used": "20",
    ...             "x-requests-last": "2"}, "soccer_epl")
    'the-odds-api soccer_epl quota: this request 2, used 20, remaining 480'
    >>> quota_note({}, "soccer_epl")
    'the-odds-api soccer_epl quota: not reported (no x-requests-* headers)'
    """
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    if not any(h in lower for h in QUOTA_HEADERS):
        return f"{SOURCE} {sport} quota: not reported (no x-requests-* headers)"
    last, used, remaining = (lower.get(h, "?") for h in QUOTA_HEADERS)
    return f"{SOURCE} {sport} quota: this request {last}, used {used}, remaining {remaining}"


def kickoff_utc(commence_time: str) -> pd.Timestamp:
    """An event's `commence_time` (ISO 8601, "Z") as a tz-naive UTC timestamp.

    >>> kickoff_utc("2024-08-24T11:30:00Z"), kickoff_utc("2024-08-24T13:30:00+02:00")
    (Timestamp('2024-08-24 11:30:00'), Timestamp('2024-08-24 11:30:00'))
    """
    stamp = pd.Timestamp(commence_time)
    if stamp.tzinfo is None:
        raise ValueError(f"commence_time without a time zone: {commence_time!r}")
    return stamp.tz_convert("UTC").tz_localize(None)


def _utc_naive(stamp: pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(stamp)
    return stamp if stamp.tzinfo is None else stamp.tz_convert("UTC").tz_localize(None)


def _price(value: Any) -> float | None:
    """A decimal price, or None where it is not a finite number above 1."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value > 1.0 else None


def _mappings(items: Any) -> list[Mapping[str, Any]]:
    """The objects of a JSON list (anything else in it, or not a list: nothing)."""
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def h2h_prices(event: Mapping[str, Any]) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Each book's 1X2 prices in an event, {book key: {"H": .., "D": .., "A": ..}}, and the
    keys of books whose `h2h` was not three prices above 1.0 (left out: a 1X2 missing an
    outcome has no margin to remove).

    >>> event = {"home_team": "Arsenal", "away_team": "Chelsea", "bookmakers": [
    ...     {"key": "pinnacle", "markets": [{"key": "h2h", "outcomes": [
    ...         {"name": "Chelsea", "price": 4.1}, {"name": "Arsenal", "price": 1.9},
    ...         {"name": "Draw", "price": 3.6}]}]},
    ...     {"key": "betway", "markets": [{"key": "h2h", "outcomes": [
    ...         {"name": "Arsenal", "price": 1.0}]}]}]}
    >>> h2h_prices(event)
    ({'pinnacle': {'H': 1.9, 'D': 3.6, 'A': 4.1}}, ['betway'])
    """
    home, draw, away = RESULT_CODES
    sides = {fold(event["home_team"]): home, fold(event["away_team"]): away, fold(DRAW): draw}
    books, incomplete = {}, []
    for book in _mappings(event.get("bookmakers")):
        for market in _mappings(book.get("markets")):
            if market.get("key") != H2H:
                continue
            prices = {}
            for outcome in _mappings(market.get("outcomes")):
                side = sides.get(fold(str(outcome.get("name", ""))))
                price = _price(outcome.get("price"))
                if side and price:
                    prices[side] = price
            if len(sides) == 3 and set(prices) == set(RESULT_CODES):
                books[str(book.get("key"))] = {side: prices[side] for side in RESULT_CODES}
            else:
                incomplete.append(str(book.get("key")))
    return books, incomplete


@dataclass
class _Reading:
    """What the events read so far came to (parse_odds' accumulator)."""

    fixtures: list[dict[str, Any]] = field(default_factory=list)
    odds: list[dict[str, Any]] = field(default_factory=list)
    set_aside: list[SetAside] = field(default_factory=list)
    unmapped: set[str] = field(default_factory=set)
    unknown_books: set[str] = field(default_factory=set)
    incomplete: int = 0
    in_play: int = 0
    malformed: int = 0


def _set_aside(event: Mapping[str, Any], league: str, reason: str) -> SetAside:
    home, away = event.get("home_team"), event.get("away_team")
    return SetAside(SOURCE, league, str(home or "?"), str(away or "?"), reason)


def _read_event(
    event: Any,
    league: str,
    settings: OddsApiSettings,
    aliases: TeamAliases,
    capture: pd.Timestamp,
    into: _Reading,
) -> None:
    """One event's fixture and prices, or the reason it is set aside, added to `into`."""
    try:
        home, away = str(event["home_team"]), str(event["away_team"])
        kickoff = kickoff_utc(str(event["commence_time"]))
    except (TypeError, KeyError, ValueError) as error:
        into.malformed += 1
        reason = f"not an event of the documented shape ({type(error).__name__}: {error})"
        into.set_aside.append(
            _set_aside(event if isinstance(event, Mapping) else {}, league, reason)
        )
        return
    unknown = aliases.unknown([home, away])
    if unknown:
        into.unmapped.update(unknown)
        names = ", ".join(repr(n) for n in unknown)
        reason = f"team names not in {ALIASES_FILE}: {names} (add each under its club)"
        into.set_aside.append(_set_aside(event, league, reason))
        return
    if kickoff <= capture:
        into.in_play += 1
        reason = (
            f"kicked off at {kickoff} UTC, before the capture at {capture} UTC: "
            "in-play prices are not pre-match prices"
        )
        into.set_aside.append(_set_aside(event, league, reason))
        return
    home_fd, away_fd = aliases.known(home), aliases.known(away)
    date = uk_day(kickoff)  # the day football-data's files will give it (UK time)
    match_id = make_match_id(league, date, home_fd, away_fd)
    season = season_of(date)
    into.fixtures.append(
        {
            "match_id": match_id,
            "league": league,
            "season": season,
            "date": date,
            "kickoff": kickoff,
            "home_team": home_fd,
            "away_team": away_fd,
            "status": "fixture",
            "source": SOURCE,
        }
    )
    books, incomplete = h2h_prices(event)
    into.incomplete += len(incomplete)
    preference = {key: i for i, key in enumerate(settings.bookmakers)}
    taken: set[str] = set()
    for key in sorted(books, key=lambda k: preference.get(k, len(preference))):
        bookmaker = settings.bookmakers.get(key)
        if bookmaker is None:
            into.unknown_books.add(key)
            continue
        if bookmaker in taken:  # a second key of one book (unibet_uk after unibet_eu)
            continue
        taken.add(bookmaker)
        for outcome, price in books[key].items():
            into.odds.append(
                {
                    "match_id": match_id,
                    "league": league,
                    "season": season,
                    "bookmaker": bookmaker,
                    "code": key,
                    "phase": "open",
                    "market": "1x2",
                    "outcome": outcome,
                    "price": price,
                    "is_aggregate": False,
                    "source": SOURCE,
                }
            )


def _notes(reading: _Reading) -> list[str]:
    notes = []
    if reading.unmapped:
        names = ", ".join(repr(n) for n in sorted(reading.unmapped))
        n = len(reading.set_aside) - reading.in_play - reading.malformed
        notes.append(
            f"{SOURCE}: {n} fixture(s) set aside, team names not in {ALIASES_FILE} "
            f"(add each under its football-data name): {names}"
        )
    if reading.unknown_books:
        books = ", ".join(sorted(reading.unknown_books))
        notes.append(
            f"{SOURCE}: bookmakers not in configs/sources.yaml (the-odds-api: "
            f"bookmakers:), their prices left out: {books}"
        )
    if reading.in_play:
        notes.append(f"{SOURCE}: {reading.in_play} fixture(s) set aside: already kicked off")
    if reading.malformed:
        notes.append(
            f"{SOURCE}: {reading.malformed} event(s) set aside: not in the documented shape"
        )
    if reading.incomplete:
        notes.append(
            f"{SOURCE}: {reading.incomplete} book(s)' h2h left out: not three prices above 1.0"
        )
    return notes


def _frame(rows: list[dict[str, Any]], columns: Sequence[str], empty: pd.DataFrame) -> pd.DataFrame:
    if not rows:
        return empty
    frame = pd.DataFrame(rows, columns=list(columns))
    for name in ("date", "kickoff"):
        if name in frame:
            frame[name] = frame[name].astype("datetime64[us]")
    return frame


def parse_odds(
    answers: Mapping[str, Sequence[Mapping[str, Any]]],
    settings: OddsApiSettings,
    aliases: TeamAliases,
    captured_at: pd.Timestamp,
    notes: Iterable[str] = (),
) -> LiveSnapshot:
    """The snapshot of The Odds API's answers, {league: the events its sport answered}.

    A fixture's teams are football-data's names (through `aliases`); one whose names the
    table does not know, or that has kicked off by `captured_at`, is set aside with the
    reason. Its odds are one row per (match, book, outcome) of the books `settings` maps.
    `notes` (the quota lines, say) come first in the snapshot's notes.
    """
    capture = _utc_naive(captured_at)
    reading = _Reading()
    for league, events in answers.items():
        if not isinstance(events, list):
            raise ValueError(
                f"{SOURCE} {league}: expected a list of events, got {type(events).__name__}"
            )
        for event in events:
            _read_event(event, league, settings, aliases, capture, reading)
    fixtures = _frame(reading.fixtures, FIXTURE_COLUMNS, empty_fixtures())
    fixtures = fixtures.drop_duplicates("match_id", ignore_index=True)
    odds = _frame(reading.odds, [c for c in ODDS_COLUMNS if c != "captured_at"], empty_odds())
    odds["captured_at"] = pd.Timestamp(captured_at)
    odds = odds.drop_duplicates(["match_id", "bookmaker", "outcome"], ignore_index=True)
    return LiveSnapshot(
        source=SOURCE,
        captured_at=pd.Timestamp(captured_at),
        fixtures=fixtures,
        odds=odds.loc[:, list(ODDS_COLUMNS)],
        set_aside=tuple(reading.set_aside),
        notes=(*notes, *_notes(reading)),
    )
