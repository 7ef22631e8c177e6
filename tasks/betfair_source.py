"""The Betfair Exchange as a live source, through betfairlightweight's API-NG client.

`fetch_betfair(config, captured_at)` lists the MATCH_ODDS markets of the configured leagues'
competitions (`listMarketCatalogue`), reads their best back prices (`listMarketBook`,
EX_BEST_OFFERS) and hands both to `sabiscore.betfair.snapshot_from_markets`.

Credentials come from the environment variables that `configs/sources.yaml` (`betfair:`) names,
never from a file in the repository:

* the application key, `$BETFAIR_APP_KEY`, always; without it the snapshot is empty and its
  note says what to set;
* then a session token, `$BETFAIR_SESSION_TOKEN`, used as it is (no login call);
* or else a certificate login ("non-interactive", `certlogin`) with `$BETFAIR_USERNAME`,
  `$BETFAIR_PASSWORD` and `$BETFAIR_CERTS`, the folder holding the client certificate
  (a `.crt` and `.key` pair or one `.pem`).

No secret (app key, token, password) is written to a message, a note or a log line: they name
the variables, never their values. A failed login or API call raises `BetfairSourceError`
saying which call failed and Betfair's reason.

Where it connects: betfairlightweight's hosts for `betfair.locale`, unless told otherwise, for
a local stand-in in tests, by the keywords or the environment variables

* `api_url` / `$SABISCORE_BETFAIR_API_URL`, in place of `https://api.betfair.com/exchange/`:
  the JSON-RPC calls go to `<api_url>betting/json-rpc/v1`;
* `identity_url` / `$SABISCORE_BETFAIR_IDENTITY_URL`, in place of the identity hosts'
  `https://identitysso-cert.betfair.com/api/`: the login goes to `<identity_url>certlogin`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import pandas as pd
import requests
from betfairlightweight import APIClient, filters
from betfairlightweight.exceptions import APIError, BetfairError, CertsError, LoginError

from sabiscore.betfair import (
    MATCH_ODDS,
    SOCCER,
    SOURCE,
    BetfairSettings,
    competition_leagues,
    snapshot_from_markets,
    to_utc_naive,
)
from sabiscore.live import LiveSnapshot, TeamAliases

logger = logging.getLogger(__name__)

API_URL_ENV = "SABISCORE_BETFAIR_API_URL"
IDENTITY_URL_ENV = "SABISCORE_BETFAIR_IDENTITY_URL"

#: listMarketBook refuses a request weighing over 200 points; EX_BEST_OFFERS weighs 5 a market.
BOOKS_PER_REQUEST = 40
CATALOGUE_PROJECTION = ["RUNNER_DESCRIPTION", "EVENT", "COMPETITION", "MARKET_START_TIME"]

#: Betfair's error codes that a person can mend, and how.
_HINTS = {
    "INVALID_APP_KEY": "check ${app_key_env}",
    "APP_KEY_CREATION_FAILED": "check ${app_key_env}",
    "INVALID_SESSION_INFORMATION": "the session has expired or is wrong: set a fresh "
    "${session_token_env} or log in again",
    "NO_SESSION": "set ${session_token_env}, or log in with a certificate",
    "INVALID_USERNAME_OR_PASSWORD": "check ${username_env} and ${password_env}",
    "CERT_AUTH_REQUIRED": "the certificate in ${certs_env} is not linked to the account",
}

T = TypeVar("T")


class BetfairSourceError(RuntimeError):
    """Betfair refused a login or a call; the message names which, and never a secret."""


@dataclass(frozen=True)
class Credentials:
    """What the environment holds for Betfair. The secrets stay out of `repr`."""

    app_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    certs: str | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.app_key, self.session_token, self.password) if s)


def fetch_betfair(
    config: Mapping[str, Any],
    captured_at: str | datetime | pd.Timestamp,
    leagues: list[str] | None = None,
    *,
    api_url: str | None = None,
    identity_url: str | None = None,
) -> LiveSnapshot:
    """The Betfair Exchange's match-odds prices for `leagues` (default: every league of
    `configs/sources.yaml` with a Betfair competition id), as seen at `captured_at`.

    `config` is the whole `load_config()` mapping (`sources`, `aliases`, `validation`).
    """
    sources = config.get("sources") or {}
    settings = BetfairSettings.from_config(sources.get("betfair"))
    captured_at = to_utc_naive(captured_at)
    competitions, unmapped = competition_leagues(sources.get("leagues") or {}, leagues)
    notes = [
        f"betfair: league {code} has no betfair competition id in configs/sources.yaml leagues"
        for code in unmapped
    ]
    credentials = read_credentials(settings, os.environ)
    if isinstance(credentials, str) or not competitions:
        why = credentials if isinstance(credentials, str) else "betfair: no league to read"
        return LiveSnapshot.empty(SOURCE, captured_at, *notes, why)
    catalogue, books = _read_markets(
        settings, credentials, sorted(competitions), captured_at, api_url, identity_url
    )
    if len(catalogue) >= settings.max_results:
        notes.append(
            f"betfair: {len(catalogue)} markets, as many as betfair.max_results asks for: "
            "later ones may be missing"
        )
    return snapshot_from_markets(
        catalogue,
        books,
        leagues=competitions,
        aliases=TeamAliases.from_config(config.get("aliases") or {}),
        captured_at=captured_at,
        season_start_month=(config.get("validation") or {}).get("season_start_month", 7),
        notes=notes,
    )


def read_credentials(settings: BetfairSettings, environ: Mapping[str, str]) -> Credentials | str:
    """The credentials the environment holds, or a note saying which variables to set."""
    app_key = environ.get(settings.app_key_env)
    if not app_key:
        return (
            f"betfair: ${settings.app_key_env} is not set: set it to a Betfair application "
            "key to read the exchange"
        )
    token = environ.get(settings.session_token_env)
    login = {
        name: environ.get(name)
        for name in (settings.username_env, settings.password_env, settings.certs_env)
    }
    if not token and not all(login.values()):
        missing = ", ".join(f"${name}" for name, value in login.items() if not value)
        return (
            f"betfair: set ${settings.session_token_env}, or ${settings.username_env}, "
            f"${settings.password_env} and ${settings.certs_env} for a certificate login "
            f"(not set: {missing})"
        )
    username, password, certs = login.values()
    return Credentials(app_key, token or None, username, password, certs)


def _read_markets(
    settings: BetfairSettings,
    credentials: Credentials,
    competition_ids: list[str],
    captured_at: pd.Timestamp,
    api_url: str | None,
    identity_url: str | None,
) -> tuple[list[dict], list[dict]]:
    """Log in, then the catalogue of the competitions' match-odds markets and their books."""
    with requests.Session() as session:
        client = _client(settings, credentials, session, api_url, identity_url)
        _log_in(client, settings, credentials)
        catalogue = _call(
            "listMarketCatalogue",
            settings,
            credentials,
            lambda: _catalogue(client, settings, competition_ids, captured_at),
        )
        books = _call("listMarketBook", settings, credentials, lambda: _books(client, catalogue))
    logger.info(
        "betfair: %d MATCH_ODDS markets in %d competitions, %d books",
        len(catalogue),
        len(competition_ids),
        len(books),
    )
    return catalogue, books


