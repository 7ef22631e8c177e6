"""The service's parts on their own, in-process and fast: settings, the push hub, the
revalidator, Sentry's filter and the error handling of the FastAPI app. No model needed."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
import sentry_sdk
from fastapi.testclient import TestClient
from sentry_sdk.transport import Transport

from bentos.app import create_app, describe_errors
from bentos.errors import NotFound
from bentos.hub import CLOSE_TOO_SLOW, EdgeHub
from bentos.observability import init_sentry, is_client_error, scrub
from bentos.revalidate import Revalidator
from bentos.settings import (
    DEFAULT_SECRET,
    CalibrationThresholds,
    PushSettings,
    RevalidationSettings,
    ServingSettings,
)
from bentos.state import sharp_reference
from sabiscore.config import load_config
from sabiscore.staking import StakingPolicy

SECRET = "s3cret-for-the-tests-7c1e"


# --- settings ---------------------------------------------------------------------------------


def settings(**environ: str) -> ServingSettings:
    return ServingSettings.from_config(load_config(), environ)


def test_production_refuses_the_default_secret() -> None:
    token = "api-token-of-the-parts-tests-3b8e1c57"  # production: the API token is required too
    with pytest.raises(ValueError, match="default revalidation secret"):
        settings(SABISCORE_ENV="production", SABISCORE_API_TOKEN=token)
    with pytest.raises(ValueError, match="default revalidation secret"):
        settings(SABISCORE_ENV="production", REVALIDATE_SECRET=DEFAULT_SECRET)
    strong = f"{SECRET}-long-enough"  # at least auth.min_secret_length (tests/bentos/test_auth.py)
    assert (
        settings(
            SABISCORE_ENV="production", REVALIDATE_SECRET=strong, SABISCORE_API_TOKEN=token
        ).environment
        == "production"
    )
    assert settings().revalidation.secret == DEFAULT_SECRET  # development: the default is fine


def test_settings_come_from_the_environment_and_hide_the_secret() -> None:
    s = settings(
        NEXT_URL="http://site:3000/",
        REVALIDATE_SECRET=SECRET,
        SENTRY_DSN="http://k@h/1",
        MLFLOW_TRACKING_URI="http://mlflow:5000",
        SABISCORE_DATA_DIR="/tmp/x",
    )
    assert s.revalidation.url == "http://site:3000/api/revalidate"
    assert s.revalidation.timeout_s == 5 and s.revalidation.retries >= 1
    assert s.tracking_uri == "http://mlflow:5000" and str(s.data_dir) == "/tmp/x"
    assert s.sentry.dsn == "http://k@h/1" and s.sentry.environment == "development"
    assert SECRET not in repr(s) and "http://k@h/1" not in repr(s)
    assert settings(SABISCORE_DATA_DIR="/d").tracking_uri == "sqlite:////d/mlflow.db"
    assert settings().revalidation.url is None  # no NEXT_URL: revalidation off


def test_implied_method_can_be_overridden_for_serving() -> None:
    config = load_config()
    config["serving"]["edge"]["implied_method"] = "shin"
    assert str(ServingSettings.from_config(config, {}).staking.implied_method) == "shin"
    assert str(settings().staking.implied_method) == config["staking"]["implied_method"]


def test_the_sharp_check_is_staking_yamls_and_not_overridden_for_serving() -> None:
    config = load_config()
    staking = settings().staking
    assert list(staking.sharp_books) == config["staking"]["sharp_books"]
    assert staking.sharp_tolerance == config["staking"]["sharp_tolerance"]
    config["serving"]["edge"]["sharp_books"] = ["bet365"]  # misplaced: refused, not ignored
    with pytest.raises(
        ValueError,
        match=r"unknown serving edge keys: \['sharp_books'\].*"
        r"configs/staking.yaml",
    ):
        ServingSettings.from_config(config, {})


@pytest.mark.parametrize(
    ("books", "sharp_books", "bookmaker", "note"),
    [
        (
            ["bet365", "market_avg", "pinnacle"],
            ("pinnacle", "market_avg"),
            "pinnacle",
            "pinnacle: first of sharp_books sent (pinnacle, market_avg)",
        ),
        (
            ["bet365", "market_avg"],
            ("pinnacle", "market_avg"),
            "market_avg",
            "market_avg: first of sharp_books sent (pinnacle, market_avg)",
        ),
        (
            ["bet365"],
            ("pinnacle", "market_avg"),
            None,
            "no book of sharp_books (pinnacle, market_avg) sent: bets rest on the model's edge "
            "alone",
        ),
        (["pinnacle"], (), None, "sharp_books is empty: bets rest on the model's edge alone"),
    ],
)
def test_the_sharp_reference_says_which_book_and_why(
    books: list[str], sharp_books: tuple[str, ...], bookmaker: str | None, note: str
) -> None:
    policy = StakingPolicy(sharp_books=sharp_books, sharp_tolerance=0.01)
    reference = sharp_reference(dict.fromkeys(books), policy)
    assert reference.model_dump() == {
        "bookmaker": bookmaker,
        "sharp_books": list(sharp_books),
        "tolerance_percentage": 1.0,
        "note": note,
    }


@pytest.mark.parametrize(
    ("ece", "status"),
    [
        (0.0, "excellent"),
        (0.02, "excellent"),
        (0.03, "good"),
        (0.05, "fair"),
        (0.2, "poor"),
        (None, "poor"),
        (float("nan"), "poor"),
    ],
)
def test_calibration_status_from_holdout_ece(ece: float | None, status: str) -> None:
    assert CalibrationThresholds(0.02, 0.04, 0.07).status(ece) == status


def test_cli_serve_refuses_production_with_the_default_secret() -> None:
    env = {"PATH": "/usr/bin:/bin", "SABISCORE_ENV": "production"}
    out = subprocess.run(
        [sys.executable, "-m", "cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "default revalidation secret" in out.stderr and "Traceback" not in out.stderr


def test_websocket_compression_follows_the_config(tmp_path, monkeypatch) -> None:
    """BentoML builds uvicorn's Config without WebSocket options; bentos.service makes
    permessage-deflate follow serving.push.compression (off by default)."""
    import uvicorn

    import bentos.service

    monkeypatch.delenv("SABISCORE_CONFIG", raising=False)
    assert uvicorn.Config is bentos.service._Config
    assert uvicorn.Config(app=create_app()).ws_per_message_deflate is False
    override = tmp_path / "on.yaml"
    override.write_text("serving:\n  push:\n    compression: true\n")
    monkeypatch.setenv("SABISCORE_CONFIG", str(override))
    assert uvicorn.Config(app=create_app()).ws_per_message_deflate is True
    # A caller that names the option gets it.
    assert (
        uvicorn.Config(app=create_app(), ws_per_message_deflate=False).ws_per_message_deflate
        is False
    )


def test_opentelemetry_follows_the_config(tmp_path, monkeypatch) -> None:
    """Off by default: no route goes through BentoML's tracing; on: all but the WebSocket."""
    from opentelemetry.util.http import ExcludeList

    from bentos.service import traced_urls_excluded

    monkeypatch.delenv("SABISCORE_CONFIG", raising=False)
    excluded = ExcludeList(traced_urls_excluded())
    assert excluded.url_disabled("http://127.0.0.1:3000/predict")
    assert excluded.url_disabled("http://127.0.0.1:3000/ws/edge/m1")
    override = tmp_path / "on.yaml"
    override.write_text("serving:\n  opentelemetry: true\n")
    monkeypatch.setenv("SABISCORE_CONFIG", str(override))
    excluded = ExcludeList(traced_urls_excluded())
    assert not excluded.url_disabled("http://127.0.0.1:3000/predict")
    assert excluded.url_disabled("http://127.0.0.1:3000/ws/edge/m1")


