"""Fixtures of the serving tests: a data store holding a real champion, made once per session
by the pipeline on a small synthetic league, and copies of it for tests that move aliases."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

# BentoML writes under $BENTOML_HOME (default ~/bentoml): keep the tests to themselves.
os.environ.setdefault("BENTOML_HOME", tempfile.mkdtemp(prefix="sabiscore-bentoml-"))
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

SMALL = {
    "train": {
        "models": {
            "random_forest": {"n_estimators": 20},
            "xgboost": {"n_estimators": 20},
            "lightgbm": {"n_estimators": 20},
        },
        "stacking": {"n_folds": 3},
    },
    # the serving tests need a champion from these small models: the market is reported, not
    # required, and calibration on ~240 holdout matches is not what they test
    # (the refit after a promotion is tested with the pipeline, tests/flows/test_refit.py: here
    # it would only train the same small models twice)
    "promotion": {"ece_margin": 0.2, "market": {"required": False}, "refit": {"enabled": False}},
}
LEAGUE = "SY1"
KICKOFF = "2022-08-13T15:00:00"  # after the synthetic league's last played day
#: Two books' prices of one match, as the serving tests post them.
BOOKS = {
    "pinnacle": {"home": 2.10, "draw": 3.40, "away": 3.60},
    "bet365": {"home": 2.05, "draw": 3.50, "away": 3.50},
}


@pytest.fixture(scope="session")
def champion_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A data store whose registry has a champion (version 1): the real pipeline (`sabiscore
    pipeline`, in its own process) on three seasons of one 16-team synthetic league.

    Made once per test run: under pytest-xdist the first worker to ask builds it in the run's
    shared temporary folder while the others wait on a lock, then every worker uses it (the
    tests read it, or copy it with `copy_store` before changing anything)."""
    if not hasattr(request.config, "workerinput"):  # one process: its own folder
        return _pipeline_store(tmp_path_factory.mktemp("serving"))
    shared = tmp_path_factory.getbasetemp().parent  # this run's, the same for every worker
    with (shared / "champion-store.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        root = shared / "champion-store"
        if not (root / "built").exists():
            shutil.rmtree(root, ignore_errors=True)  # a worker that failed half-way
            root.mkdir()
            _pipeline_store(root)
            (root / "built").touch()
    return root / "store"


def _pipeline_store(root: Path) -> Path:
    from sabiscore.synthetic import LeagueSpec, SyntheticConfig, generate_league
    from sabiscore.synthetic import write_football_data_csvs as write_csvs

    league = SyntheticConfig(
        seed=11, first_season=2019, n_seasons=3, leagues=(LeagueSpec(LEAGUE, 16, 1, "Sylvania"),)
    )
    write_csvs(generate_league(league), root / "league")
    config = root / "small.yaml"
    config.write_text(yaml.safe_dump(SMALL))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "SABISCORE_RELOAD_URL", "PREFECT_API_URL")
    }
    env["PREFECT_HOME"] = str(root / "prefect")
    command = [
        sys.executable,
        "-m",
        "cli",
        "pipeline",
        str(root / "league"),
        "--data-dir",
        str(root / "store"),
        "--config",
        str(config),
        "--json",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["promoted"] and summary["champion_version"] == "1", summary["reason"]
    return root / "store"


def copy_store(store: Path, destination: Path) -> Path:
    """A copy of the store with its own registry database: aliases moved in it stay there
    (the model files are read from the original, whose paths the database records)."""
    shutil.copytree(store, destination, ignore=shutil.ignore_patterns("*.lock"))
    return destination


@contextlib.contextmanager
def own_tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's global tracking URI (which `mlflow.set_tracking_uri` also writes to the
    environment, where every later test would find it) set to `uri`, then put back."""
    import mlflow

    saved = os.environ.get("MLFLOW_TRACKING_URI")  # set whenever a global one is
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved)
        if saved is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)


@contextlib.contextmanager
def in_process_service(store: Path, token: str | None = None) -> Iterator[Any]:
    """The service on `store`, in this process, as a FastAPI TestClient (no site, no Sentry,
    no environment name or config override; `token`: $SABISCORE_API_TOKEN, sent with every
    request)."""
    from fastapi.testclient import TestClient

    from bentos.settings import tracking_uri

    with pytest.MonkeyPatch.context() as patch, own_tracking_uri(tracking_uri(store)):
        patch.setenv("SABISCORE_DATA_DIR", str(store))
        for name in (
            "NEXT_URL",
            "SENTRY_DSN",
            "APP_ENV",
            "SABISCORE_CONFIG",
            "SABISCORE_API_TOKEN",
        ):
            patch.delenv(name, raising=False)
        if token:
            patch.setenv("SABISCORE_API_TOKEN", token)
        from bentos.service import SabiScore

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with TestClient(
            SabiScore.to_asgi(), raise_server_exceptions=False, headers=headers
        ) as client:
            yield client


def promote_copy(store: Path) -> str:
    """Register the champion's files again as a new version and promote it, as the pipeline
    would after a better training run; returns the new version number."""
    from bentos.settings import tracking_uri
    from models.registry import ModelRegistry

    registry = ModelRegistry(tracking_uri(store))
    champion = registry.champion()
    semver = champion.tags["semver"].rsplit(".", 1)
    tags = {**champion.tags, "semver": f"{semver[0]}.{int(semver[1]) + 1}"}
    with own_tracking_uri(registry.tracking_uri):  # MLflow resolves the source's logged model
        created = registry.client.create_model_version(
            registry.name, champion.source, run_id=champion.run_id, tags=tags
        )
    registry.promote_to_production(str(created.version), "test: a new champion")
    return str(created.version)
