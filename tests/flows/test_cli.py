"""The command line as a user runs it: a real process, talking to the test harness's API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path


def sabiscore(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    from prefect.settings import PREFECT_API_URL

    root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
    )


def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_synth_ingest_validate_round_trip(tmp_path: Path) -> None:
    files = tmp_path / "files"
    result = sabiscore("synth", str(files), "--seasons", "1", "--json")
    assert result.returncode == 0, result.stderr
    written = _last_json(result.stdout)["files"]
    assert len(written) == 3 and all(Path(p).exists() for p in written)

    store = tmp_path / "store"
    result = sabiscore("ingest", str(files), "--data-dir", str(store), "--json")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1  # --json: only the JSON on stdout
    summary = _last_json(result.stdout)
    assert {"files", "matches", "fixtures", "quarantined", "errors"} <= set(summary)
    assert summary["files"] == 3 and summary["quarantined"] == 0 and summary["errors"] == []
    assert summary["matches"] > 500

    result = sabiscore("validate", "--data-dir", str(store), "--json")
    assert result.returncode == 0, result.stderr
    report = _last_json(result.stdout)
    assert report["files"] == 3 and report["quarantined"] == 0
    assert report["gx"]["evaluated_expectations"] == report["gx"]["successful_expectations"]

    result = sabiscore("ingest", str(files), "--data-dir", str(store))
    assert result.returncode == 0 and "files: 3 of 3 stored or unchanged" in result.stdout
    # progress for a person: the flow's steps with seconds since the start, no bookkeeping
    assert re.search(r"^ +\d+\.\ds  ingest: 3 files", result.stderr, re.MULTILINE), result.stderr
    assert "Task run" not in result.stderr and "Finished in state" not in result.stderr

    result = sabiscore("--verbose", "ingest", str(files), "--data-dir", str(store))
    assert result.returncode == 0
    assert "Task run 'publish-summary" in result.stderr and "Finished in state" in result.stderr


def test_ingest_takes_a_relative_data_dir_as_the_readme_writes_it(tmp_path: Path) -> None:
    """`--data-dir data` from the working directory: GX's Data Docs once refused a relative path."""
    result = sabiscore("synth", "files", "--seasons", "1", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = sabiscore("ingest", "files", "--data-dir", "data", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    assert _last_json(result.stdout)["files"] == 3
    assert (tmp_path / "data" / "gx" / "data_docs" / "index.html").exists()


def test_ingest_exits_non_zero_with_the_reason(tmp_path: Path) -> None:
    page = tmp_path / "login.csv"
    page.write_text("<html><body>Please log in</body></html>")
    result = sabiscore("ingest", str(page), "--data-dir", str(tmp_path / "s"))
    assert result.returncode == 1
    assert "HTML page" in result.stdout

    result = sabiscore("ingest", str(tmp_path / "nope.csv"), "--data-dir", str(tmp_path / "s"))
    assert result.returncode != 0
    assert "error: source not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_cut_off_file_exits_1_with_how_to_force_it_and_replace_stores_it(
    tmp_path: Path,
) -> None:
    from sabiscore.synthetic import LeagueSpec, SyntheticConfig, generate_league
    from sabiscore.synthetic import write_football_data_csvs as write_csvs

    config = SyntheticConfig(
        seed=5,
        first_season=2022,
        n_seasons=1,
        leagues=(LeagueSpec(code="SY1", n_teams=20, tier=1, country="Sylvania"),),
    )
    (season,) = write_csvs(generate_league(config), tmp_path / "files")
    store = str(tmp_path / "store")
    assert sabiscore("ingest", str(season), "--data-dir", store).returncode == 0
    data = season.read_bytes()
    cut = tmp_path / "cut" / season.name
    cut.parent.mkdir()
    cut.write_bytes(data[: data.index(b"\r\n", len(data) // 2) + 20])  # 20 bytes into a row

    result = sabiscore("ingest", str(cut), "--data-dir", store)
    assert result.returncode == 1, result.stderr
    assert f"ERROR {cut}: the last row" in result.stdout
    assert "looks cut off" in result.stdout and f"sabiscore ingest {cut} --replace" in result.stdout
    assert "store " in result.stdout and ": 380 matches" in result.stdout, "the season is kept"

    result = sabiscore("ingest", str(cut), "--data-dir", store, "--replace", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = _last_json(result.stdout)
    assert summary["partitions_replaced"] == ["SY1/2022-2023"] and summary["matches"] < 380
