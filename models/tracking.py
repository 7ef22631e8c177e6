"""MLflow tracking: where runs go, and logging a training run with its tables and plots."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from models.registry import tracking_uri

DEFAULT_EXPERIMENT = "SabiScore_Ensemble"


def artifact_root(data_dir: Path) -> str:
    return (Path(data_dir).resolve() / "mlartifacts").as_uri()


def use_tracking(data_dir: Path, experiment: str = DEFAULT_EXPERIMENT) -> str:
    """Point MLflow at this data directory's store and make sure the experiment exists."""
    import mlflow

    from models.registry import ModelRegistry, point_mlflow_at

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = tracking_uri(data_dir)
    point_mlflow_at(uri)
    # Two pipelines starting on a fresh SQLite file would both create its tables and the
    # experiment: the registry's file lock makes the second wait and find them.
    with ModelRegistry(uri).lock():
        found = mlflow.get_experiment_by_name(experiment)
        if found is None:
            location = None if os.environ.get("MLFLOW_TRACKING_URI") else artifact_root(data_dir)
            experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
        else:
            experiment_id = found.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def _flat(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{name}."))
        else:
            out[name] = value if isinstance(value, int | float | str | bool) else json.dumps(value)
    return out


def log_training_run(
    data_dir: Path,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tables: Mapping[str, pd.DataFrame],
    files: Mapping[str, Path],
    tags: Mapping[str, str],
    run_name: str = "train",
) -> str:
    """One MLflow run: flattened params, metrics, tables (CSV) and plots. Returns its id."""
    import mlflow

    use_tracking(data_dir)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_params(_flat(params))
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        mlflow.set_tags(dict(tags))
        with tempfile.TemporaryDirectory() as tmp:
            for name, table in tables.items():
                path = Path(tmp) / f"{name}.csv"
                table.to_csv(path, index=False)
                mlflow.log_artifact(str(path), artifact_path="tables")
        for path in files.values():
            mlflow.log_artifact(str(path), artifact_path="plots")
        return run.info.run_id
