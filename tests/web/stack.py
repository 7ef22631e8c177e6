"""The whole local stack for the web site's end-to-end test and benchmark: a pipeline store with
upcoming fixtures ingested, a real `sabiscore serve` that can be stopped and restarted on its
port, and the Next.js site (`next build` in two halves: the compile while the store is made,
the pages once the service answers; then `next start`). Nothing leaves the machine."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.bentos import live

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
NEXT = WEB / "node_modules" / "next" / "dist" / "bin" / "next"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
SECRET = "e2e-revalidate-secret-0123456789abcdefghij"
TOKEN = "e2e-api-token-0123456789abcdefghijklmnop"
LEAGUE = "SY1"

#: Upcoming fixtures (after the synthetic league's last played day) with Bet365's and
#: Pinnacle's prices, as football-data.co.uk's fixtures.csv lists them. The first is the e2e's
#: match: Bet365's home price beats Pinnacle's fair line (a value bet the sharp check allows).
FIXTURES = [
    ("16/01/2027", "12:30", 0, 4, (2.60, 3.30, 2.90), (2.45, 3.35, 3.05)),
    ("16/01/2027", "15:00", 2, 3, (1.95, 3.60, 4.20), (1.90, 3.55, 4.35)),
    ("16/01/2027", "15:00", 5, 11, (3.40, 3.30, 2.30), (3.25, 3.40, 2.35)),
    ("17/01/2027", "16:30", 8, 14, (2.20, 3.40, 3.50), (2.15, 3.45, 3.60)),
]


def missing() -> str | None:
    """Why the site cannot be tested here, or None."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not NEXT.exists():
        return f"{WEB}/node_modules is missing: run `npm ci` in web/ (make test does)"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    return None


