"""The training flow for real: synthetic league → features → stack → MLflow, and its runners."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from flows.holdout import holdout_flow
from flows.ingest import ingest_flow
from flows.train import task_runner_from_config, train_flow
from sabiscore.synthetic import LeagueSpec, SyntheticConfig, generate_league
from sabiscore.synthetic import write_football_data_csvs as write_csvs

pytestmark = pytest.mark.slow

FORECASTERS = [
    "ensemble",
    "random_forest",
    "xgboost",
    "lightgbm",
    "market",
    "pinnacle_open",
    "pinnacle_close",
    "bet365_open",
]
SMALL_MODELS = {
    "train": {
        "models": {
            "random_forest": {"n_estimators": 60},
            "xgboost": {"n_estimators": 60},
            "lightgbm": {"n_estimators": 60},
        },
        # every kind of member, the market included (the default pools the market and LightGBM)
        "stacking": {"n_folds": 4, "members": ["market", "random_forest", "xgboost", "lightgbm"]},
    }
}


@pytest.fixture(scope="module")
def league_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = SyntheticConfig(
        seed=5,
        first_season=2019,
        n_seasons=4,
        leagues=(
            LeagueSpec(code="SY1", n_teams=18, tier=1, country="Sylvania"),
            LeagueSpec(code="SZ1", n_teams=16, tier=1, country="Zembla"),
        ),
    )
    folder = tmp_path_factory.mktemp("league")
    write_csvs(generate_league(config), folder)
    return folder


@pytest.fixture(scope="module")
def override(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL_MODELS))
    return path


@pytest.fixture(scope="module")
def trained(league_dir: Path, override: Path, tmp_path_factory: pytest.TempPathFactory):
    store = tmp_path_factory.mktemp("store")
    ingest_flow(sources=[str(league_dir)], data_dir=str(store))
    summary = train_flow(data_dir=str(store), config_path=str(override))
    return summary, store


def _base_rate_log_loss(summary: dict, store: Path) -> float:
    from sabiscore.store import DataStore

    matches = DataStore(store).load("matches")
    train = matches[
        matches["season"].isin(summary["split"]["train"] + summary["split"]["validation"])
    ]
    test = matches[matches["season"].isin(summary["split"]["test"])]
    rates = train["result"].value_counts(normalize=True)
    return float(-np.log(test["result"].map(rates)).mean())


def test_every_forecaster_is_scored_on_the_same_matches(trained) -> None:
    summary, _ = trained
    assert [row["forecaster"] for row in summary["rows"]] == FORECASTERS
    assert len({row["n"] for row in summary["rows"]}) == 1
    assert summary["rows"][0]["n"] == summary["n_test"]
    assert summary["split"]["test"] == ["2022-2023"]
    assert summary["split"]["validation"] == ["2021-2022"]
    assert 50 <= summary["n_features"] <= 220


def test_models_and_stack_beat_the_base_rates(trained) -> None:
    summary, store = trained
    base_rate = _base_rate_log_loss(summary, store)
    scores = {row["forecaster"]: row["log_loss"] for row in summary["rows"]}
    for name in ("ensemble", "random_forest", "xgboost", "lightgbm"):
        assert scores[name] < base_rate, f"{name} {scores[name]:.4f} vs base rate {base_rate:.4f}"


def test_the_run_is_in_mlflow_with_its_plots(trained) -> None:
    import mlflow

    from models.tracking import tracking_uri

    summary, store = trained
    client = mlflow.MlflowClient(tracking_uri(store))
    run = client.get_run(summary["run_id"])
    assert run.data.metrics["test_ensemble_log_loss"] == pytest.approx(
        summary["rows"][0]["log_loss"]
    )
    assert "test_pinnacle_close_log_loss" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(summary["run_id"], "plots")}
    assert "plots/calibration.png" in artifacts
    assert any("feature_importance" in a for a in artifacts)


def test_dask_runner_with_two_workers_and_chosen_training_seasons(trained, override: Path) -> None:
    """On Dask, and learning from two seasons only (`--train-season`): 2019-20 is left out."""
    from sabiscore.store import DataStore

    summary, store = trained
    runner = task_runner_from_config({"kind": "dask", "n_workers": 2, "threads_per_worker": 1})
    result = train_flow.with_options(task_runner=runner)(
        data_dir=str(store),
        config_path=str(override),
        log_to_mlflow=False,
        train_seasons=["2020-2021", "2021-2022"],
    )
    assert [row["forecaster"] for row in result["rows"]] == FORECASTERS
    assert result["n_test"] == summary["n_test"]
    assert result["split"] == {
        "train": ["2020-2021"],
        "validation": ["2021-2022"],
        "test": ["2022-2023"],
    }
    matches = DataStore(store).load("matches")
    assert result["n_train"] == matches["season"].isin(["2020-2021", "2021-2022"]).sum()
    assert result["n_train"] < summary["n_train"]


def test_holdout_backtest_on_files_never_seen(league_dir: Path, override: Path, tmp_path) -> None:
    train = [str(p) for p in sorted(league_dir.glob("*/2019-2020.csv"))]
    train += [str(p) for p in sorted(league_dir.glob("*/2020-2021.csv"))]
    test = [str(p) for p in sorted(league_dir.glob("*/2022-2023.csv"))]
    result = holdout_flow(
        train_sources=train, test_sources=test, data_dir=str(tmp_path), config_path=str(override)
    )
    assert result["partitions"]["test"] == ["SY1/2022-2023", "SZ1/2022-2023"]
    rows = {row["forecaster"]: row for row in result["rows"]}
    assert list(rows) == FORECASTERS
    for row in rows.values():
        assert {"n", "log_loss", "brier", "rps", "accuracy"} <= set(row)
        assert row["n"] == result["n_test"] == 18 * 17 + 16 * 15
