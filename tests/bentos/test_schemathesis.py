"""schemathesis against a real `sabiscore serve`: every check, a bounded number of examples per
operation, in two runs:

- positive: schema-valid requests, their leagues, teams and bookmakers the service's own
  (tests/bentos/schemathesis_hooks.py), so they reach the model;
- negative: schema-invalid requests, which must all be refused with a 4xx.

Zero failures means no 5xx, no answer that breaks the published document, every status
documented, writes refused without the token. Its summary is printed at the end of the test
session (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bentos.conftest import copy_store
from tests.bentos.live import server_env, serving

pytestmark = [pytest.mark.server, pytest.mark.slow]

TOKEN = "api-token-for-the-schemathesis-run-7e13a9b4"
CONFIG = Path(__file__).with_name("schemathesis.toml")
#: Examples per operation and run: enough to find the defects of issue 12 (5xx on multipart,
#: 3.1 constructs, undocumented statuses) in well under a minute on 2 cores.
MAX_EXAMPLES = 25
SUMMARY = Path(__file__).resolve().parents[2] / ".pytest_cache" / "schemathesis-summary.txt"
OVERRIDES = {"serving": {"tracking": {"expire_after_kickoff_h": None}}}


def _summary(output: str) -> str:
    start = output.rfind("SUMMARY")
    return output[output.rfind("\n", 0, start) + 1 :] if start >= 0 else output[-2000:]


def test_schemathesis_finds_nothing(champion_store: Path, tmp_path: Path) -> None:
    store = copy_store(champion_store, tmp_path / "store")
    env = server_env(SABISCORE_API_TOKEN=TOKEN)
    schemathesis = Path(sys.executable).with_name("schemathesis")
    summaries = []
    with serving(store, tmp_path, OVERRIDES, env) as server:
        for mode, hooks in (("positive", "tests.bentos.schemathesis_hooks"), ("negative", "")):
            command = [
                str(schemathesis),
                "--config-file",
                str(CONFIG),
                "--no-color",
                "run",
                f"{server.url}/docs.json",
                "--checks",
                "all",
                "--mode",
                mode,
                "--max-examples",
                str(MAX_EXAMPLES),
                "--generation-deterministic",
                "--header",
                f"Authorization: Bearer {TOKEN}",
            ]
            run_env = {
                **os.environ,
                "SCHEMATHESIS_HOOKS": hooks,
                "SABISCORE_SCHEMATHESIS_URL": server.url,
            }
            done = subprocess.run(
                command,
                env=run_env,
                capture_output=True,
                text=True,
                timeout=300,
                cwd=Path(__file__).resolve().parents[2],
            )
            output = done.stdout + done.stderr
            summaries.append(f"schemathesis, {mode} mode:\n{_summary(output)}")
            assert done.returncode == 0, output[-6000:]
            assert "passed" in _summary(output) and "generated" in _summary(output)
        log = server.log.read_text()
    SUMMARY.parent.mkdir(exist_ok=True)
    SUMMARY.write_text("\n".join(summaries))
    assert "Traceback" not in log and "[ERROR]" not in log, log[-3000:]
