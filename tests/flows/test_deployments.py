"""prefect.yaml as Prefect reads it, and a deployment run for real: a `prefect server` on
loopback, `prefect deploy`, `prefect deployment run`, a process worker. Plus the odds refresh."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import yaml

from sabiscore.football_data import STAT_COLUMNS
from sabiscore.store import DataStore
from sabiscore.synthetic import LeagueSpec, SyntheticConfig, generate_league
from sabiscore.synthetic import write_football_data_csvs as write_csvs
from tests.helpers import Recorded, recording_server

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
POOL = "sabiscore-local"


def deployments() -> dict[str, dict]:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    return {d["name"]: d for d in spec["deployments"]}


def test_prefect_yaml_deploys_the_pipeline_on_a_schedule_and_by_hand() -> None:
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
    from prefect.flows import Flow, load_flow_from_entrypoint

    found = deployments()
    pull = yaml.safe_load((REPO / "prefect.yaml").read_text())["pull"]
    assert pull == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $SABISCORE_HOME }}"}}
    ]
    kinds = {}
    for name, spec in found.items():
        flow = load_flow_from_entrypoint(str(REPO / spec["entrypoint"]))
        assert isinstance(flow, Flow), name
        assert set(spec.get("parameters") or {}) <= set(flow.parameters.properties), name
        assert spec["work_pool"]["name"] == POOL, name
        for schedule in spec.get("schedules") or []:
            if "cron" in schedule:
                CronSchedule(cron=schedule["cron"], timezone=schedule.get("timezone"))
            else:
                IntervalSchedule(interval=timedelta(seconds=schedule["interval"]))
        kinds[name] = (spec["entrypoint"], [next(iter(s)) for s in spec.get("schedules") or []])

    assert kinds["pipeline-daily"] == ("flows/pipeline.py:pipeline_flow", ["cron"])
    assert kinds["odds-refresh"] == ("flows/odds_refresh.py:odds_refresh_flow", ["interval"])
    assert kinds["pipeline-manual"] == ("flows/pipeline.py:pipeline_flow", [])
    manual = found["pipeline-manual"]["parameters"]  # each empty: every one takes its default
    assert not any(manual.values()) and set(manual) == set(
        load_flow_from_entrypoint(str(REPO / kinds["pipeline-manual"][0])).parameters.properties
    )


# --- a real server, a real deployment, a real worker ---------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prefect_env(home: Path, api: str, data_dir: Path) -> dict[str, str]:
    """The subprocesses' environment: their own Prefect home and API, never the harness's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return env | {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "SABISCORE_HOME": str(REPO),
        "SABISCORE_DATA_DIR": str(data_dir),
    }


class Processes:
    """A Prefect API on a free loopback port and the processes around it, each in its own
    process group and logging to a file; `stop()` ends every group (flow runs included)."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.env = prefect_env(tmp_path / "prefect", self.api, tmp_path / "data")
        self.logs = tmp_path
        self.running: list[tuple[subprocess.Popen, IO]] = []

    def start(self, name: str, *args: str, cwd: Path = REPO) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 - closed in stop()
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running.append((proc, log))
        return proc

    def run(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            args, cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def tail(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text()[-3000:]

    def stop(self) -> None:
        for proc, log in reversed(self.running):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(15)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever the group still holds
            proc.wait(5)
            log.close()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.stop()


def wait_for(check: Callable[[], Any], timeout_s: float, what: str, log: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{log}")


def healthy(api: str, server: subprocess.Popen) -> bool:
    assert server.poll() is None, "the server exited"
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


TERMINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def flow_run_state(api: str, run_id: str) -> str | None:
    """The run's final state type, or None while it is still on its way."""
    state = httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()["state"]["type"]
    return state if state in TERMINAL else None


