"""Benchmark: how long the registry commands and `--help` take from a cold process.

Times, each in a fresh process, `sabiscore --help`, `--version`, `models`, `promote` (a
version that is not the champion) and `rollback` (back to the champion before), `--repeat`
times each, beside two references measured in the same run: a bare `python -c pass` and
`python -c "import mlflow"` (the library every registry command needs). Prints one JSON line
of median and minimum seconds, and whether the issue's aims hold (registry commands under
3 s, `--help` under 1 s).

The store needs at least two registered versions: `--data-dir DIR` names one (it is left as
found: every promote is rolled back); without it the embedded pipeline runs once into a
temporary store first (about two minutes; not timed).

    .venv/bin/python benchmarks/cli.py [--data-dir DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = os.environ | {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def seconds(args: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def versions(store: Path) -> tuple[list[str], str]:
    out = subprocess.run(
        [str(BIN / "sabiscore"), "models", "--data-dir", str(store), "--json"],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = json.loads(out.strip().splitlines()[-1])["versions"]
    champion = [str(v["version"]) for v in listed if "champion" in str(v["aliases"])]
    return [str(v["version"]) for v in listed], champion[0] if champion else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="a store with two registered versions")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    store = args.data_dir
    if store is None:
        store = Path(tempfile.mkdtemp(prefix="bench-cli-"))
        print(f"building a store with the pipeline in {store} (not timed)", file=sys.stderr)
        subprocess.run(
            [str(BIN / "sabiscore"), "pipeline", "--data-dir", str(store)],
            cwd=REPO,
            env=ENV,
            check=True,
            capture_output=True,
        )
    listed, champion = versions(store)
    other = next((v for v in listed if v != champion), None)
    if not champion or other is None:
        sys.exit(f"{store}: needs a champion and another version, has {listed}")

    sab, data = str(BIN / "sabiscore"), ["--data-dir", str(store)]
    timed: dict[str, list[float]] = {
        k: []
        for k in (
            "python -c pass",
            "python -c 'import mlflow'",
            "--help",
            "--version",
            "models",
            "promote",
            "rollback",
        )
    }
    for _ in range(args.repeat):
        timed["python -c pass"].append(seconds([sys.executable, "-c", "pass"]))
        timed["python -c 'import mlflow'"].append(seconds([sys.executable, "-c", "import mlflow"]))
        timed["--help"].append(seconds([sab, "--help"]))
        timed["--version"].append(seconds([sab, "--version"]))
        timed["models"].append(seconds([sab, "models", *data]))
        timed["promote"].append(seconds([sab, "promote", other, *data]))
        timed["rollback"].append(seconds([sab, "rollback", *data]))
    if versions(store)[1] != champion:
        sys.exit("the champion was not restored")
    result = {
        k: {"median_s": round(statistics.median(v), 3), "min_s": round(min(v), 3)}
        for k, v in timed.items()
    }
    aims = {
        "registry_under_3s": all(
            result[k]["median_s"] < 3 for k in ("models", "promote", "rollback")
        ),
        "help_under_1s": result["--help"]["median_s"] < 1,
    }
    print(
        json.dumps(
            {
                "benchmark": "cli",
                "repeat": args.repeat,
                "seconds": result,
                "aims_met": aims,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
