"""The live-source registry and The Odds API's adapter, against a local stand-in replaying the
API's documented answers (never the internet)."""

from __future__ import annotations

import copy
import logging
import socket
import sys
import traceback
import types

import pandas as pd
import pytest

from sabiscore.config import load_config
from sabiscore.live import LiveSnapshot, empty_fixtures, empty_odds
from tasks.live_sources import LiveSourceError, fetch_live, no_public_api_notes
from tests.helpers import Recorded, recording_server

SECRET = "d6c2f7e1a9b34c58b0e2deadbeef1234"
CAPTURED_AT = pd.Timestamp("2024-08-20 08:30:00", tz="UTC")
QUOTA = {"x-requests-remaining": "478", "x-requests-used": "22", "x-requests-last": "2"}


def h2h(key: str, home: str, away: str, prices: tuple[float, float, float]) -> dict:
    return {
        "key": key,
        "title": key.title(),
        "last_update": "2024-08-20T08:26:02Z",
        "markets": [
            {
                "key": "h2h",
                "last_update": "2024-08-20T08:26:02Z",
                "outcomes": [
                    {"name": home, "price": prices[0]},
                    {"name": away, "price": prices[2]},
                    {"name": "Draw", "price": prices[1]},
                ],
            }
        ],
    }


def event(sport: str, home: str, away: str, commence: str, books: list[dict]) -> dict:
    return {
        "id": f"{sport}-{home}",
        "sport_key": sport,
        "sport_title": sport,
        "commence_time": commence,
        "home_team": home,
        "away_team": away,
        "bookmakers": books,
    }


#: What The Odds API answers per sport: books we know, Pinnacle among them, one we do not
#: (betway), and an event with a club the alias table does not know.
BRIGHTON, UNITED = "Brighton and Hove Albion", "Manchester United"
ANSWERS = {
    "soccer_epl": [
        event(
            "soccer_epl",
            BRIGHTON,
            UNITED,
            "2024-08-24T11:30:00Z",
            [
                h2h("pinnacle", BRIGHTON, UNITED, (2.45, 3.62, 2.86)),
                h2h("williamhill", BRIGHTON, UNITED, (2.4, 3.5, 2.8)),
                h2h("betway", BRIGHTON, UNITED, (2.38, 3.75, 2.6)),
            ],
        ),
        event(
            "soccer_epl",
            "Wrexham Lager XI",
            "Arsenal",
            "2024-08-25T15:00:00Z",
            [
                h2h("pinnacle", "Wrexham Lager XI", "Arsenal", (9.0, 6.0, 1.3)),
            ],
        ),
    ],
    "soccer_germany_bundesliga": [
        event(
            "soccer_germany_bundesliga",
            "Bayern Munich",
            "Borussia Monchengladbach",
            "2024-08-24T13:30:00Z",
            [
                h2h("pinnacle", "Bayern Munich", "Borussia Monchengladbach", (1.3, 6.0, 9.5)),
                h2h("unibet_eu", "Bayern Munich", "Borussia Monchengladbach", (1.28, 6, 9)),
            ],
        ),
    ],
}

INVALID_KEY = {
    "message": "API key is not valid or is missing. Get a key at https://the-odds-api.com",
    "error_code": "INVALID_KEY",
    "details_url": "https://the-odds-api.com/liveapi/guides/v4/api-error-codes.html#invalid-key",
}
OUT_OF_CREDITS = {
    "message": "Usage quota has been reached. See usage plans at https://the-odds-api.com",
    "error_code": "OUT_OF_USAGE_CREDITS",
    "details_url": "https://the-odds-api.com/liveapi/guides/v4/api-error-codes.html",
}


def sport_of(request: Recorded) -> str:
    return request.route.split("/")[3]


def documented(request: Recorded) -> tuple[int, object, dict]:
    return 200, ANSWERS.get(sport_of(request), []), QUOTA


def config_for(base_url: str) -> dict:
    config = copy.deepcopy(load_config())
    config["sources"]["the-odds-api"]["base_url"] = base_url
    return config


