"""Live fixtures of a calendar-year league take the season its files name (`2024`, not the
European `2024-2025` a live source would give), so features and splits see one season."""

from __future__ import annotations

import pandas as pd

from sabiscore.live import (
    LiveSnapshot,
    calendar_year_leagues,
    empty_fixtures,
    empty_odds,
    in_calendar_seasons,
)


def snapshot() -> LiveSnapshot:
    fixtures = pd.concat(
        [
            empty_fixtures(),
            pd.DataFrame(
                {
                    "match_id": ["swe-20240825-aik-hacken", "e0-20240825-arsenal-chelsea"],
                    "league": ["SWE", "E0"],
                    "season": ["2024-2025", "2024-2025"],
                    "date": pd.to_datetime(["2024-08-25", "2024-08-25"]),
                    "kickoff": pd.to_datetime(["2024-08-25 13:00", "2024-08-25 15:30"]),
                    "home_team": ["AIK", "Arsenal"],
                    "away_team": ["Hacken", "Chelsea"],
                    "status": "fixture",
                    "source": "the-odds-api",
                }
            ),
        ]
    )
    odds = pd.concat(
        [
            empty_odds(),
            pd.DataFrame(
                {
                    "match_id": ["swe-20240825-aik-hacken"] * 3 + ["e0-20240825-arsenal-chelsea"],
                    "league": ["SWE"] * 3 + ["E0"],
                    "season": "2024-2025",
                    "bookmaker": "pinnacle",
                    "outcome": ["H", "D", "A", "H"],
                    "price": [2.0, 3.4, 3.8, 1.9],
                }
            ),
        ]
    )
    return LiveSnapshot("the-odds-api", pd.Timestamp("2024-08-20 08:00"), fixtures, odds)


def test_only_leagues_stored_in_calendar_years_are_relabelled() -> None:
    relabelled = in_calendar_seasons(snapshot(), {"SWE"})
    assert relabelled.fixtures["season"].tolist() == ["2024", "2024-2025"]
    assert relabelled.odds["season"].tolist() == ["2024", "2024", "2024", "2024-2025"]
    assert snapshot().fixtures["season"].tolist() == ["2024-2025", "2024-2025"]  # a copy


def test_no_calendar_year_league_leaves_the_snapshot_as_it_is() -> None:
    original = snapshot()
    assert in_calendar_seasons(original, set()) is original


def test_a_league_is_calendar_year_only_when_every_stored_season_is() -> None:
    entries = [
        {"kind": "results", "league": "SWE", "season": "2023"},
        {"kind": "results", "league": "SWE", "season": "2024"},
        {"kind": "results", "league": "MIX", "season": "2024"},
        {"kind": "results", "league": "MIX", "season": "2023-2024"},
        {"kind": "live-the-odds-api", "league": "USA", "season": "2024"},  # not results
    ]
    assert calendar_year_leagues(entries) == {"SWE"}
