"""Benchmark: what a flow run costs Prefect itself, with its heartbeats and without.

Prefect 3.9 starts a heartbeat thread for every flow run and, at the run's end, waits for it
to finish its current one-second sleep. `flows/local.py` (`local_runs`) switches heartbeats off
for runs started in this process — the command line's, the tests' — and this measures what
that saves: an empty flow and a flow with two empty subflows (three flow runs), timed
alternately with Prefect's default settings (the reference) and inside `local_runs()`, on an
ephemeral Prefect API started once. Prints one JSON line: medians and minimums in seconds, and
the saving per flow run.

Then, inside `local_runs()`, an empty flow started right after a flow of nine tasks (as the
ingest flow has) against one started right after another empty flow (the reference), counting
the answers "503, retry" Prefect's client logs: its SQLite server refuses a write while it
records the previous run's task events, and the client waits about two seconds to ask again.

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
    import logging

    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.testing.utilities import prefect_test_harness

    from flows.local import local_runs

    @flow
    def empty() -> int:
        return 0

    @flow
    def with_subflows() -> int:
        return empty() + empty()

    @task(cache_policy=NO_CACHE)
    def step(i: int) -> int:
        return i

    @flow
    def nine_tasks() -> int:
        return sum(step(i) for i in range(9))

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
        after = after_task_events(args.repeat, empty, nine_tasks, local_runs, logging)
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
                "next_flow_run_after": after,
                "cpus": os.cpu_count(),
            }
        )
    )


def after_task_events(repeat: int, empty, nine_tasks, local_runs, logging) -> dict:
    """An empty flow's seconds right after an empty flow (the reference) and right after a flow
    of nine tasks, alternated, with the client's "retryable status code 503" answers counted."""
    retries = {"after an empty flow": 0, "after a flow of nine tasks": 0}
    seconds: dict[str, list[float]] = {case: [] for case in retries}
    case = ""

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "retryable status code 503" in record.getMessage():
                retries[case] += 1

    client_log = logging.getLogger("prefect.client")
    handler, level = Count(level=logging.DEBUG), client_log.level
    client_log.addHandler(handler)
    client_log.setLevel(logging.DEBUG)
    try:
        with local_runs():
            for _ in range(repeat):
                for case, before in (
                    ("after an empty flow", empty),
                    ("after a flow of nine tasks", nine_tasks),
                ):
                    before()
                    started = time.perf_counter()
                    empty()
                    seconds[case].append(time.perf_counter() - started)
    finally:
        client_log.removeHandler(handler)
        client_log.setLevel(level)
    return {
        case: {
            "median_s": round(statistics.median(values), 3),
            "max_s": round(max(values), 3),
            "retries_503": retries[case],
        }
        for case, values in seconds.items()
    }


if __name__ == "__main__":
    main()