@pytest.fixture()
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ODDS_API_KEY", SECRET)
    return SECRET


@pytest.fixture(autouse=True)
def every_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything logged, httpx's own request lines included."""
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_key_never_shown(snapshot_or_error: object, caplog, capsys) -> None:
    shown = [caplog.text, *capsys.readouterr()]
    if isinstance(snapshot_or_error, LiveSnapshot):
        shown += [*snapshot_or_error.notes, *(s.reason for s in snapshot_or_error.set_aside)]
    elif isinstance(snapshot_or_error, BaseException):
        shown += traceback.format_exception(snapshot_or_error)
    assert not [text for text in shown if SECRET in text]


def test_the_request_asks_each_league_wanted_for_its_decimal_1x2(key, caplog, capsys) -> None:
    with recording_server(documented) as (url, seen):
        snapshot = fetch_live("the-odds-api", config_for(url), CAPTURED_AT, leagues=["E0", "D1"])
    assert [r.route for r in seen] == [
        "/v4/sports/soccer_epl/odds",
        "/v4/sports/soccer_germany_bundesliga/odds",
    ]
    for request in seen:
        assert request.method == "GET"
        assert request.query == {
            "apiKey": [SECRET],
            "regions": ["eu,uk"],
            "markets": ["h2h"],
            "oddsFormat": ["decimal"],
            "dateFormat": ["iso"],
        }
    assert sorted(snapshot.fixtures["match_id"]) == [
        "d1-20240824-bayern-munich-m-gladbach",
        "e0-20240824-brighton-man-united",
    ]
    assert "HTTP Request" in caplog.text  # httpx's own line was logged, redacted
    assert_key_never_shown(snapshot, caplog, capsys)


def test_books_are_mapped_pinnacle_kept_an_unknown_book_named(key, caplog, capsys) -> None:
    with recording_server(documented) as (url, _):
        snapshot = fetch_live("the-odds-api", config_for(url), CAPTURED_AT, leagues=["E0", "D1"])
    odds = snapshot.odds
    brighton = odds[odds["match_id"] == "e0-20240824-brighton-man-united"]
    assert sorted(set(brighton["bookmaker"])) == ["pinnacle", "william_hill"]
    pinnacle = brighton[brighton["bookmaker"] == "pinnacle"].set_index("outcome")["price"]
    assert pinnacle.to_dict() == {"H": 2.45, "D": 3.62, "A": 2.86}
    assert set(odds[odds["league"] == "D1"]["bookmaker"]) == {"pinnacle", "unibet"}
    assert set(odds["captured_at"]) == {CAPTURED_AT}
    assert any("betway" in n and "bookmakers not in" in n for n in snapshot.notes)
    assert_key_never_shown(snapshot, caplog, capsys)


def test_an_unmapped_club_is_set_aside_with_a_warning_naming_it(key, caplog, capsys) -> None:
    with recording_server(documented) as (url, _):
        snapshot = fetch_live("the-odds-api", config_for(url), CAPTURED_AT, leagues=["E0"])
    (aside,) = snapshot.set_aside
    assert aside.home_team == "Wrexham Lager XI" and "configs/aliases.yaml" in aside.reason
    assert not snapshot.odds["match_id"].str.contains("wrexham").any()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("'Wrexham Lager XI'" in w and "configs/aliases.yaml" in w for w in warnings)


def test_quota_headers_are_logged_and_noted_on_every_answer(key, caplog, capsys) -> None:
    with recording_server(documented) as (url, _):
        snapshot = fetch_live("the-odds-api", config_for(url), CAPTURED_AT, leagues=["E0", "D1"])
    quota = [n for n in snapshot.notes if "quota" in n]
    assert quota == [
        "the-odds-api soccer_epl quota: this request 2, used 22, remaining 478",
        "the-odds-api soccer_germany_bundesliga quota: this request 2, used 22, remaining 478",
    ]
    assert all(q in caplog.text for q in quota)


