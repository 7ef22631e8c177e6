"""Run the README's "Your first hour" commands in order on a fresh store, checking each one.

The block is read from README.md itself (the ```bash block under "## Your first hour"), so the
README cannot drift from what works. Each command line may end with checks in a comment:

    .venv/bin/sabiscore train --league E9 --data-dir data/first-hour  # exit: 2  expect: E0

`exit: N` is the exit status wanted (default 0); every `expect: TEXT` must appear in the
command's output (stdout and stderr). `data/first-hour` is replaced by a fresh directory, and
`../shared` by `--shared DIR` when the shared files live elsewhere.

    .venv/bin/python scripts/first_hour.py [--store DIR] [--shared DIR] [--readme README.md]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORE = "data/first-hour"
SHARED = "../shared"
CHECK = re.compile(r"(exit|expect):\s*((?:(?!\s(?:exit|expect):).)+)")


@dataclass(frozen=True)
class Step:
    command: str
    exit_code: int
    expected: tuple[str, ...]


def steps_of(readme: str) -> list[Step]:
    """The commands of the first ```bash block after the "## Your first hour" heading."""
    section = readme.split("\n## Your first hour", 1)
    if len(section) < 2:
        raise SystemExit("README.md has no '## Your first hour' section")
    block = re.search(r"```bash\n(.*?)```", section[1], re.DOTALL)
    if block is None:
        raise SystemExit("the first-hour section has no ```bash block")
    steps = []
    for line in block[1].splitlines():
        command, _, comment = line.partition("  # ")
        if not command.strip() or command.lstrip().startswith("#"):
            continue
        checks = CHECK.findall(comment)
        code = next((int(v) for k, v in checks if k == "exit"), 0)
        steps.append(
            Step(command.strip(), code, tuple(v.strip() for k, v in checks if k == "expect"))
        )
    return steps


def run(steps: list[Step], store: Path, shared: Path | None = None) -> list[str]:
    """Run each step in the project root; the problems found (empty: all passed)."""
    started = time.monotonic()
    for number, step in enumerate(steps, 1):
        command = step.command.replace(STORE, shlex.quote(str(store)))
        if shared is not None:
            command = command.replace(SHARED, str(shared.resolve()))
        print(f"[{number}/{len(steps)}] {step.command}", flush=True)
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
            timeout=900,
        )
        output = done.stdout + done.stderr
        problems = [f"exit {done.returncode}, wanted {step.exit_code}"] * (
            done.returncode != step.exit_code
        )
        problems += [f"no {text!r} in the output" for text in step.expected if text not in output]
        verdict = "ok" if not problems else "FAILED: " + "; ".join(problems)
        print(f"    {time.monotonic() - started:6.1f}s  {verdict}", flush=True)
        if problems:
            return [f"{step.command}: {p}" for p in problems] + ["output:", output[-4000:]]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, help="the store to use (default: a fresh one)")
    parser.add_argument("--shared", type=Path, help="where ../shared is (default: as written)")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args(argv)
    steps = steps_of(args.readme.read_text())
    with tempfile.TemporaryDirectory(prefix="first-hour-") as fresh:
        problems = run(steps, args.store or Path(fresh) / "store", args.shared)
    print("\n".join(problems) if problems else f"all {len(steps)} steps passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
