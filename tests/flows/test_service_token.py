"""The flows' calls to the service (odds push, reload notification) carry its API token from
$SABISCORE_API_TOKEN when it is set, and nothing when it is not, against a stand-in service that
answers as the real one does: 401 without the token, 403 with a wrong one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect import flow

from flows.odds_refresh import push_prices
from tasks.registry import notify_serving
from tests.helpers import Recorded, Reply, recording_server

TOKEN = "api-token-of-the-flow-tests-0e6d93ab"
MESSAGES = [{"match_id": "m1", "league": "SY1"}, {"match_id": "m2", "league": "SY1"}]


def _as_the_service(request: Recorded) -> Reply:
    """Answers as bentos/auth.py does (and a reload of a version that cannot load, 503)."""
    sent = request.headers.get("Authorization")
    if sent is None:
        return 401, {"error": "this endpoint needs a token"}, {}
    if sent != f"Bearer {TOKEN}":
        return 403, {"error": "the token sent is not the service's"}, {}
    if request.body and request.json().get("version") == "99":
        return 503, {"error": "could not load version 99: RESOURCE_DOES_NOT_EXIST\nforged"}, {}
    return 200, {}, {}


@pytest.fixture
def service() -> Iterator[tuple[str, list[Recorded]]]:
    """Records each request; refuses any but one with `Bearer TOKEN`."""
    with recording_server(_as_the_service) as running:
        yield running


def authorizations(seen: list[Recorded]) -> list[str | None]:
    """The Authorization header of each recorded request (None where none was sent)."""
    return [request.headers.get("Authorization") for request in seen]


@flow
def push(url: str) -> tuple[int, int]:
    return push_prices(url, MESSAGES, 5)


def test_the_odds_push_sends_the_token_when_set(service, monkeypatch) -> None:
    url, seen = service
    monkeypatch.setenv("SABISCORE_API_TOKEN", TOKEN)
    assert push(f"{url}/odds") == (2, 0)
    assert authorizations(seen) == [f"Bearer {TOKEN}"] * 2
    monkeypatch.delenv("SABISCORE_API_TOKEN")
    assert push(f"{url}/odds") == (0, 2), "no token: nothing sent, the service refuses"
    assert authorizations(seen)[2:] == [None, None]


def test_the_reload_notice_sends_the_token_when_set(service, monkeypatch, capsys) -> None:
    url, seen = service
    monkeypatch.setenv("SABISCORE_API_TOKEN", f" {TOKEN}\n")  # as read from a file
    assert notify_serving.fn(f"{url}/reload", {"version": "2"}) is True
    monkeypatch.setenv("SABISCORE_API_TOKEN", "not-the-token")
    assert notify_serving.fn(f"{url}/reload", {"version": "2"}) is False
    monkeypatch.delenv("SABISCORE_API_TOKEN")
    assert notify_serving.fn(f"{url}/reload", {"version": "2"}) is False
    assert authorizations(seen) == [f"Bearer {TOKEN}", "Bearer not-the-token", None]
    printed = capsys.readouterr().out
    assert "set SABISCORE_API_TOKEN" in printed and "not-the-token" not in printed
    assert 'the service says "the token sent is not the service\'s"' in printed


def test_the_reload_notice_says_why_the_service_refused(service, monkeypatch, capsys) -> None:
    """A reload the service answers 503 is reported with the service's reason (quoted: a
    newline in it cannot forge a line)."""
    monkeypatch.setenv("SABISCORE_API_TOKEN", TOKEN)
    assert notify_serving.fn(f"{service[0]}/reload", {"version": "99"}) is False
    (line,) = [x for x in capsys.readouterr().out.splitlines() if "could not notify" in x]
    assert "503" in line and "the service says 'could not load version 99: " in line
    assert "RESOURCE_DOES_NOT_EXIST\\nforged'" in line
