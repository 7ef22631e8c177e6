"""The README's "Your first hour" block, run as written on a fresh store of real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_readme_s_first_hour_works_as_written(football_data_dir: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    shared = football_data_dir.parents[1]  # <shared>/data/football-data
    env = os.environ | {"PREFECT_API_URL": str(PREFECT_API_URL.value())}  # the harness's API
    done = subprocess.run(
        [sys.executable, "scripts/first_hour.py", "--shared", str(shared)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "all 7 steps passed" in done.stdout
