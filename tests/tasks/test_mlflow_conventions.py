"""MLflow as its users know it, read back with MLflow's own client after one small pipeline run:
classic ML experiments per kind of run, runs named for what they did and spanning the training,
the datasets they used, the numbers a person compares as metrics, few version tags, and a
promotion record that says who promoted a version and how."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import yaml

from models.registry import DEFAULT_MODEL_NAME, PROMOTION_NOTE, ModelRegistry, point_mlflow_at
from models.tracking import (
    BACKTEST_EXPERIMENT,
    CLASSIC_ML,
    EXPERIMENT_DESCRIPTIONS,
    EXPERIMENT_KIND_TAG,
    LEGACY_EXPERIMENT,
    NOTE_TAG,
    SERVING_STATE_EXPERIMENT,
    TRAINING_EXPERIMENT,
    season_span,
    tracking_uri,
    use_tracking,
)
from sabiscore.promotion import Decision
from sabiscore.store import DataStore
from sabiscore.synthetic import LeagueSpec, SyntheticConfig, generate_league
from sabiscore.synthetic import write_football_data_csvs as write_csvs

pytestmark = pytest.mark.slow

SMALL = {
    "train": {
        "models": {name: {"n_estimators": 10} for name in ("random_forest", "xgboost", "lightgbm")},
        "stacking": {"n_folds": 3},
    },
    "promotion": {"ece_margin": 0.2, "market": {"required": False}, "refit": {"enabled": False}},
}
#: What a person reads on the model page: few enough to see without unfolding.
MAX_VERSION_TAGS = 16


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[None]:
    """The flow tests' Prefect API when this session has one, else a temporary one."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    if PREFECT_API_URL.value():
        yield
        return
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def piped(prefect_api, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One pipeline run on a fresh store of a small synthetic league: version 1, champion."""
    from flows.pipeline import pipeline_flow

    league = tmp_path_factory.mktemp("league")
    write_csvs(
        generate_league(
            SyntheticConfig(
                seed=3,
                first_season=2019,
                n_seasons=3,
                leagues=(LeagueSpec(code="SY1", n_teams=14, tier=1, country="Sylvania"),),
            )
        ),
        league,
    )
    config = tmp_path_factory.mktemp("config") / "small.yaml"
    config.write_text(yaml.safe_dump(SMALL))
    store = tmp_path_factory.mktemp("store")
    summary = pipeline_flow(sources=[str(league)], data_dir=str(store), config_path=str(config))
    assert summary["promoted"] and summary["registered_version"] == "1", summary["reason"]
    return store, summary


def _client(store: Path) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri(store), registry_uri=tracking_uri(store))


def test_the_training_experiment_is_a_classic_ml_experiment(piped) -> None:
    store, summary = piped
    client = _client(store)
    training = client.get_experiment_by_name(TRAINING_EXPERIMENT)
    assert training.tags[EXPERIMENT_KIND_TAG] == CLASSIC_ML
    assert (
        client.get_run(summary["training"]["run_id"]).info.experiment_id == training.experiment_id
    )
    assert client.get_experiment_by_name(LEGACY_EXPERIMENT) is None


def test_each_experiment_says_what_it_holds(piped) -> None:
    """The experiment page's Description: the training's, and the ledger's the pipeline
    published after it."""
    from tasks.ledger import EXPERIMENT as LEDGER_EXPERIMENT
    from tasks.ledger import EXPERIMENT_NOTE as LEDGER_NOTE

    client = _client(piped[0])
    training = client.get_experiment_by_name(TRAINING_EXPERIMENT)
    assert training.tags[NOTE_TAG] == EXPERIMENT_DESCRIPTIONS[TRAINING_EXPERIMENT]
    assert client.get_experiment_by_name(LEDGER_EXPERIMENT).tags[NOTE_TAG] == LEDGER_NOTE


def test_the_run_is_named_for_what_it_did_and_spans_the_training(piped) -> None:
    store, summary = piped
    run = _client(store).get_run(summary["training"]["run_id"])
    split = summary["training"]["split"]
    fitted = season_span(split["train"] + split["validation"])
    assert run.info.run_name == f"train SY1 {fitted} test {season_span(split['test'])} v1.0.0"
    seconds = (run.info.end_time - run.info.start_time) / 1000
    assert seconds >= summary["training"]["seconds"] - 0.1  # not only the logging's second


def test_the_run_records_the_datasets_it_trained_and_was_tested_on(piped) -> None:
    from tasks.train import store_digest

    store, summary = piped
    run = _client(store).get_run(summary["training"]["run_id"])
    inputs = {
        dict((t.key, t.value) for t in i.tags)["mlflow.data.context"]: i
        for i in run.inputs.dataset_inputs
    }
    assert set(inputs) == {"training", "testing"}
    split = summary["training"]["split"]
    expected = {
        "training": (split["train"] + split["validation"], summary["training"]["n_train"]),
        "testing": (split["test"], summary["training"]["n_test"]),
    }
    for context, (seasons, rows) in expected.items():
        logged = inputs[context]
        tags = {t.key: t.value for t in logged.tags}
        assert tags["store_manifest"] == store_digest(DataStore(store))
        assert (tags["leagues"], tags["seasons"], tags["rows"]) == (
            "SY1",
            ",".join(sorted(seasons)),
            str(rows),
        )
        assert logged.dataset.name == f"SY1 {season_span(seasons)}"
        assert json.loads(logged.dataset.profile)["num_rows"] == rows
        assert len(logged.dataset.digest) == 16


def test_what_a_person_compares_is_a_metric_and_the_version_tags_are_few(piped) -> None:
    store, summary = piped
    client = _client(store)
    version = client.get_model_version(DEFAULT_MODEL_NAME, "1")
    metrics = client.get_run(version.run_id).data.metrics
    candidate = summary["holdout"]["candidate"]
    assert metrics["holdout_log_loss"] == pytest.approx(candidate["log_loss"])
    assert metrics["holdout_n"] == candidate["n"]
    assert metrics["holdout_market_log_loss"] == pytest.approx(
        summary["holdout"]["market"]["log_loss"]
    )
    assert metrics["gate_ece_bound"] == pytest.approx(summary["gate"]["ece_bound"])
    assert metrics["n_train"] == summary["training"]["n_train"]
    assert ModelRegistry(tracking_uri(store)).holdout_metrics(version)["log_loss"] == pytest.approx(
        candidate["log_loss"]
    )
    assert not [key for key in version.tags if key.startswith("holdout.")]
    assert len(version.tags) <= MAX_VERSION_TAGS, sorted(version.tags)
    assert version.tags["promotion.by"] == "gate"


def test_a_setting_is_a_parameter_and_a_count_is_said_once(piped) -> None:
    """The gate's market tolerance is a setting: a parameter of the run, not a metric charted
    over time; the row counts are metrics, not repeated as tags."""
    store, summary = piped
    client = _client(store)
    run = client.get_run(client.get_model_version(DEFAULT_MODEL_NAME, "1").run_id)
    assert "gate_market_tolerance" not in run.data.metrics
    tolerance = summary["gate"]["market_tolerance"]
    if tolerance is None:
        assert "gate_market_tolerance" not in run.data.params
    else:
        assert float(run.data.params["gate_market_tolerance"]) == pytest.approx(tolerance)
    assert {"n_train", "n_test"} <= set(run.data.metrics)
    assert not {"n_train", "n_test"} & set(run.data.tags)


def test_a_version_says_what_it_trained_on_how_it_scored_and_how_it_was_promoted(piped) -> None:
    store, summary = piped
    version = _client(store).get_model_version(DEFAULT_MODEL_NAME, "1")
    trained, promotion = version.description.split("\n\n")
    split, holdout = summary["training"]["split"], summary["holdout"]
    fitted = season_span(split["train"] + split["validation"])
    assert trained.startswith(
        f"Trained on SY1 {fitted}: {summary['training']['n_train']} matches through "
    )
    assert (
        f"On the gate's holdout ({season_span(split['test'])}, {holdout['candidate']['n']} "
        f"matches) its log loss is {holdout['candidate']['log_loss']:.4f}, the market's "
        f"{holdout['market']['log_loss']:.4f}"
    ) in trained
    assert promotion == (
        f"{PROMOTION_NOTE}promoted by the gate on "
        f"{version.tags['promotion.at'][:10]}: {summary['reason']}"
    )


def test_a_version_promoted_by_hand_says_who_and_how(piped) -> None:
    """Version 2 (the champion's files again) is kept out by the gate, then promoted with
    `sabiscore promote 2`: its record says by hand, by whom, over which verdict, and `sabiscore
    models` shows it promoted."""
    from typer.testing import CliRunner

    from cli.app import app

    store, _ = piped
    registry = ModelRegistry(tracking_uri(store))
    champion = registry.champion()
    tags = {k: v for k, v in champion.tags.items() if not k.startswith("promotion.")}
    point_mlflow_at(registry.tracking_uri)  # MLflow resolves the logged model's source
    created = registry.client.create_model_version(
        registry.name, champion.source, run_id=champion.run_id, tags=tags
    )
    registry.record_decision(str(created.version), Decision(False, "no better than the champion"))
    registry.set_challenger(str(created.version))

    def cli(*args: str) -> dict:
        result = CliRunner().invoke(app, [*args, "--data-dir", str(store), "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output.strip().splitlines()[-1])

    assert cli("promote", "2") == {"champion_version": "2", "previous_champion": "1"}
    record = registry.client.get_model_version(registry.name, "2").tags
    assert (record["promotion.by"], record["promotion.user"]) == ("hand", getpass.getuser())
    assert record["promotion.promoted"] == "true" and record["promotion.at"]
    assert record["promotion.reason"] == (
        "promoted by hand; the gate had kept it out: no better than the champion"
    )
    described = registry.client.get_model_version(registry.name, "2").description
    assert described == (
        f"{PROMOTION_NOTE}promoted by hand by {getpass.getuser()} on "
        f"{record['promotion.at'][:10]}: {record['promotion.reason']}"
    )
    versions = {v["version"]: v for v in cli("models")["versions"]}
    assert versions[2]["aliases"] == "champion" and versions[2]["promoted"] is True
    assert versions[2]["by"] == f"hand ({getpass.getuser()})"
    assert (versions[1]["promoted"], versions[1]["by"]) == (True, "gate")


def test_a_store_of_before_keeps_its_training_runs_in_a_classic_ml_experiment(
    tmp_path: Path,
) -> None:
    """The training experiment of an existing store (named before it had a kind) is renamed,
    not left behind, and tagged; the backtests get their own."""
    client = _client(tmp_path)
    old = client.create_experiment(LEGACY_EXPERIMENT)
    assert use_tracking(tmp_path) == old
    assert client.get_experiment(old).name == TRAINING_EXPERIMENT
    assert client.get_experiment(old).tags[EXPERIMENT_KIND_TAG] == CLASSIC_ML
    backtests = client.get_experiment(use_tracking(tmp_path, BACKTEST_EXPERIMENT))
    assert backtests.name == BACKTEST_EXPERIMENT and backtests.experiment_id != old
    assert backtests.tags[EXPERIMENT_KIND_TAG] == CLASSIC_ML
    assert client.get_experiment(old).tags[NOTE_TAG] == EXPERIMENT_DESCRIPTIONS[TRAINING_EXPERIMENT]
    assert backtests.tags[NOTE_TAG] == EXPERIMENT_DESCRIPTIONS[BACKTEST_EXPERIMENT]


def test_the_serving_state_experiment_is_described_and_a_persons_description_stays(
    tmp_path: Path,
) -> None:
    client = _client(tmp_path)
    state = client.get_experiment(use_tracking(tmp_path, SERVING_STATE_EXPERIMENT))
    assert state.tags[NOTE_TAG] == EXPERIMENT_DESCRIPTIONS[SERVING_STATE_EXPERIMENT]
    client.set_experiment_tag(state.experiment_id, NOTE_TAG, "ours")
    use_tracking(tmp_path, SERVING_STATE_EXPERIMENT)
    assert client.get_experiment(state.experiment_id).tags[NOTE_TAG] == "ours"


def test_a_versions_metadata_is_read_without_its_parts(piped) -> None:
    store, _ = piped
    registry = ModelRegistry(tracking_uri(store))
    metadata = registry.ensemble_metadata("1")
    assert metadata == registry.load_ensemble("1").metadata
    assert metadata["leagues"] == ["SY1"] and metadata["features"]
