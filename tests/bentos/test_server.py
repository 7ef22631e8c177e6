"""Against a real `sabiscore serve` (= `bentoml serve`) process on loopback: HTTP answers, a
`websockets` client receiving pushes, a local HTTP receiver standing in for the Next.js site
(revalidation) and for Sentry (envelopes), a reload after a promotion, and the alias watcher.
Nothing leaves the machine."""

from __future__ import annotations

import asyncio
import json
import re
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
    env = server_env(
        NEXT_URL=site.url,
        REVALIDATE_SECRET=SECRET,
        SABISCORE_API_TOKEN=TOKEN,
        SENTRY_DSN=f"http://public@127.0.0.1:{site.server_address[1]}/1",
    )
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
        (
            "/edge",
            json.dumps(match(teams, odds={"x": {"home": 1, "draw": 2, "away": 3}})).encode(),
            400,
        ),
        ("/odds", b"[]", 400),
        ("/predict_batch", json.dumps({"matches": [match(teams)] * 101}).encode(), 413),
    ]
    for path, body, status in cases:
        answer = httpx.post(
            f"{server.url}{path}",
            content=body,
            headers={"content-type": "application/json", **AUTH},
        )
        assert answer.status_code == status, (path, answer.text)
        assert answer.json()["error"] and "Traceback" not in answer.text

    async def unknown_match() -> int:
        async with connect(f"{server.ws_url}/ws/edge/no-such-match") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        return closed.value.rcvd.code

    assert asyncio.run(unknown_match()) == 4404


# --- the OpenAPI document, against the server it documents ------------------------------------


def _document(server: Server) -> dict:
    answer = httpx.get(f"{server.url}/docs.json")
    assert answer.status_code == 200, answer.text
    return answer.json()


