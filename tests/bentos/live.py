"""A real `sabiscore serve` process on loopback, and a local stand-in for the Next.js site and
for Sentry, for the tests that talk to the service over HTTP and WebSocket
(tests/bentos/test_server.py, tests/bentos/test_abuse.py). Nothing leaves the machine."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import yaml


class FakeSite(ThreadingHTTPServer):
    """Records revalidation calls (answering as `mode` says: "ok", "500" or "hang", which
    answers after `hang_s`) and Sentry envelopes (always accepted); counts the revalidation
    calls in flight at once."""

    daemon_threads = True

    def __init__(self, hang_s: float = 1.5) -> None:
        super().__init__(("127.0.0.1", 0), _SiteHandler)
        self.mode = "ok"
        self.hang_s = hang_s
        self.revalidations: list[dict] = []
        self.envelopes: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @contextlib.contextmanager
    def running(self) -> Iterator[FakeSite]:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        try:
            yield self
        finally:
            self.shutdown()
            self.server_close()


class _SiteHandler(BaseHTTPRequestHandler):
    server: FakeSite

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if "/envelope" in self.path:
            self.server.envelopes.append(body.decode("utf-8", "replace"))
            return self._answer(200)
        site = self.server
        mode = site.mode
        with site._lock:
            site.revalidations.append({"endpoint": self.path, "mode": mode, **json.loads(body)})
            site.in_flight += 1
            site.max_in_flight = max(site.max_in_flight, site.in_flight)
        try:
            if mode == "hang":
                time.sleep(site.hang_s)  # longer than the service's timeout
        finally:
            # Out of flight before the answer goes: once answered, the service's worker sends
            # its next call, which a thread not yet past this line would count as a fifth.
            with site._lock:
                site.in_flight -= 1
        self._answer(500 if mode == "500" else 200)

    def _answer(self, status: int) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
        except OSError:  # the service gave up waiting
            pass

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Server:
    url: str
    ws_url: str
    store: Path
    log: Path
    process: subprocess.Popen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would point the service elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "APP_ENV", "SABISCORE_CONFIG")
    }
    env.update(SABISCORE_ENV="development", **extra)
    return env


def start(
    store: Path, root: Path, overrides: dict, env: dict[str, str], port: int | None = None
) -> Server:
    """`sabiscore serve` on `store` with the config `overrides`, in a session of its own, on
    `port` (default: a free one)."""
    config = root / "override.yaml"
    config.write_text(yaml.safe_dump(overrides))
    port = port or free_port()
    log = root / "server.log"
    command = [
        sys.executable,
        "-m",
        "cli",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(store),
        "--config",
        str(config),
    ]
    with log.open("w") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", store, log, process)


def stop(server: Server) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()


@contextlib.contextmanager
def serving(
    store: Path, root: Path, overrides: dict, env: dict[str, str], ready: str = "/readyz"
) -> Iterator[Server]:
    """A started server, answering 200 on `ready`; stopped (its session) afterwards."""
    server = start(store, root, overrides, env)
    try:
        wait_for(server, ready)
        yield server
    finally:
        stop(server)


def wait_for(server: Server, path: str = "/readyz", timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert server.process.poll() is None, (
            f"the service exited:\n{server.log.read_text()[-3000:]}"
        )
        try:
            if httpx.get(f"{server.url}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"not ready after {timeout_s} s:\n{server.log.read_text()[-3000:]}")


def until(condition: Callable[[], object], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
