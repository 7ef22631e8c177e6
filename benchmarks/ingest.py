"""Benchmark: ingest and validate every shared football-data.co.uk file.

Prints one JSON line: wall seconds, matches per second, and where the time went — the
Prefect flow engine (server start, task/flow bookkeeping), Great Expectations (import,
context, suites, Data Docs) and our own parsing and storage.

    .venv/bin/python benchmarks/ingest.py [--data PATH] [--keep DIR]

Runs the real `sabiscore ingest` flow against a fresh data directory and a fresh ephemeral
Prefect API (its start-up is measured separately), on ../shared/data/football-data by default.
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

    t0 = time.perf_counter()
    import great_expectations  # noqa: F401 - measured: GX's import cost

    t_gx_import = time.perf_counter() - t0

    t0 = time.perf_counter()
    from prefect.testing.utilities import prefect_test_harness

    from flows.ingest import ingest_flow

    t_imports = time.perf_counter() - t0
    with prefect_test_harness(server_startup_timeout=120):
        t_server = time.perf_counter() - t0 - t_imports
        t1 = time.perf_counter()
        summary = ingest_flow(sources=[str(args.data)], data_dir=str(data_dir))
        t_flow = time.perf_counter() - t1
        t1 = time.perf_counter()
        again = ingest_flow(sources=[str(args.data)], data_dir=str(data_dir))
        t_again = time.perf_counter() - t1

    timings = summary["timings_s"]
    task_bodies = sum(timings.values())
    gx_in_flow = summary["gx"]["seconds"]
    result = {
        "benchmark": "ingest",
        "files": summary["files"],
        "matches": summary["matches"],
        "quarantined": summary["quarantined"],
        "price_warnings": summary["price_warnings"],
        "seconds_flow": round(t_flow, 2),
        "matches_per_second": round(summary["matches"] / t_flow),
        "seconds_with_startup": round(t_gx_import + t_imports + t_server + t_flow, 2),
        "seconds_reingest_unchanged": round(t_again, 2),
        "stages_s": timings,
        "gx_seconds": round(gx_in_flow + t_gx_import, 2),
        "gx_share_of_flow": round(gx_in_flow / t_flow, 3),
        "prefect_engine_seconds_in_flow": round(t_flow - task_bodies, 2),
        "prefect_server_start_s": round(t_server, 2),
        "imports_s": {"great_expectations": round(t_gx_import, 2),
                      "prefect_and_flows": round(t_imports, 2)},
        "unchanged_on_reingest": all(r["status"] == "unchanged" for r in again["per_file"]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
