"""Against a real `sabiscore serve` (= `bentoml serve`) process on loopback: HTTP answers, a
`websockets` client receiving pushes, a local HTTP receiver standing in for the Next.js site
(revalidation) and for Sentry (envelopes), a reload after a promotion, and the alias watcher.
Nothing leaves the machine."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.bentos.conftest import BOOKS, KICKOFF, LEAGUE, copy_store, promote_copy
from tests.bentos.live import FakeSite, Server, server_env, serving, until

pytestmark = [pytest.mark.server, pytest.mark.slow]

SECRET = "site-secret-for-the-server-tests-41d9"
TOKEN = "api-token-for-the-server-tests-c3a06b92"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OVERRIDES = {
    "serving": {
        "model": {"watch_interval_s": 1},
        "revalidation": {"timeout_s": 0.5, "retries": 1, "backoff_s": 0.05, "debounce_s": 0.05},
        "push": {"heartbeat_s": 1.5},
        # the synthetic league's kick-offs are in 2022: long expired by the wall clock
        "tracking": {"expire_after_kickoff_h": None},
        "cors": {"allow_origins": ["http://site.example:3001"]},
    }
}
SITE_ORIGIN = "http://site.example:3001"


@pytest.fixture(scope="module")
def site() -> Iterator[FakeSite]:
    with FakeSite().running() as site:
        yield site


@pytest.fixture(scope="module")
def server(champion_store: Path, site: FakeSite, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("server")
    store = copy_store(champion_store, root / "store")
    env = server_env(NEXT_URL=site.url, REVALIDATE_SECRET=SECRET, SABISCORE_API_TOKEN=TOKEN,
                     SENTRY_DSN=f"http://public@127.0.0.1:{site.server_address[1]}/1")
    with serving(store, root, OVERRIDES, env) as server:
        yield server


@pytest.fixture(scope="module")
def teams(server: Server) -> list[str]:
    return httpx.get(f"{server.url}/teams").json()["leagues"][0]["teams"]


def match(teams: list[str], **extra: object) -> dict:
    return {"league": LEAGUE, "home_team": teams[0], "away_team": teams[1], **extra}


# --- the tests --------------------------------------------------------------------------------


def test_predict_and_edge_over_http(server: Server, teams: list[str]) -> None:
    ready = httpx.get(f"{server.url}/readyz").json()
    assert ready["model"]["version"] == "1" and ready["model"]["semver"] == "1.0.0"
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "alive"}
    predicted = httpx.post(f"{server.url}/predict", json=match(teams, odds=BOOKS))
    assert predicted.status_code == 200, predicted.text
    p = predicted.json()
    total = p["home_win_probability"] + p["draw_probability"] + p["away_win_probability"]
    assert total == pytest.approx(1.0) and p["model_version"] == "1"
    edge = httpx.post(f"{server.url}/edge", json=match(teams, kickoff=KICKOFF, odds=BOOKS))
    assert edge.status_code == 200, edge.text
    outcomes = edge.json()["outcomes"]
    assert [o["best_odds"] for o in outcomes] == [2.10, 3.50, 3.60]
    assert sum(o["kelly_stake_percentage"] for o in outcomes) <= 5.0 + 1e-9
    batch = httpx.post(f"{server.url}/predict_batch", json={"matches": [match(teams)] * 3})
    assert len(batch.json()["predictions"]) == 3


def test_bad_input_over_http(server: Server, teams: list[str]) -> None:
    cases = [
        ("/predict", b'{"league": "SY1", ', 400),
        ("/predict", json.dumps(match(teams, home_team="Nobody")).encode(), 422),
        ("/edge", json.dumps(match(teams, odds={"x": {"home": 1, "draw": 2, "away": 3}})).encode(),
         400),
        ("/odds", b"[]", 400),
        ("/predict_batch", json.dumps({"matches": [match(teams)] * 101}).encode(), 413),
    ]
    for path, body, status in cases:
        answer = httpx.post(f"{server.url}{path}", content=body,
                            headers={"content-type": "application/json", **AUTH})
        assert answer.status_code == status, (path, answer.text)
        assert answer.json()["error"] and "Traceback" not in answer.text

    async def unknown_match() -> int:
        async with connect(f"{server.ws_url}/ws/edge/no-such-match") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        return closed.value.rcvd.code

    assert asyncio.run(unknown_match()) == 4404


def test_a_price_change_is_pushed_and_the_page_revalidated(
    server: Server, site: FakeSite, teams: list[str]
) -> None:
    site.mode = "ok"

    async def scenario() -> tuple[str, dict, dict, dict]:
        async with httpx.AsyncClient(base_url=server.url, headers=AUTH) as client:
            first = await client.post("/odds", json=match(teams, kickoff=KICKOFF, odds=BOOKS))
            match_id = first.json()["match_id"]
            async with connect(f"{server.ws_url}/ws/edge/{match_id}") as ws:
                # The client offered permessage-deflate (as browsers do); the server declined
                # it (serving.push.compression: false).
                assert "permessage-deflate" in ws.request.headers["Sec-WebSocket-Extensions"]
                assert "Sec-WebSocket-Extensions" not in ws.response.headers
                assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == first.json()
                moved = {**BOOKS, "bet365": {"home": 2.4, "draw": 3.5, "away": 3.5}}
                posted = await client.post("/odds", json={"match_id": match_id,
                                                          **match(teams, odds=moved)})
                pushed = json.loads(await asyncio.wait_for(ws.recv(), 5))
                heartbeat = json.loads(await asyncio.wait_for(ws.recv(), 5))
        return match_id, posted.json(), pushed, heartbeat

    match_id, posted, pushed, heartbeat = asyncio.run(scenario())
    assert pushed == posted
    assert pushed["edge"]["outcomes"][0]["best_odds"] == 2.4
    assert pushed["edge"]["outcomes"][0]["bookmaker"] == "bet365"
    assert heartbeat["type"] == "heartbeat"
    path = f"/match/{match_id}"
    until(lambda: any(r["path"] == path for r in site.revalidations))
    calls = [r for r in site.revalidations if r["path"] == path]
    assert calls[0] == {"endpoint": "/api/revalidate", "mode": "ok", "secret": SECRET,
                        "path": path}


def test_a_failing_site_never_stops_pushes(
    server: Server, site: FakeSite, teams: list[str]
) -> None:
    async def push_once(match_id: str, home: float) -> float:
        async with httpx.AsyncClient(base_url=server.url, headers=AUTH) as client:
            await client.post("/odds", json={"match_id": match_id, **match(teams, odds=BOOKS)})
            async with connect(f"{server.ws_url}/ws/edge/{match_id}") as ws:
                await asyncio.wait_for(ws.recv(), 5)  # the current edge
                odds = {**BOOKS, "pinnacle": {"home": home, "draw": 3.4, "away": 3.6}}
                started = time.perf_counter()
                await client.post("/odds", json={"match_id": match_id, **match(teams, odds=odds)})
                pushed = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert pushed["edge"]["outcomes"][0]["best_odds"] == home
                return time.perf_counter() - started

    for mode in ("500", "hang"):
        site.mode = mode
        path = f"/match/failing-{mode}"
        seconds = asyncio.run(push_once(f"failing-{mode}", 2.7))
        assert seconds < 1.0, f"a push waited {seconds:.2f} s on a site answering {mode}"
        # reported once the first call and its retry have failed
        until(lambda path=path: any(f"of {path} failed" in e for e in site.envelopes), 15)
        attempts = [r["mode"] for r in site.revalidations if r["path"] == path]
        assert len(attempts) >= 2 and set(attempts) == {mode}
    site.mode = "ok"
    reported = [e for e in site.envelopes if "ISR revalidation of /match/failing-" in e]
    assert '"release":"sabiscore-ensemble@1.0.0"' in reported[0].replace(" ", "")
    assert all(SECRET not in e for e in site.envelopes)


def test_reload_after_a_promotion_then_the_alias_watcher(server: Server) -> None:
    from bentos.settings import tracking_uri
    from models.registry import ModelRegistry

    version = promote_copy(server.store)
    reloaded = httpx.post(f"{server.url}/reload", json={"version": version}, headers=AUTH,
                          timeout=60)
    assert reloaded.status_code == 200, reloaded.text
    assert reloaded.json()["model"]["version"] == version
    assert httpx.get(f"{server.url}/readyz").json()["model"]["version"] == version

    ModelRegistry(tracking_uri(server.store)).rollback()  # nobody tells the service
    until(lambda: httpx.get(f"{server.url}/readyz").json()["model"]["version"] == "1", 30)


def test_writes_need_the_token_over_http(server: Server, teams: list[str]) -> None:
    """The rule holds on the real server too, where BentoML builds the app and its middleware."""
    body = {"match_id": "no-token", **match(teams, odds=BOOKS)}
    missing = httpx.post(f"{server.url}/odds", json=body)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = httpx.post(f"{server.url}/reload", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    assert wrong.json() == {"error": "the token sent is not the service's"}
    assert httpx.post(f"{server.url}/predict", json=match(teams)).status_code == 200  # reads open
    assert httpx.post(f"{server.url}/odds", json=body, headers=AUTH).status_code == 200


def test_the_secret_is_never_logged(server: Server) -> None:
    log = server.log.read_text()
    assert "sabiscore" in log  # the service did log
    assert SECRET not in log and TOKEN not in log


def test_the_sites_origin_may_call_from_a_browser_and_no_other(server: Server) -> None:
    """CORS (serving.cors): a preflight from the site's origin is allowed, with the bearer
    header, before the token rule; another origin gets no allowance; a plain read from the
    site carries its origin back."""
    preflight = {"Origin": SITE_ORIGIN, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"}
    allowed = httpx.options(f"{server.url}/fixtures", headers=preflight)
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["access-control-allow-origin"] == SITE_ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    other = httpx.options(f"{server.url}/fixtures",
                          headers={**preflight, "Origin": "http://evil.example"})
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    read = httpx.get(f"{server.url}/models", headers={"Origin": SITE_ORIGIN})
    assert read.status_code == 200
    assert read.headers["access-control-allow-origin"] == SITE_ORIGIN
    elsewhere = httpx.get(f"{server.url}/healthz", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in elsewhere.headers
