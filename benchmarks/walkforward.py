"""Benchmark: walk-forward evaluation of the stacked ensemble on the shared real data.

For each test season (default 2021-22, 2022-23, 2023-24) the full training flow is trained on
every earlier season of all leagues and scored on that season, next to the de-margined market.
Prints one JSON line: per-season tables and the pooled table (means weighted by matches), and
the market's lines on the same matches under each de-margining method (`market_by_method`): how
much of a gain over "Pinnacle's opening price" a different way of removing its margin gives alone.

    .venv/bin/python benchmarks/walkforward.py [--data PATH] [--seasons 2021-2022 ...]
        [--config FILE]

It ingests the files into a fresh data directory first (measured separately).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
METRICS = ("log_loss", "brier", "rps", "accuracy")


def pooled(tables: list[list[dict]]) -> list[dict]:
    """Per-forecaster means over seasons, weighted by each season's number of matches."""
    out: dict[str, dict] = {}
    for rows in tables:
        for row in rows:
            acc = out.setdefault(
                row["forecaster"],
                {"forecaster": row["forecaster"], "n": 0, **{m: 0.0 for m in METRICS}},
            )
            acc["n"] += row["n"]
            for metric in METRICS:
                acc[metric] += row[metric] * row["n"]
    for acc in out.values():
        for metric in METRICS:
            acc[metric] = round(acc[metric] / acc["n"], 5)
    return list(out.values())


def market_by_method(data_dir: str, seasons: list[str]) -> dict:
    """Log loss of Pinnacle's de-margined opening and closing lines (the closing one with the
    market average where Pinnacle is missing) under each de-margining method, on the played
    matches of `seasons` that every market forecaster prices: the walk-forward's own matches."""
    from sabiscore.evaluation import (
        MARKET_FORECASTERS,
        common_matches,
        log_loss,
        market_forecasts,
        outcome_index,
    )
    from sabiscore.football_data import one_x_two
    from sabiscore.odds import ImpliedMethod
    from sabiscore.store import DataStore

    matches, odds = DataStore(data_dir).history()
    played = matches[(matches["status"] != "fixture") & matches["season"].isin(seasons)]
    results = played.set_index("match_id")["result"]
    wide = one_x_two(odds[odds["match_id"].isin(results.index)]).reindex(results.index)
    common = common_matches(market_forecasts(wide), results)
    labels = outcome_index(results.loc[common])
    out: dict = {"n": len(common)}
    for method in ImpliedMethod:
        forecasts = market_forecasts(wide.loc[common], method)
        out[str(method)] = {
            name: round(log_loss(forecasts[name].to_numpy(), labels), 5)
            for name in MARKET_FORECASTERS
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/football-data")
    parser.add_argument("--seasons", nargs="+", default=["2021-2022", "2022-2023", "2023-2024"])
    parser.add_argument("--config", type=Path, help="YAML override of configs/*.yaml")
    args = parser.parse_args()

    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="bench-prefect-"))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect.testing.utilities import prefect_test_harness

    from flows.ingest import ingest_flow
    from flows.train import train_flow

    data_dir = tempfile.mkdtemp(prefix="bench-walkforward-")
    config = str(args.config) if args.config else None
    per_season, seconds = {}, {}
    with prefect_test_harness(server_startup_timeout=180):
        started = time.perf_counter()
        ingest_flow(sources=[str(args.data)], data_dir=data_dir, config_path=config)
        seconds["ingest"] = round(time.perf_counter() - started, 1)
        for season in args.seasons:
            started = time.perf_counter()
            result = train_flow(
                data_dir=data_dir, config_path=config, test_seasons=[season], log_to_mlflow=False
            )
            seconds[season] = round(time.perf_counter() - started, 1)
            per_season[season] = {
                "n_train": result["n_train"],
                "n_features": result["n_features"],
                "rows": result["rows"],
                "per_league": result["per_league"],
                "base_model_weights": result["base_model_weights"],
            }
            print(
                f"{season}: "
                + ", ".join(f"{r['forecaster']} {r['log_loss']:.4f}" for r in result["rows"]),
                file=sys.stderr,
            )
        by_method = market_by_method(data_dir, args.seasons)
    table = pooled([s["rows"] for s in per_season.values()])
    by_name = {row["forecaster"]: row["log_loss"] for row in table}
    best_open = min(by_method[str(m)]["pinnacle_open"] for m in ("multiplicative", "power", "shin"))
    leagues = sorted({r["group"] for s in per_season.values() for r in s["per_league"]})
    per_league = {
        league: pooled(
            [[r for r in s["per_league"] if r["group"] == league] for s in per_season.values()]
        )
        for league in leagues
    }
    members = [
        n
        for n in by_name
        if n not in ("ensemble", "pinnacle_open", "pinnacle_close", "bet365_open")
    ]
    best_member = min(members, key=by_name.get) if members else None
    print(
        json.dumps(
            {
                "benchmark": "walkforward",
                "test_seasons": args.seasons,
                "pooled": table,
                "ensemble_minus_pinnacle_open": round(
                    by_name["ensemble"] - by_name["pinnacle_open"], 5
                ),
                "ensemble_minus_pinnacle_close": round(
                    by_name["ensemble"] - by_name["pinnacle_close"], 5
                ),
                "market_by_method": by_method,
                "ensemble_minus_best_demargined_pinnacle_open": round(
                    by_name["ensemble"] - best_open, 5
                ),
                "best_member": best_member,
                "ensemble_minus_best_member": None
                if best_member is None
                else round(by_name["ensemble"] - by_name[best_member], 5),
                "per_league": {
                    league: {row["forecaster"]: row["log_loss"] for row in rows}
                    for league, rows in per_league.items()
                },
                "per_season": per_season,
                "seconds": seconds,
                "note": "brier is the sum over the 3 outcomes",
            }
        )
    )


if __name__ == "__main__":
    main()
