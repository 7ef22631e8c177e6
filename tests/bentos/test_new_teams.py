"""New teams without a restart (issue 13): fixtures that name a side the loaded state lacks (a
promoted team) are ingested while the service runs; its next answer refreshes the state from
the store instead of refusing the match until someone calls POST /reload."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from sabiscore.football_data import make_match_id
from tests.bentos.conftest import LEAGUE, copy_store, in_process_service

NEWCOMER = "Newtown Rovers"


@pytest.fixture(scope="module")
def store(champion_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_store(champion_store, tmp_path_factory.mktemp("newteams") / "store")


@pytest.fixture(scope="module")
def client(store: Path) -> Iterator[TestClient]:
    with in_process_service(store) as client:
        yield client


def test_a_promoted_side_is_priced_once_its_fixtures_are_ingested(
    client: TestClient, store: Path, tmp_path: Path
) -> None:
    known = client.get("/teams").json()["leagues"][0]["teams"]
    assert NEWCOMER not in known
    match_id = make_match_id(LEAGUE, pd.Timestamp("2022-08-20"), NEWCOMER, known[0])
    fixture = {
        "match_id": match_id,
        "league": LEAGUE,
        "home_team": NEWCOMER,
        "away_team": known[0],
        "kickoff": "2022-08-20T15:00:00Z",
        "odds": {"bet365": {"home": 3.1, "draw": 3.4, "away": 2.3}},
    }
    refused = client.post("/odds", json=fixture)
    assert refused.status_code == 422
    assert (
        "not in the history or the fixtures of the data store (ingest a file that lists it)"
        in refused.json()["error"]
    )

    listing = tmp_path / "fixtures.csv"
    row = f"{LEAGUE},20/08/2022,15:00,{NEWCOMER},{known[0]},3.1,3.4,2.3"
    listing.write_text(f"Div,Date,Time,HomeTeam,AwayTeam,B365H,B365D,B365A\n{row}\n")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")  # its own temporary Prefect API
    done = subprocess.run(
        [sys.executable, "-m", "cli", "ingest", str(listing), "--data-dir", str(store), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]

    priced = client.post("/odds", json=fixture)
    assert priced.status_code == 200, priced.text
    assert priced.json()["edge"]["home_team"] == NEWCOMER
    assert NEWCOMER in client.get("/teams").json()["leagues"][0]["teams"]
    listed = client.get("/fixtures", params={"from": "2022-08-20", "to": "2022-08-20"}).json()
    assert [f["match_id"] for f in listed["fixtures"]] == [match_id]  # the store's, as posted
