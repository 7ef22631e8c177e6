"""`models`, `promote` and `rollback` read and move the registry with sqlite3 where they can,
exactly as MLflow's client would (models/sqlite_registry.py).

The store is made by MLflow's own client (as the pipeline's registrations leave it, less the
model files these commands never read): a gate's champion and its refit, a candidate kept out
as challenger, a registration a killed process left pending, a deleted version, and an
archived one from before run metrics, whose holdout scores are tags.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli.app import versions_lines
from models.registry import DEFAULT_MODEL_NAME, ModelRegistry, tracking_uri
from models.sqlite_registry import VERIFIED_REVISIONS, SqliteClient, open_sqlite

REPO = Path(__file__).resolve().parents[2]
#: Tags and columns whose value is the moment they were written: equal in kind, not in value.
MOMENTS = ("promotion.at", "rolled_back_at")
HOLDOUT = {
    "n": 1238,
    "log_loss": 0.9893,
    "market_log_loss": 0.9884,
    "ece": 0.0236,
    "clv_bets": 125,
    "clv_mean": 0.0077,
    "clv_low": -0.0083,
    "clv_high": 0.0235,
}


def _gate(promoted: bool, reason: str) -> dict[str, str]:
    return {
        "promotion.promoted": str(promoted).lower(),
        "promotion.by": "gate",
        "promotion.user": "ada",
        "promotion.at": "2026-11-01T09:00:00+00:00",
        "promotion.reason": reason,
    }


def _make_store(root: Path) -> Path:
    from mlflow import MlflowClient

    uri = tracking_uri(root)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("sabiscore-training", (root / "mlartifacts").as_uri())

    def run(metrics: dict[str, float]) -> str:
        run_id = client.create_run(experiment).info.run_id
        for key, value in metrics.items():
            client.log_metric(run_id, key, value)
        client.set_terminated(run_id)
        return run_id

    client.create_registered_model(DEFAULT_MODEL_NAME, description="SabiScore stacked ensemble.")

    def version(run_id: str | None, tags: dict[str, str], description: str) -> str:
        source = (root / "mlartifacts" / "model").as_uri()
        created = client.create_model_version(
            DEFAULT_MODEL_NAME, source, run_id=run_id, tags=tags, description=description
        )
        return str(created.version)

    base = {"feature_hash": "f1", "params_hash": "p1", "data.leagues": '["SY1"]'}
    judged = run({f"holdout_{k}": v for k, v in HOLDOUT.items()} | {"gate_ece_bound": 0.05})
    version(judged, {**base, "semver": "1.0.0", **_gate(True, "first model")}, "v1")
    refit = {**base, "semver": "1.0.1", "refit_of": "1", **_gate(True, "a refit of version 1")}
    version(run({}), refit, "A refit of version 1.\n\n**Promotion:** promoted by the gate")
    kept = {f"holdout_{k}": v for k, v in HOLDOUT.items()} | {"holdout_clv_mean": math.nan}
    kept_out = _gate(False, "worse than the market by 0.004")
    version(run(kept), {**base, "semver": "1.1.0", **kept_out}, "Trained on SY1.")
    version(run({}), {**base, "semver": "1.1.1", "registration.pending": "elsewhere:1"}, "")
    deleted = version(run({}), {**base, "semver": "1.1.2"}, "")
    legacy = {f"holdout.{k}": str(v) for k, v in HOLDOUT.items()} | {"holdout.bets": "125"}
    legacy |= {"semver": "0.9.0", "holdout.log_loss": "0.99", "archived": "true"}
    version(None, legacy, "")
    client.delete_model_version(DEFAULT_MODEL_NAME, deleted)
    client.set_registered_model_alias(DEFAULT_MODEL_NAME, "champion", "2")
    client.set_registered_model_alias(DEFAULT_MODEL_NAME, "challenger", "3")
    return root


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_store(tmp_path_factory.mktemp("registry") / "store")


@pytest.fixture
def store(made: Path, tmp_path: Path) -> Path:
    """A copy of the store of its own, to change."""
    return Path(shutil.copytree(made, tmp_path / "store", ignore=shutil.ignore_patterns("*.lock")))


def _sqlite(store: Path) -> ModelRegistry:
    client, which = open_sqlite(tracking_uri(store), DEFAULT_MODEL_NAME)
    assert isinstance(client, SqliteClient), which
    return ModelRegistry(tracking_uri(store), client=client)


def test_mlflow_in_the_environment_makes_a_schema_this_code_was_verified_against(made) -> None:
    """When MLflow is upgraded this fails: read its SqlAlchemyStore again, then add the
    revision to VERIFIED_REVISIONS."""
    with sqlite3.connect(made / "mlflow.db") as db:
        assert {row[0] for row in db.execute("SELECT version_num FROM alembic_version")} <= (
            VERIFIED_REVISIONS
        )


def test_the_listing_equals_mlflow_s_for_every_field_models_shows(made: Path) -> None:
    import pandas as pd

    fast, slow = _sqlite(made), ModelRegistry(tracking_uri(made))
    listed, expected = fast.compare_models(), slow.compare_models()
    pd.testing.assert_frame_equal(listed, expected)
    assert list(listed["version"]) == [1, 2, 3, 6]  # pending and deleted are not seen
    assert math.isnan(listed.set_index("version").loc[3, "clv_mean"])  # MLflow's NaN is kept

    def records(table: pd.DataFrame) -> list[dict[str, Any]]:
        return table.astype(object).where(table.notna(), None).to_dict("records")

    assert versions_lines(records(listed)) == versions_lines(records(expected))
    assert json.dumps(records(listed), default=str) == json.dumps(records(expected), default=str)
    assert fast.aliases() == slow.aliases()
    for number in ("1", "2", "3", "4", "6"):
        mine = fast.client.get_model_version(DEFAULT_MODEL_NAME, number)
        theirs = slow.client.get_model_version(DEFAULT_MODEL_NAME, number)
        assert (mine.version, mine.tags, sorted(mine.aliases)) == (
            theirs.version,
            theirs.tags,
            sorted(theirs.aliases),
        )
        assert (mine.description, mine.run_id) == (theirs.description, theirs.run_id)
    assert fast.champion().version == slow.champion().version == 2


def _registry_rows(store: Path, before: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted; the moments a write stamps are marked as stamped or
    not, against the store `before` it."""
    with sqlite3.connect(store / "mlflow.db") as db, sqlite3.connect(before / "mlflow.db") as old:
        updated = dict(old.execute("SELECT version, last_updated_time FROM model_versions"))
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = {}
        for table in tables:
            cursor = db.execute(f"SELECT * FROM {table}")  # noqa: S608 - the file's own tables
            columns = [c[0] for c in cursor.description]
            found = []
            for row in cursor.fetchall():
                cells = dict(zip(columns, row, strict=True))
                if table == "model_versions":
                    stamped = cells["last_updated_time"] != updated[cells["version"]]
                    cells["last_updated_time"] = "stamped" if stamped else "as before"
                if table == "model_version_tags" and cells["key"] in MOMENTS:
                    cells["value"] = "a moment"
                found.append(tuple(sorted(cells.items(), key=str)))
            rows[table] = sorted(found, key=str)
    return rows


