"""A store that loses nothing: cut-off, shrunken, future-dated and misnamed files (issue 12).

Real flow runs under Prefect's test harness, with real GX validation, on a real-size season
(20 teams, 380 matches) from the synthetic league's football-data writer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.ingest import IngestError, ingest_flow
from sabiscore.store import DataStore
from tests.conftest import FOOTBALL_DATA
from tests.flows.conftest import SEASON_KEY

SHARED_SEASON = FOOTBALL_DATA / "E0" / "2023-2024.csv"
KEY = SEASON_KEY


def _copy(data: bytes, tmp_path: Path, name: str = "2022-2023.csv") -> Path:
    path = tmp_path / "in" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


def _cut_mid_row(data: bytes, share: float) -> bytes:
    """The first `share` of the bytes, moved on to the middle of a row (as a cut download)."""
    at = int(len(data) * share)
    while data[at - 1 : at] in (b"\n", b"\r") or data[at : at + 1] in (b"\n", b"\r"):
        at += 7
    return data[:at]


def _ingest(path: Path, store: DataStore, **kwargs: object) -> dict:
    return ingest_flow(sources=[str(path)], data_dir=str(store.root), **kwargs)


def test_a_truncated_file_is_refused_and_the_season_kept_then_replace_forces_it(
    season_file: Path, stored: DataStore, tmp_path: Path
) -> None:
    before = stored.manifest()["partitions"][KEY]
    cut = _copy(_cut_mid_row(season_file.read_bytes(), 0.75), tmp_path)

    with pytest.raises(IngestError) as raised:
        _ingest(cut, stored)
    (error,) = raised.value.summary["errors"]
    assert error["status"] == "rejected"
    assert "looks cut off" in error["error"] and "the stored season is kept" in error["error"]
    assert f"sabiscore ingest {cut} --replace" in error["error"]
    assert stored.manifest()["partitions"][KEY] == before
    assert len(stored.load("matches")) == 380
    quarantine = stored.load("quarantine")
    assert len(quarantine) == 1 and "different number of fields" in quarantine["reason"][0]

    summary = _ingest(cut, stored, replace=True)
    complete_rows = cut.read_bytes().count(b"\n") - 1  # minus the header; the cut row has none
    assert summary["errors"] == [] and summary["partitions_replaced"] == [KEY]
    assert summary["matches"] == complete_rows and summary["quarantined"] == 1
    assert len(stored.load("matches")) == complete_rows < 380


def test_a_file_cut_at_a_row_end_is_refused_for_having_fewer_matches(
    season_file: Path, stored: DataStore, tmp_path: Path
) -> None:
    before = stored.manifest()["partitions"][KEY]
    lines = season_file.read_bytes().split(b"\r\n")
    cut = _copy(b"\r\n".join(lines[: 1 + 285]) + b"\r\n", tmp_path)  # 285 of 380: 75%

    with pytest.raises(IngestError, match="285 played matches, 75% of the 380 stored"):
        _ingest(cut, stored)
    assert stored.manifest()["partitions"][KEY] == before
    assert len(stored.load("matches")) == 380

    summary = _ingest(cut, stored, replace=True)
    assert summary["partitions_replaced"] == [KEY] and len(stored.load("matches")) == 285


def test_a_season_in_progress_grows_without_replace(season_file: Path, tmp_path: Path) -> None:
    lines = season_file.read_bytes().split(b"\r\n")
    store = DataStore(tmp_path / "store")
    half = _copy(b"\r\n".join(lines[: 1 + 190]) + b"\r\n", tmp_path)
    assert _ingest(half, store)["matches"] == 190
    summary = _ingest(season_file, store)
    assert summary["errors"] == [] and summary["partitions_replaced"] == [KEY]
    assert len(store.load("matches")) == 380


def _in_2099(data: bytes) -> bytes:
    return data.replace(b"/2022,", b"/2099,").replace(b"/2023,", b"/2100,")


def test_results_dated_in_2099_are_quarantined_and_nothing_is_served(
    season_file: Path, tmp_path: Path
) -> None:
    store = DataStore(tmp_path / "store")
    future = _copy(_in_2099(season_file.read_bytes()), tmp_path, "future.csv")
    with pytest.raises(IngestError, match="failed validation") as raised:
        _ingest(future, store, now=datetime(2026, 12, 2, tzinfo=UTC))
    assert "most often: a played match (with a result) is dated after" in str(raised.value)
    assert store.load("matches").empty
    assert store.summary()["seasons"] == [], "2099-2100 is not served"
    quarantine = store.load("quarantine")
    assert len(quarantine) == 380
    assert quarantine["reason"].str.contains("dated after the time of ingest").all()

    # The time of ingest is passed in: in December 2100 these are past results.
    summary = _ingest(future, store, now=datetime(2100, 12, 2, tzinfo=UTC))
    assert summary["matches"] == 380 and summary["store"]["seasons"] == ["2099-2100"]


def test_future_fixtures_are_fine(season_file: Path, tmp_path: Path) -> None:
    lines = season_file.read_text().split("\n")
    header = lines[0].split(",")
    result_at = [header.index(c) for c in ("FTHG", "FTAG", "FTR")]
    fixtures = []
    for line in lines[1:4]:
        fields = line.split(",")
        for i in result_at:
            fields[i] = ""
        fixtures.append(",".join(fields))
    path = _copy(_in_2099("\n".join([lines[0], *fixtures, ""]).encode()), tmp_path, "fix.csv")
    summary = _ingest(path, DataStore(tmp_path / "store"))
    assert summary["fixtures"] == 3 and summary["quarantined"] == 0 and summary["errors"] == []


def test_a_file_named_for_another_season_is_refused_even_with_replace(
    season_file: Path, tmp_path: Path
) -> None:
    store = DataStore(tmp_path / "store")
    misnamed = _copy(_in_2099(season_file.read_bytes()), tmp_path, "2022-2023.csv")
    for replace in (False, True):
        with pytest.raises(IngestError, match="named for season 2022-2023 but its dates put it"):
            _ingest(misnamed, store, now=datetime(2100, 12, 2, tzinfo=UTC), replace=replace)
    assert store.manifest()["partitions"] == {}


def test_the_first_81928_bytes_of_a_real_season_are_refused(tmp_path: Path) -> None:
    if not SHARED_SEASON.exists():
        pytest.skip(f"real football-data file not found: {SHARED_SEASON}")
    store = DataStore(tmp_path / "store")
    _ingest(SHARED_SEASON, store)
    before = store.manifest()["partitions"]["E0/2023-2024"]
    cut = _copy(SHARED_SEASON.read_bytes()[:81_928], tmp_path, "2023-2024.csv")
    with pytest.raises(IngestError, match="looks cut off"):
        _ingest(cut, store)
    assert store.manifest()["partitions"]["E0/2023-2024"] == before
    assert len(store.load("matches")) == 380
