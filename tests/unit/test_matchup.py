"""Matchup features: the row of a match named by league and teams must be the row
`build_features` gives that match as a fixture, with its kick-off and opening prices."""

from __future__ import annotations

import doctest
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sabiscore import matchup
from sabiscore.features import FAMILY_PREFIXES, EloConfig, FeatureConfig, build_features
from sabiscore.football_data import STAT_COLUMNS, parse_football_data
from sabiscore.matchup import MatchupFeaturizer, UnknownLeague, UnknownTeam
from sabiscore.synthetic import (
    LeagueSpec,
    SyntheticConfig,
    generate_league,
    write_football_data_csvs,
)

SMALL = SyntheticConfig(
    seed=5,
    first_season=2020,
    n_seasons=2,
    leagues=(LeagueSpec("SY1", 10, 1, "A"), LeagueSpec("SY2", 10, 2, "A")),
    promotion_places=2,
)
RESULT_COLUMNS = ["home_goals", "away_goals", "result", *STAT_COLUMNS]
ALL_BOOKS_SHIN = FeatureConfig.from_dict(
    {
        "market": {
            "books": ["pinnacle", "bet365", "market_avg"],
            "disagreement": True,
            "disagreement_books": None,
            "method": "shin",
        },
        "rest": {"cap_days": 30},
    }
)
SOME_FAMILIES_OFF = FeatureConfig.from_dict(
    {
        "form": {"enabled": False},
        "season_stage": {"enabled": False},
        "market": {"books": ["pinnacle"], "method": "power"},
    }
)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical matches and odds of two tiers over two seasons, two sides promoted between."""
    paths = write_football_data_csvs(generate_league(SMALL), tmp_path_factory.mktemp("fd"))
    parsed = [parse_football_data(p.read_bytes(), str(p)) for p in paths]
    matches = pd.concat([p.matches for p in parsed], ignore_index=True)
    odds = pd.concat([p.odds for p in parsed], ignore_index=True)
    return matches, odds


def _days(matches: pd.DataFrame, season_index: int) -> np.ndarray:
    season = sorted(matches["season"].unique())[season_index]
    return np.sort(matches.loc[matches["season"] == season, "date"].unique())


def _as_fixtures(rows: pd.DataFrame) -> pd.DataFrame:
    fixtures = rows.copy()
    fixtures[RESULT_COLUMNS] = np.nan
    fixtures["status"] = "fixture"
    return fixtures


def _opening_quotes(odds: pd.DataFrame, match_id: str) -> dict[str, tuple[float, ...]]:
    """Bookmaker -> (H, D, A) opening 1X2 prices of one match, the first quote winning."""
    rows = odds[(odds["match_id"] == match_id) & (odds["phase"] == "open")]
    quoted: dict[str, dict[str, float]] = {}
    one_x_two = rows.loc[rows["market"] == "1x2", ["bookmaker", "outcome", "price"]]
    for book, outcome, price in one_x_two.itertuples(index=False):
        quoted.setdefault(str(book), {}).setdefault(str(outcome), float(price))
    return {book: tuple(q[o] for o in "HDA") for book, q in quoted.items()}


def _request(match: pd.Series, odds: pd.DataFrame) -> dict:
    return {
        "league": match["league"],
        "home_team": match["home_team"],
        "away_team": match["away_team"],
        "kickoff": match["kickoff"],
        "odds": _opening_quotes(odds, match["match_id"]),
    }


@pytest.fixture(scope="module")
def mid_season(tables: tuple[pd.DataFrame, pd.DataFrame]) -> MatchupFeaturizer:
    """Built from the history up to the middle day of the first season."""
    matches, odds = tables
    cut = _days(matches, 0)[len(_days(matches, 0)) // 2]
    history = matches[matches["date"] <= cut]
    return MatchupFeaturizer.from_history(history, odds, FeatureConfig())


# --- exactness ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config, season_index, where",
    [
        (FeatureConfig(), 0, "middle"),
        (ALL_BOOKS_SHIN, 1, "middle"),
        (SOME_FAMILIES_OFF, 1, "late"),
    ],
)
def test_a_named_match_gets_the_row_build_features_gives_it_as_a_fixture(
    tables: tuple[pd.DataFrame, pd.DataFrame],
    config: FeatureConfig,
    season_index: int,
    where: str,
) -> None:
    matches, odds = tables
    days = _days(matches, season_index)
    cut = days[len(days) // 2] if where == "middle" else days[-4]
    history = matches[matches["date"] <= cut]
    following = matches[matches["date"] == matches.loc[matches["date"] > cut, "date"].min()]
    with_fixture = pd.concat([history, _as_fixtures(following)])
    expected = build_features(with_fixture, odds, config).loc[following["match_id"]]
    history_odds = odds[odds["match_id"].isin(history["match_id"])]

    featurizer = MatchupFeaturizer.from_history(history, history_odds, config)
    got = featurizer.features_frame([_request(m, odds) for _, m in following.iterrows()])

    assert featurizer.state_date == pd.Timestamp(cut)
    assert featurizer.columns == expected.columns.tolist() == got.columns.tolist()
    assert len(got) == len(following) > 1
    assert expected.notna().all().all()  # every feature is exercised, none NaN by accident
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-12, equal_nan=True)


def test_the_next_seasons_listed_fixtures_set_season_and_teams(
    tables: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """Across the summer: regressed ratings, empty season counts, the promoted sides listed."""
    matches, odds = tables
    first, second = _days(matches, 0), _days(matches, 1)
    history = matches[matches["date"] <= first[-1]]
    opening_day = _as_fixtures(matches[matches["date"] == second[0]])
    with_fixtures = pd.concat([history, opening_day])
    expected = build_features(with_fixtures, odds, FeatureConfig()).loc[opening_day["match_id"]]

    featurizer = MatchupFeaturizer.from_history(with_fixtures, odds, FeatureConfig())
    got = featurizer.features_frame([_request(m, odds) for _, m in opening_day.iterrows()])

    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-12, equal_nan=True)
    assert (got["stage_home_games_played"] == 0).all()
    teams = featurizer.teams()
    for league in ("SY1", "SY2"):
        old = history.loc[history["league"] == league, ["home_team", "away_team"]]
        new = opening_day.loc[opening_day["league"] == league, ["home_team", "away_team"]]
        assert len(set(new.stack()) - set(old.stack())) == 2  # two promoted (or relegated)
        assert teams[league] == sorted(set(old.stack()) | set(new.stack()))
        assert len(teams[league]) == 12


# --- behaviour on hand-made histories -------------------------------------------------------


def _tiny() -> pd.DataFrame:
    """T1: A 1-0 B on 1 Aug, C 2-2 A on 5 Aug; U1: X 0-0 Y on 3 Aug."""
    frame = pd.DataFrame(
        [
            ("T1", "2020-08-01", "A", "B", 1, 0),
            ("T1", "2020-08-05", "C", "A", 2, 2),
            ("U1", "2020-08-03", "X", "Y", 0, 0),
        ],
        columns=["league", "date", "home_team", "away_team", "home_goals", "away_goals"],
    )
    frame["date"] = pd.to_datetime(frame["date"])
    frame["season"] = "2020-2021"
    frame["match_id"] = [f"m{i}" for i in range(len(frame))]
    frame["status"] = "played"
    return frame


NO_ODDS = pd.DataFrame(
    {c: pd.Series(dtype=object) for c in ["match_id", "bookmaker", "phase", "market", "outcome"]}
    | {"price": pd.Series(dtype=float), "is_aggregate": pd.Series(dtype=bool)}
)
ELO_AND_REST = FeatureConfig.from_dict(
    {name: {"enabled": name in ("elo", "rest", "market")} for name in FAMILY_PREFIXES}
    | {"market": {"books": ["pinnacle", "bet365", "market_avg"], "disagreement": True}}
)


@pytest.fixture(scope="module")
def tiny() -> MatchupFeaturizer:
    config = replace(ELO_AND_REST, elo=EloConfig(k=20, home_advantage=60))
    return MatchupFeaturizer.from_history(_tiny(), NO_ODDS, config)


def _named(featurizer: MatchupFeaturizer, row: np.ndarray) -> pd.Series:
    return pd.Series(row, index=featurizer.columns)


def test_ratings_come_from_the_state_after_the_last_played_day(tiny: MatchupFeaturizer) -> None:
    assert tiny.state_date == pd.Timestamp("2020-08-05")
    assert tiny.teams() == {"T1": ["A", "B", "C"], "U1": ["X", "Y"]}
    got = _named(tiny, tiny.features("T1", "A", "B"))
    # A beat B 1-0 at home: expected 1 / (1 + 10^(-60/400)) = 0.585499, so A 1508.29003 and
    # B 1491.70997. At C, 2-2: C expected 1 / (1 + 10^(-(1560 - 1508.29003)/400)) = 0.573872,
    # so A gains 20 * 0.073872 = 1.47744 -> 1509.76747
    assert got["elo_home"] == pytest.approx(1509.76747, abs=1e-4)
    assert got["elo_away"] == pytest.approx(1491.70997, abs=1e-4)
    assert got["elo_diff"] == pytest.approx(1509.76747 + 60 - 1491.70997, abs=1e-4)


def test_rest_days_move_with_the_kickoff(tiny: MatchupFeaturizer) -> None:
    rest = ["rest_home_days", "rest_away_days", "rest_diff_days"]
    # A last played on 5 Aug, B on 1 Aug; the cap is 21 days
    assert _named(tiny, tiny.features("T1", "A", "B"))[rest].tolist() == [1, 5, -4]
    later = tiny.features("T1", "A", "B", kickoff="2020-08-20")
    assert _named(tiny, later)[rest].tolist() == [15, 19, -4]
    stamp = pd.Timestamp("2020-08-24 19:45", tz="Europe/London")
    assert _named(tiny, tiny.features("T1", "B", "A", kickoff=stamp))[rest].tolist() == [21, 19, 2]
    # only the rest columns move
    base = _named(tiny, tiny.features("T1", "A", "B", kickoff="2020-08-06"))
    changed = base.compare(_named(tiny, later))
    assert sorted(changed.index) == sorted(["rest_home_days", "rest_away_days"])


def test_market_features_from_the_quoted_prices_and_nan_without_them(
    tiny: MatchupFeaturizer,
) -> None:
    quoted = _named(
        tiny,
        tiny.features(
            "T1",
            "A",
            "B",
            odds={"pinnacle": (2.0, 4.0, 4.0), "bet365": (1.9, 3.5, 4.2), "bwin": (2.0, 3.5, 4.0)},
        ),
    )
    assert quoted[["mkt_pinnacle_H", "mkt_pinnacle_D", "mkt_pinnacle_A"]].tolist() == [
        0.5,
        0.25,
        0.25,
    ]
    assert quoted["mkt_pinnacle_overround"] == 0.0
    assert quoted["mkt_bet365_H"] == pytest.approx(0.5012, abs=1e-4)  # the odds doctest
    assert np.isnan(quoted["mkt_market_avg_H"])  # a configured book not sent
    assert quoted["mkt_books_n"] == 3
    # draw: pinnacle 0.25, bet365 0.2721, bwin (1/3.5) / (1/2 + 1/3.5 + 1/4) = 0.2759
    assert quoted["mkt_books_range_D"] == pytest.approx(0.2759 - 0.25, abs=1e-4)

    unpriced = _named(tiny, tiny.features("T1", "A", "B"))
    market = [c for c in tiny.columns if c.startswith("mkt_")]
    assert unpriced[[c for c in market if c != "mkt_books_n"]].isna().all()
    assert unpriced["mkt_books_n"] == 0
    assert _named(tiny, tiny.features("T1", "A", "B", odds={})).equals(unpriced)
    assert unpriced.drop(market).equals(quoted.drop(market))
    # the market's own line is Pinnacle's, the first sharp book sent
    assert quoted[["mkt_sharp_H", "mkt_sharp_D", "mkt_sharp_A"]].tolist() == [0.5, 0.25, 0.25]


def test_the_sharp_line_falls_back_along_the_chain_then_to_the_books_consensus(
    tiny: MatchupFeaturizer,
) -> None:
    sharp = ["mkt_sharp_H", "mkt_sharp_D", "mkt_sharp_A"]

    def line(**odds: tuple) -> list[float]:
        return _named(tiny, tiny.features("T1", "A", "B", odds=odds))[sharp].round(4).tolist()

    # no Pinnacle: the market average, next in sharp_books, even when Bet365 is sent too
    assert line(market_avg=(2.0, 4.0, 4.0), bet365=(1.9, 3.5, 4.2)) == [0.5, 0.25, 0.25]
    assert line(bet365=(1.9, 3.5, 4.2)) == [0.5012, 0.2721, 0.2267]  # the odds doctest
    # none of the chain: the mean de-margined line of the individual books sent
    # bwin 2.0/3.5/4.0 -> 0.4828/0.2759/0.2414; william hill 2.0/4.0/4.0 -> 0.5/0.25/0.25
    assert line(bwin=(2.0, 3.5, 4.0), william_hill=(2.0, 4.0, 4.0)) == [0.4914, 0.2629, 0.2457]


# --- refusals -------------------------------------------------------------------------------


def test_unknown_league_and_team_say_what_is_known(tiny: MatchupFeaturizer) -> None:
    with pytest.raises(UnknownLeague, match=r"unknown league 'E0'; known: T1, U1$"):
        tiny.features("E0", "A", "B")
    with pytest.raises(UnknownTeam, match=r"'X' in T1: not in the history.*; known: A, B, C$"):
        tiny.features("T1", "A", "X")  # a team of another league
    assert issubclass(UnknownTeam, ValueError) and issubclass(UnknownLeague, ValueError)


def test_a_long_list_of_known_teams_is_cut(mid_season: MatchupFeaturizer) -> None:
    with pytest.raises(UnknownTeam, match=r"known: .*, .*$") as info:
        mid_season.features("SY1", "Nowhere FC", mid_season.teams()["SY1"][0])
    assert str(info.value).count(", ") == 9  # ten teams: all listed
    names = [f"Team {i:02d}" for i in range(40)]
    long = pd.DataFrame(
        {
            "league": "L",
            "season": "2020-2021",
            "date": pd.Timestamp("2020-08-01"),
            "home_team": names[::2],
            "away_team": names[1::2],
            "home_goals": 1.0,
            "away_goals": 0.0,
            "status": "played",
            "match_id": [f"m{i}" for i in range(20)],
        }
    )
    config = FeatureConfig.from_dict({"form": {"enabled": False}, "market": {"enabled": False}})
    featurizer = MatchupFeaturizer.from_history(long, NO_ODDS, config)
    with pytest.raises(UnknownTeam, match=r"Team 29 \.\.\. \(10 more\)$"):
        featurizer.features("L", "Team 00", "Team 99")


@pytest.mark.parametrize(
    "odds, message",
    [
        ({"pinnacle": (1.0, 4.0, 4.0)}, r"decimal odds must be greater than 1.0: pinnacle"),
        ({"bet365": (2.0, float("nan"), 4.0)}, r"decimal odds must be greater than 1.0: bet365"),
        ({"bwin": (2.0, float("inf"), 4.0)}, r"decimal odds must be greater than 1.0: bwin"),
        ({"pinnacle": (2.0, 4.0)}, r"pinnacle needs \(home, draw, away\) prices"),
        ({"pinnacle": (2.0, "evens", 4.0)}, r"decimal odds must be numbers: pinnacle"),
        ({"Pinnacle": (2.0, 4.0, 4.0)}, r"unknown bookmaker 'Pinnacle'; known: .*pinnacle"),
    ],
)
def test_bad_odds_are_refused(tiny: MatchupFeaturizer, odds: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tiny.features("T1", "A", "B", odds=odds)


def test_a_team_cannot_play_itself(tiny: MatchupFeaturizer) -> None:
    with pytest.raises(ValueError, match="'A' is named twice"):
        tiny.features("T1", "A", "A")


@pytest.mark.parametrize("kickoff", ["2020-08-04", "2020-08-05 00:00", "not a date"])
def test_a_kickoff_not_after_the_state_is_refused(tiny: MatchupFeaturizer, kickoff: str) -> None:
    with pytest.raises(ValueError):
        tiny.features("T1", "A", "B", kickoff=kickoff)
    with pytest.raises(ValueError, match="2020-08-05 00:00:00, the kick-off of the last result"):
        tiny.features("T1", "A", "B", kickoff=pd.Timestamp("2020-08-05"))


def test_a_later_kickoff_on_the_day_of_the_last_result_is_priced() -> None:
    """On a Saturday, once the 12:30 result is in, the 15:00 and 17:30 matches are priced (a
    kick-off was once refused for its day alone); one at or before 12:30 is not."""
    history = _tiny()
    history["kickoff"] = history["date"] + pd.Timedelta(hours=12, minutes=30)
    featurizer = MatchupFeaturizer.from_history(history, NO_ODDS, ELO_AND_REST)
    assert featurizer.state_time == pd.Timestamp("2020-08-05 12:30")
    rest = [featurizer.columns.index(c) for c in ("rest_home_days", "rest_away_days")]
    later = featurizer.features("T1", "B", "C", kickoff="2020-08-05T15:00:00Z")
    assert later[rest].tolist() == [4, 0]  # B last played on 1 Aug, C on 5 Aug
    with pytest.raises(ValueError, match="is not after 2020-08-05 12:30:00"):
        featurizer.features("T1", "B", "C", kickoff="2020-08-05 12:30")


def test_a_history_without_a_played_match_is_refused() -> None:
    fixtures = _tiny().assign(status="fixture", home_goals=np.nan, away_goals=np.nan)
    with pytest.raises(ValueError, match="no played match"):
        MatchupFeaturizer.from_history(fixtures, NO_ODDS, FeatureConfig())


# --- shape ----------------------------------------------------------------------------------


@pytest.mark.parametrize("config", [FeatureConfig(), SOME_FAMILIES_OFF, ELO_AND_REST])
def test_columns_are_build_features_columns(
    tables: tuple[pd.DataFrame, pd.DataFrame], config: FeatureConfig
) -> None:
    matches, odds = tables
    history = matches[matches["date"] <= _days(matches, 0)[5]]
    featurizer = MatchupFeaturizer.from_history(history, odds, config)
    assert featurizer.columns == build_features(history, odds, config).columns.tolist()
    row = featurizer.features("SY2", *featurizer.teams()["SY2"][:2])
    assert row.shape == (len(featurizer.columns),) and row.dtype == float


def test_features_frame_stacks_features_in_order(
    tables: tuple[pd.DataFrame, pd.DataFrame], mid_season: MatchupFeaturizer
) -> None:
    _, odds = tables
    sy1, sy2 = mid_season.teams()["SY1"], mid_season.teams()["SY2"]
    quotes = _opening_quotes(odds, odds["match_id"].iloc[0])
    requests = [
        {"league": "SY2", "home_team": sy2[3], "away_team": sy2[0]},
        {"league": "SY1", "home_team": sy1[0], "away_team": sy1[3], "odds": quotes},
        {"league": "SY1", "home_team": sy1[3], "away_team": sy1[0], "kickoff": "2030-01-01"},
    ]
    frame = mid_season.features_frame(requests)
    assert frame.columns.tolist() == mid_season.columns
    np.testing.assert_array_equal(
        frame.to_numpy(), np.vstack([mid_season.features(**r) for r in requests])
    )
    assert mid_season.features_frame([]).shape == (0, len(mid_season.columns))
    with pytest.raises(ValueError, match="unknown request keys"):
        mid_season.features_frame([{**requests[0], "home": "x"}])


def test_the_module_imports_no_framework_and_its_doctests_hold() -> None:
    code = (
        "import sys, sabiscore.matchup\n"
        "print(','.join(m for m in ('prefect', 'mlflow', 'bentoml', 'great_expectations') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    assert doctest.testmod(matchup).failed == 0
