"""A refit before serving (issue 13): after a promotion the promoted configuration is trained
again on every played match, holdout included, and served as a patch version; the next gate
scores the version it refits; a rollback skips the judged version; a failed refit loses nothing.

Two pipeline runs on one store of a small league (the baseline features, then the better ones),
and one run whose refit fails, each with few trees."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from flows.pipeline import pipeline_flow
from models.registry import DEFAULT_MODEL_NAME, PENDING, ModelRegistry
from models.tracking import tracking_uri
from sabiscore.synthetic import LeagueSpec
from tests.flows.test_pipeline import BASELINE, BETTER, _client, _config, _league

pytestmark = pytest.mark.slow

ON = {"promotion": {"refit": {"enabled": True}}}  # SMALL of test_pipeline turns it off
MEMBERS = ("random_forest", "xgboost", "lightgbm")
FEW_TREES = {"train": {"models": {name: {"n_estimators": 10} for name in MEMBERS}}}


def _run(league: Path, store: Path, configs: Path, name: str, *extras: dict) -> dict:
    from sabiscore.config import deep_merge

    extra: dict = {}
    for more in (FEW_TREES, ON, *extras):
        extra = deep_merge(extra, more)
    return pipeline_flow(
        sources=[str(league)], data_dir=str(store), config_path=_config(configs, name, extra)
    )


@pytest.fixture(scope="module")
def league(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _league(tmp_path_factory.mktemp("league"), 3, LeagueSpec("SY1", 16, 1, "Sylvania"))


@pytest.fixture(scope="module")
def refitted(league: Path, tmp_path_factory: pytest.TempPathFactory):
    """Baseline features (version 1, served as its refit 2), then the better ones (3, refit 4)."""
    store, configs = tmp_path_factory.mktemp("store"), tmp_path_factory.mktemp("configs")
    first = _run(league, store, configs, "baseline", BASELINE)
    second = _run(league, store, configs, "better", BETTER)
    return store, first, second


def _last_played_kickoff(store: Path) -> str:
    from sabiscore.store import DataStore

    matches = DataStore(store).load("matches")
    return str(matches.loc[matches["status"] == "played", "kickoff"].max())


def _seasons(client: mlflow.MlflowClient, run_id: str) -> dict[str, list[str]]:
    """The seasons of each dataset a run logged, by context (training, testing)."""
    found = {}
    for logged in client.get_run(run_id).inputs.dataset_inputs:
        tags = {t.key: t.value for t in logged.tags}
        found[tags["mlflow.data.context"]] = tags["seasons"].split(",")
    return found


def test_the_promoted_configuration_is_refitted_and_served(refitted) -> None:
    store, first, _ = refitted
    assert first["promoted"] and (first["registered_version"], first["semver"]) == ("1", "1.0.0")
    assert first["champion_version"] == first["served_version"] == "2"
    assert first["refit_of"] == "1"
    through = first["trained_through"]
    assert first["refit"] == {
        "refit_of": "1",
        "version": "2",
        "semver": "1.0.1",
        "trained_through": through,
        "error": None,
    }
    assert first["trained_through"] == _last_played_kickoff(store)

    client = _client(store)
    judged = client.get_model_version(DEFAULT_MODEL_NAME, "1").tags
    refit = client.get_model_version(DEFAULT_MODEL_NAME, "2").tags
    assert judged["promotion.promoted"] == "true" and PENDING not in judged  # still registered
    assert judged["data.trained_through"] < first["trained_through"]  # a season behind
    assert refit["semver"] == "1.0.1" and refit["refit_of"] == "1" and PENDING not in refit
    carried = [k for k in judged if k.startswith(("holdout.", "promotion.")) or k == "holdout_id"]
    assert {k: refit[k] for k in carried if k != "promotion.reason"} == {
        k: judged[k] for k in carried if k != "promotion.reason"
    }
    assert refit["promotion.reason"] == (
        f"a refit of version 1 (1.0.0) on every played match "
        f"through {first['trained_through']}; the gate on "
        f"version 1: {judged['promotion.reason']}"
    )
    assert refit["data.trained_through"] == first["trained_through"]
    judged_run = client.get_model_version(DEFAULT_MODEL_NAME, "1").run_id
    assert _seasons(client, client.get_model_version(DEFAULT_MODEL_NAME, "2").run_id) == {
        "training": sorted(
            {*_seasons(client, judged_run)["training"], *_seasons(client, judged_run)["testing"]}
        )
    }
    assert (refit["feature_hash"], refit["params_hash"]) == (
        judged["feature_hash"],
        judged["params_hash"],
    )
    assert "previous_champion" not in refit  # version 1 was champion only as the gate's commit

    registry = ModelRegistry(tracking_uri(store))
    served = client.get_model_version(DEFAULT_MODEL_NAME, "2")  # champion after the first run
    assert registry.holdout_metrics(served) == registry.holdout_metrics(
        client.get_model_version(DEFAULT_MODEL_NAME, "1")
    )  # what the service reports as the champion's Brier and calibration
    assert registry.load_ensemble("2").metadata["trained_through"] == refit["data.trained_through"]
    run = client.get_run(served.run_id)
    assert served.run_id != first["training"]["run_id"]
    assert run.data.tags["flow"] == "refit" and run.data.tags["refit_of"] == "1"
    # no test rows of its own (a metric, not repeated as a tag); its holdout is version 1's
    assert run.data.metrics["n_test"] == 0 and "n_test" not in run.data.tags
    assert run.data.tags["holdout"] == "version 1's"
    assert json.loads(run.data.params["split.test"]) == []
    assert run.data.params["train.stacking.n_folds"] == "3"
    assert any(name.startswith("oof_") for name in run.data.metrics)


def test_the_next_gate_scores_the_version_the_refit_refits(refitted) -> None:
    """Same seasons: the refit trained on the holdout, so version 1 is scored in its place."""
    store, first, second = refitted
    champion = second["holdout"]["champion"]
    assert champion["name"] == "version 1, for the champion (its refit)"
    assert champion["holdout_id"] == second["holdout"]["candidate"]["holdout_id"]
    assert champion["log_loss"] == pytest.approx(first["holdout"]["candidate"]["log_loss"])
    assert second["reason"].endswith(
        f"champion: version 2 is a refit that trained on the holdout (through "
        f"{first['trained_through']}); scored in its place: version 1, which it refits"
    )
    assert second["promoted"], second["reason"]
    assert (second["registered_version"], second["semver"]) == ("3", "2.0.0")
    assert (second["served_version"], second["refit"]["semver"]) == ("4", "2.0.1")
    from prefect.artifacts import Artifact

    report = Artifact.get("promotion-decision")
    assert report is not None
    assert "Champion now: version 4 (2.0.1, a refit of version 3 on every played" in report.data


def test_rollback_from_a_refit_goes_to_the_champion_before_it(refitted) -> None:
    store, _, _ = refitted
    registry = ModelRegistry(tracking_uri(store))
    table = registry.compare_models().set_index("version")
    assert table["refit_of"].dropna().to_dict() == {2: "1", 4: "3"}  # the others are no refits
    tags = registry.client.get_model_version(DEFAULT_MODEL_NAME, "4").tags
    assert tags["previous_champion"] == "2"  # what version 3 replaced, not version 3 itself
    assert registry.rollback() == ("4", "2")
    with pytest.raises(ValueError, match=r"version 2 \(a refit of version 1\) was the first"):
        registry.rollback()
    registry.promote_to_production("4")
    assert str(registry.champion().version) == "4"


def test_a_failed_refit_leaves_the_promoted_version_champion(
    league: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refit trains and registers, then moving the alias fails: version 1 stays champion,
    the refit's version is deleted, and the run says why."""

    def broken(self: ModelRegistry, version: str, judged: str) -> None:
        raise RuntimeError("the registry went away")

    monkeypatch.setattr(ModelRegistry, "promote_refit", broken)
    summary = _run(league, tmp_path / "store", tmp_path, "baseline", BASELINE)
    assert summary["promoted"] and summary["champion_version"] == summary["served_version"] == "1"
    assert summary["refit_of"] is None
    assert summary["refit"] == {
        "refit_of": "1",
        "version": None,
        "semver": None,
        "trained_through": None,
        "error": "RuntimeError: the registry went away",
    }
    client = mlflow.MlflowClient(
        tracking_uri(tmp_path / "store"), registry_uri=tracking_uri(tmp_path / "store")
    )
    versions = client.search_model_versions(f"name = '{DEFAULT_MODEL_NAME}'")
    assert [str(v.version) for v in versions] == ["1"] and PENDING not in versions[0].tags
    assert summary["trained_through"] == versions[0].tags["data.trained_through"]
    from prefect.artifacts import Artifact

    report = Artifact.get("promotion-decision")
    assert report is not None
    assert (
        "Champion now: version 1 (not the refit of version 1, which failed: RuntimeError: "
        "the registry went away)"
    ) in report.data
