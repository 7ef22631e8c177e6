"""The data store: raw files by content, Parquet partitions, one atomic manifest commit."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

import sabiscore.store as store_module
from sabiscore.football_data import parse_football_data
from sabiscore.quality import Failure, apply_failures, canonical_matches, dominant_partition
from sabiscore.store import DataStore, Partition, file_partitions

SHA_A, SHA_B, SHA_C, SHA_D = ("a" * 64, "b" * 64, "c" * 64, "d" * 64)


def _partition(
    league: str,
    season: str,
    sha: str,
    played: list[str] = (),
    fixtures: list[str] = (),
    kind: str = "results",
) -> Partition:
    matches = pd.DataFrame({"match_id": list(played), "home_goals": range(len(played))})
    tables = {
        "matches": matches,
        "fixtures": pd.DataFrame({"match_id": list(fixtures)}),
        "odds": pd.DataFrame({"match_id": list(played), "price": [2.0] * len(played)}),
    }
    return Partition(league, season, sha, f"{league}-{season}.csv", tables, kind)


def _parquet_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in (root / "canonical").rglob("*.parquet*")}


# --- raw files ----------------------------------------------------------------------------


def test_put_raw_keeps_bytes_under_their_sha256(tmp_path):
    store = DataStore(tmp_path)
    data = b"\xef\xbb\xbfDiv,Date\r\nE0,11/08/2023\r\n,,\r\n"
    raw = store.put_raw(data, "https://example.org/2324/E0.csv")
    digest = hashlib.sha256(data).hexdigest()
    assert raw.sha256 == digest
    assert raw.path == tmp_path / "raw" / f"{digest}.csv"
    assert raw.path.read_bytes() == data  # BOM, CRLF and blank rows untouched
    assert (raw.size, raw.source) == (len(data), "https://example.org/2324/E0.csv")
    [entry] = store.raw_index()
    assert entry["sha256"] == digest
    assert entry["source"] == "https://example.org/2324/E0.csv"
    assert entry["size"] == len(data)


def test_put_raw_is_idempotent(tmp_path):
    store = DataStore(tmp_path)
    first = store.put_raw(b"Div\nE0\n", "E0.csv")
    again = store.put_raw(b"Div\nE0\n", "E0.csv")
    assert again == first
    lines = (tmp_path / "raw" / "index.jsonl").read_text().splitlines()
    assert len(lines) == 1
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == [
        f"{first.sha256}.csv",
        "index.jsonl",
    ]
    # The same bytes from another source: one file, a second provenance record.
    store.put_raw(b"Div\nE0\n", "copy/E0.csv")
    assert [e["source"] for e in store.raw_index()] == ["E0.csv", "copy/E0.csv"]
    assert len(list((tmp_path / "raw").glob("*.csv"))) == 1


# --- commit and load ----------------------------------------------------------------------


def test_commit_writes_parquet_readable_by_load(tmp_path):
    store = DataStore(tmp_path)
    assert store.manifest() == {"version": 0, "partitions": {}}
    assert store.load("matches").empty

    result = store.commit(
        [
            _partition("E0", "2023-2024", SHA_A, ["m1", "m2"]),
            _partition("SP1", "2023-2024", SHA_B, ["m3"]),
        ]
    )
    assert result.written == ("E0/2023-2024", "SP1/2023-2024")
    assert result.unchanged == result.replaced == ()

    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["version"] == 1
    entry = manifest["partitions"]["E0/2023-2024"]
    assert entry["raw_sha256"] == SHA_A
    assert entry["rows"] == {"matches": 2, "odds": 2}  # the empty fixtures table is not written
    assert entry["files"]["matches"] == (
        "canonical/matches/league=E0/season=2023-2024/part-results-aaaaaaaaaaaa.parquet"
    )
    assert (tmp_path / entry["files"]["matches"]).is_file()

    matches = store.load("matches")
    assert matches["match_id"].tolist() == ["m1", "m2", "m3"]
    assert matches["home_goals"].tolist() == [0, 1, 0]
    assert store.load("matches", leagues=["SP1"])["match_id"].tolist() == ["m3"]
    assert store.load("odds", seasons=["2022-2023"]).empty
    assert store.load("fixtures").empty
    assert store.summary()["matches"] == 3
    with pytest.raises(ValueError, match="unknown table 'bets'"):
        store.load("bets")


def test_commit_same_sha_is_unchanged(tmp_path):
    store = DataStore(tmp_path)
    store.commit([_partition("E0", "2023-2024", SHA_A, ["m1"])])
    before = store.manifest()
    files = _parquet_files(tmp_path)

    result = store.commit([_partition("E0", "2023-2024", SHA_A, ["m1"])])
    assert result.unchanged == ("E0/2023-2024",)
    assert result.written == result.replaced == ()
    assert store.manifest() == before
    assert store.manifest()["version"] == 1
    assert _parquet_files(tmp_path) == files


def test_commit_new_sha_replaces_the_season(tmp_path):
    store = DataStore(tmp_path)
    store.commit([_partition("E0", "2023-2024", SHA_A, ["m1", "m2"])])
    old_files = _parquet_files(tmp_path)

    result = store.commit([_partition("E0", "2023-2024", SHA_B, ["m1", "m3"])])
    assert result.replaced == ("E0/2023-2024",)
    assert result.written == result.unchanged == ()
    assert store.manifest()["version"] == 2
    assert store.manifest()["partitions"]["E0/2023-2024"]["raw_sha256"] == SHA_B
    assert store.load("matches")["match_id"].tolist() == ["m1", "m3"]
    assert store.load("odds")["match_id"].tolist() == ["m1", "m3"]
    new_files = _parquet_files(tmp_path)
    assert old_files.isdisjoint(new_files)  # the old part files are deleted
    assert all("bbbbbbbbbbbb" in f for f in new_files) and len(new_files) == 2


def test_fixtures_partition_does_not_replace_results(tmp_path):
    store = DataStore(tmp_path)
    store.commit([_partition("E0", "2024-2025", SHA_A, ["m1", "m2"])])
    fixtures = _partition("E0", "2024-2025", SHA_B, fixtures=["m2", "m3"], kind="fixtures")
    assert fixtures.key == "fixtures:E0/2024-2025"

    result = store.commit([fixtures])
    assert result.written == ("fixtures:E0/2024-2025",)
    assert result.replaced == ()
    assert set(store.manifest()["partitions"]) == {"E0/2024-2025", "fixtures:E0/2024-2025"}
    assert store.load("matches")["match_id"].tolist() == ["m1", "m2"]
    assert store.load("fixtures")["match_id"].tolist() == ["m2", "m3"]


def test_upcoming_fixtures_drops_those_with_a_result(tmp_path):
    store = DataStore(tmp_path)
    assert store.upcoming_fixtures().empty
    store.commit(
        [
            _partition("E0", "2024-2025", SHA_A, fixtures=["f1", "f2", "f3"], kind="fixtures"),
        ]
    )
    assert store.upcoming_fixtures()["match_id"].tolist() == ["f1", "f2", "f3"]

    # The season file now has results for f1 and f3.
    store.commit([_partition("E0", "2024-2025", SHA_B, ["m0", "f1", "f3"])])
    upcoming = store.upcoming_fixtures()
    assert upcoming["match_id"].tolist() == ["f2"]
    assert list(upcoming.index) == [0]


def test_interrupted_commit_keeps_previous_state_and_next_commit_cleans_up(tmp_path, monkeypatch):
    store = DataStore(tmp_path)
    store.commit([_partition("E0", "2023-2024", SHA_A, ["m1"])])
    manifest_before = (tmp_path / "manifest.json").read_bytes()
    files_before = _parquet_files(tmp_path)

    real_write = store_module._atomic_write

    def failing_write(path: Path, data: bytes) -> None:
        if path.name == "manifest.json":
            raise OSError("disk full")
        real_write(path, data)

    monkeypatch.setattr(store_module, "_atomic_write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        store.commit(
            [
                _partition("E0", "2023-2024", SHA_B, ["m2"]),
                _partition("E1", "2023-2024", SHA_C, ["m3"]),
            ]
        )
    orphans = _parquet_files(tmp_path) - files_before
    assert len(orphans) == 4  # matches + odds of both partitions were written

    # The old manifest and data are still the committed state.
    assert (tmp_path / "manifest.json").read_bytes() == manifest_before
    assert store.manifest()["version"] == 1
    assert store.load("matches")["match_id"].tolist() == ["m1"]
    assert not list(tmp_path.glob(".manifest.json.*"))  # no temporary manifest left

    monkeypatch.setattr(store_module, "_atomic_write", real_write)
    result = store.commit([_partition("SP1", "2023-2024", SHA_D, ["m4"])])
    assert result.written == ("SP1/2023-2024",)
    assert store.manifest()["version"] == 2
    remaining = _parquet_files(tmp_path)
    assert remaining.isdisjoint(orphans)
    assert files_before <= remaining
    assert store.load("matches")["match_id"].tolist() == ["m1", "m4"]


# --- file_partitions ----------------------------------------------------------------------

HEADER = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,B365H,B365D,B365A"
TWO_LEAGUES = [
    "E1,04/08/2023,Sheffield Weds,Southampton,1,2,A,3,3.4,2.3",
    "E0,11/08/2023,Burnley,Man City,0,3,A,8,5,1.4",
    "E1,05/08/2023,Leeds,Cardiff,2,1,H,1.6,4,5.5",
    ",12/08/2023,Nowhere,Elsewhere,1,1,D,2,3,4",  # line 5: no Div
    "E1,12/08/2023,Hull,QPR,,,,2.1,3.3,3.6",  # a fixture rides along with E1's results
]


def test_file_partitions_splits_by_league_and_files_orphan_quarantine(tmp_path):
    store = DataStore(tmp_path)
    data = ("\n".join([HEADER, *TWO_LEAGUES]) + "\n").encode()
    raw = store.put_raw(data, "mixed.csv")
    parsed = parse_football_data(data, raw.source)
    no_div = tuple(parsed.matches.index[parsed.matches["line"] == 5])
    outcome = apply_failures(
        parsed.matches,
        parsed.odds,
        [Failure("not_null", "league", "Div (division) is missing", "match", no_div)],
        max_bad_share=0.5,
    )
    assert outcome.quarantine["league"].tolist() == [None]
    fallback = dominant_partition(parsed.matches)
    assert fallback == ("E1", "2023-2024")  # not the first key in sorted order (E0)

    parts = file_partitions(
        raw,
        canonical_matches(outcome.matches),
        outcome.odds,
        outcome.quarantine,
        outcome.warnings,
        fallback,
    )
    assert [p.key for p in parts] == ["E0/2023-2024", "E1/2023-2024"]
    assert {p.kind for p in parts} == {"results"}
    assert {(p.raw_sha256, p.source) for p in parts} == {(raw.sha256, "mixed.csv")}
    e0, e1 = parts

    assert e0.tables["matches"]["match_id"].tolist() == ["e0-20230811-burnley-man-city"]
    assert e0.tables["fixtures"].empty
    assert e0.tables["odds"]["line"].tolist() == [3, 3, 3]
    assert e0.tables["quarantine"].empty

    assert e1.tables["matches"]["line"].tolist() == [2, 4]
    assert e1.tables["fixtures"]["match_id"].tolist() == ["e1-20230812-hull-qpr"]
    assert sorted(e1.tables["odds"]["line"]) == [2, 2, 2, 4, 4, 4, 6, 6, 6]
    assert "price_raw" not in e1.tables["odds"]
    # The row without a Div goes to the file's main partition.
    assert e1.tables["quarantine"]["line"].tolist() == [5]

    store.commit(parts)
    assert store.load("quarantine")["reason"].tolist() == ["Div (division) is missing"]
    assert sorted(store.load("matches", leagues=["E1"])["line"]) == [2, 4]
    assert store.upcoming_fixtures()["match_id"].tolist() == ["e1-20230812-hull-qpr"]


def test_file_partitions_of_a_fixtures_file_are_fixtures_kind(tmp_path):
    store = DataStore(tmp_path)
    results = ("\n".join([HEADER, TWO_LEAGUES[1]]) + "\n").encode()
    fixtures = ("\n".join([HEADER, "E0,19/08/2023,Man City,Newcastle,,,,1.3,6,9"]) + "\n").encode()
    for data, name in [(results, "E0.csv"), (fixtures, "fixtures.csv")]:
        raw = store.put_raw(data, name)
        parsed = parse_football_data(data, name)
        out = apply_failures(parsed.matches, parsed.odds, [], max_bad_share=0.1)
        parts = file_partitions(
            raw,
            canonical_matches(out.matches),
            out.odds,
            out.quarantine,
            out.warnings,
            dominant_partition(parsed.matches),
        )
        store.commit(parts)

    assert set(store.manifest()["partitions"]) == {"E0/2023-2024", "fixtures:E0/2023-2024"}
    assert store.load("matches")["match_id"].tolist() == ["e0-20230811-burnley-man-city"]
    assert store.upcoming_fixtures()["match_id"].tolist() == ["e0-20230819-man-city-newcastle"]


# --- dropping what was mixed in -----------------------------------------------------------


def test_drop_takes_a_league_or_one_season_out_atomically_and_keeps_the_raw_files(tmp_path):
    store = DataStore(tmp_path)
    store.commit(
        [
            _partition("E0", "2023-2024", SHA_A, ["m1", "m2"]),
            _partition("SY1", "2022-2023", SHA_B, ["s1"]),
            _partition("SY1", "2023-2024", SHA_C, ["s2"]),
        ]
    )
    raw = store.put_raw(b"Div,Date\nSY1,01/01/2023\n", "sy1.csv")
    version = store.manifest()["version"]

    assert store.drop("SY1", "2022-2023") == ("SY1/2022-2023",)
    assert store.manifest()["version"] == version + 1
    assert store.load("matches")["match_id"].tolist() == ["m1", "m2", "s2"]

    assert store.drop("SY1") == ("SY1/2023-2024",)
    assert store.summary()["leagues"] == ["E0"]
    assert not any("league=SY1" in f for f in _parquet_files(tmp_path))  # parts collected
    assert raw.path.read_bytes() == b"Div,Date\nSY1,01/01/2023\n"  # raw bytes never go

    before = (tmp_path / "manifest.json").read_bytes()
    assert store.drop("SY1") == () and store.drop("E0", "1999-2000") == ()
    assert (tmp_path / "manifest.json").read_bytes() == before  # nothing to drop: untouched
