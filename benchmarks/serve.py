"""Benchmark: the running service, one match per request, and its WebSocket pushes.

Against a server (`--url`, or one started here with `sabiscore serve --data-dir DIR` and
stopped at the end), with a match made of the first two teams `GET /teams` lists and two
bookmakers' prices:

* `POST /predict` at concurrency 1, 8 and 32 (one keep-alive connection per concurrent
  client; a minimal HTTP/1.1 client on raw asyncio streams, so that the client's own cost on
  this 2-core machine stays small): p50 and p99 latency in ms and requests per second;
* the same prediction made in-process on the model loaded by the service's own code
  (`Runtime.predict`: featurizer + ensemble, no HTTP), the limit HTTP can approach, and the
  heap the load left (`heap`: objects frozen out of the garbage collector's way, a full
  collection's time with and without that);
* WebSocket push latency: `--subscribers` clients on one match; `--updates` times, `POST /odds`
  with a new price, then the time from that POST's response to each subscriber's message
  (`from_post_returned`; a message that beat the response counts 0) and from the POST's start
  (`from_post_sent`), p50 / p99 / max over every (update, subscriber). The clients offer
  permessage-deflate, as browsers do; `compression` is what the server agreed to (null: none).

Prints one JSON line. Targets (2 cores): p50 <= 5 ms and p99 <= 20 ms at concurrency 1,
>= 300 requests/s at concurrency 8, push p99 <= 20 ms with 100 subscribers.

    .venv/bin/python benchmarks/serve.py [--url http://127.0.0.1:3000 | --data-dir DIR]
        [--requests 2000] [--subscribers 100] [--updates 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BOOKS = {
    "pinnacle": {"home": 2.10, "draw": 3.40, "away": 3.60},
    "bet365": {"home": 2.05, "draw": 3.50, "away": 3.50},
}
WARM_UP = 100


# --- a small keep-alive HTTP/1.1 client -------------------------------------------------------


class Connection:
    """One keep-alive connection posting a fixed JSON body; answers must carry a length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> Connection:
        parts = urlsplit(url)
        return cls(*await asyncio.open_connection(parts.hostname, parts.port or 80))

    async def post(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def post_request(url: str, path: str, body: dict) -> bytes:
    payload = json.dumps(body).encode()
    host = urlsplit(url).netloc
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload


def summary_ms(seconds: list[float] | np.ndarray) -> dict[str, float]:
    values = np.asarray(seconds) * 1e3
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "max_ms": round(float(values.max()), 2),
    }


async def load_test(url: str, request: bytes, concurrency: int, n_requests: int) -> dict:
    """`n_requests` predictions over `concurrency` connections, each sending its next request
    when the previous answer arrived."""
    connections = [await Connection.open(url) for _ in range(concurrency)]
    for connection in connections:  # warm-up, also checks the answer
        for _ in range(WARM_UP // concurrency + 1):
            status, body = await connection.post(request)
            assert status == 200, body[:300]
    latencies: list[float] = []
    per_client = n_requests // concurrency

    async def client(connection: Connection) -> None:
        for _ in range(per_client):
            started = time.perf_counter()
            status, _ = await connection.post(request)
            latencies.append(time.perf_counter() - started)
            assert status == 200

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in connections))
    wall = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return {
        **summary_ms(latencies),
        "requests_per_s": round(len(latencies) / wall, 1),
        "n": len(latencies),
    }


# --- WebSocket pushes -------------------------------------------------------------------------


async def push_latency(url: str, match: dict, n_subscribers: int, n_updates: int) -> dict:
    from websockets.asyncio.client import connect

    ws_url = url.replace("http://", "ws://", 1)
    connection = await Connection.open(url)
    match_id = "benchmark-push"
    status, body = await connection.post(
        post_request(url, "/odds", {"match_id": match_id, **match, "odds": BOOKS})
    )
    assert status == 200, body[:300]
    received: dict[float, list[float]] = {}
    all_in = asyncio.Event()
    expected = {"price": None}

    async def subscriber(ws) -> None:
        async for text in ws:
            message = json.loads(text)
            if message.get("type") != "edge" or message["edge"] is None:
                continue
            price = message["edge"]["outcomes"][0]["best_odds"]
            if price in received:
                received[price].append(time.perf_counter())
                if price == expected["price"] and len(received[price]) == n_subscribers:
                    all_in.set()

    sockets = [await connect(f"{ws_url}/ws/edge/{match_id}") for _ in range(n_subscribers)]
    for ws in sockets:
        await ws.recv()  # the current edge
    # The client offers permessage-deflate, as browsers do; did the server take it?
    extensions = sockets[0].response.headers.get("Sec-WebSocket-Extensions")
    listeners = [asyncio.create_task(subscriber(ws)) for ws in sockets]
    from_returned, from_sent = [], []
    for k in range(n_updates):
        price = round(2.2 + 0.01 * k, 2)
        received[price], expected["price"] = [], price
        all_in.clear()
        odds = {**BOOKS, "pinnacle": {"home": price, "draw": 3.4, "away": 3.6}}
        request = post_request(url, "/odds", {"match_id": match_id, **match, "odds": odds})
        sent = time.perf_counter()
        status, body = await connection.post(request)
        returned = time.perf_counter()
        assert status == 200, body[:300]
        await asyncio.wait_for(all_in.wait(), 10)
        from_returned += [max(0.0, t - returned) for t in received[price]]
        from_sent += [t - sent for t in received[price]]
        await asyncio.sleep(0.02)  # let the revalidation debounce and the heartbeats be
    for task in listeners:
        task.cancel()
    for ws in sockets:
        await ws.close()
    connection.close()
    return {
        "subscribers": n_subscribers,
        "updates": n_updates,
        "compression": extensions,
        "from_post_returned": summary_ms(from_returned),
        "from_post_sent": summary_ms(from_sent),
    }


