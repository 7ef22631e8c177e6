"""The Betfair Exchange's match-odds markets as a live snapshot (pure; the client is in tasks/).

Betfair's API-NG answers in two calls: `listMarketCatalogue`, what rarely changes (a market's
id, start time, competition, event "Home v Away" and runners), and `listMarketBook`, what does
(the market's status and each runner's prices). Both arrive here as the JSON-RPC `result`
lists, plain dicts (betfairlightweight's `lightweight=True` output is the same).

A MATCH_ODDS market has three runners: the two teams, home first by `sortPriority`, and "The
Draw". The runner order is all Betfair says about which side is at home, so the event name
must agree with it; where it does not, the market is set aside rather than guessed.

Each runner's price is the best one on offer to back it, the highest of `availableToBack`: the
price a bet placed now would be matched at. The exchange keeps a commission on net winnings,
so that price is worth less than a bookmaker's same number: the edge is computed on the price
net of it (`sabiscore.staking.net_price`, with `staking.commission` of configs/staking.yaml).
Only an OPEN market before kick-off gives prices; a suspended or in-play one gives none, and
the run's notes say so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
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

SOURCE = "betfair"
BOOKMAKER = "betfair_exchange"
CODE = "BFE"  # football-data.co.uk's code for the exchange (sabiscore.football_data.BOOKMAKERS)
DRAW_RUNNER = "The Draw"
SOCCER = "1"  # Betfair's event type id for football
MATCH_ODDS = "MATCH_ODDS"


@dataclass(frozen=True)
class BetfairSettings:
    """The `betfair:` block of `configs/sources.yaml` (see the comments there).

    Credentials are never settings: each `*_env` names the environment variable holding it.
    """

    app_key_env: str = "BETFAIR_APP_KEY"
    session_token_env: str = "BETFAIR_SESSION_TOKEN"
    username_env: str = "BETFAIR_USERNAME"
    password_env: str = "BETFAIR_PASSWORD"
    certs_env: str = "BETFAIR_CERTS"
    locale: str | None = None  # None: betfair.com; else betfairlightweight's name ("italy", ...)
    max_results: int = 200  # markets listMarketCatalogue returns at most (Betfair: 1..1000)

    def __post_init__(self) -> None:
        for name in (
            "app_key_env",
            "session_token_env",
            "username_env",
            "password_env",
            "certs_env",
        ):
            if not (isinstance(getattr(self, name), str) and getattr(self, name)):
                raise ValueError(f"betfair.{name} must name an environment variable")
        if self.locale is not None and not isinstance(self.locale, str):
            raise ValueError(f"betfair.locale must be null or a name, got {self.locale!r}")
        max_results = self.max_results
        if (
            isinstance(max_results, bool)
            or not isinstance(max_results, int)
            or not (1 <= max_results <= 1000)
        ):
            raise ValueError(f"betfair.max_results must be 1..1000, got {max_results!r}")

    @classmethod
    def from_config(cls, d: Mapping[str, Any] | None) -> BetfairSettings:
        """From the `betfair:` mapping; an unknown key is a typo and fails."""
        d = dict(d or {})
        reject_unknown_keys(d, cls, "sources.yaml betfair")
        return cls(**d)


def competition_leagues(
    leagues: Mapping[str, Mapping[str, Any]], wanted: Iterable[str] | None = None
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Betfair competition id -> football-data league, from `configs/sources.yaml` `leagues`,
    for the `wanted` leagues (all that have one by default); and the wanted leagues without.

    >>> competition_leagues({"E0": {"betfair": "10932509"}, "X1": {"the-odds-api": "x"}})
    ({'10932509': 'E0'}, ())
    >>> competition_leagues({"E0": {"betfair": 10932509}}, ["E0", "X1"])
    ({'10932509': 'E0'}, ('X1',))
    """
    codes = list(leagues) if wanted is None else list(dict.fromkeys(wanted))
    ids = {code: (leagues.get(code) or {}).get(SOURCE) for code in codes}
    found = {str(ids[code]): code for code in codes if ids[code] not in (None, "")}
    missing = () if wanted is None else tuple(c for c in codes if ids[c] in (None, ""))
    return found, missing


def to_utc_naive(stamp: str | datetime | pd.Timestamp) -> pd.Timestamp:
    """A moment as the store keeps it: UTC, without a time zone (a naive one is taken as UTC).

    >>> to_utc_naive("2025-08-16T14:00:00.000Z"), to_utc_naive("2025-08-16 16:00+02:00")
    (Timestamp('2025-08-16 14:00:00'), Timestamp('2025-08-16 14:00:00'))
    """
    moment = pd.Timestamp(stamp)
    if pd.isna(moment):
        raise ValueError(f"not a moment: {stamp!r}")
    return moment.tz_convert("UTC").tz_localize(None) if moment.tzinfo else moment


