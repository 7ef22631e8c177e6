"""Prefect tasks of the betting backtest: windows → forecasts → bets → results → report."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.artifacts import create_image_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from models.tracking import RunDataset
from models.training import FeatureTable
from sabiscore.backtest import (
    MODEL,
    Baseline,
    BettingMarket,
    EloOutcomeModel,
    Window,
    backtest_ledger,
    bankroll_paths,
    betting_market,
    close_confirms,
    strategy_results,
    training_rows,
    walk_forward_windows,
)
from sabiscore.evaluation import (
    OUTCOMES,
    common_matches,
    comparison_table,
    market_forecasts,
    outcome_index,
    reliability_curve,
    to_markdown,
    without_unpriced,
)
from sabiscore.staking import SHARP_BOOKS, StakingPolicy

#: The feature the Elo baseline reads (`sabiscore.features`: home + home advantage − away).
ELO_FEATURE = "elo_diff"

#: Market forecasters scored beside the models (names of `evaluation.MARKET_FORECASTERS`).
MARKET_REFERENCES = ("pinnacle_open", "bet365_open")


def partition_masks(
    info: pd.DataFrame, partitions: Mapping[str, Sequence[str]]
) -> tuple[pd.Series, pd.Series]:
    """(rows that may train: every ingested league-season, rows bet on: played test ones)."""
    key = info["league"].astype(str) + "/" + info["season"].astype(str)
    allowed = key.isin([*partitions["train"], *partitions["test"]])
    return allowed, allowed & key.isin(partitions["test"]) & (info["status"] == "played")


@task(name="plan-windows", cache_policy=NO_CACHE)
def plan_windows(info: pd.DataFrame, test: pd.Series, retrain_every: str | int) -> list[Window]:
    windows = walk_forward_windows(info, test, retrain_every)
    if not windows:
        raise ValueError("no played test matches to bet on")
    return windows


def window_training_rows(table: FeatureTable, allowed: pd.Series, window: Window) -> pd.Series:
    """The rows that train the window's models; an error when there are none."""
    rows = training_rows(table.info, allowed, window)
    if not rows.any():
        raise ValueError(f"window {window.label}: no earlier matches to train on")
    return rows


@task(name="fit-elo-baseline", cache_policy=NO_CACHE)
def fit_elo_baseline(X: pd.DataFrame, y: np.ndarray) -> EloOutcomeModel:
    if ELO_FEATURE not in X.columns:
        raise ValueError(f"the Elo baseline needs the feature {ELO_FEATURE!r}: enable elo")
    return EloOutcomeModel.fit(X[ELO_FEATURE].to_numpy(), y)