def _operations(document: dict) -> list[tuple[str, str, dict]]:
    """Every operation, `POST /odds` first: `GET /matches/{match_id}`'s example is the match
    it posts (the synthetic store has no upcoming fixture)."""
    operations = [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    return sorted(operations, key=lambda o: (o[0], o[1]) != ("post", "/odds"))


def _send(
    server: Server,
    method: str,
    path: str,
    operation: dict,
    *,
    headers: dict | None = None,
    **request: object,
) -> httpx.Response:
    """The operation's example as Swagger UI sends it: its parameters' examples in the path
    and the query, its body's example as JSON, the token where the document asks for one.
    `request` replaces parts (`params`, `json`, `content`)."""
    params = {p["name"]: p["example"] for p in operation.get("parameters", ()) if "example" in p}
    url = path.format(**{k: params.pop(k) for k in list(params) if f"{{{k}}}" in path})
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    if "example" in content and "content" not in request:
        request.setdefault("json", content["example"])
    request.setdefault("params", params)
    sent = {**(AUTH if "security" in operation else {}), **(headers or {})}
    return httpx.request(method.upper(), f"{server.url}{url}", headers=sent, timeout=60, **request)


def test_every_operations_example_is_answered_with_a_2xx(server: Server) -> None:
    """Swagger UI offered `"string"`, `additionalProp1` and prices of 0, which the service
    refuses (issue 15): each example now names the loaded model's league and teams."""
    answers = {}
    for method, path, operation in _operations(_document(server)):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        assert body is None or "example" in body, (method, path)
        for parameter in operation.get("parameters", ()):
            assert "example" in parameter or not parameter.get("required"), (path, parameter)
        answer = _send(server, method, path, operation)
        answers[method, path] = answer.status_code
        assert 200 <= answer.status_code < 300, (method, path, answer.text)
    assert len(answers) == 14 and ("get", "/matches/{match_id}") in answers


def test_the_document_names_the_service_its_version_and_its_websocket(server: Server) -> None:
    from importlib.metadata import version

    document = _document(server)
    info = document["info"]
    model = httpx.get(f"{server.url}/readyz").json()["model"]
    assert info["title"] == "SabiScore"
    assert info["version"] == (
        f"{version('sabiscore')}, model {model['name']} v{model['version']} ({model['semver']})"
    )
    for words in (
        "WS /ws/edge/{match_id}",
        "EdgeUpdate",
        '"type": "heartbeat"',
        "4404",
        "1013",
        "Bearer",
    ):
        assert words in info["description"], words
    tags = {tag["name"]: tag for tag in document["tags"]}
    assert "WS /ws/edge/{match_id}" in tags["matches"]["description"]
    operations = _operations(document)
    assert {t for _, _, o in operations for t in o["tags"]} == set(tags)  # BentoML's are gone
    assert all(
        o["summary"] and o["summary"] != path.strip("/").title() for _, path, o in operations
    )
    assert "/metrics" not in document["paths"]
    assert httpx.get(f"{server.url}/metrics").status_code == 404  # not served: not documented


def test_the_swagger_page_is_the_services_own(server: Server) -> None:
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>SabiScore API</title>" in page.text and "./docs.json" in page.text
    for gone in ("BentoML", "googletagmanager", "github"):
        assert gone not in page.text, gone
    assets = re.findall(r'(?:href|src)="\./([^"]+)"', page.text)
    assert len(assets) == 2
    assert all(httpx.get(f"{server.url}/{asset}").status_code == 200 for asset in assets)


#: A query that each GET route with parameters refuses with 400.
BAD_QUERIES = {
    "/fixtures": {"from": "17/08/2024"},
    "/value-bets": {"bankroll": -1},
    "/ledger": {"since": "yesterday"},
    "/models": {"limit": 0},
}


def _provoke(
    server: Server, method: str, path: str, operation: dict, status: int
) -> httpx.Response:
    """A request the operation should answer with `status`, made from its example."""
    example = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    example = example.get("example")
    as_json = {"content-type": "application/json"}
    if status == 401:
        return _send(server, method, path, operation, headers={"Authorization": ""})
    if status == 403:
        return _send(server, method, path, operation, headers={"Authorization": "Bearer no"})
    if status == 400 and example is not None:
        return _send(server, method, path, operation, content=b'{"league": ', headers=as_json)
    if status == 400:
        return _send(server, method, path, operation, params=BAD_QUERIES[path])
    if status == 404:
        return _send(server, method, path.replace("{match_id}", "no-such-match"), operation)
    if status == 413:
        return _send(
            server, method, path, operation, content=b" " * 1_048_577 + b"{}", headers=as_json
        )
    if status == 415:
        return _send(
            server,
            method,
            path,
            operation,
            content=b"league=E0",
            headers={"content-type": "text/plain"},
        )
    if status == 422:
        unknown = json.loads(
            json.dumps(example).replace(
                json.dumps(
                    example.get("home_team", example.get("matches", [{}])[0].get("home_team"))
                ),
                '"Nobody"',
            )
        )
        return _send(server, method, path, operation, json=unknown)
    raise AssertionError(f"no request known that gives {status}")


def test_every_documented_4xx_is_what_the_route_answers(server: Server) -> None:
    """A status documented is one the route gives, and what it gives to a bad request is
    documented: each of a route's 4xx provoked from its own example."""
    provoked = 0
    for method, path, operation in _operations(_document(server)):
        documented = {int(s) for s in operation["responses"] if s.startswith("4")}
        for status in sorted(documented):
            answer = _provoke(server, method, path, operation, status)
            assert answer.status_code == status, (method, path, status, answer.text)
            assert set(answer.json()) == {"error"}, (method, path, answer.text)
            provoked += 1
        if "requestBody" in operation:
            bad = _send(
                server,
                method,
                path,
                operation,
                content=b"[",
                headers={"content-type": "application/json"},
            )
            assert bad.status_code in documented, (method, path, bad.status_code)
    assert provoked >= 26  # the 4xx of the 14 operations


def test_a_refusal_is_one_info_line_and_no_traceback(server: Server, teams: list[str]) -> None:
    """Every 400 was logged at ERROR with a traceback, and the FastAPI routes' refusals not at
    all (issue 15): each is one INFO line, what the caller sent escaped, the token filtered."""
    before = len(server.log.read_text())
    answers = [
        httpx.post(
            f"{server.url}/predict",
            content=b'{"league": ',
            headers={"content-type": "application/json"},
        ),
        httpx.post(f"{server.url}/predict", json=match(teams, home_team="x\n[ERROR] forged")),
        httpx.get(f"{server.url}/fixtures", params={"from": "17/08/2024"}),
        httpx.get(f"{server.url}/matches/{TOKEN}"),
        httpx.post(f"{server.url}/odds", json=match(teams)),
    ]
    assert [a.status_code for a in answers] == [400, 422, 400, 404, 401]
    refusals = re.compile(r"\[INFO\] \[entry_service:sabiscore:1\] (\d{3}) (GET|POST) '(/\S*)'")
    until(lambda: len(refusals.findall(server.log.read_text()[before:])) >= len(answers))
    time.sleep(0.3)  # anything logged after them
    logged = server.log.read_text()[before:]
    assert [(int(s), m, p) for s, m, p in refusals.findall(logged)] == [
        (400, "POST", "/predict"),
        (422, "POST", "/predict"),
        (400, "GET", "/fixtures"),
        (404, "GET", "/matches/[Filtered]"),
        (401, "POST", "/odds"),
    ]
    assert "Traceback" not in logged and TOKEN not in logged
    assert not re.search(r"^\S+ \[(ERROR|WARNING)\]", logged, re.MULTILINE), logged
    assert "forged" in logged  # on the refusal's line, its newline escaped: no line forged
    assert all(re.match(r"\d{4}-\d\d-\d\dT", line) for line in logged.splitlines()), logged


#: What two answers to one request may differ in: the moment each was made.
MOMENTS = frozenset({"updated_at", "generated_at"})


def _timeless(value: object) -> object:
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k not in MOMENTS}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def test_every_documented_answer_is_the_servers_answer_to_its_example(server: Server) -> None:
    """Swagger UI showed answers built from the schemas ("string", 0; issue 15): each 200's
    example is the loaded model's answer to the operation's example request. Sent in the
    document's order (`POST /odds` first), `POST /reload` last (a reload is a new load)."""
    document = _document(server)
    operations = sorted(_operations(document), key=lambda o: (o[0], o[1]) == ("post", "/reload"))
    compared = []
    for method, path, operation in operations:
        ok = operation["responses"]["200"].get("content", {}).get("application/json")
        if ok is None:  # /livez: BentoML's plain text
            continue
        assert "example" in ok, (method, path)
        assert '"string"' not in json.dumps(ok["example"]), (method, path, ok["example"])
        answer = _send(server, method, path, operation)
        assert answer.status_code == 200, (method, path, answer.text)
        assert _timeless(answer.json()) == _timeless(ok["example"]), (method, path)
        compared.append((method, path))
    assert len(compared) == 13 and ("get", "/matches/{match_id}") in compared


