"""Benchmark: ingest and validate every shared football-data.co.uk file.

Prints one JSON line: wall seconds, matches per second, and where the time went — the
Prefect flow engine (server start, task/flow bookkeeping), Great Expectations (import,
context, suites, Data Docs) and our own parsing and storage.

    .venv/bin/python benchmarks/ingest.py [--data PATH] [--keep DIR]

Runs the real `sabiscore ingest` flow against a fresh data directory and a fresh ephemeral
Prefect API (its start-up is measured separately), on ../shared/data/football-data by default,
beside the reference measured in the same run: a plain `pandas.read_csv` of the same files.
Then the real command from a cold process into another fresh store, with that Prefect API
already running (PREFECT_API_URL). Aims (issue 15): the flow under 5x the plain read, the
cold command under 20 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/football-data")
    parser.add_argument("--keep", type=Path, help="keep the resulting data directory here")
    args = parser.parse_args()
    files = sorted(args.data.glob("*/*.csv"))
    if not files:
        sys.exit(f"no football-data files under {args.data}")

    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="bench-prefect-"))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    shutil.rmtree(data_dir, ignore_errors=True)

    import pandas as pd

    t0 = time.perf_counter()  # the reference: a plain pandas read of the same files
    for path in files:
        pd.read_csv(path, encoding="latin-1", on_bad_lines="skip", low_memory=False)
    t_plain = time.perf_counter() - t0

    t0 = time.perf_counter()
    import great_expectations  # noqa: F401 - measured: GX's import cost

    t_gx_import = time.perf_counter() - t0

    t0 = time.perf_counter()
    from prefect.testing.utilities import prefect_test_harness

    from flows.ingest import ingest_flow
    from flows.local import local_runs

    t_imports = time.perf_counter() - t0
    # a local run, as the command line's: no flow-run heartbeats (flows/local.py)
    with prefect_test_harness(server_startup_timeout=120), local_runs():
        t_server = time.perf_counter() - t0 - t_imports
        t1 = time.perf_counter()
        summary = ingest_flow(sources=[str(args.data)], data_dir=str(data_dir))
        t_flow = time.perf_counter() - t1
        t1 = time.perf_counter()
        again = ingest_flow(sources=[str(args.data)], data_dir=str(data_dir))
        t_again = time.perf_counter() - t1
        t_cli = cold_command(args.data, data_dir.with_name(data_dir.name + "-cli"))

    timings = summary["timings_s"]
    task_bodies = sum(timings.values())
    gx_in_flow = summary["gx"]["seconds"]
    result = {
        "benchmark": "ingest",
        "files": summary["files"],
        "matches": summary["matches"],
        "quarantined": summary["quarantined"],
        "price_warnings": summary["price_warnings"],
        "seconds_plain_pandas_read": round(t_plain, 2),
        "seconds_flow": round(t_flow, 2),
        "flow_over_plain_read": round(t_flow / t_plain, 1),
        "seconds_cold_cli_with_server": round(t_cli, 2),
        "aims_met": {
            "flow_under_5x_plain_read": t_flow < 5 * t_plain,
            "cold_cli_under_20s_with_server": t_cli < 20,
        },
        "matches_per_second": round(summary["matches"] / t_flow),
        "seconds_with_startup": round(t_gx_import + t_imports + t_server + t_flow, 2),
        "seconds_reingest_unchanged": round(t_again, 2),
        "stages_s": timings,
        "gx_seconds": round(gx_in_flow + t_gx_import, 2),
        "gx_share_of_flow": round(gx_in_flow / t_flow, 3),
        "prefect_engine_seconds_in_flow": round(t_flow - task_bodies, 2),
        "prefect_server_start_s": round(t_server, 2),
        "imports_s": {
            "great_expectations": round(t_gx_import, 2),
            "prefect_and_flows": round(t_imports, 2),
        },
        "unchanged_on_reingest": all(r["status"] == "unchanged" for r in again["per_file"]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps(result))


def cold_command(data: Path, store: Path) -> float:
    """`sabiscore ingest` from a fresh process into a fresh store, with a Prefect server
    already running (the harness's, through PREFECT_API_URL)."""
    import subprocess

    from prefect.settings import PREFECT_API_URL

    env = os.environ | {"PREFECT_API_URL": str(PREFECT_API_URL.value())}
    started = time.perf_counter()
    subprocess.run(
        [
            str(Path(sys.executable).with_name("sabiscore")),
            "ingest",
            str(data),
            "--data-dir",
            str(store),
            "--json",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
