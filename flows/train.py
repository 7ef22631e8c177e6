"""The training flow: features → time split → base models (in parallel) → stack → evaluate →
an MLflow run and a Prefect report, the market always beside the models. And the refit the
pipeline serves after a promotion: the same steps on every played match, with nothing held out."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, task

from flows.run_names import train_run_name
from models.tracking import log_training_run
from models.training import BaseFit, TrainingOutcome
from sabiscore.config import default_data_dir, load_config
from sabiscore.faults import Stage, fault_point
from sabiscore.splits import choose_rows
from sabiscore.store import DataStore
from tasks.train import (
    build_feature_table,
    evaluate_forecasts,
    finish_stack,
    load_training_data,
    publish_report,
    reliability_table,
    report_markdown,
    rows_run_name,
    run_datasets,
    save_plots,
    size_metrics,
    submit_members,
)


def task_runner_from_config(settings: dict[str, Any] | None) -> Any:
    """Local threads by default; Dask (a LocalCluster, or a scheduler address) when configured."""
    settings = settings or {}
    kind = settings.get("kind", "threads")
    if kind == "threads":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=settings.get("max_workers", 3))
    if kind == "dask":
        from prefect_dask import DaskTaskRunner

        if settings.get("address"):
            return DaskTaskRunner(address=settings["address"])
        return DaskTaskRunner(
            cluster_kwargs={
                "n_workers": settings.get("n_workers", 2),
                "threads_per_worker": settings.get("threads_per_worker", 1),
                "processes": True,
                "dashboard_address": None,
            }
        )
    raise ValueError(f"task_runner.kind must be 'threads' or 'dask', not {kind!r}")


@task(name="log-mlflow-run")
def log_run(data_dir: Path, **kwargs: Any) -> str:
    return log_training_run(data_dir, **kwargs)


def fit_ensemble(train_settings: dict, X: pd.DataFrame, y: Any) -> tuple[Any, list[BaseFit]]:
    """The stack's members fitted side by side, then the stack (training and the refit)."""
    return finish_stack(train_settings, submit_members(train_settings, X, y), X, y)


def train_ensemble(
    data_dir: str | None = None,
    config_path: str | None = None,
    leagues: list[str] | None = None,
    test_seasons: list[str] | None = None,
    validation_seasons: list[str] | None = None,
    partitions: dict[str, list[str]] | None = None,
    log_to_mlflow: bool = True,
    train_seasons: list[str] | None = None,
) -> TrainingOutcome:
    """The training steps, called inside a flow (the training flow or the pipeline)."""
    started, started_ms = time.perf_counter(), int(time.time() * 1000)  # the run starts here
    config = load_config(config_path)
    store = DataStore(Path(data_dir) if data_dir else default_data_dir())
    matches, odds = load_training_data(store, leagues)
    table = build_feature_table(matches, odds, config["features"])
    fit_mask, test_mask, split = choose_rows(
        table.info, test_seasons, validation_seasons, partitions, train_seasons
    )
    X_fit, y_fit = table.rows(fit_mask)
    X_test, _ = table.rows(test_mask)
    if len(X_fit) == 0 or len(X_test) == 0:
        raise ValueError(f"empty split: {len(X_fit)} training and {len(X_test)} test matches")
    print(f"training on {len(X_fit)} matches x {X_fit.shape[1]} features; testing on {len(X_test)}")

    stack, fits = fit_ensemble(config["train"], X_fit, y_fit)
    evaluation = evaluate_forecasts(
        stack, fits, X_test, table.info, table.market, config["evaluation"]
    )
    pooled = evaluation.table[evaluation.table["group"] == "all"]
    extra = {
        "base model weights": stack.get_base_model_weights(),
        "out-of-fold log loss": stack.oof_scores_,
        "seconds per base model": {f.name: round(f.seconds, 2) for f in fits},
    }
    markdown = report_markdown(split, evaluation, extra)
    publish_report(markdown)

    run_id = None
    if log_to_mlflow:
        run_id = _record_training(
            store,
            config,
            table,
            split,
            stack,
            fits,
            evaluation,
            markdown,
            X_fit,
            X_test,
            started_ms,
        )
        fault_point(Stage.RUN_LOGGED)
    summary = {
        "run_id": run_id,
        "split": split,
        "n_train": len(X_fit),
        "n_test": len(X_test),
        "n_features": X_fit.shape[1],
        "rows": pooled.drop(columns="group").to_dict("records"),
        "per_league": evaluation.table[evaluation.table["group"] != "all"].to_dict("records"),
        "base_model_weights": stack.get_base_model_weights(),
        "oof_log_loss": stack.oof_scores_,
        "seconds": round(time.perf_counter() - started, 2),
    }
    return TrainingOutcome(
        summary, stack, table, evaluation, X_fit.index, X_test.index, config, matches, odds
    )


