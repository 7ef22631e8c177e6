"""The ingest flow, run for real under Prefect's test harness, with real GX validation."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from flows.ingest import IngestError, ingest_flow
from sabiscore.store import DataStore
from sabiscore.synthetic import LeagueSpec, SyntheticConfig, generate_league
from sabiscore.synthetic import write_football_data_csvs as write_csvs
from tests.helpers import serve_directory

CONFIG = SyntheticConfig(
    seed=11,
    first_season=2021,
    n_seasons=2,
    leagues=(
        LeagueSpec(code="SY1", n_teams=16, tier=1, country="Sylvania"),
        LeagueSpec(code="SZ1", n_teams=8, tier=1, country="Zembla"),
    ),
)


@pytest.fixture(scope="module")
def league_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_csvs(generate_league(CONFIG), tmp_path_factory.mktemp("synthetic"))


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _rows(path: Path) -> int:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return sum(1 for row in list(csv.reader(handle))[1:] if any(f.strip() for f in row))


def _set_field(line: str, header: list[str], column: str, value: str) -> str:
    fields = next(csv.reader(io.StringIO(line)))
    fields[header.index(column)] = value
    return ",".join(fields)


def test_synthetic_league_ingests_cleanly(league_files: list[Path], tmp_path: Path) -> None:
    folder = league_files[0].parent.parent
    summary = ingest_flow(sources=[str(folder)], data_dir=str(tmp_path))
    expected = sum(_rows(p) for p in league_files)
    assert summary["files"] == len(league_files) == 4
    assert summary["matches"] == expected
    assert summary["quarantined"] == 0
    assert summary["price_warnings"] == 0
    assert summary["errors"] == []
    matches = DataStore(tmp_path).load("matches")
    assert len(matches) == expected and matches["match_id"].is_unique
    odds = DataStore(tmp_path).load("odds")
    assert set(odds["bookmaker"]) >= {"pinnacle", "bet365", "market_avg", "market_max"}
    assert Path(summary["gx"]["data_docs"]).exists()
    page = Path(summary["gx"]["report"]).read_text()  # the offline page: nothing to fetch
    assert f"0 of {summary['gx']['evaluated_expectations']} expectations failed" in page
    assert "<script" not in page and "http" not in page


def test_no_source_never_mixes_the_synthetic_league_into_a_store_of_real_leagues(
    tmp_path: Path,
) -> None:
    """`default_sources: [synthetic]` is the default for an empty store only."""
    real_like = SyntheticConfig(
        seed=3,
        first_season=2022,
        n_seasons=1,
        leagues=(LeagueSpec(code="E0", n_teams=6, tier=1, country="E"),),
    )
    (e0,) = write_csvs(generate_league(real_like), tmp_path / "files")
    store = tmp_path / "store"
    ingest_flow(sources=[str(e0)], data_dir=str(store))

    summary = ingest_flow(data_dir=str(store))
    assert summary["files_seen"] == 0 and summary["partitions_written"] == []
    assert DataStore(store).summary()["leagues"] == ["E0"]
    assert "holds real leagues (E0)" in summary["sources_note"]
    assert "name 'synthetic' to add it" in summary["sources_note"]


def test_same_files_twice_change_nothing(league_files: list[Path], tmp_path: Path) -> None:
    sources = [str(p) for p in league_files]
    ingest_flow(sources=sources, data_dir=str(tmp_path))
    store = DataStore(tmp_path)
    before = store.manifest_path.read_bytes()
    parquet_before = sorted((tmp_path / "canonical").rglob("*.parquet"))
    summary = ingest_flow(sources=sources, data_dir=str(tmp_path))
    assert store.manifest_path.read_bytes() == before
    assert sorted((tmp_path / "canonical").rglob("*.parquet")) == parquet_before
    assert {r["status"] for r in summary["per_file"]} == {"unchanged"}
    assert summary["matches"] == sum(_rows(p) for p in league_files)
    assert len(list((tmp_path / "raw").glob("*.csv"))) == len(league_files)


def test_corrected_file_replaces_its_season(league_files: list[Path], tmp_path: Path) -> None:
    original = league_files[0]
    ingest_flow(sources=[str(original)], data_dir=str(tmp_path))
    lines = _lines(original)
    header = lines[0].split(",")
    home = int(lines[1].split(",")[header.index("FTHG")])
    away = int(lines[1].split(",")[header.index("FTAG")])
    fixed = _set_field(lines[1], header, "FTHG", str(home + 5))
    fixed = _set_field(fixed, header, "FTR", "H")
    corrected = tmp_path / "corrected" / original.name
    corrected.parent.mkdir()
    corrected.write_text("\r\n".join([lines[0], fixed, *lines[2:]]) + "\r\n")

    summary = ingest_flow(sources=[str(corrected)], data_dir=str(tmp_path / "store"))
    summary = ingest_flow(sources=[str(original)], data_dir=str(tmp_path / "store"))
    summary = ingest_flow(sources=[str(corrected)], data_dir=str(tmp_path / "store"))
    assert summary["partitions_replaced"] == [f"SY1/{original.stem}"]
    stored = DataStore(tmp_path / "store").load("matches")
    first = stored.sort_values("line").iloc[0]
    assert (first["home_goals"], first["away_goals"]) == (home + 5, away)
    assert len(stored) == _rows(original)
    parts = list((tmp_path / "store" / "canonical" / "matches").rglob("*.parquet"))
    assert len(parts) == 1, "the replaced season's old part file must be removed"


def test_broken_rows_are_quarantined_and_good_rows_kept(
    league_files: list[Path], tmp_path: Path
) -> None:
    lines = _lines(league_files[0])
    header = lines[0].split(",")
    rows = lines[1:]
    good = len(rows)
    truncated = ",".join(rows[0].split(",")[:10])
    text_goals = _set_field(rows[1], header, "FTHG", "two")
    bad_odds = _set_field(rows[2], header, "B365H", "0.5")
    home, away = (int(rows[3].split(",")[header.index(c)]) for c in ("FTHG", "FTAG"))
    wrong = {"H": "A", "A": "H", "D": "H"}["H" if home > away else "A" if home < away else "D"]
    bad_ftr = _set_field(rows[3], header, "FTR", wrong)
    duplicate = rows[4]
    body = [truncated, text_goals, bad_odds, bad_ftr, *rows[4:], duplicate]
    broken = tmp_path / "in" / "broken.csv"
    broken.parent.mkdir()
    broken.write_text("\r\n".join([lines[0], *body]) + "\r\n")

    summary = ingest_flow(sources=[str(broken)], data_dir=str(tmp_path / "store"))
    store = DataStore(tmp_path / "store")
    quarantine = store.load("quarantine")
    reasons = " | ".join(quarantine["reason"])
    assert summary["quarantined"] == len(quarantine) >= 4
    assert "different number of fields" in reasons
    assert "FTHG" in reasons and "not a non-negative integer" in reasons
    assert "disagrees with the goals" in reasons
    assert "duplicate match" in reasons and "first seen at line" in reasons
    assert set(quarantine["line"]) == {2, 3, 5, len(body) + 1}
    assert (quarantine["source"] == str(broken)).all()
    failed = {f["reason"]: f for f in summary["gx"]["failed"]}  # named for `validate`, too
    (result,) = [f for reason, f in failed.items() if "disagrees with the goals" in reason]
    assert result["expectation"].startswith("expect_") and result["rows"] == 1
    page = Path(summary["gx"]["report"]).read_text()
    assert "FAILED" in page and "disagrees with the goals" in page

    matches = store.load("matches")
    assert len(matches) == good - 3  # rows 0, 1 and 3 were broken; the duplicate is extra
    bad_odds_id = matches.loc[matches["line"] == 4, "match_id"].item()
    warnings = store.load("price_warnings")
    assert (warnings["match_id"] == bad_odds_id).all() and len(warnings) >= 1
    assert "greater than 1.01" in " ".join(warnings["reason"])
    odds = store.load("odds")
    this = odds[odds["match_id"] == bad_odds_id]
    assert not (
        (this["bookmaker"] == "bet365") & (this["phase"] == "open") & (this["market"] == "1x2")
    ).any()
    assert ((this["bookmaker"] == "pinnacle") & (this["phase"] == "open")).any()


def test_files_that_are_not_football_data_fail_the_run_but_keep_the_good_ones(
    league_files: list[Path], tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "empty.csv").write_bytes(b"")
    (folder / "page.csv").write_text("<!DOCTYPE html><html><body>Not found</body></html>")
    (folder / "utf16.csv").write_bytes("Div,Date,HomeTeam\r\n".encode("utf-16"))
    lines = _lines(league_files[1])
    header = lines[0].split(",")
    accented = [
        _set_field(line, header, "HomeTeam", "Alavés") if i == 0 else line
        for i, line in enumerate(lines[1:])
    ]
    (folder / "latin1.csv").write_bytes("\r\n".join([lines[0], *accented]).encode("cp1252"))

    with pytest.raises(IngestError) as raised:
        ingest_flow(sources=[str(folder)], data_dir=str(tmp_path / "store"))
    summary = raised.value.summary
    errors = {Path(e["source"]).name: e["error"] for e in summary["errors"]}
    assert set(errors) == {"empty.csv", "page.csv", "utf16.csv"}
    assert "empty" in errors["empty.csv"]
    assert "HTML" in errors["page.csv"]
    assert "encoding" in errors["utf16.csv"]
    assert "empty.csv" in str(raised.value)
    assert summary["files"] == 1 and summary["matches"] == len(lines) - 1
    assert any("Windows-1252" in w["warning"] for w in summary["file_warnings"])
    stored = DataStore(tmp_path / "store").load("matches")
    assert "Alavés" in set(stored["home_team"])
    assert len(list((tmp_path / "store" / "raw").glob("*.csv"))) == 4, "raw bytes are kept"


def test_a_mostly_broken_file_is_rejected_whole(league_files: list[Path], tmp_path: Path) -> None:
    lines = _lines(league_files[1])
    header = lines[0].split(",")
    body = [
        _set_field(line, header, "FTR", "X") if i % 3 == 0 else line
        for i, line in enumerate(lines[1:])
    ]
    broken = tmp_path / "mostly_broken.csv"
    broken.write_text("\r\n".join([lines[0], *body]) + "\r\n")
    with pytest.raises(IngestError, match="failed validation"):
        ingest_flow(sources=[str(broken)], data_dir=str(tmp_path / "store"))
    assert DataStore(tmp_path / "store").load("matches").empty


def test_fixtures_are_kept_as_fixtures(league_files: list[Path], tmp_path: Path) -> None:
    lines = _lines(league_files[0])
    header = lines[0].split(",")
    future = []
    for line in lines[1:4]:
        for column in ("FTHG", "FTAG", "FTR", "HTHG", "HTAG", "HTR", "HS", "AS"):
            line = _set_field(line, header, column, "")
        future.append(line.replace("2021", "2023", 1).replace("2022", "2023", 1))
    fixtures = tmp_path / "fixtures.csv"
    fixtures.write_text("\r\n".join([lines[0], *future]) + "\r\n")
    summary = ingest_flow(sources=[str(fixtures)], data_dir=str(tmp_path / "store"))
    assert summary["fixtures"] == 3 and summary["matches"] == 0 and summary["quarantined"] == 0
    upcoming = DataStore(tmp_path / "store").upcoming_fixtures()
    assert len(upcoming) == 3 and (upcoming["status"] == "fixture").all()


def test_urls_and_the_football_data_scheme(league_files: list[Path], tmp_path: Path) -> None:
    site = tmp_path / "site"
    for path in league_files:
        start, end = path.stem.split("-")
        target = site / "mmz4281" / f"{start[2:]}{end[2:]}" / f"{path.parent.name}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    override = tmp_path / "override.yaml"
    with serve_directory(site) as (base, requests):
        override.write_text(
            json.dumps(
                {
                    "data": {
                        "football_data": {
                            "base_url": f"{base}/mmz4281",
                            "leagues": ["SY1", "SZ1"],
                            "seasons": ["2021-2022", "2022-2023"],
                        },
                        "http": {"timeout_s": 5, "retries": 2, "retry_delay_s": 0},
                    }
                }
            )
        )
        summary = ingest_flow(
            sources=["football-data"],
            data_dir=str(tmp_path / "store"),
            config_path=str(override),
        )
        assert summary["files"] == 4 and summary["errors"] == []
        assert summary["matches"] == sum(_rows(p) for p in league_files)
        sources = {e["source"] for e in DataStore(tmp_path / "store").raw_index()}
        assert f"{base}/mmz4281/2122/SY1.csv" in sources

        with pytest.raises(IngestError, match="HTTP 404") as raised:
            ingest_flow(
                sources=[f"{base}/mmz4281/1920/XX.csv"],
                data_dir=str(tmp_path / "store"),
                config_path=str(override),
            )
        assert requests.count("/mmz4281/1920/XX.csv") == 1, "a 404 is not retried"
        with pytest.raises(IngestError, match="HTTP 500"):
            ingest_flow(
                sources=[f"{base}/fail500/SY1.csv"],
                data_dir=str(tmp_path / "store"),
                config_path=str(override),
            )
        assert requests.count("/fail500/SY1.csv") == 3, "a 5xx is retried (1 try + 2 retries)"
    assert raised.value.summary["files"] == 0


def test_a_worker_process_parses_what_this_one_would(
    league_files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold command parses many files in a worker process while it imports GX: the same
    tables as parsing here, a bad file's error included; a worker that cannot run costs
    nothing but time."""
    import pandas as pd

    import tasks.ingest as ingest_tasks

    bad = tmp_path / "page.csv"
    bad.write_text("<html><body>Not found</body></html>")
    sources = [str(p) for p in league_files] + [str(bad)]
    stores, returned = {}, {}
    in_worker = ingest_tasks._parse_in_worker

    def spy(jobs: dict, how: str = "") -> dict:
        results = in_worker(jobs)
        returned[how] = len(results)
        return results

    for how in ("here", "worker", "broken worker"):
        monkeypatch.setattr(ingest_tasks, "_parse_in_worker", lambda jobs, w=how: spy(jobs, w))
        monkeypatch.setattr(ingest_tasks, "overlap_gx_import", lambda raws, w=how: w != "here")
        if how == "broken worker":  # an interpreter that exits at once: parsed here instead
            monkeypatch.setattr(ingest_tasks.sys, "executable", "/bin/false")
        with pytest.raises(IngestError) as raised:
            ingest_flow(sources=sources, data_dir=str(tmp_path / how))
        errors = raised.value.summary["errors"]
        assert [(e["source"], e["error"][:21]) for e in errors] == [
            (str(bad), "this is an HTML page,")
        ]
        stores[how] = DataStore(tmp_path / how)
    assert returned == {"worker": len(sources), "broken worker": 0}  # none asked for "here"
    for table in ("matches", "odds"):
        here = stores["here"].load(table)
        assert len(here) > 0
        for how in ("worker", "broken worker"):
            pd.testing.assert_frame_equal(stores[how].load(table), here, check_exact=True)


def test_only_a_cold_process_with_many_bytes_parses_in_a_worker(tmp_path: Path) -> None:
    """In a fresh interpreter (no GX yet): many bytes on more than one core go to a worker,
    few bytes do not; once GX is imported there is nothing to overlap."""
    import os
    import subprocess
    import sys

    big, small = tmp_path / "big.csv", tmp_path / "small.csv"
    big.write_bytes(b"x" * 4_000_000)
    small.write_bytes(b"x" * 1_000)
    script = f"""
import sys
from pathlib import Path
from sabiscore.store import RawFile
from tasks.ingest import OVERLAP_PARSE_BYTES, import_gx, overlap_gx_import
raw = lambda p: {{p: RawFile("0" * 64, Path(p), p, Path(p).stat().st_size)}}
assert OVERLAP_PARSE_BYTES <= 4_000_000
print(overlap_gx_import(raw({str(big)!r})), overlap_gx_import(raw({str(small)!r})), end=" ")
import_gx()
print(overlap_gx_import(raw({str(big)!r})))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    many_cores = len(os.sched_getaffinity(0)) > 1
    assert done.stdout.split() == [str(many_cores), "False", "False"]
