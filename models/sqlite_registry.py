"""MLflow's registry in a local SQLite file, read and moved with `sqlite3`, without MLflow.

`sabiscore models`, `promote` and `rollback` are commands a person waits on, and importing
MLflow (~2.8 s) then opening its SQLAlchemy stores (~2.5 s of alembic schema checks) cost far
more than the few rows they read and write. `SqliteClient` answers the `MlflowClient` calls
those commands make, so that `models.registry.ModelRegistry` runs its one logic on either
client. Each call reads and writes the tables as MLflow's `SqlAlchemyStore` does
(mlflow/store/model_registry/sqlalchemy_store.py: a tag or an alias is an upsert of its row, a
description update also stamps the version's `last_updated_time`, nothing else changes; deleted
versions and other workspaces are never seen), and raises `RegistryError` with MLflow's message
where MLflow's client raises `MlflowException`.

It is trusted only where it was checked: `open_sqlite` answers a client for a `sqlite:///` file
that exists, whose alembic revision is one of `VERIFIED_REVISIONS` (the schema MLflow in the
project's environment creates), with no workspaces and no prompt of the model's name; anything
else (a tracking server, another database, another schema, a store not made yet) is MLflow's
client's, and it answers None and why. tests/cli/test_sqlite_registry.py holds every answer
equal to MLflow's client's on a real store, and a fresh store's revision among the verified.
"""

from __future__ import annotations

import math
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Alembic revisions of MLflow's SQL schema whose tables this module reads and writes as
#: MLflow does: dc11669786a5 is the head of MLflow 3.17.2 (the project's). Add one only after
#: checking the registry's and the runs' tables against MLflow's SqlAlchemyStore again.
VERIFIED_REVISIONS = frozenset({"dc11669786a5"})
SQLITE_PREFIX = "sqlite:///"
WORKSPACE = "default"  # MLflow's single-tenant workspace: every row outside it is not seen
DELETED = "Deleted_Internal"  # the stage of a version MLflow deleted but kept
PROMPT_TAG = "mlflow.prompt.is_prompt"
#: Set, MLflow's client works in workspaces (or refuses to start); this module does not.
WORKSPACE_VARIABLES = ("MLFLOW_ENABLE_WORKSPACES", "MLFLOW_WORKSPACE", "MLFLOW_WORKSPACE_STORE_URI")
MAX_TAG_VALUE = 100_000  # MLflow's limit on a model version tag's value
SEARCH_LIMIT = 10_000  # MLflow's default page of search_model_versions
BUSY_TIMEOUT_MS = 20_000  # as MLflow's sessions wait for another writer


class RegistryError(Exception):
    """What MLflow's client raises as an `MlflowException`, with the same message."""


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    aliases: dict[str, int]  # alias -> version, as MLflow's RegisteredModel.aliases
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelVersion:
    """The fields of MLflow's ModelVersion the registry reads."""

    name: str
    version: int
    description: str | None
    run_id: str | None
    tags: dict[str, str]
    aliases: list[str]  # empty from a search, as MLflow's


@dataclass(frozen=True)
class RunData:
    metrics: dict[str, float]  # each metric's latest value, as MLflow's Run.data.metrics


@dataclass(frozen=True)
class Run:
    data: RunData


def sqlite_file(tracking_uri: str) -> Path | None:
    """The file a `sqlite:///PATH` URI names; None for any other URI (a server, another
    database, an in-memory one, a URI with options)."""
    if not tracking_uri.startswith(SQLITE_PREFIX) or "?" in tracking_uri:
        return None
    path = tracking_uri.removeprefix(SQLITE_PREFIX)
    return Path(path) if path and path != ":memory:" else None


def open_sqlite(tracking_uri: str, name: str) -> tuple[SqliteClient | None, str]:
    """A `SqliteClient` on the store when it can be trusted (None otherwise), and why."""
    path = sqlite_file(tracking_uri)
    if path is None:
        return None, f"MLflow's client: {tracking_uri} is not a local SQLite file"
    if not path.is_file():
        return None, f"MLflow's client: {path} does not exist yet (MLflow creates it)"
    if any(os.environ.get(variable) for variable in WORKSPACE_VARIABLES):
        return None, "MLflow's client: MLflow workspaces are configured"
    try:
        client = SqliteClient(path)
        why = client.untrusted(name)
    except sqlite3.Error as error:
        return None, f"MLflow's client: {path} could not be read with sqlite3 ({error})"
    if why:
        client.close()
        return None, f"MLflow's client: {why}"
    return client, f"sqlite3 on {path} (schema {', '.join(sorted(VERIFIED_REVISIONS))})"


