"""The ledger (sabiscore/ledger.py): suggestions recorded once, settled against the close and
the result, and a report whose totals equal a hand computation."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sabiscore.ledger import Ledger, Suggestion, report, settle


def _suggestion(
    match_id: str,
    outcome: str,
    price: float,
    stake: float,
    version: str = "1",
    quality: str = "VALUE",
    net: float | None = None,
) -> Suggestion:
    return Suggestion(
        match_id=match_id,
        league="E0",
        kickoff="2023-08-12T15:00:00Z",
        home_team="A",
        away_team="B",
        outcome=outcome,
        bookmaker="bet365",
        price=price,
        net_odds=price if net is None else net,
        stake=stake,
        edge=0.05,
        quality=quality,
        model_version=version,
        model_semver=f"1.0.{version}",
        suggested_at="2023-08-11T09:00Z",
        source="sabiscore bets",
    )


def _close(match_id: str, book: str, prices: tuple[float, float, float]) -> list[dict]:
    return [
        {
            "match_id": match_id,
            "bookmaker": book,
            "phase": "close",
            "market": "1x2",
            "outcome": o,
            "price": p,
        }
        for o, p in zip("HDA", prices, strict=True)
    ]


def test_a_suggestion_is_recorded_once(tmp_path: Path) -> None:
    book = Ledger(tmp_path)
    first = _suggestion("m1", "home", 2.5, 0.01)
    assert book.record([first, _suggestion("m1", "draw", 3.4, 0.01)]) == 2
    # the same match, outcome and version again (a later, different price): not recorded
    assert book.record([_suggestion("m1", "home", 2.8, 0.02), first]) == 0
    assert Ledger(tmp_path).record([first]) == 0, "another writer sees what is on disk"
    assert book.record([_suggestion("m1", "home", 2.8, 0.02, version="2")]) == 1
    loaded = book.load()
    assert loaded[["outcome", "price", "model_version"]].values.tolist() == [
        ["home", 2.5, "1"],
        ["draw", 3.4, "1"],
        ["home", 2.8, "2"],
    ]
    assert [json.loads(line)["source"] for line in book.path.read_text().splitlines()] == [
        "sabiscore bets"
    ] * 3


def test_concurrent_writers_record_each_suggestion_once(tmp_path: Path) -> None:
    rows = [_suggestion(f"m{i}", "home", 2.0, 0.01) for i in range(50)]
    counts: list[int] = []
    threads = [
        threading.Thread(target=lambda: counts.append(Ledger(tmp_path).record(rows)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 50 and len(Ledger(tmp_path).load()) == 50


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    book = Ledger(tmp_path)
    book.record([_suggestion("m1", "home", 2.5, 0.01)])
    with open(book.path, "a") as handle:
        handle.write('{"match_id": "m2", "outc')
    assert book.load()["match_id"].tolist() == ["m1"]


def test_settling_and_the_report_equal_a_hand_computation(tmp_path: Path) -> None:
    """Four suggestions on a past round; its results and closing prices then ingested."""
    book = Ledger(tmp_path)
    book.record(
        [
            _suggestion("m1", "home", 2.50, 0.02),  # won at 2.50, close fair 0.45
            _suggestion("m2", "draw", 3.60, 0.01, quality="PREMIUM"),  # lost, close fair 0.25
            _suggestion("m3", "away", 4.00, 0.01, version="2", net=3.85),  # won, exchange, no close
            _suggestion("m4", "home", 1.90, 0.03),  # not played yet
        ]
    )
    matches = pd.DataFrame({"match_id": ["m1", "m2", "m3"], "result": ["H", "H", "A"]})
    # Pinnacle's closes: 2.0 / 4.0 / 4.0 is a fair line (0.5 / 0.25 / 0.25) with no margin;
    # m1's is 1/2.2 : 1/3.5 : 1/3.5 de-margined
    odds = pd.DataFrame(
        _close("m1", "pinnacle", (2.2, 3.5, 3.5))
        + _close("m2", "pinnacle", (2.0, 4.0, 4.0))
        + _close("m2", "market_avg", (1.9, 3.8, 3.8))
    )
    settled = settle(book.load(), matches, odds)
    assert settled["settled"].tolist() == [True, True, True, False]
    assert settled["won"].tolist()[:3] == [True, False, True] and pd.isna(settled["won"][3])
    np.testing.assert_allclose(settled["profit"][:3], [0.02 * 1.5, -0.01, 0.01 * 2.85])
    assert settled["closing_book"].tolist() == ["pinnacle", "pinnacle", None, None]
    fair_home = (1 / 2.2) / (1 / 2.2 + 2 / 3.5)
    np.testing.assert_allclose(settled["clv"][:2], [2.5 * fair_home - 1, 3.6 * 0.25 - 1])
    assert settled["clv"][2:].isna().all()

    record = report(settled, n_boot=500)
    assert (record["suggested"], record["settled"], record["open"]) == (4, 3, 1)
    overall = record["overall"]
    profit = 0.02 * 1.5 - 0.01 + 0.01 * 2.85
    assert overall["bets"] == 3 and overall["staked"] == pytest.approx(0.04)
    assert overall["profit"] == pytest.approx(profit)
    assert overall["yield"] == pytest.approx(profit / 0.04)
    assert overall["hit_rate"] == pytest.approx(2 / 3)
    assert overall["clv_bets"] == 2
    assert overall["clv_mean"] == pytest.approx(((2.5 * fair_home - 1) + (3.6 * 0.25 - 1)) / 2)
    low, high = overall["yield_ci"]
    assert low <= overall["yield"] <= high
    assert set(record["by_quality"]) == {"PREMIUM", "VALUE"}
    assert record["by_quality"]["PREMIUM"]["profit"] == pytest.approx(-0.01)
    assert record["by_model_version"]["2"]["profit"] == pytest.approx(0.0285)


def test_an_empty_ledger_reports_nothing_settled(tmp_path: Path) -> None:
    settled = settle(
        Ledger(tmp_path).load(), pd.DataFrame(columns=["match_id", "result"]), pd.DataFrame()
    )
    assert report(settled) == {
        "suggested": 0,
        "settled": 0,
        "open": 0,
        "overall": {"bets": 0},
        "by_quality": {},
        "by_model_version": {},
    }
