"""The betting backtest: would following SabiScore's value bets have made money, and did they
beat the closing line? `sabiscore backtest-bets --train SOURCE... --test SOURCE...`.

Ingest both sets → features (once) → walk-forward windows (a stack and an Elo model trained
before each, the windows side by side on the task runner) → bets of the model and the baselines
at the opening prices → results with bootstrap intervals → plots, a markdown report, an MLflow
run and Prefect artifacts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture, as_completed

from flows.ingest import ingest_flow
from flows.run_names import backtest_run_name
from models.training import FeatureTable
from sabiscore.backtest import (
    MODEL,
    BacktestSettings,
    Baseline,
    EloOutcomeModel,
    Window,
    forecast_table,
    results_by_strategy,
    training_rows,
)
from sabiscore.config import deep_merge, default_data_dir, load_config
from sabiscore.splits import ingested_partitions
from sabiscore.staking import StakingPolicy
from sabiscore.store import DataStore
from sabiscore.text import counted
from tasks.backtest import (
    MARKET_REFERENCES,
    build_market,
    compare_with_close,
    fit_elo_baseline,
    forecast_window,
    join_forecasts,
    log_backtest_run,
    partition_masks,
    place_bets,
    plan_windows,
    publish_artifacts,
    score_forecasts,
    summarize_bets,
    window_training_rows,
    write_report,
)
from tasks.train import (
    build_feature_table,
    finish_stack,
    load_training_data,
    run_datasets,
    submit_members,
)


@dataclass(frozen=True)
class WindowForecast:
    """One window's forecasts, and how it was trained."""

    forecasts: dict[str, pd.DataFrame]
    record: dict[str, Any]  # label, start, n_train, n_test, seconds, fit_seconds (per model)


@dataclass(frozen=True, eq=False)
class WindowInFlight:
    """A window whose base models are being fitted on the task runner."""

    window: Window
    X_fit: pd.DataFrame
    y_fit: np.ndarray
    fits: list[PrefectFuture]  # one per base model, in the config's order
    elo: EloOutcomeModel | None
    submitted: float  # time.perf_counter() when its fits were submitted


def submit_window(
    table: FeatureTable, allowed: pd.Series, window: Window, train_config: dict, with_elo: bool
) -> WindowInFlight:
    """Slice the window's training rows from the one feature table, submit its base-model fits
    to the task runner and fit its Elo model (a few milliseconds) meanwhile."""
    submitted = time.perf_counter()
    X_fit, y_fit = table.rows(window_training_rows(table, allowed, window))
    fits = submit_members(train_config, X_fit, y_fit)
    elo = fit_elo_baseline(X_fit, y_fit) if with_elo else None
    return WindowInFlight(window, X_fit, y_fit, fits, elo, submitted)


def finish_window(
    table: FeatureTable, in_flight: WindowInFlight, train_config: dict
) -> WindowForecast:
    """Stack the window's fitted base models (the logistic layer) and forecast its matches."""
    window = in_flight.window
    stack, fits = finish_stack(train_config, in_flight.fits, in_flight.X_fit, in_flight.y_fit)
    forecasts = forecast_window(stack, in_flight.elo, table.X.loc[window.matches])
    record = {
        "label": window.label,
        "start": str(window.start.date()),
        "n_train": len(in_flight.X_fit),
        "n_test": len(window.matches),
        "seconds": round(time.perf_counter() - in_flight.submitted, 1),
        "fit_seconds": {fit.name: round(fit.seconds, 1) for fit in fits},
    }
    return WindowForecast(forecasts, record)


