"""Issue 12's abuse and fault cases against a real `sabiscore serve`, each as the issue wrote it:
the stall sequence (1,000 POST /odds with distinct ids, then POST /reload) with /healthz
watched throughout by a process of its own, SIGTERM under load, a start that cannot load, a
store with no champion, and bad bodies over real HTTP. Loopback only."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.bentos.conftest import BOOKS, KICKOFF, LEAGUE, copy_store
from tests.bentos.live import FakeSite, server_env, serving, start, stop, wait_for

pytestmark = [pytest.mark.server, pytest.mark.slow]

TOKEN = "api-token-for-the-abuse-tests-5be1c0d7f2"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OVERRIDES = {"serving": {"tracking": {"expire_after_kickoff_h": None}}}

#: Polls /healthz every 20 ms until `stop` exists, then writes every latency (s) to `out`.
PROBE = """
import json, sys, time, pathlib, httpx
url, stop, out = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
seconds, failures = [], []
with httpx.Client(timeout=10) as client:
    while not stop.exists():
        started = time.perf_counter()
        try:
            ok = client.get(url).status_code == 200
        except httpx.HTTPError as error:
            ok = False
            failures.append(type(error).__name__)
        seconds.append(time.perf_counter() - started)
        if not ok and not failures:
            failures.append("status")
        time.sleep(0.02)
