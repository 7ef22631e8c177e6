"""The Odds API v4's answer read into the canonical live snapshot (sabiscore/odds_api.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from sabiscore.config import load_config
from sabiscore.live import FIXTURE_COLUMNS, ODDS_COLUMNS, TeamAliases
from sabiscore.odds_api import (
    OddsApiSettings,
    h2h_prices,
    parse_odds,
    quota_note,
    redact,
    sport_keys,
)

CAPTURED_AT = pd.Timestamp("2024-08-20 08:30:00", tz="UTC")


def h2h(key: str, home: str, away: str, prices: tuple[float, float, float]) -> dict:
    """One book of an event, as The Odds API documents it (outcomes in its own order)."""
    return {
        "key": key,
        "title": key.title(),
        "last_update": "2024-08-20T08:26:02Z",
        "markets": [
            {
                "key": "h2h",
                "last_update": "2024-08-20T08:26:02Z",
                "outcomes": [
                    {"name": away, "price": prices[2]},
                    {"name": "Draw", "price": prices[1]},
                    {"name": home, "price": prices[0]},
                ],
            }
        ],
    }


def event(home: str, away: str, commence: str, books: list[dict]) -> dict:
    return {
        "id": "e912304de2b2ce35b473ce2ecd3d1502",
        "sport_key": "soccer_epl",
        "sport_title": "EPL",
        "commence_time": commence,
        "home_team": home,
        "away_team": away,
        "bookmakers": books,
    }


BRIGHTON, UNITED = "Brighton and Hove Albion", "Manchester United"
FOREST, WOLVES = "Nottingham Forest", "Wolverhampton Wanderers"


@pytest.fixture(scope="module")
def config() -> dict:
    return load_config()


@pytest.fixture(scope="module")
def settings(config: dict) -> OddsApiSettings:
    return OddsApiSettings.from_config(config["sources"])


@pytest.fixture(scope="module")
def aliases(config: dict) -> TeamAliases:
    return TeamAliases.from_config(config["aliases"])


def documented_answer() -> list[dict]:
    """Two EPL events: books we know (Pinnacle, William Hill, Unibet under two keys), one we
    do not (betway), an exchange's lay market beside its h2h."""
    lay = h2h("betfair_ex_uk", FOREST, WOLVES, (2.2, 3.5, 3.6))
    lay["markets"].append({**lay["markets"][0], "key": "h2h_lay"})
    lay["markets"][1]["outcomes"] = [{"name": n, "price": 9.9} for n in (FOREST, WOLVES, "Draw")]
    return [
        event(
            BRIGHTON,
            UNITED,
            "2024-08-24T11:30:00Z",
            [
                h2h("pinnacle", BRIGHTON, UNITED, (2.45, 3.62, 2.86)),
                h2h("williamhill", BRIGHTON, UNITED, (2.40, 3.50, 2.80)),
                h2h("unibet_uk", BRIGHTON, UNITED, (2.41, 3.55, 2.75)),
                h2h("unibet_eu", BRIGHTON, UNITED, (2.42, 3.60, 2.70)),
                h2h("betway", BRIGHTON, UNITED, (2.38, 3.75, 2.60)),
            ],
        ),
        event(FOREST, WOLVES, "2024-08-31T14:00:00Z", [lay]),
    ]


def test_a_documented_answer_becomes_fixtures_on_football_data_names(settings, aliases) -> None:
    snapshot = parse_odds({"E0": documented_answer()}, settings, aliases, CAPTURED_AT)
    fixtures = snapshot.fixtures
    assert list(fixtures.columns) == list(FIXTURE_COLUMNS)
    assert fixtures["match_id"].tolist() == [
        "e0-20240824-brighton-man-united",
        "e0-20240831-nott-m-forest-wolves",
    ]
    first = fixtures.iloc[0]
    assert (first.home_team, first.away_team) == ("Brighton", "Man United")
    assert (first.league, first.season, first.status) == ("E0", "2024-2025", "fixture")
    assert first.source == "the-odds-api"
    assert first.kickoff == pd.Timestamp("2024-08-24 11:30") and first.kickoff.tzinfo is None
    assert first.date == pd.Timestamp("2024-08-24")
    assert snapshot.source == "the-odds-api" and snapshot.set_aside == ()