def _seen_by_mlflow(store: Path) -> dict[str, Any]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri(store), registry_uri=tracking_uri(store))
    model = client.get_registered_model(DEFAULT_MODEL_NAME)
    versions = {}
    for found in client.search_model_versions(f"name = '{DEFAULT_MODEL_NAME}'"):
        v = client.get_model_version(DEFAULT_MODEL_NAME, found.version)
        tags = {k: "a moment" if k in MOMENTS else value for k, value in v.tags.items()}
        versions[v.version] = (tags, sorted(v.aliases), v.description, v.current_stage, v.status)
    return {
        "model": (model.name, model.description, model.creation_timestamp),
        "updated": model.last_updated_timestamp,
        "aliases": model.aliases,
        "tags": model.tags,
        "versions": versions,
    }


def test_promote_then_rollback_leave_the_store_as_mlflow_s_client_would(
    made: Path, tmp_path: Path
) -> None:
    fast_store = Path(shutil.copytree(made, tmp_path / "fast"))
    client_store = Path(shutil.copytree(made, tmp_path / "client"))
    for registry in (_sqlite(fast_store), ModelRegistry(tracking_uri(client_store))):
        assert registry.promote_to_production("3", "promoted by hand") == "2"
        assert registry.rollback() == ("3", "2")
        assert registry.promote_to_production("1", "promoted by hand") == "2"
        assert registry.promote_to_production("1", "promoted by hand") == "1"  # already: no change
    fast, expected = _seen_by_mlflow(fast_store), _seen_by_mlflow(client_store)
    assert fast == expected
    assert fast["aliases"] == {
        "champion": 1
    }  # the challenger alias went with version 3's promotion
    assert fast["versions"][3][0]["previous_champion"] == "2"
    assert "the gate had kept it out" in fast["versions"][3][0]["promotion.reason"]
    assert _registry_rows(fast_store, made) == _registry_rows(client_store, made)


