"""Runs started here send Prefect no heartbeats; everything else keeps Prefect's settings."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import json
from prefect.settings import get_current_settings
from flows.local import local_runs

def seen():
    s = get_current_settings()
    return {"heartbeat": s.flows.heartbeat_frequency, "retries": s.flows.default_retries}

before = seen()
with local_runs():
    inside = seen()
print(json.dumps({"before": before, "inside": inside, "after": seen()}))
"""


def test_local_runs_switch_heartbeats_off_and_nothing_else() -> None:
    """In a fresh process (the test session itself runs local): Prefect's default outside the
    block, none inside it, and the default again after it."""
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, check=True, timeout=120
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["before"]["heartbeat"] is not None  # Prefect's default sends them
    assert seen["inside"] == {**seen["before"], "heartbeat": None}
    assert seen["after"] == seen["before"]