out.write_text(json.dumps({"seconds": seconds, "failures": failures}))
"""


def _teams(url: str) -> list[str]:
    return httpx.get(f"{url}/teams").json()["leagues"][0]["teams"]


def _odds(teams: list[str], match_id: str) -> dict:
    return {
        "match_id": match_id,
        "league": LEAGUE,
        "home_team": teams[0],
        "away_team": teams[1],
        "kickoff": KICKOFF,
        "odds": BOOKS,
    }


def test_the_stall_sequence_leaves_healthz_answering_within_100_ms(
    champion_store: Path, tmp_path: Path
) -> None:
    """1,000 POST /odds with distinct ids, then POST /reload, to a site that hangs: /healthz
    was unanswered for ~3 minutes, every revalidation a PoolTimeout (issue 12)."""
    with FakeSite(hang_s=2.0).running() as site:
        site.mode = "hang"
        store = copy_store(champion_store, tmp_path / "store")
        env = server_env(NEXT_URL=site.url, SABISCORE_API_TOKEN=TOKEN)
        with serving(store, tmp_path, OVERRIDES, env) as server:
            teams = _teams(server.url)
            stop_file, out = tmp_path / "stop", tmp_path / "latencies.json"
            probe = subprocess.Popen(
                [sys.executable, "-c", PROBE, f"{server.url}/healthz", str(stop_file), str(out)]
            )
            try:
                time.sleep(0.5)
                with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
                    for i in range(1000):
                        posted = client.post("/odds", json=_odds(teams, f"stall-{i:04d}"))
                        assert posted.status_code == 200, posted.text
                    reloaded = client.post("/reload", timeout=120)
                    assert reloaded.status_code == 200, reloaded.text
                    time.sleep(2.0)  # the revalidations of the re-priced matches meanwhile
                    assert client.get("/readyz").status_code == 200
            finally:
                stop_file.touch()
                probe.wait(timeout=30)
            probed = json.loads(out.read_text())
            log = server.log.read_text()
    assert probed["failures"] == []
    assert len(probed["seconds"]) > 50, "the probe hardly ran"
    # Within 100 ms for 99 % of the probes, and never a stall: on a 2-core runner shared with
    # another test worker, one answer in a few hundred can wait past 100 ms for a core
    # (112 ms once in CI); the stall this guards against lasted ~3 minutes.
    ordered = sorted(probed["seconds"])
    p99, worst = ordered[int(0.99 * (len(ordered) - 1))], ordered[-1]
    assert p99 < 0.1, f"/healthz took {p99 * 1000:.0f} ms at the 99th percentile"
    assert worst < 1.0, f"/healthz took {worst * 1000:.0f} ms at worst"
    # the site never saw more calls at once than the workers (serving.revalidation)
    assert 1 <= site.max_in_flight <= 4
    assert "PoolTimeout" not in log and "Traceback" not in log


def test_sigterm_under_load_stops_the_server_within_seconds(
    champion_store: Path, tmp_path: Path
) -> None:
    """With 3,000 ids and three reloads it ignored SIGTERM for 28 s (issue 12): now SIGTERM
    to `sabiscore serve`, with WebSocket subscribers and a stream of posts, stops it all."""
    with FakeSite(hang_s=5.0).running() as site:
        site.mode = "hang"
        store = copy_store(champion_store, tmp_path / "store")
        env = server_env(NEXT_URL=site.url, SABISCORE_API_TOKEN=TOKEN)
        server = start(store, tmp_path, OVERRIDES, env)
        try:
            wait_for(server)
            teams = _teams(server.url)
            with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
                for i in range(200):
                    client.post("/odds", json=_odds(teams, f"term-{i:03d}"))

            async def load_then_sigterm() -> float:
                sockets = [
                    await connect(f"{server.ws_url}/ws/edge/term-{i:03d}") for i in range(20)
                ]
                for ws in sockets:
                    await ws.recv()
                async with httpx.AsyncClient(base_url=server.url, headers=AUTH) as client:
                    bodies = [_odds(teams, f"term-{i:03d}") for i in range(200)]
                    posts = [
                        asyncio.create_task(client.post("/odds", json=body)) for body in bodies
                    ]
                    reload = asyncio.create_task(client.post("/reload", timeout=60))
                    await asyncio.sleep(0.2)
                    started = time.monotonic()
                    server.process.terminate()  # SIGTERM to `sabiscore serve` alone
                    await asyncio.to_thread(server.process.wait, 30)
                    stopped = time.monotonic() - started
                    for task in [*posts, reload]:
                        task.cancel()
                    await asyncio.gather(*posts, reload, return_exceptions=True)
                for ws in sockets:
                    await ws.close()
                return stopped

            seconds = asyncio.run(load_then_sigterm())
            with pytest.raises(httpx.HTTPError):
                httpx.get(f"{server.url}/healthz", timeout=2)  # nothing holds the port
        finally:
            stop(server)
    assert server.process.returncode == 0, server.log.read_text()[-2000:]
    assert seconds < 10, f"SIGTERM took {seconds:.1f} s"


def test_a_start_that_cannot_load_exits_non_zero_with_the_reason(
    champion_store: Path, tmp_path: Path
) -> None:
    """A champion whose published serving state cannot be read: the worker used to log
    "Application startup failed. Exiting." and the process stayed, holding the port and
    answering nothing (issue 12). (The store is no longer read at start: a store with no
    played match no longer stops a version that carries its state.)"""
    from bentos.settings import tracking_uri
    from models.registry import STATE_RUN, ModelRegistry

    store = copy_store(champion_store, tmp_path / "store")
    missing_run = "0" * 32
    registry = ModelRegistry(tracking_uri(store))
    registry.client.set_model_version_tag(registry.name, "1", STATE_RUN, missing_run)
    server = start(store, tmp_path, OVERRIDES, server_env(SABISCORE_API_TOKEN=TOKEN))
    try:
        code = server.process.wait(timeout=120)
    finally:
        stop(server)
    log = server.log.read_text()
    assert code == 1, log[-3000:]
    assert "sabiscore serve: could not start: " in log and missing_run in log, log[-3000:]


def test_a_store_without_a_champion_starts_and_is_not_ready(tmp_path: Path) -> None:
    """No champion is no failure: the service starts, /readyz answers 503 saying why. A
    request it cannot serve is a server error, logged once at ERROR in one line; the probe's
    503 is its answer, not a failure. The document is served, with the package's version."""
    env = server_env(SABISCORE_API_TOKEN=TOKEN)
    store = tmp_path / "no-store-yet"  # not even the folder
    with serving(store, tmp_path, OVERRIDES, env, ready="/healthz") as server:
        ready = httpx.get(f"{server.url}/readyz")
        body = {"league": LEAGUE, "home_team": "a", "away_team": "b"}
        predicted = httpx.post(f"{server.url}/predict", json=body)
        document = httpx.get(f"{server.url}/docs.json").json()
        time.sleep(0.5)  # the worker's lines reach the log
        log = server.log.read_text()
    assert ready.status_code == 503 and "champion" in ready.json()["error"]
    assert predicted.status_code == 503 and "champion" in predicted.json()["error"]
    assert "model" not in document["info"]["version"]
    errors = [line for line in log.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1 and "] 503 POST '/predict' from 127.0.0.1: " in errors[0], log
    assert "Traceback" not in log and "GET '/readyz'" not in log


def test_bad_bodies_over_http_are_4xx_and_one_info_line_each(
    champion_store: Path, tmp_path: Path
) -> None:
    """Multipart without a boundary was a 500 on /predict, /edge and /predict_batch, and every
    invalid request a traceback at ERROR (issue 12)."""
    store = copy_store(champion_store, tmp_path / "store")
    with serving(store, tmp_path, OVERRIDES, server_env(SABISCORE_API_TOKEN=TOKEN)) as server:
        answers = []
        for path in ("/predict", "/edge", "/predict_batch"):
            answers.append(
                httpx.post(
                    f"{server.url}{path}",
                    content=b"x",
                    headers={"content-type": "multipart/form-data"},
                )
            )
            answers.append(
                httpx.post(
                    f"{server.url}{path}",
                    content=b"{",
                    headers={"content-type": "application/json"},
                )
            )
        answers.append(httpx.post(f"{server.url}/predict", json={"league": "x\n[ERROR] forged"}))
        log = server.log.read_text()
    assert [a.status_code for a in answers] == [415, 400] * 3 + [400]
    assert all(set(a.json()) == {"error"} for a in answers)
    assert "Traceback" not in log and "[ERROR]" not in log
    assert log.count("[INFO] [entry_service:sabiscore:1] 415 POST") == 3
    assert log.count("[INFO] [entry_service:sabiscore:1] 400 POST") == 4