def _record_training(
    store: DataStore,
    config: dict,
    table: Any,
    split: dict,
    stack: Any,
    fits: list[BaseFit],
    evaluation: Any,
    markdown: str,
    X_fit: pd.DataFrame,
    X_test: pd.DataFrame,
    started_ms: int,
) -> str:
    """The training's MLflow run: its settings, the scores of every forecaster on the test rows,
    the tables, plots and report, the datasets; returns its id."""
    pooled = evaluation.table[evaluation.table["group"] == "all"]
    with tempfile.TemporaryDirectory() as tmp:
        plots = save_plots(evaluation, stack, fits, Path(tmp))
        report = Path(tmp) / "training_report.md"
        report.write_text(markdown)
        return log_run(
            store.root,
            params={
                "split": split,
                "n_features": X_fit.shape[1],
                "features": config["features"],
                "train": config["train"],
            },
            metrics={
                **{
                    f"test_{r.forecaster}_{m}": getattr(r, m)
                    for r in pooled.itertuples()
                    for m in ("log_loss", "brier", "rps", "accuracy", "ece")
                },
                **size_metrics(stack, fits, len(X_fit), len(X_test)),
            },
            tables={"comparison": evaluation.table, "reliability": reliability_table(evaluation)},
            files={**plots, "report": report},
            tags={"flow": "train"},  # n_train, n_test: metrics (size_metrics)
            run_name=rows_run_name("train", table.info, X_fit.index, X_test.index),
            started_ms=started_ms,
            inputs=run_datasets(store, table, X_fit.index, X_test.index),
        )


@dataclass(frozen=True)
class Refit:
    """A trained configuration fitted again on every played match: the stack, its rows (a
    subset of the training outcome's feature table) and its MLflow run."""

    stack: Any
    fit_index: pd.Index
    run_id: str
    seconds: float


def refit_ensemble(outcome: TrainingOutcome, data_dir: str, refit_of: str) -> Refit:
    """`outcome`'s configuration (features, hyperparameters, members, leagues) fitted on every
    played match of its feature table, the gate's holdout included: what the pipeline serves
    once the gate has promoted version `refit_of`. Logged as a training run, without test rows:
    its scores on the holdout are those of `refit_of`, which the registry carries over."""
    started, started_ms = time.perf_counter(), int(time.time() * 1000)
    played = outcome.table.info["status"] == "played"
    X, y = outcome.table.rows(played)
    seasons = sorted(outcome.table.info.loc[played, "season"].unique().tolist())
    print(
        f"refitting version {refit_of}'s configuration on all {len(X)} played matches "
        f"(its holdout included)"
    )
    stack, fits = fit_ensemble(outcome.config["train"], X, y)
    run_id = log_run(
        Path(data_dir),
        params={
            "split": {"train": seasons, "validation": [], "test": []},
            "n_features": X.shape[1],
            "features": outcome.config["features"],
            "train": outcome.config["train"],
        },
        metrics=size_metrics(stack, fits, len(X), 0),
        tables={},
        files={},
        tags={
            "flow": "refit",
            "refit_of": refit_of,
            # short enough for the run page (the description says why: it trains on them)
            "holdout": f"version {refit_of}'s",
        },
        run_name=rows_run_name(f"refit of version {refit_of}", outcome.table.info, X.index),
        started_ms=started_ms,
        inputs=run_datasets(DataStore(Path(data_dir)), outcome.table, X.index),
    )
    return Refit(stack, X.index, run_id, round(time.perf_counter() - started, 2))


@flow(name="train", flow_run_name=train_run_name, log_prints=True)
def train_flow(
    data_dir: str | None = None,
    config_path: str | None = None,
    leagues: list[str] | None = None,
    test_seasons: list[str] | None = None,
    validation_seasons: list[str] | None = None,
    partitions: dict[str, list[str]] | None = None,
    log_to_mlflow: bool = True,
    train_seasons: list[str] | None = None,
) -> dict:
    """Train the stacked ensemble and evaluate it on held-out seasons next to the market.

    partitions: {"train": ["E0/2019-2020", ...], "test": [...]} to choose rows by
    league/season instead of the default split (last season test, the one before validation).
    train_seasons: the seasons learnt from (default: every season before the test).
    """
    return train_ensemble(
        data_dir,
        config_path,
        leagues,
        test_seasons,
        validation_seasons,
        partitions,
        log_to_mlflow,
        train_seasons,
    ).summary