# --- in-process -------------------------------------------------------------------------------


def heap_after_load() -> dict:
    """What the service's `gc.freeze()` after a load spares each full collection: the objects
    it froze, and a full collection's time with them frozen and unfrozen."""
    import gc

    def collect_ms() -> float:
        started = time.perf_counter()
        gc.collect()
        return round((time.perf_counter() - started) * 1e3, 1)

    frozen = gc.get_freeze_count()
    with_freeze = collect_ms()
    gc.unfreeze()
    without_freeze = collect_ms()
    gc.freeze()
    return {
        "frozen_objects": frozen,
        "full_collection_ms": with_freeze,
        "full_collection_ms_unfrozen": without_freeze,
    }


def in_process(data_dir: Path | None, match: dict, n_calls: int) -> dict:
    """The prediction without HTTP, on the model loaded by the service's own code."""
    from bentos.runtime import Runtime
    from bentos.schemas import MatchRequest
    from bentos.settings import ServingSettings
    from sabiscore.config import load_config

    environ = {k: v for k, v in os.environ.items() if k != "NEXT_URL"}
    settings = ServingSettings.from_config(load_config(), environ, data_dir)
    runtime = Runtime(settings)
    runtime.load()
    request = MatchRequest(**match, odds=BOOKS)
    for _ in range(WARM_UP):
        runtime.predict(request)
    times = []
    for _ in range(n_calls):
        started = time.perf_counter()
        runtime.predict(request)
        times.append(time.perf_counter() - started)
    model = runtime.require_model()
    heap = heap_after_load()
    books = {book: tuple(prices.values()) for book, prices in BOOKS.items()}
    row = model.featurizer.features(**match, odds=books)
    ensemble_times = []
    for _ in range(n_calls):
        started = time.perf_counter()
        model.ensemble.predict_one(row[model.order])
        ensemble_times.append(time.perf_counter() - started)
    return {
        "predict": summary_ms(times),
        "ensemble_predict_one": summary_ms(ensemble_times),
        "heap": heap,
        "model_version": model.info.version,
        "base_models": model.ensemble.base_model_names,
    }


# --- the server -------------------------------------------------------------------------------


@contextmanager
def running_server(url: str | None, data_dir: Path | None) -> Iterator[str]:
    """`url` as given, or a `sabiscore serve` started here (and stopped at the end)."""
    if url:
        yield url.rstrip("/")
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "cli", "serve", "--port", str(port)]
    if data_dir:
        command += ["--data-dir", str(data_dir)]
    env = {k: v for k, v in os.environ.items() if k != "NEXT_URL"}  # no site to revalidate
    process = subprocess.Popen(
        command,
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the service exited with {process.returncode}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the service was not ready after 120 s")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="A running service (default: start one here).")
    parser.add_argument("--data-dir", type=Path, help="Data directory of the started service.")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--updates", type=int, default=50)
    args = parser.parse_args()

    with running_server(args.url, args.data_dir) as url:
        ready = httpx.get(f"{url}/readyz").json()
        league = httpx.get(f"{url}/teams").json()["leagues"][0]
        match = {
            "league": league["league"],
            "home_team": league["teams"][0],
            "away_team": league["teams"][1],
        }
        request = post_request(url, "/predict", {**match, "odds": BOOKS})
        http = {
            f"concurrency_{c}": asyncio.run(load_test(url, request, c, args.requests))
            for c in (1, 8, 32)
        }
        push = asyncio.run(push_latency(url, match, args.subscribers, args.updates))
    limit = in_process(args.data_dir, match, args.requests)
    one, eight = http["concurrency_1"], http["concurrency_8"]
    print(
        json.dumps(
            {
                "benchmark": "serve",
                "model": ready["model"],
                "http_predict": http,
                "in_process": limit,
                "websocket_push": push,
                "targets_met": {
                    "c1_p50_le_5ms": one["p50_ms"] <= 5,
                    "c1_p99_le_20ms": one["p99_ms"] <= 20,
                    "c8_ge_300_rps": eight["requests_per_s"] >= 300,
                    "push_p99_le_20ms": push["from_post_returned"]["p99_ms"] <= 20,
                },
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
