"""MLflow tracking: where runs go, and logging a run with its tables, plots and datasets.

Each kind of run has its experiment (training and refits in `sabiscore-training`, betting
backtests in `sabiscore-backtests`), tagged as a classic ML experiment (`mlflow.experimentKind`).
MLflow 3.17's UI no longer reads that tag to choose its view: it follows the sidebar's GenAI /
Model training switch, GenAI until a user flips it (or a page's address carries
`?workflowType=machine_learning`). A run is named for what it did (kind, leagues,
seasons; the registry adds the semantic version), described (`mlflow.note.content`, the
run page's Description: what it trained or scored on, and what its metric names mean) and
spans the work it records: it starts when the training started, not when its logging did.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from models.registry import tracking_uri

TRAINING_EXPERIMENT = "sabiscore-training"
BACKTEST_EXPERIMENT = "sabiscore-backtests"
#: The training experiment's name before it had a kind of its own: renamed on first use, so
#: that a store's earlier training runs stay beside the new ones.
LEGACY_EXPERIMENT = "SabiScore_Ensemble"
DEFAULT_EXPERIMENT = TRAINING_EXPERIMENT
#: The experiment tag that records its kind. MLflow 3.0-3.16's UI chose its view from it (without
#: it, ours opened in the GenAI view: traces, token usage); 3.17's follows the workflow switch.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
CLASSIC_ML = "custom_model_development"
#: The run (or experiment) tag MLflow's UI shows as its Description.
NOTE_TAG = "mlflow.note.content"
#: The serving state's experiment (tasks/serving_state.py publishes its runs).
SERVING_STATE_EXPERIMENT = "sabiscore-serving-state"
#: What each experiment holds, for its Description: set when it is created, or first used
#: without one (a description a person wrote stays).
EXPERIMENT_DESCRIPTIONS = {
    TRAINING_EXPERIMENT: (
        "Every training of the stacked ensemble (runs `train ...`, scored on held-out seasons "
        "next to the market) and every refit of a promoted one on all played matches (runs "
        "`refit of version N ...`). A run registered as a model version ends in its semantic "
        "version; its holdout_* metrics are what the promotion gate judged."
    ),
    BACKTEST_EXPERIMENT: (
        "Walk-forward betting backtests (`sabiscore backtest-bets`): the model retrained "
        "before each test season, its value bets and the baselines' at the backtest's "
        "bookmaker, with yield, ROI, drawdown and closing-line value per strategy."
    ),
    SERVING_STATE_EXPERIMENT: (
        "The champion's serving state (team ratings, form, upcoming fixtures) rebuilt whenever "
        "new results or fixtures change it: one run per state (`state vN date`), which the "
        "version's serving_state.run_id tag names and the service loads."
    ),
}


def artifact_root(data_dir: Path) -> str:
    return (Path(data_dir).resolve() / "mlartifacts").as_uri()


def use_tracking(data_dir: Path, experiment: str = DEFAULT_EXPERIMENT) -> str:
    """Point MLflow at this data directory's store and make sure the experiment exists, as a
    classic ML experiment described for what it holds (an existing one without a kind or a
    description gets the tag)."""
    import mlflow

    from models.registry import ModelRegistry, point_mlflow_at

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = tracking_uri(data_dir)
    point_mlflow_at(uri)
    # Two pipelines starting on a fresh SQLite file would both create its tables and the
    # experiment: the registry's file lock makes the second wait and find them.
    registry = ModelRegistry(uri)
    client = registry.client
    with registry.lock():
        found = client.get_experiment_by_name(experiment)
        if found is None and experiment == TRAINING_EXPERIMENT:
            legacy = client.get_experiment_by_name(LEGACY_EXPERIMENT)
            if legacy is not None and legacy.lifecycle_stage == "active":
                client.rename_experiment(legacy.experiment_id, TRAINING_EXPERIMENT)
                found = client.get_experiment(legacy.experiment_id)
        tags = {EXPERIMENT_KIND_TAG: CLASSIC_ML}
        if experiment in EXPERIMENT_DESCRIPTIONS:
            tags[NOTE_TAG] = EXPERIMENT_DESCRIPTIONS[experiment]
        if found is None:
            location = None if os.environ.get("MLFLOW_TRACKING_URI") else artifact_root(data_dir)
            experiment_id = client.create_experiment(
                experiment, artifact_location=location, tags=tags
            )
        else:
            experiment_id = found.experiment_id
            for key, value in tags.items():
                if key not in found.tags:
                    client.set_experiment_tag(experiment_id, key, value)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def season_span(seasons: Sequence[str]) -> str:
    """Seasons as a short span for a run's name.

    >>> season_span(["2021-2022", "2019-2020", "2020-2021"])
    '2019-2020..2021-2022'
    >>> season_span(["2022-2023"]), season_span([])
    ('2022-2023', '-')
    """
    ordered = sorted(seasons)
    if not ordered:
        return "-"
    return ordered[0] if len(ordered) == 1 else f"{ordered[0]}..{ordered[-1]}"


def run_name(
    kind: str, leagues: Sequence[str], seasons: Sequence[str], test_seasons: Sequence[str] = ()
) -> str:
    """What a run did, in its name: kind, leagues, seasons (and those it was tested on).

    >>> run_name("train", ["SZ1", "SY1"], ["2019-2020", "2020-2021"], ["2021-2022"])
    'train SY1+SZ1 2019-2020..2020-2021 test 2021-2022'
    """
    name = f"{kind} {'+'.join(sorted(leagues)) or '-'} {season_span(seasons)}"
    return f"{name} test {season_span(test_seasons)}" if test_seasons else name


@dataclass(frozen=True)
class RunDataset:
    """A dataset a run used, logged with `mlflow.log_input`: its rows (a frame whose schema
    and row count MLflow records, not its values), the digest of the store they came from, and
    tags a person filters on (leagues, seasons, rows)."""

    name: str
    frame: pd.DataFrame
    digest: str  # at most 36 characters (MLflow's column)
    source: str  # where the rows live: the store's manifest
    context: str  # "training", "testing"
    tags: Mapping[str, str] = field(default_factory=dict)
    targets: str | None = None

    def __post_init__(self) -> None:
        if len(self.digest) > 36:
            raise ValueError(f"a dataset digest has at most 36 characters, not {self.digest!r}")


def _log_dataset(dataset: RunDataset) -> None:
    import mlflow

    with warnings.catch_warnings():  # a local path matches two source kinds; integer hints
        warnings.simplefilter("ignore", UserWarning)
        logged = mlflow.data.from_pandas(
            dataset.frame,
            source=dataset.source,
            targets=dataset.targets,
            name=dataset.name,
            digest=dataset.digest,
        )
    mlflow.log_input(logged, context=dataset.context, tags=dict(dataset.tags))


def describe_datasets(inputs: Sequence[RunDataset]) -> str:
    """The datasets a run used, one sentence, for its description.

    >>> frame = pd.DataFrame({"x": [1.0, 2.0]})
    >>> describe_datasets([RunDataset("E0 2021-2022", frame, "d", "s", "training")])
    'Training rows: E0 2021-2022 (2 matches).'
    """
    parts = [f"{d.context.capitalize()} rows: {d.name} ({len(d.frame)} matches)." for d in inputs]
    return " ".join(parts)


def _flat(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{name}."))
        else:
            out[name] = value if isinstance(value, int | float | str | bool) else json.dumps(value)
    return out


#: What each kind of run is, for its Description when its caller gives none.
RUN_DESCRIPTIONS = {
    "train": (
        "A training of the stacked ensemble, scored on held-out seasons next to the "
        "market. Metrics: test_<forecaster>_<score> are each forecaster's scores on the "
        "test rows (log loss, Brier summed over the 3 outcomes, RPS, accuracy, calibration "
        "error ece); holdout_* are what the promotion gate judged (holdout_market_* the "
        "market's, holdout_clv_* the closing-line value of the holdout's bets); gate_* are "
        "the gate's ECE bound and the candidate's gap to the market (its tolerance is the "
        "parameter gate_market_tolerance); oof_* are out-of-fold "
        "log losses on the training seasons; fit_seconds_* the members' fit times. "
        "Tables (per league, reliability) and plots are under Artifacts."
    ),
    "refit": (
        "The promoted configuration fitted again on every played match, its holdout "
        "included: the model that is served. It has no test rows, so no holdout scores of "
        "its own (the version it refits carries them); oof_* are out-of-fold log losses, "
        "fit_seconds_* the members' fit times."
    ),
    "backtest-bets": (
        "A walk-forward betting backtest: before each test season the model is "
        "trained on the seasons before it, then bets at the backtest's bookmaker "
        "under the staking rules. Metrics per strategy: <strategy>_bets, "
        "_turnover, _roi, _yield (with _low/_high 95 % bounds), _max_drawdown and "
        "_clv_mean; stakes are shares of the initial bankroll. The report and "
        "plots are under Artifacts."
    ),
}


def log_training_run(
    data_dir: Path,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tables: Mapping[str, pd.DataFrame],
    files: Mapping[str, Path],
    tags: Mapping[str, str],
    run_name: str = "train",
    experiment: str = TRAINING_EXPERIMENT,
    started_ms: int | None = None,
    inputs: Sequence[RunDataset] = (),
    description: str | None = None,
) -> str:
    """One MLflow run: flattened params, metrics, datasets, tables (CSV) and plots. Returns its
    id. `started_ms` (epoch milliseconds) is when the work it records began: the run starts
    there and ends once logged, so its duration is the work's. `description` (markdown) is the
    run page's Description, followed by the datasets' rows; a `flow` tag without one gets its
    kind's (`RUN_DESCRIPTIONS`)."""
    import mlflow
    from mlflow.tracking.context.registry import resolve_tags

    experiment_id = use_tracking(data_dir, experiment)
    client = mlflow.MlflowClient(tracking_uri(data_dir))
    text = description or RUN_DESCRIPTIONS.get(tags.get("flow", ""), "")
    note = " ".join(part for part in (text, describe_datasets(inputs)) if part)
    run_tags = {**tags, **({NOTE_TAG: note} if note and NOTE_TAG not in tags else {})}
    created = client.create_run(
        experiment_id, start_time=started_ms, run_name=run_name, tags=resolve_tags(run_tags)
    )  # user, source, as start_run
    with mlflow.start_run(run_id=created.info.run_id) as run:
        mlflow.log_params(_flat(params))
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        for dataset in inputs:
            _log_dataset(dataset)
        with tempfile.TemporaryDirectory() as tmp:
            for name, table in tables.items():
                path = Path(tmp) / f"{name}.csv"
                table.to_csv(path, index=False)
                mlflow.log_artifact(str(path), artifact_path="tables")
        for path in files.values():
            mlflow.log_artifact(str(path), artifact_path="plots")
        return run.info.run_id
