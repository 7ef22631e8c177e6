"""This weekend's bets on real data (issue 13), from nothing to a table and a track record.

A store with E0 2021-22 and 2022-23, a champion from the real pipeline (small models), and the
first round of 2023-24 as a fixtures file: `sabiscore bets --json` prices all ten matches,
promoted sides (Burnley, Luton, Sheffield United) included; `GET /value-bets` answers the same
bets; once the Friday and Saturday 12:30 results are ingested the later Saturday matches are
still priced; no bet is struck at an aggregate's price. Then the replay: the season's results
and closing prices are ingested, and every suggestion the ledger recorded is settled, its
totals equal to a hand computation from the raw file.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from sabiscore.football_data import AGGREGATES, make_match_id
from sabiscore.ledger import Ledger
from tests.bentos.conftest import in_process_service
from tests.flows.test_cli import sabiscore

SMALL = {
    "train": {
        "models": {
            "random_forest": {"n_estimators": 20},
            "xgboost": {"n_estimators": 20},
            "lightgbm": {"n_estimators": 20},
        },
        "stacking": {"n_folds": 3},
    },
    "promotion": {"ece_margin": 0.2, "market": {"required": False}},
}
ROUND = ("--from", "2023-08-11", "--to", "2023-08-14")
PROMOTED = {"Burnley", "Luton", "Sheffield United"}
RESULT_OR_STATS = (
    "FTHG",
    "FTAG",
    "FTR",
    "HTHG",
    "HTAG",
    "HTR",
    "HS",
    "AS",
    "HST",
    "AST",
    "HF",
    "AF",
    "HC",
    "AC",
    "HY",
    "AY",
    "HR",
    "AR",
    "Referee",
)


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def _write(path: Path, columns: list[str], rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _fixtures_file(season: Path, rows: slice, path: Path) -> Path:
    """Rows of a season as football-data's fixtures.csv lists them: no result or statistics,
    no closing prices (every column from B365CH on)."""
    columns, data = _rows(season)
    kept = [c for c in columns[: columns.index("B365CH")] if c not in RESULT_OR_STATS]
    return _write(path, kept, data[rows])


def _ok(result) -> dict:
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def store(football_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("weekend")
    config = root / "small.yaml"
    config.write_text(yaml.safe_dump(SMALL))
    seasons = [str(football_data_dir / "E0" / f"{s}.csv") for s in ("2021-2022", "2022-2023")]
    summary = _ok(
        sabiscore(
            "pipeline",
            *seasons,
            "--data-dir",
            str(root / "store"),
            "--config",
            str(config),
            "--json",
        )
    )
    assert summary["promoted"], summary["reason"]
    fixtures = _fixtures_file(
        football_data_dir / "E0" / "2023-2024.csv", slice(0, 10), root / "round" / "fixtures.csv"
    )
    _ok(sabiscore("ingest", str(fixtures), "--data-dir", str(root / "store"), "--json"))
    return root / "store"


def _bets(store: Path, *args: str) -> dict:
    return _ok(sabiscore("bets", "--data-dir", str(store), "--json", *args))


def test_the_first_round_is_priced_and_the_service_answers_the_same_bets(
    store: Path, football_data_dir: Path
) -> None:
    answer = _bets(store, *ROUND, "--bankroll", "1000")
    assert answer["skipped"] == [] and len(answer["fixtures"]) == 10
    teams = {f["home_team"] for f in answer["fixtures"]} | {
        f["away_team"] for f in answer["fixtures"]
    }
    assert PROMOTED <= teams
    assert all({"bet365", "pinnacle"} <= set(f["books"]) for f in answer["fixtures"])
    for bet in answer["bets"]:
        assert bet["bookmaker"] not in AGGREGATES
        assert bet["stake_amount"] == pytest.approx(10 * bet["kelly_stake_percentage"], abs=0.01)
    recorded = Ledger(store).load()
    assert len(recorded) == len(answer["bets"]) and set(recorded["source"]) <= {"sabiscore bets"}

    served = _served_value_bets(store, {"from": "2023-08-11", "to": "2023-08-14", "bankroll": 1000})
    assert served["bets"] == answer["bets"]
    for mine, theirs in zip(served["fixtures"], answer["fixtures"], strict=True):
        assert mine == theirs, list(_differences(mine, theirs))
    assert len(Ledger(store).load()) == len(recorded), "the same bets are not recorded twice"

    table = sabiscore("bets", "--data-dir", str(store), *ROUND)
    assert table.returncode == 0, table.stderr[-2000:]
    assert "sharp line H/D/A" in table.stdout and table.stdout.count("(pinnacle)") == 10


def _served_value_bets(store: Path, params: dict) -> dict:
    with in_process_service(store) as client:
        answer = client.get("/value-bets", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_later_kickoffs_on_the_day_of_a_result_are_priced_and_the_ledger_settles(
    store: Path, football_data_dir: Path, tmp_path: Path
) -> None:
    season = football_data_dir / "E0" / "2023-2024.csv"
    columns, rows = _rows(season)
    # Friday's result and Saturday's 12:30 are in: the 15:00 and 17:30 matches stay priceable
    _ok(
        sabiscore(
            "ingest",
            str(_write(tmp_path / "in" / "2023-2024.csv", columns, rows[:2])),
            "--data-dir",
            str(store),
            "--json",
        )
    )
    answer = _bets(store, "--from", "2023-08-12", "--to", "2023-08-14")
    assert answer["skipped"] == []
    priced = {(f["home_team"], f["away_team"]) for f in answer["fixtures"]}
    assert ("Bournemouth", "West Ham") in priced and ("Newcastle", "Aston Villa") in priced
    assert len(priced) == 8 and ("Arsenal", "Nott'm Forest") not in priced

    # the replay: the whole season, its results and closing prices, is ingested
    _ok(sabiscore("ingest", str(season), "--data-dir", str(store), "--json"))
    record = _ok(sabiscore("ledger", "--data-dir", str(store), "--json"))
    suggestions = Ledger(store).load()
    assert record["suggested"] == record["settled"] == len(suggestions) > 0
    by_id = {make_match_id("E0", _day(r["Date"]), r["HomeTeam"], r["AwayTeam"]): r for r in rows}
    profit, clv = [], []
    for s in suggestions.itertuples():
        row = by_id[s.match_id]
        won = row["FTR"] == {"home": "H", "draw": "D", "away": "A"}[s.outcome]
        profit.append(s.stake * (s.net_odds - 1) if won else -s.stake)
        close = np.array([float(row[c]) for c in ("PSCH", "PSCD", "PSCA")])
        fair = (1 / close) / (1 / close).sum()
        clv.append(s.net_odds * fair[("home", "draw", "away").index(s.outcome)] - 1)
    overall = record["overall"]
    assert overall["bets"] == len(suggestions)
    assert overall["profit"] == pytest.approx(sum(profit))
    assert overall["staked"] == pytest.approx(suggestions["stake"].sum())
    assert overall["clv_mean"] == pytest.approx(np.mean(clv)) and overall["clv_bets"] == len(clv)
    human = sabiscore("ledger", "--data-dir", str(store))
    assert human.returncode == 0 and f"{len(suggestions)} suggestion(s)" in human.stdout


def _day(text: str):
    import pandas as pd

    return pd.Timestamp(f"{text[6:]}-{text[3:5]}-{text[:2]}")


def _differences(a: object, b: object, where: str = ""):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from _differences(a.get(key), b.get(key), f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(x, y, f"{where}[{i}]")
    elif a != b:
        yield where, a, b