def best_back_price(runner: Mapping[str, Any]) -> float | None:
    """The best price on offer to back a runner (the highest of `availableToBack`), or None
    when nothing is offered.

    >>> best_back_price({"ex": {"availableToBack": [{"price": 2.1, "size": 30.0},
    ...                                             {"price": 2.08, "size": 5.0}]}})
    2.1
    >>> best_back_price({"ex": {"availableToBack": [], "availableToLay": [{"price": 2.2}]}})
    """
    offers = ((runner.get("ex") or {}).get("availableToBack")) or []
    prices = [float(o["price"]) for o in offers if _is_price(o.get("price"))]
    return max(prices) if prices else None


def _is_price(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (math.isfinite(value) and value > 1)
    )


@dataclass(frozen=True)
class MatchRunners:
    """The sides of one MATCH_ODDS market: the team names as Betfair spells them, and which
    outcome each runner (`selectionId`) is."""

    home: str
    away: str
    outcomes: Mapping[int, str]  # selectionId -> "H", "D" or "A"


def match_runners(market: Mapping[str, Any]) -> MatchRunners:
    """The home, draw and away runners of a MATCH_ODDS market: "The Draw", and the two teams,
    home first by `sortPriority`. Raises ValueError when the market is not that, or when its
    event name "Home v Away" reads the teams the other way.

    >>> market = {"event": {"name": "Arsenal v Chelsea"}, "runners": [
    ...     {"selectionId": 58805, "runnerName": "The Draw", "sortPriority": 3},
    ...     {"selectionId": 1096, "runnerName": "Arsenal", "sortPriority": 1},
    ...     {"selectionId": 25422, "runnerName": "Chelsea", "sortPriority": 2}]}
    >>> match_runners(market)
    MatchRunners(home='Arsenal', away='Chelsea', outcomes={1096: 'H', 25422: 'A', 58805: 'D'})
    """
    runners = sorted(market.get("runners") or [], key=lambda r: r.get("sortPriority", math.inf))
    draws = [r for r in runners if fold(str(r.get("runnerName", ""))) == fold(DRAW_RUNNER)]
    teams = [r for r in runners if r not in draws]
    if len(draws) != 1 or len(teams) != 2:
        names = [r.get("runnerName") for r in runners]
        raise ValueError(f"runners {names} are not two teams and {DRAW_RUNNER!r}")
    home, away = (str(r["runnerName"]) for r in teams)
    event_name = str((market.get("event") or {}).get("name", ""))
    sides = event_teams(event_name)
    if sides is not None and (fold(sides[0]), fold(sides[1])) != (fold(home), fold(away)):
        raise ValueError(f"event {event_name!r} does not read {home} v {away} as the runners do")
    ids = [i for i in (_selection(r) for r in (teams[0], teams[1], draws[0])) if i is not None]
    if len(set(ids)) != 3:
        raise ValueError(f"runners {[home, away, DRAW_RUNNER]} lack distinct selection ids")
    return MatchRunners(home, away, dict(zip(ids, "HAD", strict=True)))


def event_teams(event_name: str) -> tuple[str, str] | None:
    """The two sides of a Betfair event name "Home v Away", or None when it does not read so.

    >>> event_teams("Man Utd v Fulham"), event_teams("Premier League 2025/26")
    (('Man Utd', 'Fulham'), None)
    """
    sides = re.split(r"\s+v\s+", event_name.strip())
    return (sides[0], sides[1]) if len(sides) == 2 and all(sides) else None


def snapshot_from_markets(
    catalogue: Sequence[Mapping[str, Any]],
    books: Sequence[Mapping[str, Any]],
    *,
    leagues: Mapping[str, str],
    aliases: TeamAliases,
    captured_at: str | datetime | pd.Timestamp,
    season_start_month: int = 7,
    notes: Iterable[str] = (),
) -> LiveSnapshot:
    """The snapshot of MATCH_ODDS markets: `catalogue` and `books` as listMarketCatalogue and
    listMarketBook return them, `leagues` Betfair competition id -> football-data league.

    A market whose teams the alias table does not know, whose runners are not home, away and
    the draw, or whose market is CLOSED (settled or voided) is set aside with the reason. A kept
    fixture gets a price row per runner with a back price, if its market is OPEN and not in
    play; the notes name each market or runner that gave none.
    """
    captured_at = to_utc_naive(captured_at)
    by_id = {str(book.get("marketId")): book for book in books}
    fixtures: list[dict[str, Any]] = []
    odds: list[dict[str, Any]] = []
    set_aside: list[SetAside] = []
    lines = list(notes)
    for market in catalogue:
        book = by_id.get(str(market.get("marketId")))
        read = _fixture(market, book, leagues, aliases, season_start_month)
        if isinstance(read, SetAside):
            set_aside.append(read)
            continue
        fixture, runners = read
        if any(f["match_id"] == fixture["match_id"] for f in fixtures):
            set_aside.append(
                _aside(
                    fixture["league"],
                    runners.home,
                    runners.away,
                    f"market {market.get('marketId')}: a second MATCH_ODDS "
                    f"market for {fixture['match_id']}",
                )
            )
            continue
        fixtures.append(fixture)
        rows, why = _price_rows(fixture, runners, book, captured_at)
        odds.extend(rows)
        if why:
            lines.append(
                f"betfair: market {market.get('marketId')} ({runners.home} v {runners.away}) {why}"
            )
    return LiveSnapshot(
        source=SOURCE,
        captured_at=captured_at,
        fixtures=_frame(fixtures, FIXTURE_COLUMNS) if fixtures else empty_fixtures(),
        odds=_frame(odds, ODDS_COLUMNS) if odds else empty_odds(),
        set_aside=tuple(set_aside),
        notes=tuple(lines),
    )


