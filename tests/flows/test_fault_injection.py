"""Nothing lost (issue 12): a real `sabiscore ingest` or `sabiscore pipeline`, killed with
SIGKILL at each stage boundary (`sabiscore/faults.py`), leaves the store and the registry as a
reader saw them before the run — or, past the commit point, as a complete run leaves them —
and the next run succeeds on the same store and settles what the killed one left.

One store is prepared with an in-process pipeline (a promoted champion). Each ingest kill works
on its own copy of it. The registration kills share the prepared store, as a real one would
live through them; each compares with the state it found, and the last test runs the pipeline
that settles them all.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from flows.ingest import ingest_flow
from flows.pipeline import pipeline_flow
from models.registry import CHAMPION, DEFAULT_MODEL_NAME, PENDING, ModelRegistry
from models.tracking import tracking_uri
from sabiscore.config import deep_merge
from sabiscore.faults import ENV_VAR, Stage
from sabiscore.store import TABLES, DataStore
from sabiscore.synthetic import LeagueSpec, SyntheticConfig, generate_league
from sabiscore.synthetic import write_football_data_csvs as write_csvs
from tests.flows.test_pipeline import BETTER, SMALL, WEAKER

pytestmark = pytest.mark.slow

BEFORE_COMMIT = (Stage.RAW_STORED, Stage.VALIDATED, Stage.PARTS_WRITTEN)
INGEST_STAGES = (*BEFORE_COMMIT, Stage.MANIFEST_COMMITTED)
NO_VERSION = (Stage.RUN_LOGGED, Stage.MODEL_LOGGED)
PENDING_VERSION = (Stage.VERSION_CREATED, Stage.DECIDED)
REGISTRATION_STAGES = (*NO_VERSION, *PENDING_VERSION, Stage.ALIAS_MOVED)


# --- the prepared state ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """`base`: three seasons; `new`: a fourth season and a corrected third (a new partition
    and a replaced one, so a commit both adds and supersedes part files)."""
    root = tmp_path_factory.mktemp("league")
    config = SyntheticConfig(
        seed=11, first_season=2019, n_seasons=4, leagues=(LeagueSpec("SY1", 16, 1, "Sylvania"),)
    )
    files = write_csvs(generate_league(config), root / "all")
    base, new = root / "base" / "SY1", root / "new" / "SY1"
    base.mkdir(parents=True)
    new.mkdir(parents=True)
    for path in files[:3]:
        shutil.copy(path, base / path.name)
    shutil.copy(files[3], new / files[3].name)
    header, first, *rest = files[2].read_text().splitlines(keepends=True)
    (new / files[2].name).write_text("".join([header, first.replace(",22,", ",23,", 1), *rest]))
    assert (new / files[2].name).read_bytes() != files[2].read_bytes()
    return {"base": [str(root / "base")], "new": [str(root / "new")]}


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The champion from the weaker features; every later candidate from the better ones,
    so that the gate promotes it and the kills reach the champion's alias."""
    root = tmp_path_factory.mktemp("configs")
    paths = {}
    for name, extra in (("weaker", WEAKER), ("better", BETTER)):
        paths[name] = str(root / f"{name}.yaml")
        Path(paths[name]).write_text(yaml.safe_dump(deep_merge(SMALL, extra)))
    return paths