def test_a_promotion_that_fails_half_way_leaves_the_store_as_it_was(store: Path, made) -> None:
    registry = _sqlite(store)

    def fail(*_args: object) -> None:
        raise OSError("the disk is full")

    registry.client.set_registered_model_alias = fail
    with pytest.raises(OSError, match="disk is full"):
        registry.promote_to_production("3")
    assert _registry_rows(store, made) == _registry_rows(made, made)


def test_a_version_that_is_not_there_is_refused_as_mlflow_s_client_refuses_it(store) -> None:
    from mlflow.exceptions import MlflowException

    for version in ("9", "4x"):
        with pytest.raises(MlflowException) as theirs:
            ModelRegistry(tracking_uri(store)).promote_to_production(version)
        registry = _sqlite(store)
        with pytest.raises(registry.error) as mine:
            registry.promote_to_production(version)
        assert str(mine.value) == theirs.value.message
    with pytest.raises(ValueError, match="not registered completely"):
        _sqlite(store).promote_to_production("4")


def test_an_unknown_schema_revision_or_another_store_is_mlflow_s_client_s(
    store: Path, monkeypatch
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setattr("models.sqlite_registry.VERIFIED_REVISIONS", frozenset({"0123456789ab"}))
    client, which = open_sqlite(tracking_uri(store), DEFAULT_MODEL_NAME)
    assert client is None and "not one this code was verified" in which
    registry = ModelRegistry(tracking_uri(store), client=client)
    assert isinstance(registry.client, MlflowClient)
    assert list(registry.compare_models()["version"]) == [1, 2, 3, 6]
    monkeypatch.undo()

    assert open_sqlite("http://127.0.0.1:5000", DEFAULT_MODEL_NAME)[0] is None
    assert open_sqlite("postgresql://db/mlflow", DEFAULT_MODEL_NAME)[0] is None
    assert open_sqlite(tracking_uri(store / "nothing"), DEFAULT_MODEL_NAME)[0] is None
    assert open_sqlite(tracking_uri(store), "another-model")[0] is None
    monkeypatch.setenv("MLFLOW_ENABLE_WORKSPACES", "true")
    assert open_sqlite(tracking_uri(store), DEFAULT_MODEL_NAME)[0] is None


def _commands(store: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`models`, `promote 3` and `rollback` in one fresh process, then the MLflow and Prefect
    modules it imported."""
    script = f"""
import contextlib, json, sys
from cli.app import app
for args in (["models"], ["promote", "3"], ["rollback"]):
    with contextlib.suppress(SystemExit):
        app([*{list(options)!r}, *args, "--data-dir", {str(store)!r}], standalone_mode=False)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("mlflow", "prefect"))
print(json.dumps(loaded))
"""
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO
    )


def test_the_commands_import_neither_mlflow_nor_prefect_and_say_which_path_only_when_verbose(
    store: Path,
) -> None:
    done = _commands(store)
    *printed, loaded = done.stdout.strip().splitlines()
    assert json.loads(loaded) == [], done.stderr
    assert printed[-2:] == [
        "champion: version 3 (was 2)",
        "champion: version 2 (rolled back from 3)",
    ]
    assert "registry" not in done.stderr
    assert "registry: sqlite3 on" in _commands(store, "--verbose").stderr


def test_an_unknown_schema_revision_is_read_by_mlflow_s_client(store: Path) -> None:
    """MLflow's client answers as it does today: it refuses a schema it does not know."""
    with contextlib.closing(sqlite3.connect(store / "mlflow.db")) as db, db:
        db.execute("UPDATE alembic_version SET version_num = '0123456789ab'")
    done = _commands(store, "--verbose")
    assert "registry: MLflow's client: schema revision 0123456789ab" in done.stderr
    assert "Detected out-of-date database schema" in done.stderr + done.stdout