# --- the push hub -----------------------------------------------------------------------------


class FakeSocket:
    """A WebSocket whose client reads at once, never (`stuck`), or leaves (`leave`)."""

    def __init__(self, stuck: bool = False) -> None:
        self.sent: list[tuple[float, dict]] = []
        self.closed: tuple[int, str | None] | None = None
        self.incoming: asyncio.Queue[dict] = asyncio.Queue()
        self.stuck = stuck

    async def send_text(self, data: str) -> None:
        if self.stuck:
            await asyncio.Event().wait()
        self.sent.append((time.perf_counter(), json.loads(data)))

    async def receive(self) -> dict:
        return await self.incoming.get()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason)
        self.leave()

    def leave(self) -> None:
        self.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})


async def _current() -> str:
    return json.dumps({"type": "edge", "n": 0})


async def _until(condition: Any, timeout: float = 2.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        assert time.perf_counter() < deadline, "timed out"
        await asyncio.sleep(0.005)


def test_subscribers_get_the_current_message_then_every_update() -> None:
    async def scenario() -> None:
        hub = EdgeHub(PushSettings(heartbeat_s=10, queue_size=8, send_timeout_s=1))
        sockets = [FakeSocket() for _ in range(3)]
        tasks = [asyncio.create_task(hub.serve("m1", s, _current)) for s in sockets]
        await _until(lambda: all(s.sent for s in sockets))
        for n in (1, 2):
            assert hub.publish("m1", {"type": "edge", "n": n}) == 3
        hub.publish("other", {"type": "edge", "n": 99})  # another match: not theirs
        await _until(lambda: all(len(s.sent) == 3 for s in sockets))
        assert [[m["n"] for _, m in s.sent] for s in sockets] == [[0, 1, 2]] * 3
        for s in sockets:
            s.leave()
        await asyncio.gather(*tasks)
        assert hub.subscriber_count() == 0  # cleaned up on disconnect

    asyncio.run(scenario())


def test_a_late_subscriber_starts_from_the_latest_published_message() -> None:
    async def scenario() -> None:
        hub = EdgeHub(PushSettings())
        hub.publish("m1", {"type": "edge", "n": 7})
        socket = FakeSocket()
        task = asyncio.create_task(hub.serve("m1", socket, _current))
        await _until(lambda: socket.sent)
        assert socket.sent[0][1]["n"] == 7
        socket.leave()
        await task

    asyncio.run(scenario())


def test_a_stuck_client_never_delays_the_others_and_is_dropped() -> None:
    async def scenario() -> None:
        hub = EdgeHub(PushSettings(heartbeat_s=10, queue_size=2, send_timeout_s=0.3))
        stuck, fast = FakeSocket(stuck=True), FakeSocket()
        tasks = [asyncio.create_task(hub.serve("m1", s, _current)) for s in (stuck, fast)]
        await _until(lambda: fast.sent)
        published = time.perf_counter()
        for n in range(1, 6):
            hub.publish("m1", {"type": "edge", "n": n})  # returns at once, whatever the client
            await asyncio.sleep(0.002)  # the fast client keeps up; the stuck one cannot
        await _until(lambda: len(fast.sent) == 6)
        assert fast.sent[-1][0] - published < 0.1
        assert [m["n"] for _, m in fast.sent] == [0, 1, 2, 3, 4, 5]
        stuck_subscriber = next(s for s in hub._subscribers["m1"] if s.socket is stuck)
        assert stuck_subscriber.queue.qsize() == 2 and stuck_subscriber.dropped == 3
        await _until(lambda: stuck.closed is not None)
        assert stuck.closed[0] == CLOSE_TOO_SLOW
        await _until(lambda: hub.subscriber_count("m1") == 1)
        hub.publish("m1", {"type": "edge", "n": 6})
        await _until(lambda: len(fast.sent) == 7)
        fast.leave()
        await asyncio.gather(*tasks)
        assert hub.subscriber_count() == 0

    asyncio.run(scenario())


def test_idle_subscribers_get_heartbeats() -> None:
    async def scenario() -> None:
        hub = EdgeHub(PushSettings(heartbeat_s=0.05, queue_size=4, send_timeout_s=1))
        socket = FakeSocket()
        task = asyncio.create_task(hub.serve("m1", socket, _current))
        await _until(lambda: len(socket.sent) >= 3)
        assert [m["type"] for _, m in socket.sent[:3]] == ["edge", "heartbeat", "heartbeat"]
        socket.leave()
        await task

    asyncio.run(scenario())


def test_a_failing_current_message_unsubscribes() -> None:
    async def scenario() -> None:
        async def unknown() -> str:
            raise NotFound("unknown match_id 'x'")

        hub = EdgeHub(PushSettings())
        with pytest.raises(NotFound):
            await hub.serve("x", FakeSocket(), unknown)
        assert hub.subscriber_count() == 0

    asyncio.run(scenario())


# --- revalidation -----------------------------------------------------------------------------


class FakeSite:
    """The Next.js site behind an httpx MockTransport: answers from a script of statuses
    ("timeout" raises a read timeout) and records what it was sent and how many at once."""

    def __init__(self, *script: int | str, delay: float = 0.0) -> None:
        self.script = list(script)
        self.delay = delay
        self.received: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            self.received.append({"url": str(request.url), **json.loads(request.content)})
            status = self.script.pop(0) if self.script else 200
            if status == "timeout":
                raise httpx.ReadTimeout("timed out", request=request)
            return httpx.Response(int(status), json={"revalidated": status == 200})
        finally:
            self.in_flight -= 1


def revalidator(site: FakeSite, failures: list[str], **overrides: Any) -> Revalidator:
    options = {"timeout_s": 5, "retries": 2, "backoff_s": 0.001, "debounce_s": 0.0, **overrides}
    config = RevalidationSettings(next_url="http://site.test", secret=SECRET, **options)
    client = httpx.AsyncClient(transport=httpx.MockTransport(site))
    return Revalidator(config, client=client, on_failure=failures.append)


def test_revalidation_posts_the_secret_and_the_match_path() -> None:
    site, failures = FakeSite(), []

    async def scenario() -> None:
        reval = revalidator(site, failures)
        reval.schedule("e0-20240817-arsenal-chelsea")
        await reval.wait_idle()
        await reval.close()

    asyncio.run(scenario())
    assert site.received == [
        {
            "url": "http://site.test/api/revalidate",
            "secret": SECRET,
            "path": "/match/e0-20240817-arsenal-chelsea",
        }
    ]
    assert failures == []


def test_revalidation_retries_server_errors_and_timeouts() -> None:
    site, failures = FakeSite(500, "timeout", 200), []

    async def scenario() -> bool:
        reval = revalidator(site, failures)
        ok = await reval.revalidate("m1")
        await reval.close()
        return ok

    assert asyncio.run(scenario()) is True
    assert len(site.received) == 3 and failures == []


def test_a_revalidation_that_keeps_failing_is_reported_without_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    site, failures = FakeSite(500, 500, 500, 500), []
    caplog.set_level(logging.DEBUG)

    async def scenario() -> bool:
        reval = revalidator(site, failures)
        ok = await reval.revalidate("m1")  # never raises
        assert reval.failures == 1 and reval.calls == 3  # the first try and 2 retries
        await reval.close()
        return ok

    assert asyncio.run(scenario()) is False
    assert failures == ["ISR revalidation of /match/m1 failed: HTTP 500"]
    assert "/match/m1" in caplog.text and SECRET not in caplog.text


def test_a_client_error_is_not_retried() -> None:
    site, failures = FakeSite(401), []

    async def scenario() -> None:
        reval = revalidator(site, failures)
        await reval.revalidate("m1")
        await reval.close()

    asyncio.run(scenario())
    assert len(site.received) == 1 and failures == [
        "ISR revalidation of /match/m1 failed: HTTP 401"
    ]


def test_one_call_in_flight_per_match_and_bursts_coalesce() -> None:
    site, failures = FakeSite(delay=0.05), []

    async def scenario() -> None:
        reval = revalidator(site, failures)
        for _ in range(5):  # a burst while the first call is in flight
            reval.schedule("m1")
            await asyncio.sleep(0.005)
        reval.schedule("m2")
        await reval.wait_idle()
        await reval.close()

    asyncio.run(scenario())
    paths = [r["path"] for r in site.received]
    assert paths.count("/match/m1") == 2  # the first, then one for the whole burst
    assert paths.count("/match/m2") == 1
    assert site.max_in_flight == 2  # one per match


def test_revalidation_is_bounded_in_calls_at_once_and_in_matches_waiting() -> None:
    """Issue 12: 1,000 distinct matches posted made 1,000 calls at once, PoolTimeouts and a
    stalled event loop. Now at most `max_in_flight` calls at once and `max_pending` matches
    waiting; beyond that a match is dropped and counted, and `schedule` never waits."""
    site, failures = FakeSite(delay=0.02), []

    async def scenario() -> Revalidator:
        reval = revalidator(site, failures, max_in_flight=3, max_pending=10)
        started = asyncio.get_running_loop().time()
        for i in range(50):
            reval.schedule(f"m{i}")
        assert asyncio.get_running_loop().time() - started < 0.05  # returned at once
        assert reval.pending == 10 and reval.dropped == 40
        reval.schedule("m0")  # waiting already: coalesced, not dropped
        assert reval.coalesced == 1 and reval.dropped == 40
        await reval.wait_idle()
        await reval.close()
        return reval

    reval = asyncio.run(scenario())
    assert sorted(r["path"] for r in site.received) == sorted(f"/match/m{i}" for i in range(10))
    assert site.max_in_flight == 3 and failures == [] and reval.calls == 10


def test_a_hanging_site_holds_only_the_workers() -> None:
    """Calls to a site that never answers time out; the queue stays bounded meanwhile."""
    site, failures = FakeSite("timeout", "timeout", "timeout", "timeout"), []

    async def scenario() -> Revalidator:
        reval = revalidator(site, failures, retries=0, max_in_flight=2, max_pending=5)
        for i in range(4):
            reval.schedule(f"m{i}")
        await reval.wait_idle()
        await reval.close()
        return reval

    reval = asyncio.run(scenario())
    assert reval.failures == 4 and len(failures) == 4 and site.max_in_flight <= 2


@pytest.mark.parametrize(
    "section, values, words",
    [
        ("revalidation", {"max_in_flight": 0}, "max_in_flight"),
        ("revalidation", {"max_pending": True}, "max_pending"),
        ("tracking", {"max_matches": 0}, "tracking.max_matches"),
        ("tracking", {"expire_after_kickoff_h": -1}, "expire_after_kickoff_h"),
        ("tracking", {"max_match": 5}, "unknown serving tracking keys: ['max_match']"),
        ("predict", {"max_body_bytes": 0}, "max_body_bytes"),
    ],
)
def test_bounds_of_the_service_are_checked(section: str, values: dict, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        ServingSettings.from_config({"serving": {section: values}}, {})


def test_revalidation_is_off_without_next_url() -> None:
    reval = Revalidator(RevalidationSettings(next_url=None, secret=SECRET))
    reval.schedule("m1")  # no event loop needed: nothing is scheduled
    assert not reval.enabled and reval.calls == 0


# --- errors and Sentry ------------------------------------------------------------------------


def test_describe_errors_says_where_and_what() -> None:
    errors = [
        {
            "type": "json_invalid",
            "loc": ("body", 3),
            "msg": "JSON decode error",
            "ctx": {"error": "Expecting value"},
        }
    ]
    assert describe_errors(errors) == "malformed JSON: Expecting value"


def test_scrub_replaces_the_secret_anywhere() -> None:
    event = {
        "message": f"failed with {SECRET}",
        "extra": {"body": {"secret": "x", "n": 1}},
        "breadcrumbs": [{"data": {"text": f"a{SECRET}b"}}],
    }
    scrubbed = scrub(event, [SECRET])
    assert SECRET not in json.dumps(scrubbed)
    assert scrubbed["extra"]["body"] == {"secret": "[Filtered]", "n": 1}


class CapturingTransport(Transport):
    """Sentry envelopes kept in memory: nothing leaves the machine."""

    def __init__(self, options: dict | None = None) -> None:
        super().__init__(options)
        self.envelopes: list = []

    def capture_envelope(self, envelope: Any) -> None:
        self.envelopes.append(envelope)

    def events(self) -> list[dict]:
        return [
            item.payload.json
            for env in self.envelopes
            for item in env.items
            if item.type == "event"
        ]


class ExplodingRuntime:
    """Stands in for the service's runtime: /odds fails with the secret in the message."""

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def post_odds(self, update: Any) -> Any:
        raise RuntimeError(f"lost the connection while using {SECRET}")

    async def post_odds_fresh(self, update: Any) -> Any:
        return self.post_odds(update)


@pytest.fixture
def sentry_events():
    transport = CapturingTransport()
    init_sentry(
        "http://public@127.0.0.1:9/1",
        environment="test",
        traces_sample_rate=0.0,
        release="sabiscore-ensemble@1.0.0",
        secrets=[SECRET],
        transport=transport,
    )
    try:
        yield transport
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # back to no client


def test_sentry_captures_an_endpoint_error_scrubbed_and_drops_client_errors(
    sentry_events: CapturingTransport,
) -> None:
    app = create_app()
    app.state.runtime = ExplodingRuntime()
    body = {"league": "E0", "home_team": "A", "away_team": "B", "match_id": "m1"}
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.post("/odds", json=body)
        assert answer.status_code == 500 and SECRET not in answer.text
        assert "Traceback" not in answer.text
        assert client.get("/no/such/path").status_code == 404
        assert client.post("/odds", json={"league": "E0"}).status_code == 400
    sentry_sdk.flush()
    events = sentry_events.events()
    assert len(events) == 1, [e.get("exception") for e in events]
    event = events[0]
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["release"] == "sabiscore-ensemble@1.0.0" and event["environment"] == "test"
    assert SECRET not in json.dumps(event) and "[Filtered]" in json.dumps(event)


def test_before_send_knows_client_errors() -> None:
    from starlette.exceptions import HTTPException

    not_found = HTTPException(404)
    assert is_client_error({}, {"exc_info": (type(not_found), not_found, None)})
    assert is_client_error({"contexts": {"response": {"status_code": 404}}}, {})
    boom = RuntimeError("x")
    assert not is_client_error({}, {"exc_info": (RuntimeError, boom, None)})


# --- the FastAPI app without a runtime ------------------------------------------------------


def test_the_app_answers_503_until_a_runtime_is_attached() -> None:
    with TestClient(create_app()) as client:
        assert client.get("/healthz").json() == {"status": "alive"}
        answer = client.get("/readyz")
        assert answer.status_code == 503 and "starting" in answer.json()["error"]


@pytest.mark.parametrize(
    "module",
    [
        "bentos.auth",
        "bentos.bodies",
        "bentos.errors",
        "bentos.schemas",
        "bentos.settings",
        "bentos.app",
    ],
)
def test_doctests(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0
