"""The real football-data.co.uk files in ../shared: every one ingests, nothing is lost."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from flows.ingest import ingest_flow
from sabiscore.store import DataStore
from tests.flows.conftest import prefect_harness  # noqa: F401 - real flow runs here
from tests.helpers import serve_directory

pytestmark = [pytest.mark.shared_data, pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def _data_rows(path: Path) -> int:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))[1:]
    return sum(1 for row in rows if any(field.strip() for field in row))


@pytest.fixture(scope="module")
def ingested(football_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    store_dir = tmp_path_factory.mktemp("shared-store")
    summary = ingest_flow(sources=[str(football_data_dir)], data_dir=str(store_dir))
    return summary, DataStore(store_dir)


def test_every_shared_file_ingests_without_quarantine(ingested, football_data_dir) -> None:
    summary, store = ingested
    files = sorted(football_data_dir.glob("*/*.csv"))
    assert len(files) == 72
    assert summary["files"] == 72 and summary["errors"] == []
    assert summary["quarantined"] == 0
    assert store.load("quarantine").empty


def test_one_canonical_row_per_match_of_the_files(ingested, football_data_dir) -> None:
    _, store = ingested
    matches = store.load("matches")
    expected = {(p.parent.name, p.stem): _data_rows(p) for p in football_data_dir.glob("*/*.csv")}
    got = matches.groupby(["league", "season"]).size().to_dict()
    assert got == expected
    assert matches["match_id"].is_unique


def test_known_price_errors_are_dropped_with_a_warning(ingested) -> None:
    _, store = ingested
    warnings = store.load("price_warnings")
    books = warnings[["match_id", "code", "phase", "market"]].drop_duplicates()
    assert 1 <= len(books) <= 20
    e1 = warnings[(warnings["league"] == "E1") & (warnings["code"] == "B365")]
    assert len(e1) >= 1, "the Championship's Bet365 price at or below 1.01"
    wh = warnings[(warnings["league"] == "I1") & (warnings["code"] == "WH")]
    assert "overround" in " ".join(wh["reason"]), "William Hill's 158% book in Serie A"
    odds = store.load("odds")
    for _, w in warnings.iterrows():
        same = (
            odds[["match_id", "code", "phase", "market"]]
            == w[["match_id", "code", "phase", "market"]]
        ).all(axis=1)
        dropped = odds[same]
        assert dropped.empty


def test_layouts_read_by_meaning(ingested) -> None:
    _, store = ingested
    odds = store.load("odds", leagues=["E0"], seasons=["2012-2013", "2023-2024"])
    books = odds.groupby("season")["bookmaker"].agg(lambda s: set(s))
    assert {"pinnacle", "bet365", "market_avg", "market_max", "blue_square"} <= books["2012-2013"]
    phases = odds[odds["bookmaker"] == "bet365"].groupby("season")["phase"].agg(set)
    assert phases["2012-2013"] == {"open"} and phases["2023-2024"] == {"open", "close"}
    matches = store.load("matches", leagues=["E0"], seasons=["2023-2024"])
    assert matches["kickoff"].dt.hour.gt(0).all(), "Time column combined into kick-off"


def test_served_over_http_with_the_football_data_scheme(football_data_dir, tmp_path) -> None:
    def rewrite(path: str) -> str:
        found = re.fullmatch(r"/mmz4281/(\d\d)(\d\d)/(\w+)\.csv", path)
        if not found:
            return path
        start, end, division = found.groups()
        return f"/{division}/20{start}-20{end}.csv"

    override = tmp_path / "override.yaml"
    with serve_directory(football_data_dir, rewrite) as (base, requests):
        override.write_text(
            "data:\n  football_data:\n"
            f"    base_url: {base}/mmz4281\n    leagues: [E0, SP1]\n"
            "    seasons: ['2022-2023', '2023-2024']\n"
        )
        summary = ingest_flow(
            sources=["football-data"], data_dir=str(tmp_path / "store"), config_path=str(override)
        )
    assert sorted(requests) == sorted(
        f"/mmz4281/{s}/{d}.csv" for s in ("2223", "2324") for d in ("E0", "SP1")
    )
    assert summary["files"] == 4 and summary["matches"] == 4 * 380
    assert summary["quarantined"] == 0