def _now_ms() -> int:
    return int(time.time() * 1000)  # as mlflow.utils.time.get_current_time_millis


def _number(version: Any) -> int:
    """A version number as MLflow's validation reads it."""
    try:
        return int(version)
    except ValueError:
        raise RegistryError(f"Parameter 'version' must be an integer, got '{version}'.") from None


class SqliteClient:
    """The `MlflowClient` calls of `sabiscore models`, `promote` and `rollback`, on MLflow's
    SQLite file. Each write commits by itself, as MLflow's; inside `transaction()` they are
    one transaction, whole or not at all."""

    error = RegistryError

    def __init__(self, path: Path) -> None:
        self.path = path
        # autocommit; `transaction` opens one explicitly
        self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys = ON")  # as MLflow's sessions on SQLite
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._depth = 0

    def close(self) -> None:
        self._db.close()

    def untrusted(self, name: str) -> str | None:
        """Why this store is not one to read without MLflow (None: it is)."""
        tables = {row[0] for row in self._rows("SELECT name FROM sqlite_master WHERE type='table'")}
        if "alembic_version" not in tables:
            return f"{self.path} has no MLflow schema revision"
        revisions = {row[0] for row in self._rows("SELECT version_num FROM alembic_version")}
        if len(revisions) != 1 or not revisions <= VERIFIED_REVISIONS:
            return (
                f"schema revision {', '.join(sorted(revisions)) or 'none'} of {self.path} is not "
                f"one this code was verified against ({', '.join(sorted(VERIFIED_REVISIONS))})"
            )
        for table in ("registered_models", "experiments", "webhooks"):
            if self._rows(f"SELECT 1 FROM {table} WHERE workspace != ? LIMIT 1", WORKSPACE):
                return f"{table} of {self.path} has rows outside the default workspace"
        if not self._rows(
            "SELECT 1 FROM registered_models WHERE workspace = ? AND name = ?", WORKSPACE, name
        ):
            return f"{name} is not registered in {self.path} yet"
        for table in ("registered_model_tags", "model_version_tags"):
            if self._rows(
                f"SELECT 1 FROM {table} WHERE workspace = ? AND name = ? AND key = ? LIMIT 1",
                WORKSPACE,
                name,
                PROMPT_TAG,
            ):
                return f"{name} in {self.path} carries MLflow's prompt tag"
        return None

    def _rows(self, sql: str, *parameters: Any) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, parameters).fetchall()

    def _write(self, sql: str, *parameters: Any) -> None:
        self._db.execute(sql, parameters)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around what runs inside (re-entrant): the writer's lock is taken at
        once, so that the reads inside see what the writes change."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._write("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._write("ROLLBACK")
            raise
        else:
            self._write("COMMIT")
        finally:
            self._depth = 0

    # --- reading ------------------------------------------------------------------------------

    def get_registered_model(self, name: str) -> RegisteredModel:
        if not self._rows(
            "SELECT 1 FROM registered_models WHERE workspace = ? AND name = ?", WORKSPACE, name
        ):
            raise RegistryError(f"Registered Model with name={name} not found")
        aliases = self._rows(
            "SELECT alias, version FROM registered_model_aliases WHERE workspace = ? AND name = ?",
            WORKSPACE,
            name,
        )
        tags = self._rows(
            "SELECT key, value FROM registered_model_tags WHERE workspace = ? AND name = ?",
            WORKSPACE,
            name,
        )
        return RegisteredModel(name, dict(aliases), dict(tags))

    def search_model_versions(self, filter_string: str) -> list[ModelVersion]:
        """The versions of one model (`name = 'NAME'`, the one filter the registry uses) in
        MLflow's order and page, without aliases, as MLflow's search answers."""
        name = filter_string.removeprefix("name = '").removesuffix("'")
        if filter_string != f"name = '{name}'" or "'" in name:
            raise ValueError(f"only a filter name = '...' is read here, not {filter_string!r}")
        tags = self._version_tags(name)
        rows = self._rows(
            "SELECT version, description, run_id FROM model_versions "
            "WHERE workspace = ? AND name = ? AND current_stage != ? "
            "ORDER BY last_updated_time DESC, name ASC, version DESC LIMIT ?",
            WORKSPACE,
            name,
            DELETED,
            SEARCH_LIMIT,
        )
        return [
            ModelVersion(name, number, description, run_id, tags.get(number, {}), [])
            for number, description, run_id in rows
        ]

    def _version_tags(self, name: str, version: int | None = None) -> dict[int, dict[str, str]]:
        sql = "SELECT version, key, value FROM model_version_tags WHERE workspace = ? AND name = ?"
        parameters: tuple[Any, ...] = (WORKSPACE, name)
        if version is not None:
            sql, parameters = f"{sql} AND version = ?", (*parameters, version)
        found: dict[int, dict[str, str]] = {}
        for number, key, value in self._rows(sql, *parameters):
            found.setdefault(number, {})[key] = value
        return found

    def get_model_version(self, name: str, version: Any) -> ModelVersion:
        number = _number(version)
        rows = self._rows(
            "SELECT description, run_id FROM model_versions "
            "WHERE workspace = ? AND name = ? AND version = ? AND current_stage != ?",
            WORKSPACE,
            name,
            number,
            DELETED,
        )
        if not rows:
            raise RegistryError(f"Model Version (name={name}, version={number}) not found")
        aliases = self._rows(
            "SELECT alias FROM registered_model_aliases "
            "WHERE workspace = ? AND name = ? AND version = ?",
            WORKSPACE,
            name,
            number,
        )
        description, run_id = rows[0]
        tags = self._version_tags(name, number).get(number, {})
        return ModelVersion(name, number, description, run_id, tags, [a for (a,) in aliases])

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        self.get_registered_model(name)
        rows = self._rows(
            "SELECT version FROM registered_model_aliases "
            "WHERE workspace = ? AND name = ? AND alias = ?",
            WORKSPACE,
            name,
            alias,
        )
        if not rows:
            raise RegistryError(f"Registered model alias {alias} not found.")
        return self.get_model_version(name, rows[0][0])

    def get_run(self, run_id: str) -> Run:
        """A run's metrics (their latest values; NaN where MLflow stored one)."""
        if not self._rows("SELECT 1 FROM runs WHERE run_uuid = ?", run_id):
            raise RegistryError(f"Run with id={run_id} not found")
        rows = self._rows(
            "SELECT key, value, is_nan FROM latest_metrics WHERE run_uuid = ?", run_id
        )
        return Run(RunData({key: math.nan if nan else value for key, value, nan in rows}))

    # --- writing, each as MLflow's SqlAlchemyStore writes it -----------------------------------

    def set_model_version_tag(self, name: str, version: Any, key: str, value: Any) -> None:
        value = str(value)
        if len(value) > MAX_TAG_VALUE:
            raise RegistryError(f"'value' exceeds the maximum length of {MAX_TAG_VALUE} characters")
        number = self.get_model_version(name, version).version
        self._write(
            "INSERT INTO model_version_tags (workspace, key, value, name, version) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (workspace, key, name, version) DO UPDATE SET value = excluded.value",
            WORKSPACE,
            key,
            value,
            name,
            number,
        )

    def set_registered_model_alias(self, name: str, alias: str, version: Any) -> None:
        number = self.get_model_version(name, version).version
        self._write(
            "INSERT INTO registered_model_aliases (workspace, alias, version, name) "
            "VALUES (?, ?, ?, ?) "
            "ON CONFLICT (workspace, name, alias) DO UPDATE SET version = excluded.version",
            WORKSPACE,
            alias,
            number,
            name,
        )

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.get_registered_model(name)
        self._write(
            "DELETE FROM registered_model_aliases WHERE workspace = ? AND name = ? AND alias = ?",
            WORKSPACE,
            name,
            alias,
        )

    def update_model_version(self, name: str, version: Any, description: str) -> ModelVersion:
        number = self.get_model_version(name, version).version
        self._write(
            "UPDATE model_versions SET description = ?, last_updated_time = ? "
            "WHERE workspace = ? AND name = ? AND version = ?",
            description,
            _now_ms(),
            WORKSPACE,
            name,
            number,
        )
        return self.get_model_version(name, number)
