"""The Betfair Exchange's markets as a live snapshot (sabiscore.betfair): hand-built API-NG
answers in the documented shapes, and the canonical frames they give."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from sabiscore.betfair import (
    BetfairSettings,
    best_back_price,
    competition_leagues,
    match_runners,
    snapshot_from_markets,
    to_utc_naive,
)
from sabiscore.live import FIXTURE_COLUMNS, ODDS_COLUMNS, TeamAliases

REPO = Path(__file__).resolve().parents[2]
EPL, LIGA = "10932509", "117"
LEAGUES = {EPL: "E0", LIGA: "SP1"}
ALIASES = TeamAliases.from_config(
    {
        "teams": {
            "Man United": ["Man Utd"],
            "Fulham": [],
            "Arsenal": [],
            "Chelsea": [],
            "Ath Madrid": ["Atletico Madrid"],
            "Sevilla": [],
        }
    }
)
CAPTURED = pd.Timestamp("2025-08-15 09:30")
DRAW_ID = 58805


def catalogue_entry(
    market_id: str,
    home: str,
    away: str,
    start: str = "2025-08-16T14:00:00.000Z",
    competition: str = EPL,
    event_name: str | None = None,
) -> dict[str, Any]:
    """One listMarketCatalogue result (RUNNER_DESCRIPTION, EVENT, COMPETITION,
    MARKET_START_TIME), the runners in Betfair's order: home, away, the draw."""
    home_id, away_id = (int(market_id.replace(".", "")) * 10 + side for side in (1, 2))
    return {
        "marketId": market_id,
        "marketName": "Match Odds",
        "marketStartTime": start,
        "totalMatched": 10234.5,
        "runners": [
            {"selectionId": home_id, "runnerName": home, "handicap": 0.0, "sortPriority": 1},
            {"selectionId": away_id, "runnerName": away, "handicap": 0.0, "sortPriority": 2},
            {"selectionId": DRAW_ID, "runnerName": "The Draw", "handicap": 0.0, "sortPriority": 3},
        ],
        "competition": {"id": competition, "name": "A competition"},
        "event": {
            "id": "3" + market_id[2:],
            "name": event_name or f"{home} v {away}",
            "countryCode": "GB",
            "timezone": "GMT",
            "openDate": start,
        },
    }


def market_book(
    entry: dict[str, Any],
    backs: tuple[list[float], list[float], list[float]] = ([2.1, 2.08], [3.6, 3.55], [3.4]),
    status: str = "OPEN",
    inplay: bool = False,
) -> dict[str, Any]:
    """The listMarketBook result (EX_BEST_OFFERS) of `entry`: `backs` the available-to-back
    prices of home, away and the draw, best first."""
    runners = []
    for runner, prices in zip(entry["runners"], backs, strict=True):
        runners.append(
            {
                "selectionId": runner["selectionId"],
                "handicap": 0.0,
                "status": "ACTIVE",
                "totalMatched": 500.0,
                "ex": {
                    "availableToBack": [{"price": p, "size": 25.0} for p in prices],
                    "availableToLay": [
                        {"price": round(p + 0.04, 2), "size": 12.0} for p in prices[:1]
                    ],
                    "tradedVolume": [],
                },
            }
        )
    return {
        "marketId": entry["marketId"],
        "isMarketDataDelayed": False,
        "status": status,
        "betDelay": 0,
        "bspReconciled": False,
        "complete": True,
        "inplay": inplay,
        "numberOfWinners": 1,
        "numberOfRunners": 3,
        "numberOfActiveRunners": 3,
        "totalMatched": 10234.5,
        "totalAvailable": 40211.0,
        "crossMatching": True,
        "runnersVoidable": False,
        "version": 6157842761,
        "runners": runners,
    }


def snapshot(catalogue: list[dict], books: list[dict], **kw: Any):
    settings = {"leagues": LEAGUES, "aliases": ALIASES, "captured_at": CAPTURED, **kw}
    return snapshot_from_markets(catalogue, books, **settings)


def test_open_market_gives_a_fixture_and_its_best_back_prices() -> None:
    entry = catalogue_entry("1.240001", "Man Utd", "Fulham")
    snap = snapshot([entry], [market_book(entry)])

    assert snap.source == "betfair" and snap.captured_at == CAPTURED
    assert tuple(snap.fixtures.columns) == FIXTURE_COLUMNS
    assert snap.fixtures.to_dict("records") == [
        {
            "match_id": "e0-20250816-man-united-fulham",
            "league": "E0",
            "season": "2025-2026",
            "date": pd.Timestamp("2025-08-16"),
            "kickoff": pd.Timestamp("2025-08-16 14:00"),
            "home_team": "Man United",
            "away_team": "Fulham",
            "status": "fixture",
            "source": "betfair",
        }
    ]
    assert snap.fixtures["kickoff"].dt.tz is None
    assert tuple(snap.odds.columns) == ODDS_COLUMNS
    assert snap.odds[["outcome", "price"]].values.tolist() == [["H", 2.1], ["D", 3.4], ["A", 3.6]]
    constant = snap.odds.drop(columns=["outcome", "price"]).drop_duplicates()
    assert constant.to_dict("records") == [
        {
            "match_id": "e0-20250816-man-united-fulham",
            "league": "E0",
            "season": "2025-2026",
            "bookmaker": "betfair_exchange",
            "code": "BFE",
            "phase": "open",
            "market": "1x2",
            "is_aggregate": False,
            "source": "betfair",
            "captured_at": CAPTURED,
        }
    ]
    assert snap.set_aside == () and snap.notes == ()