#: Requests no route takes, whichever router refuses them: (method, path, status, Allow).
UNROUTED = [
    ("GET", "/nope", 404, None),  # BentoML's router
    ("GET", "/metrics", 404, None),  # BentoML's route, off
    ("GET", "/static_content/nope.js", 404, None),  # the docs' static files
    ("GET", "/predict", 405, "POST"),  # a `@bentoml.api` route
    ("POST", "/livez", 405, "GET, HEAD"),  # BentoML's probe
    ("GET", "/odds", 405, "POST"),  # the FastAPI app's routes
    ("PUT", "/teams", 405, "GET"),
    ("POST", "/docs.json", 405, "GET"),
]


@pytest.mark.parametrize(("method", "path", "status", "allow"), UNROUTED)
def test_a_request_no_route_takes_is_answered_with_what_exists(
    server: Server, method: str, path: str, status: int, allow: str | None
) -> None:
    """BentoML's router answered `Not Found` / `Method Not Allowed` in plain text, the FastAPI
    app `{"error": "Method Not Allowed"}` (issue 15): each is a JSON refusal saying what the
    path answers, or which paths exist."""
    answer = httpx.request(method, f"{server.url}{path}", headers=AUTH)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    (error,) = answer.json().values()
    assert set(answer.json()) == {"error"} and f"'{path}'" in error
    if status == 405:
        assert answer.headers["allow"] == allow and error.endswith(f"it answers {allow}")
    else:
        assert "POST /predict, POST /predict_batch" in error and "GET /teams" in error


def test_a_path_no_route_takes_is_answered_and_logged_escaped(server: Server) -> None:
    before = len(server.log.read_text())
    path = "/<script>alert(1)</script>%0A[ERROR] forged" + "a" * 300
    answer = httpx.get(f"{server.url}{path}")
    assert answer.status_code == 404 and answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert "<script>" not in answer.text and "\n" not in error
    assert error.startswith("no route GET '/%3Cscript%3Ealert%281%29%3C/script%3E%0A[ERROR]%20")
    assert "aaa'... (341 characters): the service answers" in error and len(error) < 600
    refusal = re.compile(r"\[INFO\] \[entry_service:sabiscore:1\] 404 GET '/<script>")
    until(lambda: refusal.search(server.log.read_text()[before:]))
    logged = server.log.read_text()[before:]
    assert len(refusal.findall(logged)) == 1 and "Traceback" not in logged
    assert all(re.match(r"\d{4}-\d\d-\d\dT", line) for line in logged.splitlines()), logged
    assert "aaaa'... (341 characters) from" in logged  # the path cut in the log too


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
                posted = await client.post(
                    "/odds", json={"match_id": match_id, **match(teams, odds=moved)}
                )
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
    assert calls[0] == {"endpoint": "/api/revalidate", "mode": "ok", "secret": SECRET, "path": path}


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
    reloaded = httpx.post(
        f"{server.url}/reload", json={"version": version}, headers=AUTH, timeout=60
    )
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
    preflight = {
        "Origin": SITE_ORIGIN,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    allowed = httpx.options(f"{server.url}/fixtures", headers=preflight)
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["access-control-allow-origin"] == SITE_ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    other = httpx.options(
        f"{server.url}/fixtures", headers={**preflight, "Origin": "http://evil.example"}
    )
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    read = httpx.get(f"{server.url}/models", headers={"Origin": SITE_ORIGIN})
    assert read.status_code == 200
    assert read.headers["access-control-allow-origin"] == SITE_ORIGIN
    elsewhere = httpx.get(f"{server.url}/healthz", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in elsewhere.headers


def test_every_documented_refusal_shows_what_it_says_not_string(server: Server) -> None:
    """Swagger UI showed `{"error": "string"}` for each 4xx/503: its example says the reason."""
    refusals = [
        (method, path, status, answer)
        for method, path, operation in _operations(_document(server))
        for status, answer in operation["responses"].items()
        if status[0] in "45"
    ]
    assert len(refusals) > 20
    for method, path, status, answer in refusals:
        example = answer["content"]["application/json"]["example"]
        assert example == {"error": answer["description"]}, (method, path, status)
