"""Benchmark: what a flow run costs Prefect itself, with its heartbeats and without.

Prefect 3.9 starts a heartbeat thread for every flow run and, at the run's end, waits for it
to finish its current one-second sleep. `flows/local.py` (`local_runs`) switches heartbeats off
for runs started in this process — the command line's, the tests' — and this measures what
that saves: an empty flow and a flow with two empty subflows (three flow runs), timed
alternately with Prefect's default settings (the reference) and inside `local_runs()`, on an
ephemeral Prefect API started once. Prints one JSON line: medians and minimums in seconds, and
the saving per flow run.

    .venv/bin/python benchmarks/flow_overhead.py [--repeat 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=8)
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="bench-prefect-"))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect import flow
    from prefect.testing.utilities import prefect_test_harness

    from flows.local import local_runs

    @flow
    def empty() -> int:
        return 0

    @flow
    def with_subflows() -> int:
        return empty() + empty()

    cases = {"one flow run": empty, "three flow runs (two subflows)": with_subflows}
    times: dict[str, dict[str, list[float]]] = {
        case: {"prefect default": [], "local_runs": []} for case in cases
    }
    with prefect_test_harness(server_startup_timeout=180):
        with_subflows()  # the API's first answers, the imports
        for _ in range(args.repeat):
            for case, run in cases.items():
                started = time.perf_counter()
                run()
                times[case]["prefect default"].append(time.perf_counter() - started)
                with local_runs():
                    started = time.perf_counter()
                    run()
                    times[case]["local_runs"].append(time.perf_counter() - started)
    out = {}
    for case, by_setting in times.items():
        out[case] = {
            setting: {
                "median_s": round(statistics.median(values), 3),
                "min_s": round(min(values), 3),
            }
            for setting, values in by_setting.items()
        }
    runs = {"one flow run": 1, "three flow runs (two subflows)": 3}
    saving = {
        case: round(
            (out[case]["prefect default"]["median_s"] - out[case]["local_runs"]["median_s"])
            / runs[case],
            3,
        )
        for case in cases
    }
    print(
        json.dumps(
            {
                "benchmark": "flow_overhead",
                "repeat": args.repeat,
                "seconds": out,
                "saved_per_flow_run_s": saving,
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
