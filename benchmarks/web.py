"""The web site's latencies (issue 16) on the whole local stack: a pipeline store (the serving
tests' small synthetic league, or a copy of --data-dir) with upcoming fixtures ingested, a real
`sabiscore serve`, the site built and started with `next start`, Debian's headless Chromium.

- a pushed price: `POST /odds` sent -> the open match page's ValueBetCard shows the new edge,
  p50 / p99 over 50 pushes (reference in the same run: a bare WebSocket client of the service);
- the TTFB of a cached match page, p50 / p99 over 200 requests (references: a static file of the
  same server, and the service's own GET /matches/{id}).

The design claims 28 ms (WS) and 45 ms (revalidate); the aims here are p99 under 100 ms and
20 ms. Prints one JSON line per measurement (web/e2e/bench.mjs does the measuring).

    .venv/bin/python benchmarks/web.py [--data-dir STORE_WITH_A_CHAMPION]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_store(root: Path) -> Path:
    """A champion on the serving tests' synthetic league (tests/bentos/conftest.py)."""
    import yaml

    from sabiscore.synthetic import LeagueSpec, SyntheticConfig, generate_league
    from sabiscore.synthetic import write_football_data_csvs as write_csvs
    from tests.bentos.conftest import LEAGUE, SMALL

    league = SyntheticConfig(
        seed=11, first_season=2019, n_seasons=3, leagues=(LeagueSpec(LEAGUE, 16, 1, "Sylvania"),)
    )
    write_csvs(generate_league(league), root / "league")
    (root / "small.yaml").write_text(yaml.safe_dump(SMALL))
    env = {
        k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL")
    }
    env["PREFECT_HOME"] = str(root / "prefect")
    command = [
        sys.executable,
        "-m",
        "cli",
        "pipeline",
        str(root / "league"),
        "--data-dir",
        str(root / "store"),
        "--config",
        str(root / "small.yaml"),
        "--json",
    ]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the pipeline failed:\n{done.stderr[-3000:]}")
    return root / "store"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="a store with a champion (copied first)")
    args = parser.parse_args()

    from tests.web import stack

    reason = stack.missing()
    if reason:
        raise SystemExit(f"benchmarks/web.py: {reason}")
    os.environ.setdefault("BENTOML_HOME", tempfile.mkdtemp(prefix="sabiscore-bentoml-"))
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    with tempfile.TemporaryDirectory(prefix="sabiscore-web-bench-") as tmp:
        root = Path(tmp)
        compiling = stack.start_compile(root)
        if args.data_dir:
            store = shutil.copytree(
                args.data_dir, root / "store", ignore=shutil.ignore_patterns("*.lock")
            )
        else:
            store = make_store(root)
        with stack.running_stack(Path(store), root, compiling) as running:
            done = subprocess.run(
                ["node", "--experimental-websocket", "e2e/bench.mjs"],
                cwd=stack.WEB,
                env=running.node_env(root / "artifacts"),
                capture_output=True,
                text=True,
                timeout=600,
            )
        if done.returncode != 0:
            raise SystemExit(
                f"web/e2e/bench.mjs failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
            )
        for line in done.stdout.splitlines():
            if line.startswith("{"):
                print(json.dumps(json.loads(line)))


if __name__ == "__main__":
    main()