def node_env(**extra: str) -> dict[str, str]:
    """This environment without Sentry's settings (no test reports anywhere), telemetry off."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("NEXT_PUBLIC_SENTRY", "SENTRY"))
    }
    env.update(NEXT_TELEMETRY_DISABLED="1", **extra)
    return env


def next_command(*args: str) -> list[str]:
    return ["node", str(NEXT), *args]


def write_fixtures(path: Path, teams: list[str]) -> list[dict]:
    """fixtures.csv of FIXTURES between `teams`; returns each as a POST /odds body."""
    import pandas as pd

    from sabiscore.football_data import make_match_id

    rows, updates = [], []
    for day, hour, home, away, b365, ps in FIXTURES:
        prices = [*map(str, b365), *map(str, ps)]
        rows.append(",".join([LEAGUE, day, hour, teams[home], teams[away], *prices]))
        d, m, y = day.split("/")
        updates.append(
            {
                "match_id": make_match_id(
                    LEAGUE, pd.Timestamp(f"{y}-{m}-{d}"), teams[home], teams[away]
                ),
                "league": LEAGUE,
                "home_team": teams[home],
                "away_team": teams[away],
                "kickoff": f"{y}-{m}-{d}T{hour}:00Z",
                "odds": {
                    "bet365": dict(zip(("home", "draw", "away"), b365, strict=True)),
                    "pinnacle": dict(zip(("home", "draw", "away"), ps, strict=True)),
                },
            }
        )
    path.write_text(
        "Div,Date,Time,HomeTeam,AwayTeam,B365H,B365D,B365A,PSH,PSD,PSA\n" + "\n".join(rows) + "\n"
    )
    return updates


def ingest(store: Path, listing: Path, root: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI")
    }
    env["PREFECT_HOME"] = str(root / "prefect-ingest")
    done = subprocess.run(
        [sys.executable, "-m", "cli", "ingest", str(listing), "--data-dir", str(store), "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@dataclass
class Service:
    """`sabiscore serve` on a fixed port, so that a restart is found where the site looks."""

    store: Path
    root: Path
    port: int
    site_url: str
    server: live.Server | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = live.server_env(
            NEXT_URL=self.site_url,
            REVALIDATE_SECRET=SECRET,
            SABISCORE_API_TOKEN=TOKEN,
            PREFECT_HOME=str(self.root / "prefect-serve"),
        )
        env.pop("SENTRY_DSN", None)
        with self.lock:
            self.server = live.start(self.store, self.root, {}, env, self.port)
            live.wait_for(self.server)

    def stop(self) -> None:
        with self.lock:
            if self.server is not None:
                live.stop(self.server)
                self.server = None


@dataclass
class Site:
    port: int
    api_url: str
    log: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        return node_env(
            **{
                "SABISCORE_API_URL": self.api_url,
                "REVALIDATE_SECRET": SECRET,
                **self.extra_env,
                **extra,
            }
        )

    def start(self) -> None:
        env = self.env()
        for name in ("SABISCORE_ENV", "APP_ENV"):  # `next start`: production, the secret checked
            env.pop(name, None)
        with self.log.open("w") as out:
            command = next_command("start", "-p", str(self.port), "-H", "127.0.0.1")
            self.process = subprocess.Popen(
                command,
                cwd=WEB,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            exited = self.process.poll() is not None
            assert not exited, f"next start exited:\n{self.log.read_text()[-3000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/revalidate", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"the site did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_compile(root: Path) -> subprocess.Popen:
    """`next build`'s compile half (no page is rendered: the service need not answer yet)."""
    log = (root / "next-compile.log").open("w")
    return subprocess.Popen(
        next_command("build", "--experimental-build-mode=compile"),
        cwd=WEB,
        env=node_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def finish_build(compiling: subprocess.Popen, root: Path, api_url: str) -> None:
    """Wait for the compile, then render the static pages from the running service."""
    assert compiling.wait(timeout=600) == 0, (root / "next-compile.log").read_text()[-3000:]
    done = subprocess.run(
        next_command("build", "--experimental-build-mode=generate"),
        cwd=WEB,
        env=node_env(SABISCORE_API_URL=api_url),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


class SentryRecorder(ThreadingHTTPServer):
    """A local stand-in for Sentry's ingest: records each envelope's text (the Node SDK sends
    them gzipped or not, with a length or chunked)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Envelopes)
        self.envelopes: list[str] = []

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.server_address[1]}/1"


class _Envelopes(BaseHTTPRequestHandler):
    server: SentryRecorder

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while size := int(self.rfile.readline().strip() or b"0", 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.envelopes.append(body.decode("utf-8", "replace"))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def recording_sentry() -> Iterator[SentryRecorder]:
    recorder = SentryRecorder()
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    try:
        yield recorder
    finally:
        recorder.shutdown()
        recorder.server_close()


class _Control(BaseHTTPRequestHandler):
    """POST /stop and /start of the service, for the e2e script (which owns the browser)."""

    service: Service

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        try:
            {"/stop": self.service.stop, "/start": self.service.start}[self.path]()
            status, body = 200, b"{}"
        except Exception as error:  # noqa: BLE001 - told to the caller
            status, body = 500, json.dumps({"error": repr(error)}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def control(service: Service) -> Iterator[str]:
    handler = type("Control", (_Control,), {"service": service})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Stack:
    service: Service
    site: Site
    match: dict
    control_url: str

    def node_env(self, artifacts: Path) -> dict[str, str]:
        return node_env(
            SITE_URL=self.site.url,
            API_URL=self.service.url,
            API_TOKEN=TOKEN,
            REVALIDATE_SECRET=SECRET,
            CONTROL_URL=self.control_url,
            E2E_MATCH=json.dumps(self.match),
            ARTIFACTS=str(artifacts),
        )


@contextlib.contextmanager
def running_stack(store: Path, root: Path, compiling: subprocess.Popen) -> Iterator[Stack]:
    """The service on `store` (fixtures ingested), the site built and started against it."""
    site_port, service_port = live.free_port(), live.free_port()
    service = Service(store, root, service_port, f"http://127.0.0.1:{site_port}")
    site = Site(site_port, service.url, root / "site.log")
    try:
        service.start()
        teams = httpx.get(f"{service.url}/teams", timeout=10).json()["leagues"][0]["teams"]
        updates = write_fixtures(root / "fixtures.csv", teams)
        ingest(store, root / "fixtures.csv", root)
        listed = httpx.get(f"{service.url}/fixtures", timeout=30).json()  # the state refreshed
        listed_ids = {f["match_id"] for f in listed["fixtures"]}
        assert listed_ids >= {u["match_id"] for u in updates}, listed
        finish_build(compiling, root, service.url)
        site.start()
        with control(service) as control_url:
            yield Stack(service, site, updates[0], control_url)
    finally:
        if compiling.poll() is None:
            os.killpg(compiling.pid, signal.SIGTERM)
            compiling.wait()
        site.stop()
        service.stop()
