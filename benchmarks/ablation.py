"""Benchmark: which feature families and stack members earn their place, walk-forward.

For each test season (default 2021-22 … 2023-24) the stack is trained on every earlier season of
all leagues — the default configuration, then with each feature family and each stack member
removed (or, for features and models off by default, added) in turn — and scored on that
season, on the same matches for every variant (those with Pinnacle opening and closing
prices). Prints one JSON line: per variant the pooled log loss, its difference to the default
and to Pinnacle's de-margined opening line, and the same per league and per season.

    .venv/bin/python benchmarks/ablation.py [--data PATH | --store DIR] [--seasons S ...]
        [--variants default -market ...] [--config FILE]

It trains the stack in-process (the same `MetaLearner` the training flow fits, without Prefect),
so a variant costs one stack fit per season.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FAMILIES = ("form", "elo", "pi_ratings", "rest", "season_stage")
EXTRA_MARKET = {
    "+books": {"books": ["pinnacle", "bet365", "market_avg"]},
    "+disagreement": {"disagreement": True},
    "+totals": {"totals": True},
}


def variants(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Name -> full config: the default, each family off, each market extra on, each member off."""
    out = {"default": config}
    for family in FAMILIES:
        changed = copy.deepcopy(config)
        changed["features"].setdefault(family, {})["enabled"] = False
        out[f"-{family}"] = changed
    for name, extra in EXTRA_MARKET.items():
        changed = copy.deepcopy(config)
        changed["features"]["market"].update(extra)
        out[name] = changed
    from models import stack_members

    members = stack_members(config["train"])
    for member in members:
        if [m for m in members if m not in (member, "market")] == []:
            continue  # the market alone: that is the sharp line, scored as pinnacle_open beside
        changed = copy.deepcopy(config)
        changed["train"]["stacking"]["members"] = [m for m in members if m != member]
        out[f"-{member}"] = changed
    for model in config["train"]["models"]:  # configured models the stack leaves out
        if model not in members:
            changed = copy.deepcopy(config)
            changed["train"]["stacking"]["members"] = [*members, model]
            out[f"+{model}"] = changed
    return out


_FEATURES: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}


def season_forecasts(store: Any, config: dict[str, Any], seasons: list[str]) -> pd.DataFrame:
    """Stack forecasts (H, D, A) of every played match of `seasons`, each season trained on all
    earlier played matches."""
    from models import build_meta_learner
    from sabiscore.evaluation import outcome_index
    from sabiscore.features import FeatureConfig, build_features, feature_columns
    from sabiscore.outcomes import RESULT_CODES

    key = json.dumps(config["features"], sort_keys=True, default=str)
    if key not in _FEATURES:  # variants of the stack share their feature table
        matches, odds = store.load("matches"), store.load("odds")
        features = build_features(matches, odds, FeatureConfig.from_dict(config["features"]))
        _FEATURES[key] = (matches, features[feature_columns(features)])
    matches, X = _FEATURES[key]
    info = matches.set_index("match_id").loc[X.index]
    played = (info["status"] == "played").to_numpy()
    frames = []
    for season in seasons:
        fit = played & (info["season"] < season).to_numpy()
        test = played & (info["season"] == season).to_numpy()
        stack = build_meta_learner(config["train"]).fit(
            X.loc[fit], outcome_index(info.loc[fit, "result"])
        )
        frames.append(
            pd.DataFrame(
                stack.predict_proba(X.loc[test]), index=X.index[test], columns=list(RESULT_CODES)
            )
        )
    return pd.concat(frames)


