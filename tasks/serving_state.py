"""The serving state in the registry (sabiscore/serving_state.py): exported into a version's files
at registration, and published again for the champion when new results or fixtures change it
(the ingest and odds-refresh flows), as an MLflow run of experiment `sabiscore-serving-state`
whose id the version's tag `serving_state.run_id` names. The service loads it from there."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from models.registry import EMBEDDED_STATE, STATE_ARTIFACT, ModelRegistry, tracking_uri
from sabiscore.features import FeatureConfig
from sabiscore.serving_state import ClvSettings, ServingState
from sabiscore.store import DataStore


def state_of(
    store: DataStore, metadata: Mapping[str, Any], config: Mapping[str, Any]
) -> ServingState:
    """The state of a model (its `metadata`: leagues and feature settings) on the store now."""
    matches, odds = store.history(metadata.get("leagues") or None)
    return ServingState.build(
        matches,
        odds,
        FeatureConfig.from_dict(metadata.get("features")),
        ClvSettings.from_config(config),
    )


def export_state(
    store: DataStore, ensemble_dir: Path, metadata: Mapping[str, Any], config: Mapping[str, Any]
) -> str:
    """The state of the ensemble exported to `ensemble_dir` (with `metadata`), written beside
    its parts (`<ensemble_dir>/serving/`): logged with the model. Returns its history digest."""
    state = state_of(store, metadata, config)
    state.save(Path(ensemble_dir) / EMBEDDED_STATE)
    print(
        f"serving state: {sum(map(len, state.featurizer.teams().values()))} teams as of "
        f"{state.featurizer.state_date.date()}, {len(state.fixtures)} upcoming fixtures, "
        f"closing-line model on {state.clv_book}"
    )
    return state.history


def has_registry(data_dir: Path) -> bool:
    """Whether there is a registry to publish to: a tracking server, or the store's SQLite
    file (an ingest into a new store creates none)."""
    import os

    return bool(os.environ.get("MLFLOW_TRACKING_URI")) or (Path(data_dir) / "mlflow.db").exists()


@task(name="publish-serving-state", cache_policy=NO_CACHE)
def publish_serving_state(data_dir: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The champion's state rebuilt from the store as it is now; published (a run, and the
    version's tags) when it differs from the newest one, so that the service serves the new
    results and fixtures. Nothing to do without a champion."""
    store = DataStore(Path(data_dir))
    if not has_registry(store.root):  # a first ingest: not even MLflow's import (~1 s)
        return {"published": False, "reason": "no registry"}
    import mlflow

    from models.tracking import SERVING_STATE_EXPERIMENT, use_tracking

    registry = ModelRegistry(tracking_uri(store.root))
    champion = registry.champion()
    if champion is None:
        return {"published": False, "reason": "no champion"}
    version = str(champion.version)
    state = state_of(store, registry.ensemble_metadata(version), config)
    if state.history == registry.state_history(version):
        return {"published": False, "version": version, "reason": "unchanged"}
    use_tracking(store.root, SERVING_STATE_EXPERIMENT)
    name = f"state v{version} {state.featurizer.state_date.date()}"
    with mlflow.start_run(run_name=name) as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tags({"model_version": version, "history": state.history})
        mlflow.log_artifacts(str(state.save(Path(tmp) / "state")), STATE_ARTIFACT)
    registry.record_state(version, run.info.run_id, state.history)
    print(
        f"published the serving state of version {version} as of "
        f"{state.featurizer.state_date.date()} ({len(state.fixtures)} upcoming fixtures)"
    )
    return {
        "published": True,
        "version": version,
        "run_id": run.info.run_id,
        "state_date": str(state.featurizer.state_date.date()),
        "fixtures": len(state.fixtures),
    }
