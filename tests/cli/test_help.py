"""The command line's own conventions: `--version`, and a help screen like a mature tool's."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

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
    result = RUNNER.invoke(app, [*([command] if command else []), "--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "Show this message and exit." in result.output
    if command == "ingest":
        assert "<dir>" in result.output  # an option that takes a value keeps its type


def test_every_command_is_listed_in_the_top_help() -> None:
    result = RUNNER.invoke(app, ["--help"], terminal_width=200)
    assert all(name in result.output for name in COMMANDS)
    assert {"ingest", "pipeline", "serve", "bets"} <= set(COMMANDS)


@pytest.mark.parametrize("command", ["backtest", "backtest-bets"])
def test_several_values_after_one_train_option_are_refused_with_how_to_write_them(
    command: str,
) -> None:
    result = RUNNER.invoke(app, [command, "--train", "a.csv", "b.csv", "--test", "c.csv"])
    assert result.exit_code == 2
    assert "unexpected 'b.csv'" in result.output
    assert "--train A.csv --train B.csv" in result.output
    assert "Traceback" not in result.output


def test_one_window_is_one_window_in_the_backtest_summary() -> None:
    from cli.app import _backtest_bets_lines

    summary = {
        "retrain_every": "season",
        "bookmaker": "bet365",
        "n_test_matches": 380,
        "windows": [{"label": "2023-2024"}],
        "overall": {},
        "report": "r.md",
    }
    assert "380 test matches in 1 window" in _backtest_bets_lines(summary)[0]
    summary["windows"] *= 2
    assert _backtest_bets_lines(summary)[0].endswith("in 2 windows")


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(
    tmp_path, monkeypatch, capsys
) -> None:
    import sys

    import pytest

    from cli import app as cli_app

    (tmp_path / "mlflow.db").write_text("not a database")
    monkeypatch.setenv("SABISCORE_DEBUG", "0")  # restored after, though --debug sets it
    monkeypatch.setattr(sys, "argv", ["sabiscore", "models", "--data-dir", str(tmp_path)])
    with pytest.raises(SystemExit) as exited:
        cli_app.main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: DatabaseError: ") and "Traceback" not in err
    assert "sabiscore --debug" in err

    monkeypatch.setattr(
        sys, "argv", ["sabiscore", "--debug", "models", "--data-dir", str(tmp_path)]
    )
    with pytest.raises(Exception, match="file is not a database"):
        cli_app.main()


def test_prefect_console_lines_lose_their_traceback_unless_debugging(monkeypatch) -> None:
    import logging

    from cli.console import NoTraceback

    try:
        raise ValueError("no matches for league E9")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "prefect.flow_runs",
            logging.ERROR,
            __file__,
            1,
            "Encountered exception during execution",
            None,
            sys.exc_info(),
        )
    line = NoTraceback(logging.Formatter("%(levelname)s %(message)s")).format(record)
    assert line.startswith("ERROR Encountered exception during execution")
    assert "Traceback" not in line and "\n" not in line
    assert "Traceback" in logging.Formatter().format(record)  # other handlers keep it


def test_commands_that_run_no_flow_never_import_prefect(tmp_path) -> None:
    """No temporary Prefect server (7-13 s) for `models`, `promote`, `rollback` and the store's
    commands: they never import Prefect at all."""
    import subprocess
    import sys

    script = f"""
import contextlib, sys
from cli.app import app
for args in (["models"], ["promote", "1"], ["rollback"], ["quarantine"], ["ledger"]):
    with contextlib.suppress(SystemExit):
        app([*args, "--data-dir", {str(tmp_path)!r}], standalone_mode=False)
print(sorted(m for m in sys.modules if m.split(".")[0] == "prefect"))
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr


def test_progress_lines_show_the_flow_s_steps_with_seconds_and_hide_prefect_s_bookkeeping(
    monkeypatch,
) -> None:
    import logging

    from cli import console

    def record(name: str, message: str, level: int = logging.INFO) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, message, None, None)

    step = record("prefect.flow_runs", "training on 6190 matches x 127 features")
    assert not console.routine(step)
    assert console.routine(record("prefect.task_runs", "Finished in state Completed()"))
    assert console.routine(record("prefect", "Starting temporary server on http://..."))
    assert console.routine(record("great_expectations.data_context", "Created temporary dir"))
    assert not console.routine(record("great_expectations", "odd file", logging.WARNING))
    assert not console.routine(record("prefect.task_runs", "registered version 3"))
    line = console.Progress().format(step)
    assert line.endswith("s  training on 6190 matches x 127 features")
    assert float(line.split("s  ")[0]) >= 0
    warned = console.Progress().format(record("prefect.flow_runs", "late", logging.WARNING))
    assert warned.endswith("s  WARNING late")


def test_validate_and_ingest_name_each_failed_expectation() -> None:
    from cli.app import _failed_expectation_lines

    gx = {
        "failed": [
            {
                "expectation": "expect_column_pair_values_to_be_equal",
                "column": "result",
                "reason": "FTR disagrees with the goals",
                "rows": 2,
            }
        ]
    }
    assert _failed_expectation_lines(gx) == [
        "failed expect_column_pair_values_to_be_equal(result): FTR disagrees with the goals"
        " - 2 row(s)"
    ]
    assert _failed_expectation_lines({}) == []