@pytest.mark.server
@pytest.mark.slow
def test_a_deployment_runs_through_a_worker_on_a_real_server(
    processes: Processes, tmp_path: Path
) -> None:
    """scripts/prefect_local.sh starts the server and deploys everything, schedules paused
    (the scheduled ones would fire and reach for the internet); a worker started elsewhere
    runs the manual ingest."""
    api = processes.api
    processes.env |= {"PREFECT_PORT": str(processes.port), "PREFECT": PREFECT}
    script = processes.start("server", str(REPO / "scripts" / "prefect_local.sh"), "--no-worker")
    wait_for(lambda: healthy(api, script), 120, "the server's health", processes.tail("server"))
    wait_for(
        lambda: "running;" in processes.tail("server") or script.poll() is not None,
        180,
        "the deployments",
        processes.tail("server"),
    )
    assert script.poll() is None, processes.tail("server")
    deployed = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
    schedules = {d["name"]: [s["active"] for s in d["schedules"]] for d in deployed}
    assert schedules["pipeline-daily"] == [False] and schedules["odds-refresh"] == [False]
    assert schedules["ingest-manual"] == []
    # A small league of the same format keeps the run itself short.
    league = tmp_path / "league"
    config = SyntheticConfig(
        seed=5, first_season=2023, n_seasons=1, leagues=(LeagueSpec("SY1", 10, 1, "Sylvania"),)
    )
    write_csvs(generate_league(config), league)
    sources = json.dumps([str(league)])
    out = processes.run(
        PREFECT, "deployment", "run", "ingest/ingest-manual", "--param", f"sources={sources}"
    )
    run_id = re.search(r"UUID: ([0-9a-f-]{36})", out)[1]

    # Started elsewhere: the deployment's pull step is what takes the run to the project.
    worker_cwd = tmp_path / "elsewhere"
    worker_cwd.mkdir()
    processes.start(
        "worker", PREFECT, "worker", "start", "--pool", POOL, "--run-once", cwd=worker_cwd
    )
    state = wait_for(
        lambda: flow_run_state(api, run_id), 240, "the flow run", processes.tail("worker")
    )
    assert state == "COMPLETED", processes.tail("worker")

    manifest = DataStore(tmp_path / "data").manifest()
    assert manifest["partitions"], "the run wrote to $SABISCORE_DATA_DIR of the worker"
    flow_run = httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()
    assert flow_run["parameters"]["sources"] == [str(league)]
    assert flow_run["name"] == "ingest league into data"  # what ran, not "academic-lynx"


# --- the odds refresh ----------------------------------------------------------------------


def write_fixtures(path: Path, results_columns: bool) -> Path:
    """Three upcoming matches with their prices, as football-data lists them: with the result
    columns left blank, or (fixtures.csv today) without those columns at all."""
    config = SyntheticConfig(
        seed=5, first_season=2023, n_seasons=1, leagues=(LeagueSpec("SY1", 8, 1, "Sylvania"),)
    )
    season = write_csvs(generate_league(config), path.parent / "synthetic")[0]
    rows = list(csv.DictReader(io.StringIO(season.read_text())))
    results = ("FTHG", "FTAG", "FTR", "HTHG", "HTAG", "HTR", *STAT_COLUMNS.values())
    header = [c for c in rows[0] if results_columns or c not in results]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(row | dict.fromkeys(results, "") for row in rows[:3])
    return path


@pytest.fixture
def fixtures_file(tmp_path: Path) -> Path:
    return write_fixtures(tmp_path / "fixtures.csv", results_columns=True)


@pytest.fixture
def odds_receiver() -> Iterator[tuple[str, list[Recorded]]]:
    """A stand-in for the service: records each request POSTed to it."""
    with recording_server(lambda request: (204, None, {})) as (url, seen):
        yield f"{url}/odds", seen


