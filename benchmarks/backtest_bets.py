"""Benchmark: the full betting backtest on the shared real data, timed.

All six leagues: the seasons before the first test season are the training files, the test
seasons (default 2019-20 … 2023-24) are bet on walk-forward — the flow retrains the stack and
the Elo model before each test season on every earlier match — at Bet365's opening prices with
the staking rules of configs/staking.yaml. Prints one JSON line: seconds (the whole flow, and
per window: from submission to forecasts, and each base model's fit), the CPU seconds of this
process (its threads included, a Dask cluster's worker processes not: over `seconds`, how many
cores the threads kept busy), the settings used (`windows_at_once`: how many windows trained
side by side), and per strategy the bets, turnover, ROI, yield and CLV with their bootstrap
intervals, plus the forecasts' scores on the same matches, and `agreement`: the ensemble's
bets beside those of "Pinnacle's opening line as the model" — the bets both make, the
ensemble's alone and the baseline's alone, each with its mean CLV and bootstrap interval (where
the pooled forecast departs from the sharp line, do its bets still beat the close?), and
`close_confirms`: for the ensemble and Elo, the slope of Pinnacle's move from its opening to
its closing line on the forecast's departure from that opening line (1: the close moved all the
way to the forecast; 0: the departures foretold nothing), with its bootstrap interval.

    .venv/bin/python benchmarks/backtest_bets.py [--data PATH] [--first-test 2019-2020]
        [--config FILE]

It ingests the files into a fresh data directory (that time is inside the flow's seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
HEADLINE = (
    "bets",
    "turnover",
    "profit",
    "roi",
    "roi_ci",
    "yield",
    "yield_ci",
    "hit_rate",
    "max_drawdown",
    "clv_mean",
    "clv_mean_ci",
)


def agreement(bets_csv: Path, model: str, baseline: str, n_boot: int, seed: int) -> dict:
    """`model`'s and `baseline`'s bets (a match and an outcome) split into those both make and
    those only one makes: how many, and their mean CLV with a 95 % bootstrap interval."""
    import pandas as pd

    from sabiscore.betting import bootstrap_ci

    bets = pd.read_csv(bets_csv)
    keyed = {
        name: bets[bets["strategy"] == name].set_index(["match_id", "outcome"])
        for name in (model, baseline)
    }
    both = keyed[model].index.intersection(keyed[baseline].index)
    parts = {
        "both (the baseline's CLV)": keyed[baseline].loc[both],
        f"{model} only": keyed[model].drop(both),
        f"{baseline} only": keyed[baseline].drop(both),
    }
    out = {}
    for name, part in parts.items():
        clv = part["clv"].to_numpy(dtype=float)
        clv = clv[pd.notna(clv)]
        out[name] = {
            "bets": len(part),
            "by_outcome": {
                str(k): int(v) for k, v in part.reset_index()["outcome"].value_counts().items()
            },
            "clv_mean": round(float(clv.mean()), 5) if len(clv) else None,
            "clv_mean_ci": [round(v, 5) for v in bootstrap_ci(clv, n_boot=n_boot, seed=seed)]
            if len(clv) > 1
            else None,
        }
    return out


def split_files(data: Path, first_test: str, last_test: str | None) -> tuple[list[str], list[str]]:
    """(files of seasons before `first_test`, files of the test seasons), all leagues."""
    files = sorted(data.glob("*/*.csv"))
    train = [str(f) for f in files if f.stem < first_test]
    last = last_test or max(f.stem for f in files)
    test = [str(f) for f in files if first_test <= f.stem <= last]
    if not train or not test:
        raise SystemExit(f"no train or test files under {data} around {first_test}")
    return train, test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/football-data")
    parser.add_argument("--first-test", default="2019-2020")
    parser.add_argument("--last-test", default="2023-2024")
    parser.add_argument("--config", type=Path, help="YAML override of configs/*.yaml")
    parser.add_argument("--report-dir", type=Path, help="keep the report here (default: temp)")
    args = parser.parse_args()

    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="bench-prefect-"))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect.testing.utilities import prefect_test_harness

    from flows.backtest import backtest_bets_flow
    from flows.train import task_runner_from_config
    from sabiscore.backtest import BacktestSettings
    from sabiscore.config import deep_merge, load_config

    config = load_config(args.config)
    settings = BacktestSettings.from_dict(config.get("backtest"))
    train_config = deep_merge(config["train"], settings.train)
    train, test = split_files(args.data, args.first_test, args.last_test)
    data_dir = tempfile.mkdtemp(prefix="bench-backtest-bets-")
    runner = task_runner_from_config(config["train"].get("task_runner"))
    with prefect_test_harness(server_startup_timeout=180):
        started = time.perf_counter()
        summary = backtest_bets_flow.with_options(task_runner=runner)(
            train_sources=train,
            test_sources=test,
            data_dir=data_dir,
            config_path=str(args.config) if args.config else None,
            report_dir=str(args.report_dir) if args.report_dir else None,
        )
        seconds = round(time.perf_counter() - started, 1)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "benchmark": "backtest_bets",
                "seconds": seconds,
                "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
                "cpus": os.cpu_count(),
                "test_seasons": sorted({p.split("/")[1] for p in summary["partitions"]["test"]}),
                "n_test_matches": summary["n_test_matches"],
                "bookmaker": summary["bookmaker"],
                "retrain_every": summary["retrain_every"],
                "windows_at_once": settings.windows_at_once,
                "flat_stake": summary["flat_stake"],
                "policy": summary["policy"],
                "models": {"models": train_config["models"], "stacking": train_config["stacking"]},
                "windows": summary["windows"],
                "overall": {
                    name: {k: m[k] for k in HEADLINE} for name, m in summary["overall"].items()
                },
                "by_tier": summary.get("by_tier", {}),
                "by_season": summary.get("by_season", {}),
                "by_league": summary.get("by_league", {}),
                "forecast_scores": summary["forecast_scores"],
                "close_confirms": summary["close_confirms"],
                "agreement": agreement(
                    Path(summary["report"]).parent / "bets.csv",
                    "ensemble",
                    "pinnacle_open",
                    settings.n_boot,
                    settings.seed,
                ),
                "report": summary["report"],
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main()
