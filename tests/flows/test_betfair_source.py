"""The Betfair source (tasks/betfair_source.py): betfairlightweight's real client against a
local stand-in for Betfair's identity and API-NG hosts, never the internet."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pandas as pd
import pytest

from tasks.betfair_source import BetfairSourceError, fetch_betfair
from tests.helpers import Recorded, Reply, recording_server
from tests.unit.test_betfair import catalogue_entry, market_book

APP_KEY = "appkey-Xq7ZpL2"
TOKEN = "session-token-Jm3Kw9Vb"
USERNAME = "sabi_user"
PASSWORD = "pw-Hh4Tt8Nn"
LOGIN_TOKEN = "login-token-Rr5Ss1Qq"
SECRETS = (APP_KEY, TOKEN, PASSWORD, LOGIN_TOKEN)
CAPTURED = pd.Timestamp("2025-08-15 09:30")
RPC = "/exchange/betting/json-rpc/v1"

MAN_UTD = catalogue_entry("1.240001", "Man Utd", "Fulham")
SUSPENDED = catalogue_entry("1.240002", "Arsenal", "Chelsea", start="2025-08-17T15:30:00.000Z")
UNKNOWN = catalogue_entry("1.240003", "Real Oviedo", "Girona", competition="117")
CATALOGUE = [MAN_UTD, SUSPENDED, UNKNOWN]
BOOKS = {
    "1.240001": market_book(MAN_UTD),
    "1.240002": market_book(SUSPENDED, status="SUSPENDED"),
    "1.240003": market_book(UNKNOWN),
}


def config(**betfair: Any) -> dict[str, Any]:
    """The slice of load_config() the source reads, with its own small alias table."""
    return {
        "sources": {
            "leagues": {
                "E0": {"the-odds-api": "soccer_epl", "betfair": "10932509"},
                "SP1": {"betfair": "117"},
                "X1": {"the-odds-api": "soccer_x"},
            },
            "betfair": {**betfair},
        },
        "aliases": {
            "teams": {"Man United": ["Man Utd"], "Fulham": [], "Arsenal": [], "Chelsea": []}
        },
        "validation": {"season_start_month": 7},
    }


def betfair(catalogue: list[dict] = CATALOGUE, books: dict[str, dict] = BOOKS, **replies: Reply):
    """An answer() standing in for Betfair: certlogin, listMarketCatalogue, listMarketBook in
    API-NG's documented shapes; `replies` overrides one ("certlogin", "listMarketBook"...)."""

    def answer(request: Recorded) -> Reply:
        if request.route == "/api/certlogin":
            return replies.get("certlogin") or (
                200,
                {"sessionToken": LOGIN_TOKEN, "loginStatus": "SUCCESS"},
                {},
            )
        if request.route != RPC:
            return 404, {"error": "no such route"}, {}
        call = request.json()
        method = call["method"].removeprefix("SportsAPING/v1.0/")
        if method in replies:
            return replies[method]
        if method == "listMarketCatalogue":
            result: list = catalogue
        elif method == "listMarketBook":
            result = [books[m] for m in call["params"]["marketIds"] if m in books]
        else:
            return 200, {"jsonrpc": "2.0", "error": {"code": -32601}, "id": call["id"]}, {}
        return 200, {"jsonrpc": "2.0", "result": result, "id": call["id"]}, {}

    return answer


@contextlib.contextmanager
def stand_in(answer) -> Iterator[tuple[dict[str, str], list[Recorded]]]:
    with recording_server(answer) as (base, seen):
        yield {"api_url": f"{base}/exchange/", "identity_url": f"{base}/api/"}, seen


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A Betfair environment of this test's own: the app key and a session token."""
    for name in (
        "BETFAIR_USERNAME",
        "BETFAIR_PASSWORD",
        "BETFAIR_CERTS",
        "SABISCORE_BETFAIR_API_URL",
        "SABISCORE_BETFAIR_IDENTITY_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BETFAIR_APP_KEY", APP_KEY)
    monkeypatch.setenv("BETFAIR_SESSION_TOKEN", TOKEN)
    return monkeypatch


