"""A file of garbage rows is refused as soon as that is certain, and `sabiscore validate` gives
the file guards' verdicts without storing anything (issue 12).

The garbage file here is a few MB, more than one screen chunk of rows. How long the 50 MB file
takes and how much memory it needs is measured by benchmarks/ingest_garbage.py, not asserted.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sabiscore.config import load_config
from sabiscore.football_data import count_data_lines, parse_football_data
from sabiscore.quality import ScreenSettings
from sabiscore.store import DataStore, RawFile, sha256_of
from tasks.ingest import screen_files, validate_files
from tests.flows.conftest import SEASON_KEY
from tests.flows.test_cli import sabiscore
from tests.helpers import garbage_football_data

KEY = SEASON_KEY
EARLY = re.compile(
    r"^(\d+) of the first 5000 rows \((\d+)%\) failed validation, already more than the "
    r"allowed 10% of the file's at most (\d+) rows, so the rest was not read; most often: "
)


@pytest.fixture(scope="module")
def garbage(season_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    header = season_file.read_bytes().split(b"\r\n", 1)[0]
    data = garbage_football_data(header, 3_000_000)
    assert count_data_lines(data) > ScreenSettings().chunk_rows  # more than one chunk
    path = tmp_path_factory.mktemp("garbage") / "garbage.csv"
    path.write_bytes(data)
    return path


def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_a_garbage_file_is_refused_from_its_first_rows_and_the_season_is_kept(
    garbage: Path, stored: DataStore
) -> None:
    before = stored.manifest()["partitions"][KEY]
    result = sabiscore("ingest", str(garbage), "--data-dir", str(stored.root), "--json")

    assert result.returncode == 1, result.stderr
    (error,) = _last_json(result.stdout)["errors"]
    assert error["status"] == "rejected"
    early = EARLY.match(error["error"])
    assert early, error["error"]
    assert int(early[1]) > 0.1 * int(early[3]) and int(early[2]) > 10
    assert int(early[3]) == count_data_lines(garbage.read_bytes())
    assert error["error"].endswith("(the quarantine keeps the first 1000 failed rows)")

    assert stored.manifest()["partitions"][KEY] == before
    assert len(stored.load("matches")) == 380
    quarantine = stored.load("quarantine")
    assert set(quarantine["source"]) == {str(garbage)}
    assert quarantine["line"].nunique() == 1000 and quarantine["line"].max() <= 5001
    raw = stored.root / "raw" / f"{sha256_of(garbage.read_bytes())}.csv"
    assert raw.read_bytes() == garbage.read_bytes(), "the refused bytes are kept"


def test_the_screen_fails_exactly_the_rows_the_suite_fails_on_their_own(garbage: Path) -> None:
    """The screen judges a chunk by the suite's row-local expectations, so what it fails the
    whole suite fails too: an early refusal is never one the full validation would not make."""
    lines = garbage.read_bytes().split(b"\r\n")
    prefix = garbage.with_name("prefix.csv")
    prefix.write_bytes(b"\r\n".join(lines[:1001]) + b"\r\n")  # the header and 1000 rows
    raws = {str(prefix): RawFile("0" * 64, prefix, str(prefix), 0)}
    validation = load_config()["validation"]
    small = {**validation, "screen": {"chunk_rows": 300, "quarantine_sample_rows": 300}}
    now = datetime(2026, 12, 2, tzinfo=UTC)

    refusal = screen_files.fn(raws, small, now)[str(prefix)]
    parsed = {str(prefix): parse_football_data(prefix.read_bytes(), str(prefix))}
    outcome, _ = validate_files.fn(parsed, validation, None, now)

    assert refusal.rows_read == 300 and refusal.quarantine["line"].max() <= 301

    def judged(table, reasons=None) -> set:
        rows = table[table["line"] <= 301]
        rows = rows if reasons is None else rows[rows["reason"].isin(reasons)]
        return set(zip(rows["line"], rows["column"], rows["reason"], strict=True))

    screened = judged(refusal.quarantine)
    assert screened and screened == judged(outcome.quarantine, set(refusal.quarantine["reason"]))
    assert screened <= judged(outcome.quarantine)


def test_validate_gives_the_guards_verdicts_and_changes_nothing(
    season_file: Path, garbage: Path, stored: DataStore, tmp_path: Path
) -> None:
    data = season_file.read_bytes()
    cut = tmp_path / "cut" / season_file.name
    short = tmp_path / "short" / season_file.name
    misnamed = tmp_path / "misnamed" / "2021-2022.csv"
    for path in (cut, short, misnamed):
        path.parent.mkdir()
    cut.write_bytes(data[: data.index(b"\r\n", len(data) // 2) + 20])  # 20 bytes into a row
    short.write_bytes(b"\r\n".join(data.split(b"\r\n")[: 1 + 285]) + b"\r\n")  # 285 of 380
    misnamed.write_bytes(data)
    state = {
        p: p.read_bytes()
        for p in sorted(stored.root.rglob("*"))
        if "gx" not in p.parts and p.is_file()
    }

    files = [cut, short, misnamed, season_file, garbage]
    result = sabiscore("validate", *map(str, files), "--data-dir", str(stored.root), "--json")

    assert result.returncode == 1, result.stderr
    report = _last_json(result.stdout)
    refused = report["guards"]["refused"]
    assert report["guards"]["checked"] == 4 and set(refused) == {
        str(cut),
        str(short),
        str(misnamed),
    }
    assert "looks cut off" in refused[str(cut)]
    assert f"force it with `sabiscore ingest {cut} --replace`" in refused[str(cut)]
    assert "285 played matches, 75% of the 380 stored" in refused[str(short)]
    assert "named for season 2021-2022 but its dates put it in 2022-2023" in refused[str(misnamed)]
    errors = {e["source"]: e["error"] for e in report["errors"]}
    assert set(errors) == {str(cut), str(short), str(misnamed), str(garbage)}
    assert EARLY.match(errors[str(garbage)])
    after = {
        p: p.read_bytes()
        for p in sorted(stored.root.rglob("*"))
        if "gx" not in p.parts and p.is_file()
    }
    assert after == state, "validate stores nothing"

    human = sabiscore("validate", str(short), "--data-dir", str(stored.root))
    assert human.returncode == 1
    assert "file guards (cut off, season in the name, fewer matches than stored): 0 of 1" in (
        human.stdout
    )
    assert f"ERROR {short}: {KEY}: the file has 285 played matches" in human.stdout