def test_a_refused_key_is_a_clear_error_naming_the_variable(key, caplog, capsys) -> None:
    with recording_server(lambda r: (401, INVALID_KEY, QUOTA)) as (url, seen):
        with pytest.raises(LiveSourceError, match=r"\$ODDS_API_KEY") as refused:
            fetch_live("the-odds-api", config_for(url), CAPTURED_AT, leagues=["E0", "D1"])
    assert len(seen) == 1 and seen[0].query["apiKey"] == [SECRET]
    assert "INVALID_KEY" in str(refused.value) and "401" in str(refused.value)
    assert "remaining 478" in caplog.text
    assert_key_never_shown(refused.value, caplog, capsys)


def test_out_of_quota_stops_and_keeps_what_was_answered(key, caplog, capsys) -> None:
    spent = {"x-requests-remaining": "0", "x-requests-used": "500", "x-requests-last": "0"}

    def answer(request: Recorded) -> tuple[int, object, dict]:
        if sport_of(request) == "soccer_epl":
            return documented(request)
        return 429, OUT_OF_CREDITS, spent

    with recording_server(answer) as (url, seen):
        snapshot = fetch_live(
            "the-odds-api", config_for(url), CAPTURED_AT, leagues=["E0", "D1", "I1"]
        )
    assert [sport_of(r) for r in seen] == ["soccer_epl", "soccer_germany_bundesliga"]
    assert set(snapshot.fixtures["league"]) == {"E0"}
    (stop,) = [n for n in snapshot.notes if "429" in n]
    assert "OUT_OF_USAGE_CREDITS" in stop and "D1 and the leagues after it not read" in stop
    spent_note = "soccer_germany_bundesliga quota: this request 0, used 500, remaining 0"
    assert f"the-odds-api {spent_note}" in snapshot.notes
    assert "remaining 0" in caplog.text
    assert_key_never_shown(snapshot, caplog, capsys)


def test_without_a_key_nothing_is_asked_and_the_note_says_to_set_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ODDS_API_KEY", raising=False)
    with recording_server(documented) as (url, seen):
        snapshot = fetch_live("the-odds-api", config_for(url), CAPTURED_AT)
    assert seen == [] and snapshot.fixtures.empty and snapshot.odds.empty
    assert "$ODDS_API_KEY is not set" in snapshot.notes[0]


def test_a_server_error_is_reported_without_the_key(key, caplog, capsys) -> None:
    with recording_server(lambda r: (503, {"message": "down for maintenance"}, {})) as (url, _):
        with pytest.raises(LiveSourceError, match="503 .*down for maintenance") as failed:
            fetch_live("the-odds-api", config_for(url), CAPTURED_AT, leagues=["E0"])
    assert_key_never_shown(failed.value, caplog, capsys)


def test_no_answer_at_all_is_reported_without_the_key(key, caplog, capsys) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pytest.raises(LiveSourceError, match="no answer from") as failed:
        fetch_live(
            "the-odds-api", config_for(f"http://127.0.0.1:{port}"), CAPTURED_AT, leagues=["E0"]
        )
    assert_key_never_shown(failed.value, caplog, capsys)


def test_an_answer_not_a_list_of_events_is_refused(key) -> None:
    with recording_server(lambda r: (200, {"data": []}, QUOTA)) as (url, _):
        with pytest.raises(LiveSourceError, match="not a JSON list of events"):
            fetch_live("the-odds-api", config_for(url), CAPTURED_AT, leagues=["E0"])


# --- the registry: betfair, plug-ins, settings with no public API ---------------------------


def plugin_source(config: dict, captured_at: pd.Timestamp) -> LiveSnapshot:
    """A plug-in of the documented shape: one fixture, no prices."""
    fixtures = pd.DataFrame(
        [
            {
                "match_id": "e0-20240824-arsenal-chelsea",
                "league": "E0",
                "season": "2024-2025",
                "date": pd.Timestamp("2024-08-24"),
                "kickoff": pd.Timestamp("2024-08-24 14:00"),
                "home_team": "Arsenal",
                "away_team": "Chelsea",
                "status": "fixture",
                "source": "mine",
                "extra": "dropped",
            }
        ]
    )
    return LiveSnapshot("mine", captured_at, fixtures, empty_odds(), notes=("hello",))