def test_odds_refresh_pushes_upcoming_prices(
    fixtures_file: Path,
    odds_receiver: tuple[str, list[Recorded]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.odds_refresh import odds_refresh_flow

    url, received = odds_receiver
    override = tmp_path / "serving.yaml"
    override.write_text(json.dumps({"serving": {"odds_url": url}}))
    monkeypatch.delenv("SABISCORE_ODDS_URL", raising=False)
    counts = odds_refresh_flow([str(fixtures_file)], str(tmp_path / "store"), str(override))

    ledger = counts.pop("ledger")
    assert counts == {
        "fixtures": 3,
        "pushed": 3,
        "push_failures": 0,
        "live": {},
        "failed_sources": {},
        "serving_state": None,  # no live source stored
        "value_bets": 0,
    }  # no champion: no bets
    assert (ledger["suggested"], ledger["settled"]) == (0, 0)
    first = next(csv.DictReader(io.StringIO(fixtures_file.read_text())))
    message = next(m for m in (r.json() for r in received) if m["home_team"] == first["HomeTeam"])
    assert message["away_team"] == first["AwayTeam"] and message["league"] == "SY1"
    assert message["kickoff"].startswith(
        f"{first['Date'][6:]}-{first['Date'][3:5]}-{first['Date'][:2]}"
    )
    assert message["odds"]["bet365"] == {
        "home": float(first["B365H"]),
        "draw": float(first["B365D"]),
        "away": float(first["B365A"]),
    }

    monkeypatch.setenv("SABISCORE_ODDS_URL", f"http://127.0.0.1:{free_port()}/odds")
    counts = odds_refresh_flow([str(fixtures_file)], str(tmp_path / "store"))
    assert counts["push_failures"] == 3 and counts["pushed"] == 0, "no service: no failure"


def test_odds_refresh_reads_the_fixtures_csv_header(tmp_path: Path) -> None:
    from flows.odds_refresh import odds_refresh_flow

    path = write_fixtures(tmp_path / "fixtures.csv", results_columns=False)
    assert "FTR" not in path.read_text().splitlines()[0]
    counts = odds_refresh_flow([str(path)], str(tmp_path / "store"))
    assert counts["fixtures"] == 3


def test_sabiscore_odds_refresh_runs_the_flow_once(fixtures_file: Path, tmp_path: Path) -> None:
    from tests.flows.test_cli import sabiscore

    done = sabiscore(
        "odds-refresh",
        str(fixtures_file),
        "--live",
        "football-data",
        "--data-dir",
        str(tmp_path / "store"),
        "--json",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["fixtures"], summary["pushed"], summary["value_bets"]) == (3, 0, 0)
    human = sabiscore("odds-refresh", str(fixtures_file), "--data-dir", str(tmp_path / "store"))
    assert human.returncode == 0 and "3 upcoming fixture(s); pushed 0" in human.stdout


def test_every_deployed_parameter_is_described_in_prefect_s_run_form() -> None:
    """Prefect builds the Custom run form from the flow's signature and its docstring's Args."""
    from prefect.flows import load_flow_from_entrypoint
    from prefect.utilities.callables import parameter_schema

    for name, spec in deployments().items():
        flow = load_flow_from_entrypoint(str(REPO / spec["entrypoint"]))
        properties = parameter_schema(flow.fn).model_dump()["properties"]
        undescribed = [p for p, field in properties.items() if not field.get("description")]
        assert undescribed == [], name


def test_prefect_s_run_form_submits_as_it_opens() -> None:
    """The Custom run form starts from the schema's defaults (then prefect.yaml's parameters)
    and validates them as the server does (/ui/schemas/validate): a default the schema refuses,
    as `X | SkipJsonSchema[None] = None` makes None, blocks every run from the UI. And each run
    is named for what ran."""
    from prefect.flows import load_flow_from_entrypoint
    from prefect.utilities.callables import parameter_schema
    from prefect.utilities.schema_tools.validation import preprocess_schema, validate

    for name, spec in deployments().items():
        flow = load_flow_from_entrypoint(str(REPO / spec["entrypoint"]))
        schema = parameter_schema(flow.fn).model_dump_for_openapi()
        opened = {
            p: field["default"] for p, field in schema["properties"].items() if "default" in field
        } | (spec.get("parameters") or {})
        assert validate(opened, preprocess_schema(schema), preprocess=False) == [], name
        # opened on None, the form shows 'Property is type "None"' instead of a box to fill in
        on_none = sorted(p for p, value in opened.items() if value is None)
        assert on_none in ([], ["now"]), f"{name}: {on_none}"  # now: the tests' clock
        assert callable(flow.flow_run_name), f"{name}: its runs are named for what ran"