def forecast_windows(
    table: FeatureTable,
    allowed: pd.Series,
    windows: Sequence[Window],
    train_config: dict,
    with_elo: bool,
    at_once: int,
) -> list[WindowForecast]:
    """Every window's forecasts, in window order, with `at_once` windows in flight.

    The base-model fits of the windows in flight are one flat set of tasks on the flow's task
    runner (threads, or Dask): only the flow submits and waits, no task waits on another, so a
    bounded pool cannot starve. A window's stack is fitted as soon as its fits are done. The
    latest windows go first: they train on the most rows, and a long fit started last would
    leave the other workers idle at the end. Each fit is seeded, its thread count fixed
    (`n_jobs`), so what runs beside it changes nothing: the forecasts are those of one window
    after another.
    """
    from models import build_base_models

    names = ", ".join(model.model_name for model in build_base_models(train_config))
    print(
        f"{counted(len(windows), 'window')}, {at_once} in flight at once on {_runner_name()}; "
        f"fitted for each: {names}, then the stack"
    )
    waiting = list(reversed(range(len(windows))))
    in_flight: dict[int, WindowInFlight] = {}
    done: dict[int, WindowForecast] = {}
    while waiting or in_flight:
        while waiting and len(in_flight) < at_once:
            index = waiting.pop(0)
            in_flight[index] = submit_window(table, allowed, windows[index], train_config, with_elo)
        index = _first_fitted(in_flight)
        done[index] = finish_window(table, in_flight.pop(index), train_config)
        print(_window_line(done[index].record, len(done), len(windows)))
    return [done[index] for index in range(len(windows))]


def _first_fitted(in_flight: Mapping[int, WindowInFlight]) -> int:
    """The window in flight whose base-model fits are all done (finished or failed) first."""
    owner = {future: index for index, w in in_flight.items() for future in w.fits}
    left = {index: len(w.fits) for index, w in in_flight.items()}
    for future in as_completed(list(owner)):
        left[owner[future]] -= 1
        if left[owner[future]] == 0:
            return owner[future]
    raise RuntimeError("no window in flight")  # unreachable: every window has fits


def _window_line(record: Mapping[str, Any], n_done: int, n_windows: int) -> str:
    fits = ", ".join(f"{name} {seconds} s" for name, seconds in record["fit_seconds"].items())
    return (
        f"window {record['label']} done ({n_done}/{n_windows}): trained on "
        f"{record['n_train']} matches, {record['n_test']} to bet on, {record['seconds']} s "
        f"from submission ({fits})"
    )


def _runner_name() -> str:
    context = FlowRunContext.get()
    return type(context.task_runner).__name__ if context else "the task runner"


def _policy_line(policy: StakingPolicy) -> str:
    return (
        f"min edge {policy.min_edge:.0%}, {policy.kelly_fraction:g} Kelly, at most "
        f"{policy.max_stake_fraction:.0%} of the bankroll per match; tiers from "
        f"{policy.tiers.marginal:.0%} / {policy.tiers.value:.0%} / {policy.tiers.premium:.0%}"
    )


def _report_dir(report_dir: str | None, store: DataStore) -> Path:
    if report_dir:
        return Path(report_dir)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return store.root / "reports" / f"backtest-bets-{stamp}"