def test_prices_are_one_row_per_match_book_and_outcome_of_the_books_we_know(
    settings, aliases
) -> None:
    snapshot = parse_odds({"E0": documented_answer()}, settings, aliases, CAPTURED_AT)
    odds = snapshot.odds
    assert list(odds.columns) == list(ODDS_COLUMNS)
    brighton = odds[odds["match_id"] == "e0-20240824-brighton-man-united"]
    pinnacle = brighton[brighton["bookmaker"] == "pinnacle"].set_index("outcome")["price"]
    assert pinnacle.to_dict() == {"H": 2.45, "D": 3.62, "A": 2.86}
    assert sorted(set(brighton["bookmaker"])) == ["pinnacle", "unibet", "william_hill"]
    # unibet under two keys: the one listed first in configs/sources.yaml is kept
    unibet = brighton[brighton["bookmaker"] == "unibet"]
    assert set(unibet["code"]) == {"unibet_eu"} and len(unibet) == 3
    assert set(odds["phase"]) == {"open"} and set(odds["market"]) == {"1x2"}
    assert not odds["is_aggregate"].any() and set(odds["captured_at"]) == {CAPTURED_AT}
    # the exchange's back prices, never its lay prices
    forest = odds[odds["match_id"] == "e0-20240831-nott-m-forest-wolves"]
    assert forest.set_index("outcome")["price"].to_dict() == {"H": 2.2, "D": 3.5, "A": 3.6}
    assert set(forest["bookmaker"]) == {"betfair_exchange"}


def test_an_unknown_bookmaker_is_left_out_and_named(settings, aliases) -> None:
    snapshot = parse_odds({"E0": documented_answer()}, settings, aliases, CAPTURED_AT)
    assert "betway" not in set(snapshot.odds["code"])
    (note,) = [n for n in snapshot.notes if "bookmakers not in" in n]
    assert "betway" in note and "configs/sources.yaml" in note


def test_a_team_the_table_does_not_know_is_set_aside_not_guessed(settings, aliases) -> None:
    events = [
        *documented_answer(),
        event(
            "Sporting Lisbon",
            "Arsenal",
            "2024-08-25T15:00:00Z",
            [h2h("pinnacle", "Sporting Lisbon", "Arsenal", (3.1, 3.4, 2.3))],
        ),
    ]
    snapshot = parse_odds({"E0": events}, settings, aliases, CAPTURED_AT)
    (aside,) = snapshot.set_aside
    assert (aside.league, aside.home_team, aside.away_team) == ("E0", "Sporting Lisbon", "Arsenal")
    assert "'Sporting Lisbon'" in aside.reason and "configs/aliases.yaml" in aside.reason
    assert "Arsenal'" not in aside.reason
    assert len(snapshot.fixtures) == 2
    assert not snapshot.odds["match_id"].str.contains("sporting").any()
    (note,) = [n for n in snapshot.notes if "aliases.yaml" in n]
    assert "1 fixture(s) set aside" in note and "'Sporting Lisbon'" in note


def test_a_match_already_kicked_off_is_set_aside(settings, aliases) -> None:
    started = event(
        BRIGHTON,
        UNITED,
        "2024-08-20T08:00:00Z",
        [h2h("pinnacle", BRIGHTON, UNITED, (1.5, 4.0, 7.0))],
    )
    snapshot = parse_odds({"E0": [started]}, settings, aliases, CAPTURED_AT)
    assert snapshot.fixtures.empty and snapshot.odds.empty
    assert "in-play" in snapshot.set_aside[0].reason


def test_a_malformed_event_is_set_aside_with_its_reason(settings, aliases) -> None:
    broken = {"id": "x", "home_team": "Arsenal", "away_team": "Chelsea"}  # no commence_time
    snapshot = parse_odds({"E0": [broken]}, settings, aliases, CAPTURED_AT)
    assert snapshot.fixtures.empty
    assert "documented shape" in snapshot.set_aside[0].reason


def test_bookmakers_not_in_the_documented_shape_are_skipped(settings, aliases) -> None:
    books = ["pinnacle", {"key": "coral", "markets": "h2h"}]
    odd = event("Arsenal", "Chelsea", "2024-08-25T15:00:00Z", books)
    snapshot = parse_odds({"E0": [odd]}, settings, aliases, CAPTURED_AT)
    assert len(snapshot.fixtures) == 1 and snapshot.odds.empty


def test_a_book_without_three_prices_above_one_is_left_out() -> None:
    books = [
        h2h("pinnacle", "Arsenal", "Chelsea", (1.9, 3.6, 4.1)),
        h2h("williamhill", "Arsenal", "Chelsea", (1.9, 1.0, 4.1)),
        {
            "key": "coral",
            "markets": [{"key": "h2h", "outcomes": [{"name": "Arsenal", "price": 2}]}],
        },
        h2h("skybet", "Arsenal", "Chelsea", (1.9, float("nan"), 4.1)),
    ]
    prices, incomplete = h2h_prices(event("Arsenal", "Chelsea", "2024-08-25T15:00:00Z", books))
    assert prices == {"pinnacle": {"H": 1.9, "D": 3.6, "A": 4.1}}
    assert incomplete == ["williamhill", "coral", "skybet"]


