from __future__ import annotations

from pathlib import Path

import pytest

from sabiscore.store import DataStore
from sabiscore.synthetic import LeagueSpec, SyntheticConfig, generate_league
from sabiscore.synthetic import write_football_data_csvs as write_csvs

#: One synthetic season of 380 matches, the store the ingest guards' tests start from.
ONE_SEASON = SyntheticConfig(
    seed=12,
    first_season=2022,
    n_seasons=1,
    leagues=(LeagueSpec(code="SY1", n_teams=20, tier=1, country="Sylvania"),),
)
SEASON_KEY = "SY1/2022-2023"


@pytest.fixture(scope="session", autouse=True)
def prefect_harness():
    """One temporary Prefect API for all flow tests (real flow runs, no server to manage)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def season_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ONE_SEASON as its football-data file (381 lines: the header and 380 matches)."""
    (path,) = write_csvs(generate_league(ONE_SEASON), tmp_path_factory.mktemp("synthetic"))
    assert path.name == "2022-2023.csv" and path.read_bytes().count(b"\n") == 381
    return path


@pytest.fixture()
def stored(season_file: Path, tmp_path: Path) -> DataStore:
    """A store holding `season_file` as SEASON_KEY."""
    from flows.ingest import ingest_flow

    ingest_flow(sources=[str(season_file)], data_dir=str(tmp_path / "store"))
    store = DataStore(tmp_path / "store")
    assert len(store.load("matches")) == 380
    return store
