"""Live sources of fixtures and prices: one registry, `fetch_live`, and The Odds API's adapter.

`fetch_live(kind, config, captured_at)` answers a `sabiscore.live.LiveSnapshot` for one source
kind of `configs/sources.yaml` `live:`:

    the-odds-api     The Odds API v4, one request per league (`$ODDS_API_KEY`)
    betfair          the Betfair Exchange (`tasks.betfair_source.fetch_betfair`)
    module:function  a plug-in (below)

football-data.co.uk's fixtures.csv is not one of them: the odds refresh reads it itself.

A plug-in is any importable function of this shape:

    def fetch(config: dict, captured_at: pd.Timestamp) -> sabiscore.live.LiveSnapshot:
        '''config: every stage's settings (sabiscore.config.load_config()), so
        config["sources"] is configs/sources.yaml and config["aliases"] the team table.'''

It answers the canonical tables (`sabiscore.live.FIXTURE_COLUMNS`, `ODDS_COLUMNS`), its team
names already football-data's (`TeamAliases.from_config(config["aliases"])`; a name it cannot
map set aside in `set_aside`, not guessed), its match ids `make_match_id`'s, every price
stamped `captured_at`. It reads its own secrets from the environment, never from a file in the
repository, and never writes them into `notes`. Named in `live:` as `mypackage.odds:fetch`,
it is imported when the refresh runs and its answer checked; one not of that shape fails with
what is missing.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx
import pandas as pd

from sabiscore import odds_api
from sabiscore.football_data import is_safe_match_id
from sabiscore.live import FIXTURE_COLUMNS, ODDS_COLUMNS, LiveSnapshot, TeamAliases

logger = logging.getLogger(__name__)

BETFAIR = "betfair"
FOOTBALL_DATA = "football-data"
KINDS = (odds_api.SOURCE, BETFAIR, "module:function")

LiveFetch = Callable[[dict[str, Any], pd.Timestamp], LiveSnapshot]


class LiveSourceError(RuntimeError):
    """A live source could not answer, or answered out of shape; the message says which and why
    (and never carries a key)."""


def fetch_live(
    kind: str,
    config: dict[str, Any],
    captured_at: pd.Timestamp,
    leagues: Iterable[str] | None = None,
) -> LiveSnapshot:
    """What the live source `kind` answers now, checked to be a canonical snapshot.

    `leagues` (None: every league configured) narrows the answer; The Odds API and Betfair
    are asked only for those (each request costs quota), a plug-in's answer is filtered.
    """
    captured_at = pd.Timestamp(captured_at)
    wanted = None if leagues is None else list(leagues)
    if kind == odds_api.SOURCE:
        snapshot = fetch_the_odds_api(config, captured_at, wanted)
    elif kind == BETFAIR:
        from tasks.betfair_source import fetch_betfair

        snapshot = fetch_betfair(config, captured_at, leagues=wanted)
    elif kind == FOOTBALL_DATA:
        raise ValueError("football-data is read by the odds refresh itself, not by fetch_live")
    elif ":" in kind:
        snapshot = load_plugin(kind)(config, captured_at)
    else:
        raise ValueError(f"unknown live source {kind!r}; known: {', '.join(KINDS)}")
    snapshot = checked_snapshot(snapshot, kind)
    return snapshot if wanted is None else only_leagues(snapshot, wanted)


def no_public_api_notes(config: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[str, ...]:
    """A note for each setting of `sources.no_public_api` set in `environ`: read, reported,
    and not used (its value is never shown)."""
    reasons = (config.get("sources") or {}).get("no_public_api") or {}
    notes = tuple(
        f"{name} is set, but {reason}: it is not used"
        for name, reason in reasons.items()
        if environ.get(name, "").strip()
    )
    for note in notes:
        logger.warning(note)
    return notes


# --- plug-ins ------------------------------------------------------------------------------


def load_plugin(kind: str) -> LiveFetch:
    """The function a `module:function` source names, imported."""
    module_name, _, function_name = kind.partition(":")
    if not module_name or not function_name or ":" in function_name:
        raise ValueError(f"live source {kind!r}: a plug-in is named 'module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise LiveSourceError(
            f"live source {kind!r}: cannot import {module_name!r} ({error})"
        ) from error
    fetch = getattr(module, function_name, None)
    if not callable(fetch):
        raise LiveSourceError(
            f"live source {kind!r}: {module_name} has no function {function_name!r}"
        )
    return fetch


def checked_snapshot(snapshot: Any, kind: str) -> LiveSnapshot:
    """`snapshot` if it keeps the live contract (a LiveSnapshot, the canonical columns, safe
    match ids), its tables narrowed to the canonical columns; else a LiveSourceError."""
    if not isinstance(snapshot, LiveSnapshot):
        raise LiveSourceError(
            f"live source {kind!r} answered a {type(snapshot).__name__}, "
            "not a sabiscore.live.LiveSnapshot"
        )
    tables = {}
    contract = (
        ("fixtures", FIXTURE_COLUMNS, "FIXTURE_COLUMNS"),
        ("odds", ODDS_COLUMNS, "ODDS_COLUMNS"),
    )
    for name, columns, columns_name in contract:
        frame = getattr(snapshot, name)
        if not isinstance(frame, pd.DataFrame):
            raise LiveSourceError(
                f"live source {kind!r}: its {name} is a {type(frame).__name__}, not a DataFrame"
            )
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise LiveSourceError(
                f"live source {kind!r}: its {name} table lacks the canonical "
                f"columns {missing} (sabiscore.live.{columns_name})"
            )
        unsafe = sorted({str(i) for i in frame["match_id"] if not is_safe_match_id(i)})
        if unsafe:
            raise LiveSourceError(
                f"live source {kind!r}: {name} match ids not of make_match_id's shape: {unsafe[:5]}"
            )
        tables[name] = frame.loc[:, list(columns)]
    return dataclasses.replace(snapshot, **tables)


def only_leagues(snapshot: LiveSnapshot, leagues: Iterable[str]) -> LiveSnapshot:
    """`snapshot` narrowed to `leagues`."""
    keep = set(leagues)
    return dataclasses.replace(
        snapshot,
        fixtures=snapshot.fixtures[snapshot.fixtures["league"].isin(keep)],
        odds=snapshot.odds[snapshot.odds["league"].isin(keep)],
        set_aside=tuple(s for s in snapshot.set_aside if s.league is None or s.league in keep),
    )


# --- The Odds API ---------------------------------------------------------------------------


class _RedactApiKey(logging.Filter):
    """httpx logs each request's URL at INFO, its `apiKey=` with it: hidden here."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "apikey=" in message.lower():
            record.msg, record.args = odds_api.redact(message), ()
        return True


