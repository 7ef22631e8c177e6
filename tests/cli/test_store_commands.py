"""The store's commands (`store drop`, `quarantine`, `warnings`) on a store written directly."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from cli.app import app
from sabiscore.store import DataStore, Partition

RUNNER = CliRunner()


def _store(root: Path) -> DataStore:
    store = DataStore(root)
    quarantine = pd.DataFrame(
        {
            "source": ["/files/E0/2023-2024.csv"],
            "line": [17],
            "match_id": ["e0-x"],
            "league": ["E0"],
            "season": ["2023-2024"],
            "reason": ["home_goals is not a whole number: 'two'"],
        }
    )
    warnings = pd.DataFrame(
        {
            "source": ["/files/E0/2023-2024.csv"],
            "line": [40],
            "match_id": ["e0-y"],
            "league": ["E0"],
            "season": ["2023-2024"],
            "bookmaker": ["bet365"],
            "phase": ["open"],
            "prices": ["H=0 D=3 A=4"],
            "reason": ["price must be greater than 1.01"],
        }
    )
    store.commit(
        [
            Partition(
                "E0",
                "2023-2024",
                "a" * 64,
                "E0.csv",
                {
                    "matches": pd.DataFrame({"match_id": ["E0-m"]}),
                    "quarantine": quarantine,
                    "price_warnings": warnings,
                },
                "results",
            ),
            Partition(
                "SY1",
                "2023-2024",
                "b" * 64,
                "SY1.csv",
                {"matches": pd.DataFrame({"match_id": ["SY1-m"]})},
                "results",
            ),
        ]
    )
    return store


def test_quarantine_and_warnings_show_each_row_with_its_file_line_and_reason(tmp_path) -> None:
    _store(tmp_path)
    result = RUNNER.invoke(app, ["quarantine", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "2023-2024.csv" in result.output and "17" in result.output
    assert "not a whole number" in result.output and "1 row(s)" in result.output

    result = RUNNER.invoke(app, ["warnings", "--data-dir", str(tmp_path), "--json"])
    answer = json.loads(result.output.strip().splitlines()[-1])
    assert answer["count"] == 1 and answer["rows"][0]["bookmaker"] == "bet365"
    assert answer["rows"][0]["source"] == "/files/E0/2023-2024.csv"  # the full path in JSON

    result = RUNNER.invoke(app, ["quarantine", "--league", "SY1", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert "no quarantine for SY1" in result.output
    assert "leagues in the store: E0, SY1" in result.output


def test_store_drop_takes_a_league_out_and_names_what_exists_when_asked_for_nothing(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path)
    result = RUNNER.invoke(app, ["store", "drop", "--league", "SY1", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "dropped 1 league-season(s): SY1/2023-2024" in result.output
    assert store.summary()["leagues"] == ["E0"]

    result = RUNNER.invoke(app, ["store", "drop", "--league", "E9", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "leagues in the store: E0" in result.output
    assert "Traceback" not in result.output


def test_train_names_the_leagues_and_seasons_held_before_any_flow_starts(tmp_path: Path) -> None:
    _store(tmp_path)
    result = RUNNER.invoke(app, ["train", "--league", "E9", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "league E9 is not in the store; leagues in the store: E0, SY1" in result.output
    assert "Traceback" not in result.output

    result = RUNNER.invoke(
        app, ["train", "--league", "E0", "--test-season", "2030-2031", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert (
        "season 2030-2031 has no played E0 matches in the store; seasons held: 2023-2024"
        in result.output
    )


def test_bets_without_a_champion_says_how_to_get_one(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["bets", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "run `sabiscore pipeline`" in result.output
    assert "`sabiscore promote VERSION`" in result.output and "Traceback" not in result.output