@pytest.fixture(scope="module")
def prepared(sources, configs, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A store with three seasons and a champion (version 1); `pristine`, a copy of it taken
    at once (the registration tests go on to change `store`)."""
    store = tmp_path_factory.mktemp("prepared") / "store"
    first = pipeline_flow(
        sources=sources["base"], data_dir=str(store), config_path=configs["weaker"]
    )
    assert first["promoted"] is True and first["champion_version"] == "1"
    pristine = tmp_path_factory.mktemp("pristine") / "store"
    shutil.copytree(store, pristine, ignore=shutil.ignore_patterns("*.lock"))
    return {"store": store, "pristine": pristine}


@pytest.fixture(scope="module")
def clean_ingest(prepared, sources, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store after the new files are ingested with no fault: what recovery must reach."""
    store = _copy(prepared["pristine"], tmp_path_factory.mktemp("clean"))
    ingest_flow(sources=sources["new"], data_dir=str(store))
    return store


# --- what a reader sees ----------------------------------------------------------------------


def _copy(store: Path, folder: Path) -> Path:
    return Path(shutil.copytree(store, folder / "store", ignore=shutil.ignore_patterns("*.lock")))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def committed(store: Path) -> dict:
    """The manifest (it must parse) and the bytes of every file it names."""
    manifest = json.loads((store / "manifest.json").read_text())
    named = {f for p in manifest["partitions"].values() for f in p["files"].values()}
    return {"manifest": manifest, "files": {f: _sha(store / f) for f in sorted(named)}}


def unreferenced(store: Path) -> set[str]:
    named = set(committed(store)["files"])
    return {
        str(p.relative_to(store))
        for p in (store / "canonical").rglob("*")
        if p.is_file() and str(p.relative_to(store)) not in named
    }


def tables(store: Path) -> dict[str, pd.DataFrame]:
    data = DataStore(store)
    return {table: data.load(table) for table in TABLES}


def registry_view(store: Path) -> dict:
    """Versions (number, status, aliases, tags) as `ModelRegistry` readers see them."""
    registry = ModelRegistry(tracking_uri(store))
    aliases = registry.client.get_registered_model(DEFAULT_MODEL_NAME).aliases
    held: dict[str, list[str]] = {}
    for alias, number in aliases.items():
        held.setdefault(str(number), []).append(alias)
    versions = {
        str(v.version): (v.status, sorted(held.get(str(v.version), [])), dict(v.tags))
        for v in registry.versions()
    }
    champion = registry.champion()
    return {
        "versions": versions,
        "aliases": {a: str(n) for a, n in aliases.items()},
        "champion": str(champion.version) if champion else None,
    }


def every_version(store: Path) -> dict[str, dict]:
    """All versions MLflow holds, the ones no reader is shown included: number -> tags."""
    client = mlflow.MlflowClient(tracking_uri(store), registry_uri=tracking_uri(store))
    return {
        str(v.version): dict(v.tags)
        for v in client.search_model_versions(f"name = '{DEFAULT_MODEL_NAME}'")
    }


def assert_complete(store: Path, number: str, settled: bool = True) -> None:
    """READY, decided, and its files where its download URI says; `settled`: not pending."""
    client = mlflow.MlflowClient(tracking_uri(store), registry_uri=tracking_uri(store))
    version = client.get_model_version(DEFAULT_MODEL_NAME, number)
    assert version.status == "READY" and (PENDING not in version.tags) is settled
    assert version.tags["promotion.promoted"] in ("true", "false")
    local = Path(
        client.get_model_version_download_uri(DEFAULT_MODEL_NAME, number).removeprefix("file://")
    )
    assert (local / "MLmodel").is_file() and any((local / "artifacts" / "ensemble").iterdir())


def run_killed(args: list[str], stage: Stage, tmp: Path) -> int:
    """`sabiscore <args>` with the fault set at `stage`; it must die there, by SIGKILL.
    Returns its process id."""
    from prefect.settings import PREFECT_API_URL

    env = {
        **os.environ,
        ENV_VAR: str(stage),
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "TMPDIR": str(tmp),
    }  # the candidate's work dir, left by the kill
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [str(Path(sys.executable).with_name("sabiscore")), *args, "--json"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, err = process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL, (process.returncode, err[-3000:])
    return process.pid


# --- ingest ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", INGEST_STAGES, ids=str)
def test_an_ingest_killed_at_a_stage_leaves_the_store_whole(
    stage: Stage, prepared, sources, clean_ingest, tmp_path: Path
) -> None:
    store = _copy(prepared["pristine"], tmp_path)
    before, read_before = committed(store), tables(store)
    raw_before = (store / "raw" / "index.jsonl").read_text()
    registry_before = registry_view(store)

    run_killed(["ingest", *sources["new"], "--data-dir", str(store)], stage, tmp_path)

    assert list(store.rglob("*.tmp")) == []
    assert (store / "raw" / "index.jsonl").read_text().startswith(raw_before)  # only added to
    assert registry_view(store) == registry_before
    if stage in BEFORE_COMMIT:
        assert committed(store) == before
        for table, frame in tables(store).items():
            pd.testing.assert_frame_equal(frame, read_before[table])
        assert unreferenced(store) == set() or stage is Stage.PARTS_WRITTEN
    else:  # past the commit point: the new state, whole, as a run without a fault leaves it
        assert committed(store)["manifest"]["partitions"].keys() == (
            committed(clean_ingest)["manifest"]["partitions"].keys()
        )
        assert committed(store)["files"] == committed(clean_ingest)["files"]

    summary = ingest_flow(sources=sources["new"], data_dir=str(store))  # the next run
    assert summary["errors"] == []
    assert unreferenced(store) == set()
    assert committed(store)["files"] == committed(clean_ingest)["files"]
    for table, frame in tables(store).items():
        pd.testing.assert_frame_equal(frame, tables(clean_ingest)[table])


# --- registration ----------------------------------------------------------------------------


@pytest.mark.parametrize("stage", REGISTRATION_STAGES, ids=str)
def test_a_pipeline_killed_at_a_stage_leaves_the_registry_whole(
    stage: Stage, prepared, sources, configs, tmp_path: Path
) -> None:
    store = prepared["store"]
    store_before, view_before = committed(store), registry_view(store)
    held_before = every_version(store)

    pid = run_killed(
        ["pipeline", *sources["base"], "--data-dir", str(store), "--config", configs["better"]],
        stage,
        tmp_path,
    )

    assert committed(store) == store_before  # the same files: nothing to ingest
    view, held = registry_view(store), every_version(store)
    new = sorted(set(held) - set(held_before), key=int)
    champions = [
        number for number, (_, aliases, _) in view["versions"].items() if CHAMPION in aliases
    ]
    assert len(champions) == 1 and champions[0] == view["champion"]
    if stage is Stage.ALIAS_MOVED:  # past the commit point: the new version, whole and in use
        assert len(new) == 1 and new[0] in view["versions"]
        assert view["versions"][new[0]][1], "the new version holds champion or challenger"
        assert view["champion"] in (view_before["champion"], new[0])
        assert set(view["versions"]) - set(new) == set(view_before["versions"])
        assert_complete(store, new[0], settled=False)  # the next registration drops the tag
        return
    assert view == view_before
    if stage in NO_VERSION:
        assert new == []
    else:  # a version exists, tagged with the dead process and shown to no reader
        assert len(new) == 1 and held[new[0]][PENDING] == f"{socket.gethostname()}:{pid}"
        assert new[0] not in view["versions"] and new[0] not in view["aliases"].values()
        with pytest.raises(ValueError, match="not registered completely"):
            ModelRegistry(tracking_uri(store)).promote_to_production(new[0])
    for number in view["versions"]:
        assert_complete(store, number)


def test_the_next_pipeline_settles_what_the_killed_ones_left(prepared, sources, configs) -> None:
    store = prepared["store"]
    held_before = every_version(store)
    summary = pipeline_flow(
        sources=sources["base"], data_dir=str(store), config_path=configs["better"]
    )
    held = every_version(store)
    assert all(PENDING not in tags for tags in held.values()), held
    assert int(summary["registered_version"]) > max(map(int, held_before))  # never reused
    view = registry_view(store)
    assert sorted(view["versions"], key=int) == sorted(held, key=int)
    assert view["champion"] == summary["champion_version"]
    for number in view["versions"]:
        assert_complete(store, number)