def scores(forecast: pd.DataFrame, results: pd.Series, groups: pd.DataFrame) -> dict[str, Any]:
    """Log loss pooled, per league and per season."""
    from sabiscore.evaluation import log_loss, outcome_index

    y = outcome_index(results.loc[forecast.index])
    probs = forecast.to_numpy()
    out: dict[str, Any] = {"all": log_loss(probs, y)}
    for column in ("league", "season"):
        keys = groups.loc[forecast.index, column].to_numpy()
        out[column] = {k: log_loss(probs[keys == k], y[keys == k]) for k in sorted(set(keys))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/football-data")
    parser.add_argument("--store", type=Path, help="an ingested data store (skips the ingest)")
    parser.add_argument("--seasons", nargs="+", default=["2021-2022", "2022-2023", "2023-2024"])
    parser.add_argument(
        "--variants",
        nargs="+",
        action="extend",
        help="names to run (default: all); --variants=-market for a leading dash",
    )
    parser.add_argument("--config", type=Path, help="YAML override of configs/*.yaml")
    args = parser.parse_args()

    from sabiscore.config import load_config
    from sabiscore.evaluation import market_probabilities
    from sabiscore.football_data import one_x_two
    from sabiscore.store import DataStore

    started = time.perf_counter()
    if args.store is None:
        import subprocess

        args.store = Path(tempfile.mkdtemp(prefix="bench-ablation-"))
        command = [
            str(Path(sys.executable).with_name("sabiscore")),
            "ingest",
            str(args.data),
            "--data-dir",
            str(args.store),
            "--json",
        ]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    store = DataStore(args.store)
    config = load_config(args.config)
    chosen = variants(config)
    if args.variants:
        unknown = sorted(set(args.variants) - set(chosen))
        if unknown:
            raise SystemExit(f"unknown variants {unknown}; known: {sorted(chosen)}")
        chosen = {name: chosen[name] for name in ["default", *args.variants] if name in chosen}

    matches = store.load("matches").set_index("match_id")
    wide = one_x_two(store.load("odds")).reindex(matches.index)
    method = config["evaluation"]["implied_method"]
    pinnacle_open = market_probabilities(wide, "pinnacle", "open", method=method)
    pinnacle_close = market_probabilities(wide, "pinnacle", "close", method=method)
    in_test = matches["season"].isin(args.seasons) & (matches["status"] == "played")
    common = matches.index[
        in_test.to_numpy()
        & np.isfinite(pinnacle_open.to_numpy()).all(axis=1)
        & np.isfinite(pinnacle_close.to_numpy()).all(axis=1)
    ]
    results, groups = matches["result"], matches[["league", "season"]]
    reference = {
        "pinnacle_open": scores(pinnacle_open.loc[common], results, groups),
        "pinnacle_close": scores(pinnacle_close.loc[common], results, groups),
    }

    table, seconds = {}, {}
    for name, variant in chosen.items():
        t0 = time.perf_counter()
        forecast = season_forecasts(store, variant, args.seasons).loc[common]
        table[name] = scores(forecast, results, groups)
        seconds[name] = round(time.perf_counter() - t0, 1)
        print(f"{name}: {table[name]['all']:.5f} ({seconds[name]} s)", file=sys.stderr)

    def delta(a: dict, b: dict) -> dict:
        return {
            "all": round(a["all"] - b["all"], 5),
            **{
                col: {k: round(v - b[col][k], 5) for k, v in a[col].items()}
                for col in ("league", "season")
            },
        }

    rows = {
        name: {
            "log_loss": round(s["all"], 5),
            "minus_default": delta(s, table["default"]) if "default" in table else None,
            "minus_pinnacle_open": delta(s, reference["pinnacle_open"]),
        }
        for name, s in table.items()
    }
    print(
        json.dumps(
            {
                "benchmark": "ablation",
                "test_seasons": args.seasons,
                "n_matches": len(common),
                "pinnacle_open": round(reference["pinnacle_open"]["all"], 5),
                "pinnacle_close": round(reference["pinnacle_close"]["all"], 5),
                "variants": rows,
                "seconds": {**seconds, "total": round(time.perf_counter() - started, 1)},
                "note": "log loss on the same matches for every row; "
                "minus_*: variant minus reference (negative = better)",
            }
        )
    )


if __name__ == "__main__":
    main()
