"""Prefect tasks of the training flow: data → features → base models → stack → report."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture

from models.tracking import RunDataset, run_name, season_span
from models.training import BaseFit, Evaluation, FeatureTable
from sabiscore.evaluation import (
    common_matches,
    comparison_table,
    market_forecasts,
    outcome_index,
    reliability_curve,
    to_markdown,
    without_unpriced,
)
from sabiscore.features import FeatureConfig, build_features, feature_columns
from sabiscore.football_data import one_x_two
from sabiscore.outcomes import RESULT_CODES
from sabiscore.store import DataStore


@task(name="load-training-data", cache_policy=NO_CACHE)
def load_training_data(
    store: DataStore, leagues: list[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    matches, odds = store.history(leagues)
    if matches.empty or matches["status"].eq("fixture").all():  # no match of the matches table
        raise ValueError(
            f"no matches in {store.root}: run `sabiscore ingest` first (or pass --data-dir)"
        )
    return matches, odds


@task(name="build-features", cache_policy=NO_CACHE)
def build_feature_table(
    matches: pd.DataFrame, odds: pd.DataFrame, settings: dict[str, Any]
) -> FeatureTable:
    """Leak-free features for every match (and fixture), in kick-off order."""
    features = build_features(matches, odds, FeatureConfig.from_dict(settings))
    info = matches.set_index("match_id").loc[
        features.index, ["league", "season", "kickoff", "result", "status"]
    ]
    market = one_x_two(odds).reindex(features.index)
    return FeatureTable(features[feature_columns(features)], info, market)


@task(name="fit-base-model", cache_policy=NO_CACHE)
def fit_base_model(model: Any, X: pd.DataFrame, y: np.ndarray, n_folds: int) -> BaseFit:
    """Out-of-fold forecasts on time-ordered folds, then a refit on all rows."""
    from models.meta_learner import fit_and_forecast, time_ordered_folds
    from models.recalibration import recalibrate

    started = time.perf_counter()
    folds = time_ordered_folds(len(X), n_folds)
    oof = np.vstack([fit_and_forecast(model, X, y, f.train, f.predict)[1] for f in folds])
    fitted, _ = fit_and_forecast(model, X, y, np.arange(len(X)), None)
    oof_rows = np.concatenate([fold.predict for fold in folds])
    calibrated = recalibrate(fitted, oof, y[oof_rows])
    return BaseFit(model.model_name, fitted, oof, time.perf_counter() - started, calibrated)


@task(name="fit-stack", cache_policy=NO_CACHE)
def fit_stack(meta_learner: Any, fits: list[BaseFit], X: pd.DataFrame, y: np.ndarray) -> Any:
    """The logistic meta-learner on the base models' out-of-fold forecasts only."""
    return meta_learner.fit_from_forecasts(X, y, [f.model for f in fits], [f.oof for f in fits])


def submit_members(
    train_settings: Mapping[str, Any], X: pd.DataFrame, y: np.ndarray
) -> list[PrefectFuture]:
    """Every member of the stack (`train.models`) fitted on the task runner, side by side:
    out-of-fold forecasts, then on every row. The one way training, the refit and each
    backtest window start the ensemble; `finish_stack` finishes it."""
    from models import build_base_models

    n_folds = train_settings["stacking"]["n_folds"]
    return [
        fit_base_model.submit(model, X, y, n_folds) for model in build_base_models(train_settings)
    ]


def finish_stack(
    train_settings: Mapping[str, Any],
    members: Sequence[PrefectFuture],
    X: pd.DataFrame,
    y: np.ndarray,
) -> tuple[Any, list[BaseFit]]:
    """The members' fits once done, and the stack (`train.stacking`) on their out-of-fold
    forecasts."""
    from models import build_meta_learner
    from models.meta_learner import has_market_rows

    fits = [member.result() for member in members]
    stack = build_meta_learner(train_settings)
    if stack.market and not has_market_rows(X, stack.market_columns):
        print(
            "the market is left out of the stack: hardly any training match has an opening "
            "price (files with closing prices only, as football-data's extra leagues)"
        )
        stack.market = False
    return fit_stack(stack, fits, X, y), fits


@task(name="evaluate", cache_policy=NO_CACHE)
def evaluate_forecasts(
    stack: Any,
    fits: list[BaseFit],
    X: pd.DataFrame,
    info: pd.DataFrame,
    market: pd.DataFrame,
    settings: dict[str, Any],
) -> Evaluation:
    """Ensemble, each base model and the de-margined market (each book that prices at least one
    test match), scored on the same matches."""
    columns = list(RESULT_CODES)
    forecasts = {"ensemble": pd.DataFrame(stack.predict_proba(X), index=X.index, columns=columns)}
    for fit in fits:
        probs = fit.calibrated.predict_proba(X)
        forecasts[fit.name] = pd.DataFrame(probs, index=X.index, columns=columns)
    if getattr(stack, "market", False):  # the stack's market member, scored as a forecaster
        from models.meta_learner import MARKET, market_forecast

        market_probs = market_forecast(X, stack.market_columns)
        forecasts[MARKET] = pd.DataFrame(market_probs, index=X.index, columns=columns)
    names = settings.get("market_forecasters")
    market_lines = market_forecasts(market.loc[X.index], settings["implied_method"], names)
    results = info.loc[X.index, "result"]
    market_lines, left_out = without_unpriced(market_lines, results)
    for name in left_out:  # a book the files lack: it would empty the table
        print(f"{name}: no price on any test match, left out of the table")
    forecasts.update(market_lines)
    table = comparison_table(
        forecasts, results, info.loc[X.index, "league"], n_bins=settings.get("calibration_bins", 10)
    )
    common = common_matches(forecasts, results)
    y = outcome_index(results.loc[common])
    curves = {
        name: reliability_curve(frame.loc[common, columns].to_numpy(), y)
        for name, frame in forecasts.items()
    }
    return Evaluation(table, curves, forecasts)


