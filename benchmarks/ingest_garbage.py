"""Benchmark: `sabiscore ingest` of a 50 MB file of garbage rows (issue 12).

Prints one JSON line: wall seconds and peak memory (RSS) of the real command on the garbage
file, next to the same command on one good real season measured in the same run, and whether
the aims (refused in under 20 s and 1 GB) are met.

    .venv/bin/python benchmarks/ingest_garbage.py [--mb 50] [--seed 12] [--data PATH]

The garbage keeps a real football-data header (E0 2023-2024 from ../shared/data/football-data,
else the synthetic league's) and fills every row with random tokens (tests/helpers.py). Each
command runs in its own process with a fresh data directory and its own temporary Prefect
API; its peak RSS is that process's own (os.wait4), start-up included. The Prefect home is
shared, its database created by a first run that is not measured (as on any machine that has
run sabiscore before: a fresh home's migrations alone take ~6 s here).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

AIMS = {"seconds": 20, "rss_mb": 1024}


def run_ingest(source: Path, work: Path) -> dict:
    """One `sabiscore ingest SOURCE --json` in a fresh data dir: time, peak RSS, summary."""
    data_dir = Path(tempfile.mkdtemp(prefix="store-", dir=work))
    env = {
        **os.environ,
        "PREFECT_HOME": str(work / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    env.pop("PREFECT_API_URL", None)
    command = [
        sys.executable,
        "-m",
        "cli",
        "ingest",
        str(source),
        "--data-dir",
        str(data_dir),
        "--json",
    ]
    out = work / f"{source.stem}.out"
    with open(out, "w") as stdout, open(work / f"{source.stem}.err", "w") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    lines = out.read_text().strip().splitlines()
    summary = json.loads(lines[-1]) if lines else {}
    return {
        "mb": round(source.stat().st_size / 1e6, 2),
        "seconds": round(seconds, 2),
        "rss_mb": round(usage.ru_maxrss / 1024),  # Linux: kilobytes
        "exit_code": process.returncode,
        "errors": [e["error"] for e in summary.get("errors", [])],
        "matches": summary.get("matches"),
        "quarantined": summary.get("quarantined"),
        "timings_s": summary.get("timings_s"),
    }


def main() -> None:
    from sabiscore.football_data import count_data_lines
    from tests.helpers import garbage_football_data

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/football-data")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-garbage-"))
    reference = args.data / "E0" / "2023-2024.csv"
    if not reference.exists():
        from sabiscore.synthetic import SyntheticConfig, generate_league, write_football_data_csvs

        reference = write_football_data_csvs(generate_league(SyntheticConfig()), work / "syn")[-1]
    header = reference.read_bytes().removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r")
    garbage = work / "garbage.csv"
    garbage.write_bytes(garbage_football_data(header, int(args.mb * 1e6), args.seed))

    run_ingest(reference, work)  # creates the Prefect database; not measured
    good = run_ingest(reference, work)
    bad = run_ingest(garbage, work)
    refused = bad["exit_code"] == 1 and len(bad["errors"]) == 1 and good["exit_code"] == 0
    met = refused and bad["seconds"] < AIMS["seconds"] and bad["rss_mb"] < AIMS["rss_mb"]
    result = {
        "benchmark": "ingest_garbage",
        "garbage": {**bad, "lines": count_data_lines(garbage.read_bytes()), "seed": args.seed},
        "reference": {"file": str(reference.relative_to(reference.parents[1])), **good},
        "aims": AIMS,
        "refused": refused,
        "met": met,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
