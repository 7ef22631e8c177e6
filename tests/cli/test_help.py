"""The command line's own conventions: `--version`, and a help screen like a mature tool's."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from cli.app import app

RUNNER = CliRunner()
COMMANDS = sorted(get_command(app).commands)  # type: ignore[attr-defined]


def test_version_prints_the_installed_version() -> None:
    result = RUNNER.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"sabiscore {version('sabiscore')}"


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_flags_carry_no_value_type_in_help(command: str | None) -> None:
    """A flag takes no value: Typer 0.29 printed `<bool>` beside each one (`--help` too)."""
    result = RUNNER.invoke(app, [*([command] if command else []), "--help"],
                           terminal_width=120)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "Show this message and exit." in result.output
    if command == "ingest":
        assert "<dir>" in result.output  # an option that takes a value keeps its type


def test_every_command_is_listed_in_the_top_help() -> None:
    result = RUNNER.invoke(app, ["--help"], terminal_width=200)
    assert all(name in result.output for name in COMMANDS)
    assert {"ingest", "pipeline", "serve", "bets"} <= set(COMMANDS)


def test_store_drop_takes_a_league_out_and_names_what_exists_when_asked_for_nothing(
    tmp_path,
) -> None:
    import pandas as pd

    from sabiscore.store import DataStore, Partition

    store = DataStore(tmp_path)
    store.commit([
        Partition(league, "2023-2024", sha * 64, f"{league}.csv",
                  {"matches": pd.DataFrame({"match_id": [f"{league}-m"]})}, "results")
        for league, sha in (("E0", "a"), ("SY1", "b"))
    ])
    result = RUNNER.invoke(app, ["store", "drop", "--league", "SY1", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "dropped 1 league-season(s): SY1/2023-2024" in result.output
    assert store.summary()["leagues"] == ["E0"]

    result = RUNNER.invoke(app, ["store", "drop", "--league", "E9", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "leagues in the store: E0" in result.output
    assert "Traceback" not in result.output
