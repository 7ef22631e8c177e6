"""Architecture: the domain package stays free of orchestration, tracking and serving."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("prefect", "mlflow", "bentoml", "great_expectations", "xgboost", "lightgbm", "httpx",
         "betfairlightweight")  # fmt: skip


def test_domain_imports_no_framework() -> None:
    code = (
        "import sys, sabiscore, sabiscore.football_data, sabiscore.quality, sabiscore.store, "
        "sabiscore.sources, sabiscore.synthetic, sabiscore.config, sabiscore.cli, "
        "sabiscore.features, sabiscore.evaluation, sabiscore.odds, sabiscore.splits, "
        "sabiscore.plots, sabiscore.promotion, sabiscore.staking, sabiscore.betting, "
        "sabiscore.matchup, sabiscore.holdout_bets, sabiscore.live, sabiscore.odds_api, "
        "sabiscore.betfair, sabiscore.ledger\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the domain imported: {out.stdout.strip()}"


def test_help_answers_without_loading_flows() -> None:
    for args in ([], ["ingest"], ["validate"], ["synth"], ["train"], ["backtest"], ["bets"],
                 ["ledger"], ["odds-refresh"]):  # fmt: skip
        out = subprocess.run(
            [sys.executable, "-m", "sabiscore.cli", *args, "--help"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert "Usage" in out.stdout
        assert "--json" in out.stdout or not args or args == ["synth"] and "--seed" in out.stdout