def _hide_keys_in_httpx_log() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactApiKey) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactApiKey())


def fetch_the_odds_api(
    config: dict[str, Any], captured_at: pd.Timestamp, leagues: Iterable[str] | None = None
) -> LiveSnapshot:
    """The Odds API's upcoming fixtures and 1X2 prices of `leagues` (None: all configured).

    Without a key: an empty snapshot saying to set it. A refused key (401): a LiveSourceError
    naming the variable. Out of quota or too fast (429): the leagues answered so far, and a
    note. The quota headers of every answer are logged and noted.
    """
    sources = config.get("sources") or {}
    settings = odds_api.OddsApiSettings.from_config(sources)
    key = os.environ.get(settings.key_env, "").strip()
    if not key:
        note = (
            f"{odds_api.SOURCE}: ${settings.key_env} is not set: set it to an API key of "
            "https://the-odds-api.com to read its prices"
        )
        logger.warning(note)
        return LiveSnapshot.empty(odds_api.SOURCE, captured_at, note)
    sports, notes = odds_api.sport_keys(sources, leagues)
    answers: dict[str, Any] = {}
    _hide_keys_in_httpx_log()
    with httpx.Client(timeout=settings.timeout_s) as client:
        for league, sport in sports.items():
            response = _get(client, settings, sport, key)
            quota = odds_api.quota_note(response.headers, sport)
            logger.info(quota)
            notes.append(quota)
            if response.status_code == 429:
                stop = (
                    f"{odds_api.SOURCE} {sport}: 429 {_api_message(response, key)}: "
                    f"stopped, {league} and the leagues after it not read"
                )
                logger.warning(stop)
                notes.append(stop)
                break
            answers[league] = _events(response, settings, sport, key)
    aliases = TeamAliases.from_config(config.get("aliases") or {})
    snapshot = odds_api.parse_odds(answers, settings, aliases, captured_at, notes)
    for note in snapshot.notes[len(notes) :]:  # what the answers' reading left out
        logger.warning(note)
    return snapshot


def _get(
    client: httpx.Client, settings: odds_api.OddsApiSettings, sport: str, key: str
) -> httpx.Response:
    url = settings.base_url.rstrip("/") + odds_api.ODDS_PATH.format(sport=sport)
    try:
        response = client.get(url, params={**settings.query(), "apiKey": key})
    except httpx.HTTPError as error:
        # httpx's errors may carry the URL, its apiKey with it: only a redacted line leaves.
        reason = _hide(f"{type(error).__name__}: {error}", key)
        raise LiveSourceError(
            f"{odds_api.SOURCE} {sport}: no answer from {url} ({reason})"
        ) from None
    logger.info(
        "%s: GET %s -> %s",
        odds_api.SOURCE,
        _hide(str(response.request.url), key),
        response.status_code,
    )
    return response


def _events(
    response: httpx.Response, settings: odds_api.OddsApiSettings, sport: str, key: str
) -> list[Any]:
    if response.status_code == 401:
        raise LiveSourceError(
            f"{odds_api.SOURCE} refused the key in ${settings.key_env} "
            f"(401: {_api_message(response, key)}): set ${settings.key_env} "
            "to a valid key of https://the-odds-api.com"
        )
    if response.status_code != 200:
        raise LiveSourceError(
            f"{odds_api.SOURCE} {sport}: answered {response.status_code} "
            f"({_api_message(response, key)})"
        )
    try:
        events = response.json()
    except ValueError:
        events = None
    if not isinstance(events, list):
        raise LiveSourceError(
            f"{odds_api.SOURCE} {sport}: answered {response.status_code} "
            "but not a JSON list of events"
        )
    return events


def _api_message(response: httpx.Response, key: str) -> str:
    """The API's own reason ({"message": ..., "error_code": ...}), else the status text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping) and body.get("message"):
        code = f"{body['error_code']}: " if body.get("error_code") else ""
        return _hide(f"{code}{body['message']}", key)
    return response.reason_phrase or "no reason given"


def _hide(text: str, key: str) -> str:
    return odds_api.redact(text).replace(key, "***")