@task(name="forecast-window", cache_policy=NO_CACHE)
def forecast_window(
    stack: Any, elo: EloOutcomeModel | None, X: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Ensemble (and Elo) probabilities, columns H, D, A, for the window's matches."""
    columns = list(OUTCOMES)
    forecasts = {MODEL: pd.DataFrame(stack.predict_proba(X), index=X.index, columns=columns)}
    if elo is not None:
        probs = elo.predict_proba(X[ELO_FEATURE].to_numpy())
        forecasts[str(Baseline.ELO)] = pd.DataFrame(probs, index=X.index, columns=columns)
    return forecasts


@task(name="build-betting-market", cache_policy=NO_CACHE)
def build_market(
    table: FeatureTable,
    test: pd.Series,
    bookmaker: str,
    best_of: Sequence[str],
    method: str,
    sharp_books: Sequence[str] = SHARP_BOOKS,
) -> BettingMarket:
    """The test matches' market; `sharp_books` the staking policy's (its sharp check)."""
    info = table.info.loc[test.to_numpy(bool)]
    return betting_market(table.market, info, bookmaker, best_of, method, sharp_books)


def join_forecasts(
    per_window: Sequence[Mapping[str, pd.DataFrame]], market_wide: pd.DataFrame, method: str
) -> dict[str, pd.DataFrame]:
    """The windows' forecasts end to end, plus the market references (de-margined openings)."""
    joined = {name: pd.concat([w[name] for w in per_window]) for name in per_window[0]}
    index = joined[MODEL].index
    joined.update(market_forecasts(market_wide.reindex(index), method, MARKET_REFERENCES))
    return joined


@task(name="place-bets", cache_policy=NO_CACHE)
def place_bets(
    forecasts: Mapping[str, pd.DataFrame],
    market: BettingMarket,
    policy: StakingPolicy,
    strategies: Sequence[str],
    flat_stake: float,
) -> pd.DataFrame:
    return backtest_ledger(forecasts, market, policy, strategies, flat_stake)


@task(name="summarize-bets", cache_policy=NO_CACHE)
def summarize_bets(
    ledger: pd.DataFrame, strategies: Sequence[str], n_boot: int, alpha: float, seed: int
) -> pd.DataFrame:
    return strategy_results(ledger, strategies, n_boot, alpha, seed)


@task(name="score-forecasts", cache_policy=NO_CACHE)
def score_forecasts(
    forecasts: Mapping[str, pd.DataFrame], market: BettingMarket, names: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Log loss & co. of the forecasters on the same test matches, and their reliability."""
    results, leagues = market.info["result"], market.info["league"]
    chosen, left_out = without_unpriced(
        {name: forecasts[name] for name in names if name in forecasts}, results
    )
    for name in left_out:  # a book the files lack: it would empty the table
        print(f"{name}: no price on any test match, left out of the forecasts' table")
    table = comparison_table(chosen, results, leagues)
    common = common_matches(chosen, results)
    y = outcome_index(results.loc[common])
    curves = {
        name: reliability_curve(frame.loc[common, list(OUTCOMES)].to_numpy(), y)
        for name, frame in chosen.items()
    }
    return table, curves


@task(name="compare-with-close", cache_policy=NO_CACHE)
def compare_with_close(
    forecasts: Mapping[str, pd.DataFrame],
    market: BettingMarket,
    names: Sequence[str],
    n_boot: int,
    alpha: float,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """Per forecaster: how far Pinnacle's line moved by the close towards where the forecast
    departed from Pinnacle's opening line (`sabiscore.backtest.close_confirms`)."""
    opening = forecasts["pinnacle_open"]
    return {
        name: close_confirms(forecasts[name], opening, market.closing_prob, n_boot, alpha, seed)
        for name in names
        if name in forecasts
    }


# --- the report ---------------------------------------------------------------------------------


def _percent(value: Any, low: Any = None, high: Any = None) -> str:
    if value is None or pd.isna(value):
        return "–"
    text = f"{value:+.2%}"
    if low is not None and pd.notna(low):
        text += f" [{low:+.2%}, {high:+.2%}]"
    return text


def results_markdown(results: pd.DataFrame) -> str:
    """A results table with intervals, one row per (strategy, group)."""
    lines = [
        "| strategy | group | bets | turnover | profit | ROI [95 % CI] | yield [95 % CI] "
        "| hit rate | max drawdown | CLV [95 % CI] |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results.to_dict("records"):
        lines.append(
            f"| {r['strategy']} | {r['group']} | {r['bets']} | {r['turnover']:.2f} "
            f"| {r['profit']:+.3f} | {_percent(r['roi'], r['roi_low'], r['roi_high'])} "
            f"| {_percent(r['yield'], r['yield_low'], r['yield_high'])} "
            f"| {_percent(r['hit_rate']).lstrip('+')} | {_percent(r['max_drawdown']).lstrip('+')} "
            f"| {_percent(r['clv_mean'], r['clv_low'], r['clv_high'])} |"
        )
    return "\n".join(lines)


def report_markdown(
    results: pd.DataFrame, scores: pd.DataFrame, meta: Mapping[str, Any], plots: Sequence[str]
) -> str:
    """The report a person reads: headline, slices, forecasts, plots, windows, settings."""
    by = results.groupby("by", sort=False)
    windows = [
        "| window | first match day | trained on (matches) | test matches | seconds |",
        "|---|---|---:|---:|---:|",
    ]
    windows += [
        f"| {w['label']} | {w['start']} | {w['n_train']} | {w['n_test']} | {w['seconds']} |"
        for w in meta["windows"]
    ]
    lines = [
        "# SabiScore betting backtest",
        "",
        f"Bets at the **opening** prices of **{meta['bookmaker']}**, placed by the staking rules "
        f"of the `edge` endpoint ({meta['policy_line']}); walk-forward, retrained every "
        f"{meta['retrain_every']}, each model trained only on matches of earlier dates. "
        f"Test: {meta['n_test_matches']} matches in {', '.join(meta['partitions']['test'])}.",
        "",
        "Accounting is **flat**: each stake is a share of the *initial* bankroll (1.0), never "
        "re-sized, so turnover and profit are in units of that bankroll. ROI = profit ÷ initial "
        "bankroll; yield = profit ÷ turnover (compare strategies by yield and CLV: ROI grows "
        f"with the number and size of the bets). The flat baselines stake {meta['flat_stake']} "
        "per bet. CLV = price taken ÷ de-margined Pinnacle closing price − 1 (the market-average "
        f"close where Pinnacle has none). Intervals: {meta['ci_line']}.",
        "",
        "## All test matches",
        "",
        results_markdown(by.get_group("overall")),
    ]
    for column, title in (
        ("tier", "By quality tier"),
        ("league", "By league"),
        ("season", "By season"),
    ):
        if column in by.groups:
            lines += ["", f"## {title}", "", results_markdown(by.get_group(column))]
    lines += ["", "## The forecasts on the same matches", "", to_markdown(scores), ""]
    if meta.get("close_confirms"):
        lines += ["## Does the close confirm the forecasts?", "", close_markdown(meta), ""]
    lines += ["## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    lines += ["", "## Windows", "", *windows, ""]
    return "\n".join(lines)


def close_markdown(meta: Mapping[str, Any]) -> str:
    """The table of `compare_with_close`, with what its slope means."""
    lines = [
        "Where a forecast departs from Pinnacle's de-margined opening line, does Pinnacle's line "
        "move that way by the close? Slope of (close − opening) on (forecast − opening), every "
        "outcome of every match: 1 = the close moved all the way to the forecast, 0 = the "
        "departures foretold nothing (bets then beat the close only through the soft book's "
        f"price). Interval: {meta['ci_line'].replace('over bets', 'over matches')}.",
        "",
        "| forecaster | matches | slope [interval] | correlation | mean abs. departure |",
        "|---|---:|---|---:|---:|",
    ]
    for name, row in meta["close_confirms"].items():
        if not row["matches"]:
            lines.append(f"| {name} | 0 | – | – | – |")
            continue
        low, high = row["slope_ci"]
        lines.append(
            f"| {name} | {row['matches']} | {row['slope']:.3f} [{low:.3f}, {high:.3f}] | "
            f"{row['corr']:.3f} | {row['mean_abs_departure']:.4f} |"
        )
    return "\n".join(lines)


@task(name="write-backtest-report", cache_policy=NO_CACHE)
def write_report(
    out: Path,
    ledger: pd.DataFrame,
    results: pd.DataFrame,
    scores: pd.DataFrame,
    curves: Mapping[str, pd.DataFrame],
    meta: Mapping[str, Any],
    forecasts: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """PNGs, the markdown report and the CSV tables in `out` (`forecasts`, one row per test
    match, as forecasts.csv); returns every file by name."""
    from sabiscore.plots import (
        bankroll_plot,
        calibration_plot,
        clv_histogram_plot,
        roi_by_tier_plot,
    )

    out.mkdir(parents=True, exist_ok=True)
    strategies = list(dict.fromkeys(results["strategy"]))
    plots: dict[str, Path] = {}
    paths = bankroll_paths(ledger, strategies, start=pd.Timestamp(meta["first_day"]))
    if paths:
        plots["bankroll"] = bankroll_plot(paths, out / "bankroll.png")
    tiers = results[results["by"] == "tier"]
    if not tiers.empty:
        plots["roi_by_tier"] = roi_by_tier_plot(tiers, out / "roi_by_tier.png")
    clv = {s: ledger.loc[ledger["strategy"] == s, "clv"] for s in strategies}
    if any(values.notna().any() for values in clv.values()):
        plots["clv"] = clv_histogram_plot(clv, out / "clv_distribution.png")
    plots["calibration"] = calibration_plot(dict(curves), out / "calibration.png")
    markdown = report_markdown(results, scores, meta, [str(p) for p in plots.values()])
    files = {
        **plots,
        "report": out / "report.md",
        "results": out / "results.csv",
        "bets": out / "bets.csv",
        "forecast_scores": out / "forecast_scores.csv",
    }
    files["report"].write_text(markdown)
    results.to_csv(files["results"], index=False)
    ledger.to_csv(files["bets"], index=False)
    scores.to_csv(files["forecast_scores"], index=False)
    if forecasts is not None:
        files["forecasts"] = out / "forecasts.csv"
        forecasts.to_csv(files["forecasts"])
    return files


@task(name="publish-backtest-artifacts", cache_policy=NO_CACHE)
def publish_artifacts(files: Mapping[str, Path]) -> None:
    """The report as a markdown artifact, each plot as an image artifact.

    The images travel inside the artifact as data URLs, so the Prefect UI shows them without
    a server for the files.
    """
    create_markdown_artifact(
        Path(files["report"]).read_text(),
        key="backtest-bets-report",
        description="The betting backtest: ROI, yield and CLV per strategy",
    )
    for name, path in files.items():
        if Path(path).suffix == ".png":
            encoded = base64.b64encode(Path(path).read_bytes()).decode("ascii")
            key = "backtest-bets-" + name.replace("_", "-")
            create_image_artifact(
                f"data:image/png;base64,{encoded}", key=key, description=f"betting backtest: {name}"
            )


@task(name="log-backtest-run", cache_policy=NO_CACHE)
def log_backtest_run(
    data_dir: Path,
    results: pd.DataFrame,
    ledger: pd.DataFrame,
    params: Mapping[str, Any],
    files: Mapping[str, Path],
    tags: Mapping[str, str],
    started_ms: int | None = None,
    inputs: Sequence[RunDataset] = (),
) -> str:
    """One MLflow run of the backtests' experiment, named for its leagues and seasons and
    starting at `started_ms` (the backtest's start): settings, headline metrics per strategy,
    the datasets it trained and bet on (`inputs`), tables and plots."""
    from models.tracking import BACKTEST_EXPERIMENT, log_training_run, run_name

    overall = results[results["by"] == "overall"]
    metrics = {
        f"{r['strategy']}_{name}": r[name]
        for r in overall.to_dict("records")
        for name in (
            "bets",
            "turnover",
            "roi",
            "roi_low",
            "roi_high",
            "yield",
            "yield_low",
            "yield_high",
            "max_drawdown",
            "clv_mean",
            "clv_low",
            "clv_high",
        )
        if pd.notna(r[name])
    }
    tables = {"results": results, "bets": ledger}
    shown = {k: v for k, v in files.items() if Path(v).suffix in (".png", ".md")}
    train, test = (
        [key.split("/") for key in params["partitions"][part]] for part in ("train", "test")
    )
    name = run_name(
        "backtest-bets",
        sorted({league for league, _ in train + test}),
        sorted({season for _, season in train}),
        sorted({season for _, season in test}),
    )
    return log_training_run(
        data_dir,
        params=params,
        metrics=metrics,
        tables=tables,
        files=shown,
        tags=tags,
        run_name=name,
        experiment=BACKTEST_EXPERIMENT,
        started_ms=started_ms,
        inputs=inputs,
    )