def test_answers_of_two_leagues_carry_their_league_and_season(settings, aliases) -> None:
    bundesliga = [
        event(
            "Bayern Munich",
            "Borussia Monchengladbach",
            "2025-01-25T14:30:00Z",
            [h2h("pinnacle", "Bayern Munich", "Borussia Monchengladbach", (1.3, 6.0, 9.0))],
        )
    ]
    snapshot = parse_odds(
        {"E0": documented_answer(), "D1": bundesliga}, settings, aliases, CAPTURED_AT
    )
    d1 = snapshot.fixtures[snapshot.fixtures["league"] == "D1"].iloc[0]
    assert d1.match_id == "d1-20250125-bayern-munich-m-gladbach"
    assert d1.season == "2024-2025"
    assert set(snapshot.odds[snapshot.odds["league"] == "D1"]["match_id"]) == {d1.match_id}


def test_an_answer_not_a_list_is_refused(settings, aliases) -> None:
    with pytest.raises(ValueError, match="expected a list of events"):
        parse_odds({"E0": {"message": "x"}}, settings, aliases, CAPTURED_AT)


def test_quota_headers_become_a_note() -> None:
    headers = {"x-requests-remaining": "0", "X-Requests-Used": "500", "x-requests-last": "2"}
    assert quota_note(headers, "soccer_epl") == (
        "the-odds-api soccer_epl quota: this request 2, used 500, remaining 0"
    )
    assert "remaining ?" in quota_note({"x-requests-used": "3"}, "soccer_epl")


def test_redact_hides_the_key_wherever_the_url_travels() -> None:
    text = "Client error '401' for url 'http://x/v4/sports/epl/odds?apiKey=s3cr3t&regions=eu'"
    assert "s3cr3t" not in redact(text) and "apiKey=***&regions=eu" in redact(text)
    assert redact("...odds?regions=eu&APIKEY=s3cr3t") == "...odds?regions=eu&APIKEY=***"


def test_sport_keys_ask_only_the_leagues_wanted(config) -> None:
    keys, notes = sport_keys(config["sources"], ["E0", "D1"])
    assert keys == {"E0": "soccer_epl", "D1": "soccer_germany_bundesliga"} and notes == []
    every, _ = sport_keys(config["sources"])
    assert set(every) == {"E0", "E1", "SP1", "D1", "I1", "F1"}
    _, notes = sport_keys(config["sources"], ["N1"])
    assert "N1" in notes[0]


def test_settings_defaults_equal_the_yaml(config) -> None:
    from_yaml = OddsApiSettings.from_config(config["sources"])
    default = OddsApiSettings()
    for name in ("base_url", "key_env", "regions", "markets", "timeout_s"):
        assert getattr(from_yaml, name) == getattr(default, name), name
    assert from_yaml.bookmakers["pinnacle"] == "pinnacle"
    assert from_yaml.query() == {
        "regions": "eu,uk",
        "markets": "h2h",
        "oddsFormat": "decimal",
        "dateFormat": "iso",
    }


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"the-odds-api": {"regoins": ["eu"]}}, "unknown the-odds-api keys"),
        ({"the-odds-api": {"markets": ["totals"]}}, "must include 'h2h'"),
        ({"the-odds-api": {"regions": []}}, "regions must be names"),
        ({"the-odds-api": {"timeout_s": 0}}, "timeout_s must be > 0"),
    ],
)
def test_bad_settings_are_refused(settings: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        OddsApiSettings.from_config(settings)


@pytest.mark.parametrize(
    ("commence", "day"),
    [
        ("2024-08-24T23:30:00Z", "20240825"),  # 00:30 in the UK (BST): the files' next day
        ("2024-12-07T23:30:00Z", "20241207"),  # 23:30 in the UK (GMT): the same day
    ],
)
def test_a_late_kickoff_takes_the_uk_day_as_football_data_s_files_do(
    settings, aliases, commence: str, day: str
) -> None:
    answer = [event(BRIGHTON, UNITED, commence, [h2h("pinnacle", BRIGHTON, UNITED, (2, 3, 4))])]
    fixture = parse_odds({"E0": answer}, settings, aliases, CAPTURED_AT).fixtures.iloc[0]
    assert fixture.match_id == f"e0-{day}-brighton-man-united"
    assert fixture.date == pd.Timestamp(day)
    assert fixture.kickoff == pd.Timestamp(commence).tz_localize(None)  # the kick-off stays UTC
