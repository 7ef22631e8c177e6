"""The versioned serving state (issue 14): the pipeline exports the teams' state, the
closing-line model and the upcoming fixtures inside each registered model, and a service
loads model and state from the registry alone — with no data directory at all it serves the
same numbers as a service beside the store, and those numbers are what the store gives."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.bentos.conftest import BOOKS, KICKOFF, LEAGUE, copy_store, own_tracking_uri

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def service(data_dir: Path, tracking: str) -> Iterator[Any]:
    """The service in this process on `data_dir` (which need not exist), its registry at
    `tracking`."""
    from fastapi.testclient import TestClient

    with pytest.MonkeyPatch.context() as patch:
        # set before MLflow's global URI (which writes the variable too): undone after it
        patch.setenv("MLFLOW_TRACKING_URI", tracking)
        patch.setenv("SABISCORE_DATA_DIR", str(data_dir))
        for name in (
            "NEXT_URL",
            "SENTRY_DSN",
            "APP_ENV",
            "SABISCORE_CONFIG",
            "SABISCORE_API_TOKEN",
        ):
            patch.delenv(name, raising=False)
        from bentos.service import SabiScore

        with (
            own_tracking_uri(tracking),
            TestClient(SabiScore.to_asgi(), raise_server_exceptions=False) as client,
        ):
            yield client


def answers(client: Any, teams: list[str]) -> dict[str, Any]:
    """Everything that depends on the state: forecasts of every pairing of the first teams,
    with and without prices, an edge, and the upcoming fixtures."""
    pairs = [(h, a) for h in teams[:6] for a in teams[:6] if h != a]
    matches = [
        {
            "league": LEAGUE,
            "home_team": h,
            "away_team": a,
            "kickoff": KICKOFF,
            **({"odds": BOOKS} if k % 2 else {}),
        }
        for k, (h, a) in enumerate(pairs)
    ]
    batch = client.post("/predict_batch", json={"matches": matches})
    assert batch.status_code == 200, batch.text
    edge = client.post("/edge", json={**matches[1]})
    assert edge.status_code == 200, edge.text
    fixtures = client.get("/fixtures", params={"from": "2000-01-01"}).json()
    return {
        "predictions": batch.json()["predictions"],
        "edge": edge.json(),
        "fixtures": [{k: v for k, v in f.items()} for f in fixtures["fixtures"]],
    }


def ingest(listing: Path, store: Path, home: Path) -> dict:
    env = {
        k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI")
    }
    env["PREFECT_HOME"] = str(home)  # its own temporary Prefect API
    done = subprocess.run(
        [sys.executable, "-m", "cli", "ingest", str(listing), "--data-dir", str(store), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_service_without_a_data_directory_serves_the_champion(
    champion_store: Path, tmp_path: Path
) -> None:
    """With the next round's fixtures ingested (the ingest publishes the champion's new
    state), a service with no data directory answers exactly as one beside the store."""
    from bentos.settings import tracking_uri

    store = copy_store(champion_store, tmp_path / "store")
    tracking = tracking_uri(store)
    with service(store, tracking) as client:
        teams = client.get("/teams").json()["leagues"][0]["teams"]
    rows = [
        f"{LEAGUE},20/08/2022,15:00,{teams[2 * k]},{teams[2 * k + 1]},2.2,3.3,3.4,2.25,3.4,3.5"
        for k in range(3)
    ]
    listing = tmp_path / "fixtures.csv"
    listing.write_text(
        "Div,Date,Time,HomeTeam,AwayTeam,B365H,B365D,B365A,PSH,PSD,PSA\n" + "\n".join(rows) + "\n"
    )
    published = ingest(listing, store, tmp_path / "prefect")["serving_state"]
    assert published["published"] is True and published["fixtures"] == 3, published
    with service(store, tracking) as beside:
        teams = beside.get("/teams").json()["leagues"][0]["teams"]
        expected = answers(beside, teams)
        ready = beside.get("/readyz").json()
    nowhere = tmp_path / "no-such-directory"
    with service(nowhere, tracking) as alone:
        assert alone.get("/readyz").json()["model"] == ready["model"]
        assert alone.get("/teams").json()["leagues"][0]["teams"] == teams
        got = answers(alone, teams)
        from bentos.service import app

        assert app.state.runtime.model.state_source == published["run_id"]
    assert len(expected["fixtures"]) == 3
    assert {b for f in expected["fixtures"] for b in f["books"]} == {"bet365", "pinnacle"}
    assert got == expected
    assert not nowhere.exists(), "the service made a data directory"


def test_the_exported_state_is_what_the_store_gives(champion_store: Path) -> None:
    """The state inside the champion's files equals one built from the store now (as the
    service did before it read states from the registry): every pair's feature row, the
    closing-line model, the fixtures."""
    from bentos.settings import ServingSettings, tracking_uri
    from bentos.state import legacy_state
    from models.registry import ModelRegistry
    from sabiscore.config import load_config

    assert "MLFLOW_TRACKING_URI" not in os.environ  # no test before left it set
    with own_tracking_uri(tracking_uri(champion_store)):
        registry = ModelRegistry(tracking_uri(champion_store))
        ensemble, exported, source = registry.load_served(registry.champion())
    assert source == "embedded"
    settings = ServingSettings.from_config(load_config(), {}, champion_store)
    rebuilt = legacy_state(settings, ensemble.metadata)
    assert exported.history == rebuilt.history
    assert exported.describe() == rebuilt.describe() and exported.fixtures == rebuilt.fixtures
    mine, theirs = exported.featurizer, rebuilt.featurizer
    assert mine.columns == theirs.columns and mine.teams() == theirs.teams()
    for league, teams in mine.teams().items():
        for home in teams:
            for away in (t for t in teams if t != home):
                np.testing.assert_array_equal(
                    mine.features(
                        league, home, away, odds={b: tuple(p.values()) for b, p in BOOKS.items()}
                    ),
                    theirs.features(
                        league, home, away, odds={b: tuple(p.values()) for b, p in BOOKS.items()}
                    ),
                )
