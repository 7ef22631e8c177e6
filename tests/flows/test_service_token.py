"""The flows' calls to the service (odds push, reload notification) carry its API token from
$SABISCORE_API_TOKEN when it is set, and nothing when it is not, against a stand-in service that
answers as the real one does: 401 without the token, 403 with a wrong one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prefect import flow

from flows.odds_refresh import push_prices
from tasks.registry import notify_serving

TOKEN = "api-token-of-the-flow-tests-0e6d93ab"
MESSAGES = [{"match_id": "m1", "league": "SY1"}, {"match_id": "m2", "league": "SY1"}]


@pytest.fixture
def service() -> Iterator[tuple[str, list[str | None]]]:
    """Records each request's Authorization header; refuses any but `Bearer TOKEN`."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            sent = self.headers.get("Authorization")
            seen.append(sent)
            self.send_response(200 if sent == f"Bearer {TOKEN}" else 403 if sent else 401)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@flow
def push(url: str) -> tuple[int, int]:
    return push_prices(url, MESSAGES, 5)


def test_the_odds_push_sends_the_token_when_set(service, monkeypatch) -> None:
    url, seen = service
    monkeypatch.setenv("SABISCORE_API_TOKEN", TOKEN)
    assert push(f"{url}/odds") == (2, 0)
    assert seen == [f"Bearer {TOKEN}"] * 2
    monkeypatch.delenv("SABISCORE_API_TOKEN")
    assert push(f"{url}/odds") == (0, 2), "no token: nothing sent, the service refuses"
    assert seen[2:] == [None, None]


def test_the_reload_notice_sends_the_token_when_set(service, monkeypatch, capsys) -> None:
    url, seen = service
    monkeypatch.setenv("SABISCORE_API_TOKEN", f" {TOKEN}\n")  # as read from a file
    assert notify_serving.fn(f"{url}/reload", {"version": "2"}) is True
    monkeypatch.setenv("SABISCORE_API_TOKEN", "not-the-token")
    assert notify_serving.fn(f"{url}/reload", {"version": "2"}) is False
    monkeypatch.delenv("SABISCORE_API_TOKEN")
    assert notify_serving.fn(f"{url}/reload", {"version": "2"}) is False
    assert seen == [f"Bearer {TOKEN}", "Bearer not-the-token", None]
    printed = capsys.readouterr().out
    assert "set SABISCORE_API_TOKEN" in printed and "not-the-token" not in printed