@flow(name="backtest-bets", flow_run_name=backtest_run_name, log_prints=True)
def backtest_bets_flow(
    train_sources: list[str],
    test_sources: list[str],
    data_dir: str | None = None,
    config_path: str | None = None,
    report_dir: str | None = None,
    log_to_mlflow: bool = True,
) -> dict:
    """Walk-forward betting backtest of the ensemble against its baselines on `test_sources`.

    Every test season is bet on by models trained on earlier matches only (of both sets of
    files); `configs/backtest.yaml` sets the bookmaker, the retraining cadence, how many
    windows train at once, the baselines and the bootstrap; `configs/staking.yaml` the bets.
    """
    started, started_ms = time.perf_counter(), int(time.time() * 1000)  # the run starts here
    store = DataStore(Path(data_dir) if data_dir else default_data_dir())
    trained_on = ingest_flow(
        sources=train_sources, data_dir=str(store.root), config_path=config_path
    )
    tested_on = ingest_flow(sources=test_sources, data_dir=str(store.root), config_path=config_path)
    partitions = ingested_partitions(trained_on, tested_on)
    config = load_config(config_path)
    settings = BacktestSettings.from_dict(config.get("backtest"))
    policy = StakingPolicy.from_dict(config["staking"])
    method = str(policy.implied_method)

    matches, odds = load_training_data(store)
    table = build_feature_table(matches, odds, config["features"])
    allowed, test = partition_masks(table.info, partitions)
    windows = plan_windows(table.info, test, settings.retrain_every)
    train_config = deep_merge(config["train"], settings.train)
    with_elo = Baseline.ELO in settings.baselines
    at_once = settings.windows_in_flight(len(windows))
    trained = forecast_windows(table, allowed, windows, train_config, with_elo, at_once)
    forecasts = join_forecasts([t.forecasts for t in trained], table.market, method)

    market = build_market(
        table, test, settings.bookmaker, settings.best_of, method, policy.sharp_books
    )
    strategies = settings.strategies
    ledger = place_bets(forecasts, market, policy, strategies, settings.flat_stake)
    results = summarize_bets(ledger, strategies, settings.n_boot, settings.alpha, settings.seed)
    scored = [MODEL, str(Baseline.ELO), *MARKET_REFERENCES]
    scores, curves = score_forecasts(forecasts, market, scored)

    confirms = compare_with_close(
        forecasts,
        market,
        [MODEL, str(Baseline.ELO)],
        settings.n_boot,
        settings.alpha,
        settings.seed,
    )

    meta = _report_meta(settings, policy, partitions, len(market.info), trained, windows)
    meta["close_confirms"] = confirms
    files = write_report(
        _report_dir(report_dir, store),
        ledger,
        results,
        scores,
        curves,
        meta,
        forecast_table(forecasts, market),
    )
    publish_artifacts(files)
    run_id = None
    if log_to_mlflow:
        run = BacktestRun(settings, policy, partitions, train_config, started_ms)
        run_id = _log_to_mlflow(
            run, store, table, allowed, test, windows, len(market.info), results, ledger, files
        )

    pooled = scores[scores["group"] == "all"].drop(columns="group")
    return {
        "bookmaker": settings.bookmaker,
        "retrain_every": settings.retrain_every,
        "partitions": partitions,
        "n_test_matches": len(market.info),
        "strategies": strategies,
        **results_by_strategy(results),
        "forecast_scores": pooled.to_dict("records"),
        "close_confirms": confirms,
        "windows": meta["windows"],
        "policy": policy.to_dict(),
        "flat_stake": settings.flat_stake,
        "report": str(files["report"]),
        "run_id": run_id,
        "seconds": round(time.perf_counter() - started, 1),
    }


@dataclass(frozen=True)
class BacktestRun:
    """What a backtest ran with, as its MLflow run records it."""

    settings: BacktestSettings
    policy: StakingPolicy
    partitions: Mapping[str, Sequence[str]]
    train_config: Mapping[str, Any]
    started_ms: int  # when the backtest started (epoch ms): the MLflow run starts there


def _report_meta(
    settings: BacktestSettings,
    policy: StakingPolicy,
    partitions: Mapping[str, Sequence[str]],
    n_test: int,
    trained: Sequence[WindowForecast],
    windows: Sequence[Window],
) -> dict[str, Any]:
    """What the report says of how the backtest ran: books, cadence, windows, the bootstrap."""
    return {
        "bookmaker": settings.bookmaker
        if settings.bookmaker != "best"
        else f"best of {', '.join(settings.best_of)}",
        "retrain_every": "season"
        if settings.retrain_every == "season"
        else f"{settings.retrain_every} match days",
        "partitions": partitions,
        "n_test_matches": n_test,
        "windows": [t.record for t in trained],
        "policy_line": _policy_line(policy),
        "flat_stake": settings.flat_stake,
        "first_day": str(windows[0].start.date()),
        "ci_line": f"{1 - settings.alpha:.0%} percentile bootstrap over bets, "
        f"{settings.n_boot} resamples",
    }


def _log_to_mlflow(
    run: BacktestRun,
    store: DataStore,
    table: FeatureTable,
    allowed: pd.Series,
    test: pd.Series,
    windows: Sequence[Window],
    n_test: int,
    results: pd.DataFrame,
    ledger: pd.DataFrame,
    files: Mapping[str, Path],
) -> str:
    """The backtest's MLflow run: its settings, results, bets, plots and datasets (the rows the
    last window trained on, every earlier window's among them, and the rows bet on)."""
    params = {
        "backtest": run.settings.to_dict(),
        "staking": run.policy.to_dict(),
        "partitions": run.partitions,
        "train": run.train_config,
    }
    tags = {"flow": "backtest-bets", "n_test": str(n_test), "n_windows": str(len(windows))}
    fitted = training_rows(table.info, allowed, windows[-1])
    inputs = run_datasets(store, table, table.info.index[fitted], table.info.index[test])
    return log_backtest_run(
        store.root, results, ledger, params, files, tags, run.started_ms, inputs
    )