def _client(
    settings: BetfairSettings,
    credentials: Credentials,
    session: requests.Session,
    api_url: str | None,
    identity_url: str | None,
) -> APIClient:
    client = APIClient(
        credentials.username or "sabiscore",
        credentials.password or "",
        app_key=credentials.app_key,
        certs=credentials.certs,
        locale=settings.locale,
        lightweight=True,
        session=session,
    )
    api_url = api_url or os.environ.get(API_URL_ENV)
    identity_url = identity_url or os.environ.get(IDENTITY_URL_ENV)
    if api_url:
        client.api_uri = api_url.rstrip("/") + "/"
    if identity_url:
        client.identity_uri = client.identity_cert_uri = identity_url.rstrip("/") + "/"
    return client


def _log_in(client: APIClient, settings: BetfairSettings, credentials: Credentials) -> None:
    if credentials.session_token:
        client.set_session_token(credentials.session_token)
        logger.info("betfair: the session token of $%s", settings.session_token_env)
        return
    try:
        _ = client.cert  # looked for first: the login would hide a missing folder
    except CertsError:
        raise BetfairSourceError(
            f"Betfair certificate login: no .crt and .key pair nor .pem in ${settings.certs_env} "
            f"({credentials.certs})"
        ) from None
    try:
        client.login()
    except BetfairError as e:
        reason = _reason(e, settings, credentials)
        raise BetfairSourceError(f"Betfair certificate login failed: {reason}") from None
    logger.info("betfair: logged in as $%s with the certificate", settings.username_env)


def _call(
    what: str, settings: BetfairSettings, credentials: Credentials, call: Callable[[], T]
) -> T:
    try:
        return call()
    except BetfairError as e:
        reason = _reason(e, settings, credentials)
        raise BetfairSourceError(f"Betfair {what} failed: {reason}") from None


def _catalogue(
    client: APIClient,
    settings: BetfairSettings,
    competition_ids: list[str],
    captured_at: pd.Timestamp,
) -> list[dict]:
    """The match-odds markets of the competitions that start after `captured_at`, earliest
    first (so a cut by max_results drops the latest)."""
    return client.betting.list_market_catalogue(
        filter=filters.market_filter(
            event_type_ids=[SOCCER],
            competition_ids=competition_ids,
            market_type_codes=[MATCH_ODDS],
            market_start_time=filters.time_range(from_=f"{captured_at:%Y-%m-%dT%H:%M:%SZ}"),
        ),
        market_projection=CATALOGUE_PROJECTION,
        sort="FIRST_TO_START",
        max_results=settings.max_results,
    )


def _books(client: APIClient, catalogue: Sequence[Mapping[str, Any]]) -> list[dict]:
    ids = [str(market["marketId"]) for market in catalogue]
    books: list[dict] = []
    for start in range(0, len(ids), BOOKS_PER_REQUEST):
        books += client.betting.list_market_book(
            market_ids=ids[start : start + BOOKS_PER_REQUEST],
            price_projection=filters.price_projection(price_data=["EX_BEST_OFFERS"]),
        )
    return books


def _reason(error: BetfairError, settings: BetfairSettings, credentials: Credentials) -> str:
    """Betfair's reason for `error`, with a hint where one helps; secrets blanked out."""
    code = None
    if isinstance(error, LoginError):
        code = error.response.get("loginStatus") or error.response.get("error")
        reason = str(code or error.response)
    elif isinstance(error, APIError) and error.response:
        detail = error.response.get("error") or {}
        code = ((detail.get("data") or {}).get("APINGException") or {}).get("errorCode")
        reason = str(code or detail.get("message") or detail)
    elif isinstance(error, APIError) and error.exception:
        reason = f"{type(error.exception).__name__}: {error.exception}"
    else:
        reason = str(error)
    if code in _HINTS:
        reason = f"{reason} ({_HINTS[code].format_map(asdict(settings))})"
    for secret in credentials.secrets:
        reason = reason.replace(secret, "***")
    return reason[:500]