@pytest.fixture()
def certificate_login(environment: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A certificate login instead of a session token (the files' content is never read over
    plain HTTP, only looked for)."""
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "client-2048.crt").write_text("not a certificate")
    (certs / "client-2048.key").write_text("not a key")
    environment.delenv("BETFAIR_SESSION_TOKEN")
    environment.setenv("BETFAIR_USERNAME", USERNAME)
    environment.setenv("BETFAIR_PASSWORD", PASSWORD)
    environment.setenv("BETFAIR_CERTS", str(certs))
    return certs


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text)


def test_a_session_token_reads_the_markets_and_gives_canonical_frames(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with stand_in(betfair()) as (urls, seen):
        snap = fetch_betfair(config(), CAPTURED, **urls)

    # What Betfair was sent: no login, the app key and the session on every call.
    assert [r.json()["method"] for r in seen] == [
        "SportsAPING/v1.0/listMarketCatalogue",
        "SportsAPING/v1.0/listMarketBook",
    ]
    assert all(r.route == RPC and r.method == "POST" for r in seen)
    assert all(r.headers["X-Application"] == APP_KEY for r in seen)
    assert all(r.headers["X-Authentication"] == TOKEN for r in seen)
    catalogue, book = (r.json()["params"] for r in seen)
    assert catalogue["filter"] == {
        "eventTypeIds": ["1"],
        "competitionIds": ["10932509", "117"],
        "marketTypeCodes": ["MATCH_ODDS"],
        "marketStartTime": {"from": "2025-08-15T09:30:00Z", "to": None},
    }
    assert catalogue["marketProjection"] == [
        "RUNNER_DESCRIPTION",
        "EVENT",
        "COMPETITION",
        "MARKET_START_TIME",
    ]
    assert catalogue["maxResults"] == 200 and catalogue["sort"] == "FIRST_TO_START"
    assert book["marketIds"] == ["1.240001", "1.240002", "1.240003"]
    assert book["priceProjection"]["priceData"] == ["EX_BEST_OFFERS"]

    # What came back: the kept fixtures and the open market's best back prices.
    assert snap.fixtures[["match_id", "league", "kickoff", "status"]].values.tolist() == [
        ["e0-20250816-man-united-fulham", "E0", pd.Timestamp("2025-08-16 14:00"), "fixture"],
        ["e0-20250817-arsenal-chelsea", "E0", pd.Timestamp("2025-08-17 15:30"), "fixture"],
    ]
    assert snap.odds[["match_id", "outcome", "price"]].values.tolist() == [
        ["e0-20250816-man-united-fulham", "H", 2.1],
        ["e0-20250816-man-united-fulham", "D", 3.4],
        ["e0-20250816-man-united-fulham", "A", 3.6],
    ]
    assert set(snap.odds["bookmaker"]) == {"betfair_exchange"}
    assert (snap.odds["captured_at"] == CAPTURED).all()
    assert snap.notes == (
        "betfair: market 1.240002 (Arsenal v Chelsea) is SUSPENDED: no prices taken",
    )
    (aside,) = snap.set_aside
    assert (aside.league, aside.home_team, aside.away_team) == ("SP1", "Real Oviedo", "Girona")
    assert aside.reason == "team names not in configs/aliases.yaml: Girona, Real Oviedo"

    out = capsys.readouterr()
    assert_no_secret(out.out, out.err, caplog.text, snap, snap.notes, snap.set_aside)
    assert "MATCH_ODDS markets" in caplog.text


def test_a_certificate_login_comes_first_and_its_session_is_used(
    certificate_login: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with stand_in(betfair()) as (urls, seen):
        snap = fetch_betfair(config(), CAPTURED, **urls)

    login, *calls = seen
    assert login.route == "/api/certlogin" and login.method == "POST"
    assert login.headers["X-Application"] == APP_KEY
    assert "X-Authentication" not in login.headers
    assert parse_qs(login.body.decode()) == {"username": [USERNAME], "password": [PASSWORD]}
    assert [c.json()["method"].rsplit("/", 1)[1] for c in calls] == [
        "listMarketCatalogue",
        "listMarketBook",
    ]
    assert all(c.headers["X-Authentication"] == LOGIN_TOKEN for c in calls)
    assert len(snap.fixtures) == 2 and len(snap.odds) == 3
    assert_no_secret(caplog.text, snap.notes)


def test_a_refused_login_names_the_login_and_no_secret(
    certificate_login: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    refused = (200, {"loginStatus": "INVALID_USERNAME_OR_PASSWORD"}, {})
    with stand_in(betfair(certlogin=refused)) as (urls, seen):
        with pytest.raises(BetfairSourceError) as raised:
            fetch_betfair(config(), CAPTURED, **urls)
    assert str(raised.value) == (
        "Betfair certificate login failed: INVALID_USERNAME_OR_PASSWORD "
        "(check $BETFAIR_USERNAME and $BETFAIR_PASSWORD)"
    )
    assert [r.route for r in seen] == ["/api/certlogin"]
    assert_no_secret(raised.value, caplog.text)


def test_a_missing_certificate_folder_is_named(
    certificate_login: Path, environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environment.setenv("BETFAIR_CERTS", str(tmp_path / "nowhere"))
    with stand_in(betfair()) as (urls, seen):
        with pytest.raises(
            BetfairSourceError, match=r"Betfair certificate login: .*\$BETFAIR_CERTS"
        ):
            fetch_betfair(config(), CAPTURED, **urls)
    assert seen == []


def test_an_api_error_names_the_call_and_the_fix_not_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    expired = {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {
            "code": -32099,
            "message": "ANGX-0003",
            "data": {
                "APINGException": {
                    "requestUUID": "x",
                    "errorCode": "INVALID_SESSION_INFORMATION",
                    "errorDetails": "",
                },
                "exceptionname": "APINGException",
            },
        },
    }
    with stand_in(betfair(listMarketCatalogue=(200, expired, {}))) as (urls, _):
        with pytest.raises(BetfairSourceError) as raised:
            fetch_betfair(config(), CAPTURED, **urls)
    message = str(raised.value)
    assert message.startswith("Betfair listMarketCatalogue failed: INVALID_SESSION_INFORMATION")
    assert "$BETFAIR_SESSION_TOKEN" in message
    assert_no_secret(message, caplog.text)


def test_a_server_error_on_the_books_names_the_call() -> None:
    with stand_in(betfair(listMarketBook=(503, None, {}))) as (urls, _):
        with pytest.raises(BetfairSourceError, match="Betfair listMarketBook failed: .*503"):
            fetch_betfair(config(), CAPTURED, **urls)


def test_an_unreachable_host_is_a_clear_error() -> None:
    with recording_server(betfair()) as (base, _):
        pass  # the port is free again: nothing answers there
    with pytest.raises(
        BetfairSourceError, match="Betfair listMarketCatalogue failed: .*Connection"
    ):
        fetch_betfair(config(), CAPTURED, api_url=f"{base}/exchange/")


def test_without_an_app_key_nothing_is_sent_and_the_note_says_what_to_set(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.delenv("BETFAIR_APP_KEY")
    with stand_in(betfair()) as (urls, seen):
        snap = fetch_betfair(config(), CAPTURED, **urls)
    assert seen == [] and snap.fixtures.empty and snap.odds.empty
    assert snap.notes == (
        "betfair: $BETFAIR_APP_KEY is not set: set it to a Betfair application "
        "key to read the exchange",
    )


def test_without_a_session_or_a_login_the_note_names_the_variables(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.delenv("BETFAIR_SESSION_TOKEN")
    environment.setenv("BETFAIR_USERNAME", USERNAME)
    with stand_in(betfair()) as (urls, seen):
        snap = fetch_betfair(config(), CAPTURED, **urls)
    assert seen == [] and snap.fixtures.empty
    (note,) = snap.notes
    assert "set $BETFAIR_SESSION_TOKEN, or $BETFAIR_USERNAME" in note
    assert note.endswith("(not set: $BETFAIR_PASSWORD, $BETFAIR_CERTS)")


def test_the_leagues_asked_for_set_the_competitions(caplog: pytest.LogCaptureFixture) -> None:
    with stand_in(betfair(catalogue=[MAN_UTD])) as (urls, seen):
        snap = fetch_betfair(config(), CAPTURED, ["E0", "X1"], **urls)
    assert seen[0].json()["params"]["filter"]["competitionIds"] == ["10932509"]
    assert snap.notes == (
        "betfair: league X1 has no betfair competition id in configs/sources.yaml leagues",
    )
    with stand_in(betfair()) as (urls, seen):
        snap = fetch_betfair(config(), CAPTURED, ["X1"], **urls)
    assert seen == [] and snap.notes[-1] == "betfair: no league to read"


def test_many_markets_are_read_forty_books_a_request() -> None:
    catalogue = [
        catalogue_entry(
            f"1.25{i:04d}", "Arsenal", "Chelsea", start=f"2025-09-{1 + i % 28:02d}T14:00:00.000Z"
        )
        for i in range(45)
    ]
    books = {m["marketId"]: market_book(m) for m in catalogue}
    with stand_in(betfair(catalogue=catalogue, books=books)) as (urls, seen):
        snap = fetch_betfair(config(max_results=45), CAPTURED, **urls)
    sizes = [len(r.json()["params"]["marketIds"]) for r in seen[1:]]
    assert sizes == [40, 5]
    assert len(snap.fixtures) == 28 and len(snap.set_aside) == 17  # one market a match
    assert "as many as betfair.max_results asks for" in snap.notes[0]


def test_the_environment_can_point_the_client_at_a_stand_in(
    environment: pytest.MonkeyPatch,
) -> None:
    with stand_in(betfair()) as (urls, seen):
        environment.setenv("SABISCORE_BETFAIR_API_URL", urls["api_url"])
        snap = fetch_betfair(config(), CAPTURED)
    assert len(seen) == 2 and len(snap.odds) == 3