def test_the_best_back_price_is_the_highest_offered_whatever_the_order() -> None:
    runner = {
        "ex": {
            "availableToBack": [{"price": 2.0, "size": 3.0}, {"price": 2.12, "size": 1.0}],
            "availableToLay": [{"price": 2.5, "size": 9.0}],
        }
    }
    assert best_back_price(runner) == 2.12
    assert (
        best_back_price({"ex": {"availableToBack": [], "availableToLay": [{"price": 2}]}}) is None
    )
    assert best_back_price({}) is None
    assert best_back_price({"ex": {"availableToBack": [{"price": 1.0}, {"price": None}]}}) is None


def test_home_and_away_follow_sort_priority_not_list_order() -> None:
    entry = catalogue_entry("1.240002", "Arsenal", "Chelsea")
    entry["runners"].reverse()
    runners = match_runners(entry)
    assert (runners.home, runners.away) == ("Arsenal", "Chelsea")
    assert sorted(runners.outcomes.values()) == ["A", "D", "H"]
    assert runners.outcomes[DRAW_ID] == "D"


def test_a_suspended_or_in_play_market_keeps_its_fixture_and_gives_no_price() -> None:
    suspended = catalogue_entry("1.240003", "Arsenal", "Chelsea")
    in_play = catalogue_entry("1.240004", "Man Utd", "Fulham")
    books = [market_book(suspended, status="SUSPENDED"), market_book(in_play, inplay=True)]
    snap = snapshot([suspended, in_play], books)

    assert len(snap.fixtures) == 2 and snap.odds.empty
    assert tuple(snap.odds.columns) == ODDS_COLUMNS
    assert snap.notes == (
        "betfair: market 1.240003 (Arsenal v Chelsea) is SUSPENDED: no prices taken",
        "betfair: market 1.240004 (Man Utd v Fulham) is in play: no pre-match prices taken",
    )


def test_a_runner_without_a_back_price_gives_no_row_and_a_note() -> None:
    entry = catalogue_entry("1.240005", "Arsenal", "Chelsea")
    book = market_book(entry, backs=([2.1], [], [3.4]))
    snap = snapshot([entry], [book])
    assert snap.odds["outcome"].tolist() == ["H", "D"]
    assert snap.notes == ("betfair: market 1.240005 (Arsenal v Chelsea) has no back price for A",)

    book["runners"][0]["status"] = "REMOVED"
    assert snapshot([entry], [book]).odds["outcome"].tolist() == ["D"]


def test_a_market_without_its_book_keeps_the_fixture_with_a_note() -> None:
    entry = catalogue_entry("1.240006", "Arsenal", "Chelsea")
    snap = snapshot([entry], [])
    assert len(snap.fixtures) == 1 and snap.odds.empty
    assert "without a market book" in snap.notes[0]


def test_a_closed_market_is_set_aside() -> None:
    entry = catalogue_entry("1.240007", "Arsenal", "Chelsea")
    snap = snapshot([entry], [market_book(entry, status="CLOSED")])
    assert snap.fixtures.empty and snap.odds.empty
    (aside,) = snap.set_aside
    assert aside.reason == "market 1.240007 is CLOSED (settled or voided)"


def test_unknown_team_names_set_the_fixture_aside_and_name_them() -> None:
    known = catalogue_entry("1.240008", "Atletico Madrid", "Sevilla", competition=LIGA)
    unknown = catalogue_entry("1.240009", "Real Oviedo", "Girona", competition=LIGA)
    snap = snapshot([known, unknown], [market_book(known), market_book(unknown)])

    assert snap.fixtures["match_id"].tolist() == ["sp1-20250816-ath-madrid-sevilla"]
    assert set(snap.odds["match_id"]) == {"sp1-20250816-ath-madrid-sevilla"}
    (aside,) = snap.set_aside
    assert (aside.source, aside.league, aside.home_team, aside.away_team) == (
        "betfair",
        "SP1",
        "Real Oviedo",
        "Girona",
    )
    assert aside.reason == "team names not in configs/aliases.yaml: Girona, Real Oviedo"