def plugin_frame(config: dict, captured_at: pd.Timestamp) -> pd.DataFrame:
    return empty_fixtures()


def plugin_short(config: dict, captured_at: pd.Timestamp) -> LiveSnapshot:
    return LiveSnapshot("mine", captured_at, empty_fixtures().drop(columns="kickoff"), empty_odds())


def plugin_unsafe(config: dict, captured_at: pd.Timestamp) -> LiveSnapshot:
    snapshot = plugin_source(config, captured_at)
    snapshot.fixtures.loc[0, "match_id"] = "../../admin"
    return snapshot


def test_a_plugin_of_the_documented_shape_is_called_and_its_answer_kept() -> None:
    config = load_config()
    snapshot = fetch_live(f"{__name__}:plugin_source", config, CAPTURED_AT)
    assert snapshot.fixtures["match_id"].tolist() == ["e0-20240824-arsenal-chelsea"]
    assert "extra" not in snapshot.fixtures and snapshot.notes == ("hello",)
    narrowed = fetch_live(f"{__name__}:plugin_source", config, CAPTURED_AT, leagues=["D1"])
    assert narrowed.fixtures.empty


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        (f"{__name__}:plugin_frame", "answered a DataFrame, not a sabiscore.live.LiveSnapshot"),
        (f"{__name__}:plugin_short", r"fixtures table lacks the canonical columns \['kickoff'\]"),
        (f"{__name__}:plugin_unsafe", "match ids not of make_match_id's shape"),
        (f"{__name__}:no_such_function", "has no function 'no_such_function'"),
        ("no_such_package.odds:fetch", "cannot import 'no_such_package.odds'"),
    ],
)
def test_a_plugin_out_of_shape_fails_with_what_is_wrong(kind: str, match: str) -> None:
    with pytest.raises(LiveSourceError, match=match):
        fetch_live(kind, load_config(), CAPTURED_AT)


def test_unknown_kinds_and_football_data_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown live source 'odds-portal'; known: the-odds-api"):
        fetch_live("odds-portal", {}, CAPTURED_AT)
    with pytest.raises(ValueError, match="football-data is read by the odds refresh itself"):
        fetch_live("football-data", {}, CAPTURED_AT)


def test_betfair_is_the_betfair_adapter_imported_when_asked(monkeypatch) -> None:
    calls = []

    def fetch_betfair(config: dict, captured_at: pd.Timestamp, leagues=None) -> LiveSnapshot:
        calls.append((config, captured_at, leagues))
        return LiveSnapshot.empty("betfair", captured_at, "stand-in")

    module = types.ModuleType("tasks.betfair_source")
    module.fetch_betfair = fetch_betfair
    monkeypatch.setitem(sys.modules, "tasks.betfair_source", module)
    config = {"sources": {}}
    snapshot = fetch_live("betfair", config, CAPTURED_AT)
    fetch_live("betfair", config, CAPTURED_AT, leagues=["E0"])
    assert calls == [(config, CAPTURED_AT, None), (config, CAPTURED_AT, ["E0"])]
    assert snapshot.notes == ("stand-in",)


def test_settings_with_no_public_api_are_reported_never_shown(caplog) -> None:
    config = load_config()
    environ = {"PINNACLE_API_KEY": "pinnacle-" + SECRET, "OPTA_API_KEY": "  "}
    (note,) = no_public_api_notes(config, environ)
    assert note.startswith("PINNACLE_API_KEY is set, but Pinnacle closed its public odds API")
    assert note.endswith(": it is not used")
    assert SECRET not in note and SECRET not in caplog.text and note in caplog.text
    both = no_public_api_notes(config, {"PINNACLE_API_KEY": "x", "OPTA_API_KEY": "y"})
    assert [n.split()[0] for n in both] == ["PINNACLE_API_KEY", "OPTA_API_KEY"]
    assert "Opta (Stats Perform) has no public API" in both[1]
    assert no_public_api_notes(config, {}) == ()