@task(name="publish-training-report", cache_policy=NO_CACHE)
def publish_report(markdown: str) -> None:
    create_markdown_artifact(
        markdown, key="training-report", description="The test seasons' scores next to the market"
    )


def report_markdown(
    split: dict[str, list[str]], evaluation: Evaluation, extra: dict[str, Any]
) -> str:
    pooled = evaluation.table[evaluation.table["group"] == "all"]
    lines = [
        "# SabiScore training report",
        "",
        f"train {', '.join(split['train'])} | validation "
        f"{', '.join(split['validation']) or '-'} | test {', '.join(split['test'])}",
        "",
        "## Test seasons, pooled",
        "",
        to_markdown(pooled),
        "",
        "## Per league",
        "",
        to_markdown(evaluation.table[evaluation.table["group"] != "all"]),
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in extra.items()]
    return "\n".join(lines)


def reliability_table(evaluation: Evaluation) -> pd.DataFrame:
    """Every forecaster's reliability curve in one table (a `forecaster` column first): logged
    with the training run, where the service's `GET /models` reads the champion's."""
    frames = [curve.assign(forecaster=name) for name, curve in evaluation.curves.items()]
    table = pd.concat(frames, ignore_index=True)
    return table.loc[:, ["forecaster", *(c for c in table.columns if c != "forecaster")]]


def save_plots(evaluation: Evaluation, stack: Any, fits: list[BaseFit], out: Path) -> dict:
    """Calibration curves and feature importance as PNGs (logged to MLflow by the flow)."""
    from sabiscore.plots import calibration_plot, feature_importance_plot

    out.mkdir(parents=True, exist_ok=True)
    files = {"calibration": calibration_plot(evaluation.curves, out / "calibration.png")}
    for fit in fits:
        importance = fit.model.get_feature_importance(top_n=25)
        files[f"importance_{fit.name}"] = feature_importance_plot(
            importance, out / f"feature_importance_{fit.name}.png"
        )
    return files


def size_metrics(stack: Any, fits: list[BaseFit], n_train: int, n_test: int) -> dict:
    """What a person compares across training runs besides the scores: rows, fitting time,
    out-of-fold log loss of each member."""
    return {
        "n_train": n_train,
        "n_test": n_test,
        **{f"fit_seconds_{fit.name}": fit.seconds for fit in fits},
        **{f"oof_{name}_log_loss": value for name, value in stack.oof_scores_.items()},
    }


def _sha256(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def store_digest(store: DataStore) -> str:
    """The hash of what the store holds: each committed partition and its raw file's hash
    (not the manifest's version or times, so that equal data gives an equal hash)."""
    partitions = store.manifest()["partitions"]
    return _sha256(
        {key: [entry.get("kind"), entry["raw_sha256"]] for key, entry in partitions.items()}
    )


def rows_run_name(
    kind: str, info: pd.DataFrame, fit_index: pd.Index, test_index: pd.Index | None = None
) -> str:
    """A run's name from the rows it trained (and was tested) on: kind, leagues, seasons."""
    fit, test = info.loc[fit_index], info.loc[test_index if test_index is not None else []]
    leagues = sorted({*fit["league"], *test["league"]})
    return run_name(kind, leagues, sorted(set(fit["season"])), sorted(set(test["season"])))


def run_datasets(
    store: DataStore, table: FeatureTable, fit_index: pd.Index, test_index: pd.Index | None = None
) -> list[RunDataset]:
    """The training (and test) rows as datasets of the run, from this state of the store."""
    manifest = store_digest(store)
    chosen = [(fit_index, "training"), (test_index, "testing")]
    return [
        _dataset(store, table, index, context, manifest)
        for index, context in chosen
        if index is not None and len(index)
    ]


def _dataset(
    store: DataStore, table: FeatureTable, index: pd.Index, context: str, manifest: str
) -> RunDataset:
    info = table.info.loc[index]
    leagues, seasons = sorted(set(info["league"])), sorted(set(info["season"]))
    return RunDataset(
        name=f"{'+'.join(leagues)} {season_span(seasons)}",
        frame=table.X.loc[index].assign(result=info["result"].to_numpy()),
        digest=_sha256({"store": manifest, "rows": [str(i) for i in index]})[:16],
        source=str(store.manifest_path.resolve()),
        context=context,
        tags={
            "store_manifest": manifest,
            "leagues": ",".join(leagues),
            "seasons": ",".join(seasons),
            "rows": str(len(index)),
        },
        targets="result",
    )