def _aside(league: str | None, home: str, away: str, reason: str) -> SetAside:
    return SetAside(SOURCE, league, home, away, reason)


def _fixture(
    market: Mapping[str, Any],
    book: Mapping[str, Any] | None,
    leagues: Mapping[str, str],
    aliases: TeamAliases,
    season_start_month: int,
) -> tuple[dict[str, Any], MatchRunners] | SetAside:
    """One market's fixture row and runners, or why it is set aside."""
    market_id = market.get("marketId")
    competition = str((market.get("competition") or {}).get("id", ""))
    league = leagues.get(competition)
    event = market.get("event") or {}
    try:
        runners = match_runners(market)
    except ValueError as e:
        home, away = event_teams(str(event.get("name", ""))) or (str(event.get("name", "")), "")
        return _aside(league, home, away, f"market {market_id}: {e}")
    if league is None:
        return _aside(
            None,
            runners.home,
            runners.away,
            f"market {market_id}: competition "
            f"{competition!r} is no league's betfair id in configs/sources.yaml",
        )
    unknown = aliases.unknown([runners.home, runners.away])
    if unknown:
        return _aside(
            league,
            runners.home,
            runners.away,
            f"team names not in configs/aliases.yaml: {', '.join(unknown)}",
        )
    if book is not None and book.get("status") == "CLOSED":
        return _aside(
            league, runners.home, runners.away, f"market {market_id} is CLOSED (settled or voided)"
        )
    try:
        kickoff = to_utc_naive(market.get("marketStartTime") or event.get("openDate"))
    except (ValueError, TypeError):
        return _aside(league, runners.home, runners.away, f"market {market_id}: no start time")
    home, away = aliases.known(runners.home), aliases.known(runners.away)
    date = uk_day(kickoff)  # the day football-data's files will give it (UK time)
    fixture = {
        "match_id": make_match_id(league, date, home, away),
        "league": league,
        "season": season_of(date, season_start_month),
        "date": date,
        "kickoff": kickoff,
        "home_team": home,
        "away_team": away,
        "status": "fixture",
        "source": SOURCE,
    }
    return fixture, runners


def _price_rows(
    fixture: Mapping[str, Any],
    runners: MatchRunners,
    book: Mapping[str, Any] | None,
    captured_at: pd.Timestamp,
) -> tuple[list[dict[str, Any]], str | None]:
    """A fixture's price rows from its market book, and why some or all are missing."""
    if book is None:
        return [], "came back without a market book: no prices taken"
    if book.get("status") != "OPEN":
        return [], f"is {book.get('status')}: no prices taken"
    if book.get("inplay"):
        return [], "is in play: no pre-match prices taken"
    prices: dict[str, float] = {}
    for runner in book.get("runners") or []:
        selection = _selection(runner)
        outcome = None if selection is None else runners.outcomes.get(selection)
        price = best_back_price(runner) if runner.get("status", "ACTIVE") == "ACTIVE" else None
        if outcome is not None and price is not None:
            prices[outcome] = price
    rows = [
        {
            **{k: fixture[k] for k in ("match_id", "league", "season")},
            "bookmaker": BOOKMAKER,
            "code": CODE,
            "phase": "open",
            "market": "1x2",
            "outcome": outcome,
            "price": price,
            "is_aggregate": False,
            "source": SOURCE,
            "captured_at": captured_at,
        }
        for outcome, price in sorted(prices.items(), key=lambda kv: RESULT_CODES.index(kv[0]))
    ]
    missing = [o for o in RESULT_CODES if o not in prices]
    return rows, f"has no back price for {', '.join(missing)}" if missing else None


def _selection(runner: Mapping[str, Any]) -> int | None:
    try:
        return int(runner["selectionId"])
    except (KeyError, TypeError, ValueError):
        return None


def _frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))
