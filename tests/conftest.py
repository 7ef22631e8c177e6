"""Shared fixtures. Every test runs offline, with its own Prefect home and data directories."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Prefect reads its settings at import: isolate it before any test imports it.
_PREFECT_HOME = tempfile.mkdtemp(prefix="sabiscore-prefect-")
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

#: Not a test module: schemathesis loads it (with its environment) in its own process; under
#: --doctest-modules pytest would import it too.
collect_ignore = ["bentos/schemathesis_hooks.py"]

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SABISCORE_SHARED_DIR", REPO.parent / "shared"))
FOOTBALL_DATA = SHARED / "data" / "football-data"


@pytest.fixture(scope="session")
def football_data_dir() -> Path:
    """The real football-data.co.uk files shared beside the repo (skip when absent)."""
    if not any(FOOTBALL_DATA.glob("*/*.csv")):
        pytest.skip(f"real football-data files not found under {FOOTBALL_DATA}")
    return FOOTBALL_DATA


@pytest.fixture(scope="session", autouse=True)
def _local_flow_runs() -> Iterator[None]:
    """Flow runs in the tests are local runs, as the command line's (flows/local.py): no
    heartbeats, so no flow run waits up to a second at its end for Prefect's heartbeat
    thread. Runs by a worker (tests/flows/test_deployments.py) keep Prefect's setting."""
    from flows.local import local_runs

    with local_runs():
        yield


_SESSION_START = __import__("time").time()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The schemathesis run's own summary (tests/bentos/test_schemathesis.py), when this
    session ran it."""
    summary = REPO / ".pytest_cache" / "schemathesis-summary.txt"
    if summary.exists() and summary.stat().st_mtime >= _SESSION_START:
        terminalreporter.section("schemathesis against sabiscore serve")
        terminalreporter.write_line(summary.read_text())
