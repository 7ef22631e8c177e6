"""Architecture: the domain package stays free of orchestration, tracking and serving."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The layers above the domain: `sabiscore/` imports none of them, not even inside a function.
LAYERS = ("models", "tasks", "flows", "bentos", "cli")
DOMAIN = sorted((ROOT / "sabiscore").rglob("*.py"))

HEAVY = (
    "prefect",
    "mlflow",
    "bentoml",
    "great_expectations",
    "xgboost",
    "lightgbm",
    "httpx",
    "betfairlightweight",
)


def test_domain_imports_no_framework() -> None:
    code = (
        "import sys, sabiscore, sabiscore.football_data, sabiscore.quality, sabiscore.store, "
        "sabiscore.sources, sabiscore.synthetic, sabiscore.config, "
        "sabiscore.features, sabiscore.evaluation, sabiscore.odds, sabiscore.splits, "
        "sabiscore.plots, sabiscore.promotion, sabiscore.staking, sabiscore.betting, "
        "sabiscore.matchup, sabiscore.holdout_bets, sabiscore.live, sabiscore.odds_api, "
        "sabiscore.betfair, sabiscore.ledger\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the domain imported: {out.stdout.strip()}"


def imported_roots(tree: ast.AST) -> set[str]:
    """The top-level packages a module's import statements name, wherever they are (a
    function's lazy import included)."""
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", DOMAIN, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_domain_imports_no_layer_above_it(path: Path) -> None:
    """Every module of `sabiscore/`, by its syntax tree (lazy imports included), not only
    what `import sabiscore` happens to load."""
    reached = imported_roots(ast.parse(path.read_text(), str(path))) & set(LAYERS)
    assert not reached, f"{path.relative_to(ROOT)} imports {sorted(reached)}"


def test_the_domain_walk_sees_every_module() -> None:
    names = {".".join(p.relative_to(ROOT).with_suffix("").parts) for p in DOMAIN}
    assert {
        "sabiscore.features.__init__",
        "sabiscore.features.market",
        "sabiscore.staking",
        "sabiscore.store",
        "sabiscore.serving_state",
    } <= names
    assert "sabiscore.cli" not in names  # the command line is its own package, cli/


def test_help_answers_without_loading_flows() -> None:
    for args in (
        [],
        ["ingest"],
        ["validate"],
        ["synth"],
        ["train"],
        ["backtest"],
        ["bets"],
        ["ledger"],
        ["odds-refresh"],
    ):
        out = subprocess.run(
            [sys.executable, "-m", "cli", *args, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert "Usage" in out.stdout
        assert "--json" in out.stdout or not args or args == ["synth"] and "--seed" in out.stdout


def test_every_prefect_artifact_has_a_description() -> None:
    """The Prefect UI's Artifacts page shows "No description" for one created without it."""
    root = Path(__file__).resolve().parents[1]
    missing = []
    for path in [*root.glob("tasks/*.py"), *root.glob("flows/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id.startswith("create_")
                and node.func.id.endswith("_artifact")
                and "description" not in {k.arg for k in node.keywords}
            ):
                missing.append(f"{path.relative_to(root)}:{node.lineno}")
    assert missing == []


PACKAGES = ("sabiscore", *LAYERS)


def drawn_layers() -> dict[str, set[str]]:
    """ARCHITECTURE.md's table: each package and the packages it may import."""
    lines = (ROOT / "ARCHITECTURE.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| package | imports"))
    drawn = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        package, allowed = (cell.strip() for cell in line.strip("|").split("|"))
        drawn[package.strip("`")] = {a.strip().strip("`") for a in allowed.split(",")} - {"—"}
    return drawn


def test_each_package_imports_what_architecture_md_draws() -> None:
    """The table in ARCHITECTURE.md is the code's: no package imports one its row leaves out,
    and the row names no package it does not import."""
    drawn = drawn_layers()
    assert set(drawn) == set(PACKAGES)
    found = {}
    for package in PACKAGES:
        reached: set[str] = set()
        for path in sorted((ROOT / package).rglob("*.py")):
            reached |= imported_roots(ast.parse(path.read_text(), str(path)))
        found[package] = (reached & set(PACKAGES)) - {package}
    assert found == drawn