def test_an_event_name_that_reads_the_teams_the_other_way_is_set_aside() -> None:
    entry = catalogue_entry("1.240010", "Arsenal", "Chelsea", event_name="Chelsea v Arsenal")
    snap = snapshot([entry], [market_book(entry)])
    assert snap.fixtures.empty and snap.odds.empty
    (aside,) = snap.set_aside
    assert (aside.home_team, aside.away_team) == ("Chelsea", "Arsenal")
    assert "does not read Arsenal v Chelsea" in aside.reason
    # A name that is not "Home v Away" says nothing either way: the runners decide.
    other = catalogue_entry("1.240011", "Arsenal", "Chelsea", event_name="Arsenal - Chelsea")
    assert len(snapshot([other], []).fixtures) == 1


def test_a_market_not_home_away_and_draw_is_set_aside() -> None:
    entry = catalogue_entry("1.240012", "Arsenal", "Chelsea")
    entry["runners"] = entry["runners"][:2]
    (aside,) = snapshot([entry], []).set_aside
    assert "are not two teams and 'The Draw'" in aside.reason
    with pytest.raises(ValueError, match="not two teams"):
        match_runners(entry)


def test_a_competition_of_no_configured_league_is_set_aside() -> None:
    entry = catalogue_entry("1.240013", "Arsenal", "Chelsea", competition="999")
    (aside,) = snapshot([entry], [market_book(entry)]).set_aside
    assert aside.league is None and "competition '999'" in aside.reason


def test_the_kickoff_is_utc_whatever_the_zone_and_sets_date_and_season() -> None:
    entry = catalogue_entry("1.240014", "Arsenal", "Chelsea", start="2026-05-24T15:00:00+01:00")
    fixture = snapshot([entry], []).fixtures.iloc[0]
    assert fixture["kickoff"] == pd.Timestamp("2026-05-24 14:00")
    assert fixture["season"] == "2025-2026"
    assert fixture["match_id"] == "e0-20260524-arsenal-chelsea"
    assert snapshot([entry], [], season_start_month=5).fixtures["season"].item() == "2026-2027"
    assert to_utc_naive(pd.Timestamp("2025-01-01 12:00", tz="Europe/Madrid")) == pd.Timestamp(
        "2025-01-01 11:00"
    )


def test_a_late_kickoff_takes_the_uk_day_as_football_data_s_files_do() -> None:
    entry = catalogue_entry("1.240015", "Arsenal", "Chelsea", start="2026-05-24T23:30:00Z")
    fixture = snapshot([entry], []).fixtures.iloc[0]
    assert fixture["kickoff"] == pd.Timestamp("2026-05-24 23:30")  # UTC, as every kick-off
    assert fixture["date"] == pd.Timestamp("2026-05-25")  # 00:30 in the UK (BST)
    assert fixture["match_id"] == "e0-20260525-arsenal-chelsea"


def test_a_second_market_for_the_same_match_is_set_aside() -> None:
    first = catalogue_entry("1.240015", "Arsenal", "Chelsea")
    second = catalogue_entry("1.240016", "Arsenal", "Chelsea")
    snap = snapshot([first, second], [market_book(first), market_book(second)])
    assert len(snap.fixtures) == 1 and len(snap.odds) == 3
    assert "a second MATCH_ODDS market" in snap.set_aside[0].reason


def test_no_markets_give_empty_frames_of_the_canonical_columns() -> None:
    snap = snapshot([], [], notes=["betfair: a note"])
    assert tuple(snap.fixtures.columns) == FIXTURE_COLUMNS
    assert tuple(snap.odds.columns) == ODDS_COLUMNS
    assert snap.notes == ("betfair: a note",)


def test_competition_ids_of_the_wanted_leagues() -> None:
    leagues = {
        "E0": {"the-odds-api": "soccer_epl", "betfair": "10932509"},
        "SP1": {"betfair": 117},
        "X1": {"the-odds-api": "x"},
    }
    assert competition_leagues(leagues) == ({"10932509": "E0", "117": "SP1"}, ())
    assert competition_leagues(leagues, ["SP1", "X1", "Z9"]) == ({"117": "SP1"}, ("X1", "Z9"))
    assert competition_leagues(leagues, []) == ({}, ())


def test_settings_defaults_are_the_yaml_and_typos_fail() -> None:
    yaml_block = yaml.safe_load((REPO / "configs" / "sources.yaml").read_text())["betfair"]
    assert BetfairSettings.from_config(yaml_block) == BetfairSettings()
    with pytest.raises(ValueError, match="unknown"):
        BetfairSettings.from_config({"comission": 0.02})
    for bad in ({"max_results": 0}, {"max_results": 1001}, {"app_key_env": ""}):
        with pytest.raises(ValueError, match="betfair"):
            BetfairSettings.from_config(bad)


def test_the_parser_imports_no_client() -> None:
    code = (
        "import sys, sabiscore.betfair\n"
        "print(','.join(m for m in ('betfairlightweight', 'requests', 'httpx', 'prefect') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
