"""Pre-match features: no leakage (tests that fail if a result reaches an earlier or same-day
match, if closing prices are read, or if fixtures move the state), and hand-computed ratings."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sabiscore.features import (
    FAMILY_PREFIXES,
    EloConfig,
    FeatureConfig,
    PiConfig,
    build_features,
    feature_columns,
)
from sabiscore.football_data import STAT_COLUMNS, parse_football_data
from sabiscore.synthetic import (
    LeagueSpec,
    SyntheticConfig,
    generate_league,
    write_football_data_csvs,
)

REPO = Path(__file__).resolve().parents[2]
SMALL = SyntheticConfig(
    seed=3,
    first_season=2020,
    n_seasons=3,
    leagues=(LeagueSpec("SY1", 10, 1, "A"), LeagueSpec("SY2", 10, 2, "A")),
    promotion_places=2,
)
RESULT_COLUMNS = ["home_goals", "away_goals", "result", *STAT_COLUMNS]


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical matches and odds of a small synthetic world (two tiers, promotion, 540 games)."""
    paths = write_football_data_csvs(generate_league(SMALL), tmp_path_factory.mktemp("fd"))
    parsed = [parse_football_data(p.read_bytes(), str(p)) for p in paths]
    matches = pd.concat([p.matches for p in parsed], ignore_index=True)
    odds = pd.concat([p.odds for p in parsed], ignore_index=True)
    return matches, odds


#: Every market feature on: the per-book columns and the books' disagreement besides the sharp
#: line (the defaults build only the sharp line).
FULL_MARKET = FeatureConfig.from_dict(
    {"market": {"books": ["pinnacle", "bet365", "market_avg"], "disagreement": True}}
)


@pytest.fixture(scope="module")
def features(tables: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return build_features(*tables, FULL_MARKET)


def _middle_date(matches: pd.DataFrame, season_index: int = 0) -> pd.Timestamp:
    season = sorted(matches["season"].unique())[season_index]
    dates = np.sort(matches.loc[matches["season"] == season, "date"].unique())
    return pd.Timestamp(dates[len(dates) // 2])


def _ids(matches: pd.DataFrame, mask: pd.Series) -> list[str]:
    return matches.loc[mask, "match_id"].tolist()


def _tiny(rows: list[tuple[str, str, str, int | None, int | None]], season: str = "2020-2021"):
    """A hand-made match table: (date, home, away, home goals, away goals); None = fixture."""
    frame = pd.DataFrame(
        rows, columns=["date", "home_team", "away_team", "home_goals", "away_goals"]
    )
    frame["date"] = pd.to_datetime(frame["date"])
    frame["kickoff"] = frame["date"] + pd.Timedelta(hours=15)
    frame["league"] = "T1"
    frame["season"] = season
    frame["match_id"] = [f"m{i}" for i in range(len(frame))]
    frame["status"] = np.where(frame["home_goals"].isna(), "fixture", "played")
    frame["home_goals"] = frame["home_goals"].astype(float)
    frame["away_goals"] = frame["away_goals"].astype(float)
    return frame


NO_ODDS = pd.DataFrame(
    {c: pd.Series(dtype=object) for c in ["match_id", "bookmaker", "phase", "market", "outcome"]}
    | {"price": pd.Series(dtype=float), "is_aggregate": pd.Series(dtype=bool)}
)
RATINGS_ONLY = FeatureConfig.from_dict(
    {name: {"enabled": name in ("elo", "pi_ratings")} for name in FAMILY_PREFIXES}
)


# --- configuration --------------------------------------------------------------------------


def test_yaml_holds_the_code_defaults() -> None:
    config = yaml.safe_load((REPO / "configs" / "features.yaml").read_text())
    assert FeatureConfig.from_dict(config) == FeatureConfig()


def test_config_rejects_typos_and_bad_values() -> None:
    with pytest.raises(ValueError, match="unknown features.elo keys"):
        FeatureConfig.from_dict({"elo": {"kk": 20}})
    with pytest.raises(ValueError, match="unknown features config keys"):
        FeatureConfig.from_dict({"elos": {}})
    with pytest.raises(ValueError, match="unknown form statistic"):
        FeatureConfig.from_dict({"form": {"stats": ["possession_for"]}})
    with pytest.raises(ValueError):
        FeatureConfig.from_dict({"market": {"method": "additive"}})


# --- shape ----------------------------------------------------------------------------------


def test_default_features_are_numeric_indexed_by_match_in_kickoff_order(
    tables: tuple[pd.DataFrame, pd.DataFrame], features: pd.DataFrame
) -> None:
    matches, _ = tables
    assert 50 <= features.shape[1] <= 220
    assert features.index.name == "match_id"
    expected = matches.sort_values(["date", "kickoff"], kind="stable")["match_id"].tolist()
    assert features.index.tolist() == expected
    assert all(pd.api.types.is_float_dtype(t) for t in features.dtypes)
    assert feature_columns(features) == features.columns.tolist()
    labelled = features.join(matches.set_index("match_id")[["league", "result", "home_goals"]])
    assert feature_columns(labelled) == features.columns.tolist()
    assert not any("close" in c for c in features.columns)


@pytest.mark.parametrize("family", list(FAMILY_PREFIXES))
def test_switching_a_family_off_removes_exactly_its_columns(
    tables: tuple[pd.DataFrame, pd.DataFrame], features: pd.DataFrame, family: str
) -> None:
    config = FULL_MARKET
    off = replace(config, **{family: replace(getattr(config, family), enabled=False)})
    reduced = build_features(*tables, off)
    prefix = FAMILY_PREFIXES[family]
    assert any(c.startswith(prefix) for c in features.columns)
    assert reduced.columns.tolist() == [c for c in features if not c.startswith(prefix)]
    pd.testing.assert_frame_equal(reduced, features[reduced.columns])


# --- leakage --------------------------------------------------------------------------------


def test_a_result_reaches_no_match_on_or_before_its_day_but_does_reach_later_ones(
    tables: tuple[pd.DataFrame, pd.DataFrame], features: pd.DataFrame
) -> None:
    matches, odds = tables
    day = _middle_date(matches)
    target = matches.index[matches["date"] == day][0]
    changed = matches.copy()
    home_goals, away_goals = changed.loc[target, ["home_goals", "away_goals"]]
    changed.loc[target, ["home_goals", "away_goals"]] = [away_goals + 4, home_goals]
    changed.loc[target, "result"] = "A"
    stats = list(STAT_COLUMNS)
    changed.loc[target, stats] = changed.loc[target, stats].to_numpy(dtype=float) * 3 + 1
    after = build_features(changed, odds, FULL_MARKET)

    same_day = _ids(matches, matches["date"] == day)
    assert len(same_day) > 1  # the other matches of the day are checked too
    earlier_or_same = _ids(matches, matches["date"] <= day)
    pd.testing.assert_frame_equal(after.loc[earlier_or_same], features.loc[earlier_or_same])
    later = _ids(matches, matches["date"] > day)
    moved = (after.loc[later] != features.loc[later]) & features.loc[later].notna()
    assert moved.any(axis=1).sum() > 0
    for prefix in ("form_", "elo_", "pi_"):  # every result-driven family sees it
        assert moved[[c for c in moved if c.startswith(prefix)]].any().any(), prefix


@pytest.mark.parametrize("season_index, where", [(0, "middle"), (1, "first"), (1, "middle")])
def test_truncating_after_a_day_leaves_every_earlier_feature_unchanged(
    tables: tuple[pd.DataFrame, pd.DataFrame], features: pd.DataFrame, season_index: int, where: str
) -> None:
    matches, odds = tables
    season = sorted(matches["season"].unique())[season_index]
    dates = np.sort(matches.loc[matches["season"] == season, "date"].unique())
    day = dates[0] if where == "first" else dates[len(dates) // 2]
    kept = matches[matches["date"] <= day]
    truncated = build_features(kept, odds[odds["match_id"].isin(kept["match_id"])], FULL_MARKET)
    assert len(truncated) < len(features)
    pd.testing.assert_frame_equal(truncated, features.loc[truncated.index])


def test_closing_prices_are_never_read(tables: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    matches, odds = tables
    # Where a book has no opening quote, a closing one must not stand in for it; and the rows
    # come shuffled, so no reader can rely on opening quotes standing first in the file.
    no_open = matches["match_id"].iloc[::7]
    base = odds[~(odds["match_id"].isin(no_open) & (odds["phase"] == "open"))]
    base = base.sample(frac=1.0, random_state=0)
    closing = base["phase"] == "close"
    assert closing.sum() > 1000
    expected = build_features(matches, base, FULL_MARKET)
    assert expected.loc[no_open, "mkt_pinnacle_H"].isna().all()
    assert expected.loc[no_open, "mkt_sharp_H"].isna().all()
    shaken = base.copy()
    rng = np.random.default_rng(0)
    shaken.loc[closing, "price"] = 1.01 + rng.uniform(0, 20, int(closing.sum()))
    pd.testing.assert_frame_equal(build_features(matches, shaken, FULL_MARKET), expected)
    pd.testing.assert_frame_equal(build_features(matches, base[~closing], FULL_MARKET), expected)


def test_fixtures_get_features_from_the_latest_state_and_move_nothing(
    tables: tuple[pd.DataFrame, pd.DataFrame], features: pd.DataFrame
) -> None:
    matches, odds = tables
    dates = np.sort(matches["date"].unique())
    first_fixture_day = dates[-3]
    upcoming = matches["date"] >= first_fixture_day
    with_fixtures = matches.copy()
    with_fixtures.loc[upcoming, RESULT_COLUMNS] = np.nan
    with_fixtures.loc[upcoming, "status"] = "fixture"
    built = build_features(with_fixtures, odds, FULL_MARKET)

    fixtures = _ids(matches, upcoming)
    pd.testing.assert_frame_equal(built.drop(index=fixtures), features.drop(index=fixtures))
    only_played = build_features(matches[~upcoming], odds, FULL_MARKET)
    pd.testing.assert_frame_equal(built.drop(index=fixtures), only_played)
    # the first fixture day sees exactly what it saw when it was played
    first = _ids(matches, matches["date"] == first_fixture_day)
    pd.testing.assert_frame_equal(built.loc[first], features.loc[first])
    # no fixture updates the state: a team's ratings and form are the same in all its fixtures
    rated = built.loc[fixtures].join(with_fixtures.set_index("match_id")[["home_team"]])
    assert rated[["elo_home", "pi_home_home", "form_home_all_points_ewm"]].notna().all().all()
    per_team = rated.groupby("home_team")[["elo_home", "form_home_all_goals_for_mean5"]]
    assert (per_team.nunique() <= 1).all().all()
    assert (rated.groupby("home_team").size() > 1).any()


# --- hand-computed values -------------------------------------------------------------------


def test_elo_after_one_match_and_not_within_the_day() -> None:
    matches = _tiny(
        [
            ("2020-08-01", "A", "B", 1, 0),
            ("2020-08-01", "C", "A", 2, 2),  # same day: A still at 1500
            ("2020-08-08", "B", "A", None, None),
        ]
    )
    config = replace(RATINGS_ONLY, elo=EloConfig(k=20, home_advantage=60))
    got = build_features(matches, NO_ODDS, config)
    assert got.loc["m1", "elo_away"] == 1500.0
    # home expected 1 / (1 + 10^(-60/400)) = 0.585499; A gains 20 * 0.414501 = 8.29002
    # C vs A 2-2, C expected 0.585499: A gains 20 * 0.085499 = 1.70998
    assert got.loc["m2", "elo_home"] == pytest.approx(1500 - 8.29002, abs=1e-4)
    assert got.loc["m2", "elo_away"] == pytest.approx(1500 + 8.29002 + 1.70998, abs=1e-4)
    assert got.loc["m2", "elo_diff"] == pytest.approx(1491.70998 + 60 - 1510.0, abs=1e-4)


def test_elo_regresses_between_seasons_and_newcomers_start_with_the_weakest() -> None:
    first = _tiny([("2020-08-01", "A", "B", 1, 0)])
    second = _tiny([("2021-08-01", "A", "E", None, None)], season="2021-2022")
    second["match_id"] = "n0"
    config = replace(RATINGS_ONLY, elo=EloConfig(k=20, home_advantage=0, season_regression=0.2))
    got = build_features(pd.concat([first, second]), NO_ODDS, config)
    # A 1510, B 1490 -> regressed 20 % to their mean: 1508, 1492; E takes the weakest third (B)
    assert got.loc["n0", "elo_home"] == pytest.approx(1508.0)
    assert got.loc["n0", "elo_away"] == pytest.approx(1492.0)


def test_pi_ratings_after_one_match() -> None:
    matches = _tiny([("2020-08-01", "A", "B", 2, 0), ("2020-08-08", "B", "A", None, None)])
    config = replace(RATINGS_ONLY, pi_ratings=PiConfig(learning_rate=0.035, catch_up_rate=0.7))
    got = build_features(matches, NO_ODDS, config).loc["m1"]
    # expected goal difference 0, observed 2: psi = 3 log10(3) = 1.431364; move 0.035 psi
    move = 0.0500977
    assert got["pi_away_home"] == pytest.approx(move, abs=1e-6)  # A at home
    assert got["pi_away_away"] == pytest.approx(0.7 * move, abs=1e-6)  # A away, by catch-up
    assert got["pi_home_away"] == pytest.approx(-move, abs=1e-6)  # B away
    assert got["pi_home_home"] == pytest.approx(-0.7 * move, abs=1e-6)  # B at home
    # B's home rating against A's away rating: 2 * -(10^(0.0350684 / 3) - 1)
    assert got["pi_expected_goal_diff"] == pytest.approx(-0.054563, abs=1e-6)


def test_rest_days_since_the_previous_match_capped() -> None:
    matches = _tiny(
        [
            ("2020-08-01", "A", "B", 1, 0),
            ("2020-08-05", "C", "A", 0, 0),
            ("2020-09-30", "A", "C", None, None),
        ]
    )
    config = FeatureConfig.from_dict(
        {name: {"enabled": name == "rest"} for name in FAMILY_PREFIXES} | {"rest": {"cap_days": 21}}
    )
    got = build_features(matches, NO_ODDS, config)
    assert got.loc["m0", ["rest_home_days", "rest_away_days"]].tolist() == [21, 21]
    assert got.loc["m1", ["rest_home_days", "rest_away_days"]].tolist() == [21, 4]
    assert got.loc["m2", ["rest_home_days", "rest_away_days", "rest_diff_days"]].tolist() == [
        21,
        21,
        0,
    ]


def test_form_equals_a_plain_recomputation(
    tables: tuple[pd.DataFrame, pd.DataFrame], features: pd.DataFrame
) -> None:
    matches, _ = tables
    rng = np.random.default_rng(1)
    for match_id in rng.choice(matches["match_id"], 25, replace=False):
        row = matches.set_index("match_id").loc[match_id]
        past = matches[matches["date"] < row["date"]].sort_values("date")
        team = row["away_team"]
        away_games = past[past["away_team"] == team].tail(5)
        expected_goals = away_games["away_goals"].mean() if len(away_games) else np.nan
        got = features.loc[match_id, "form_away_venue_goals_for_mean5"]
        np.testing.assert_allclose(got, expected_goals, equal_nan=True)

        games = past[
            (past["home_team"] == row["home_team"]) | (past["away_team"] == row["home_team"])
        ]
        home = games["home_team"] == row["home_team"]
        own = np.where(home, games["home_goals"], games["away_goals"])
        other = np.where(home, games["away_goals"], games["home_goals"])
        points = np.where(own > other, 3.0, np.where(own == other, 1.0, 0.0))
        weights = 0.5 ** (np.arange(len(points))[::-1] / 5.0)
        expected_ewm = (points * weights).sum() / weights.sum() if len(points) else np.nan
        got = features.loc[match_id, "form_home_all_points_ewm"]
        np.testing.assert_allclose(got, expected_ewm, equal_nan=True, rtol=1e-9)


def test_market_probabilities_are_distributions_from_opening_prices(
    tables: tuple[pd.DataFrame, pd.DataFrame], features: pd.DataFrame
) -> None:
    _, odds = tables
    for book in FULL_MARKET.market.books:
        probs = features[[f"mkt_{book}_{o}" for o in "HDA"]]
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-9)
        log_odds = np.log(probs[f"mkt_{book}_H"] / probs[f"mkt_{book}_A"])
        np.testing.assert_allclose(features[f"mkt_{book}_log_odds_home_away"], log_odds)
    # Pinnacle's synthetic opening margin is 2.5 %
    assert features["mkt_pinnacle_overround"].mean() == pytest.approx(0.025, abs=0.005)
    one = odds[(odds["bookmaker"] == "pinnacle") & (odds["phase"] == "open")]
    one = one[one["market"] == "1x2"].pivot(index="match_id", columns="outcome", values="price")
    inverse = 1 / one[["H", "D", "A"]]
    expected = inverse["H"] / inverse.sum(axis=1)
    np.testing.assert_allclose(features.loc[expected.index, "mkt_pinnacle_H"], expected)
    # every synthetic match has a Pinnacle opening price: the sharp line is Pinnacle's
    np.testing.assert_array_equal(features["mkt_sharp_H"], features["mkt_pinnacle_H"])
    assert (features["mkt_books_n"] == 6).all()
    assert (features["mkt_books_range_D"] >= features["mkt_books_std_D"]).all()


def test_a_match_without_prices_gets_nan_market_features(
    tables: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    matches, odds = tables
    missing = matches["match_id"].iloc[100]
    got = build_features(matches, odds[odds["match_id"] != missing], FULL_MARKET)
    market = [c for c in got if c.startswith("mkt_") and c != "mkt_books_n"]
    assert got.loc[missing, market].isna().all()
    assert got.loc[missing, "mkt_books_n"] == 0
    assert not math.isnan(got.loc[missing, "elo_home"])


def test_fixtures_with_no_history_at_all_get_starting_ratings() -> None:
    matches = _tiny([("2020-08-01", "A", "B", None, None), ("2020-08-01", "C", "D", None, None)])
    got = build_features(matches, NO_ODDS)
    assert (got["elo_home"] == 1500.0).all() and (got["pi_home_home"] == 0.0).all()
    assert got["form_home_all_points_mean5"].isna().all()
    assert (got["stage_home_games_played"] == 0).all() and (got["rest_home_days"] == 21).all()


def test_book_disagreement_equals_numpys_nan_functions() -> None:
    """`_disagreement` writes out nanstd / nanmax / nanmin (for speed); to the last bit."""
    import warnings

    from sabiscore.features.market import _disagreement
    from sabiscore.odds import implied_probabilities

    rng = np.random.default_rng(3)
    for n_matches, n_books in [(1, 1), (1, 2), (1, 6), (400, 5)]:
        prices = rng.uniform(1.05, 12.0, size=(n_matches, n_books, 3))
        prices[rng.random(prices.shape) < 0.2] = np.nan
        prices[0, :, 1] = np.nan  # a match no book quotes completely
        for method in ("multiplicative", "shin"):
            got = _disagreement(prices, method)
            probs = implied_probabilities(prices.reshape(-1, 3), method).reshape(prices.shape)
            several = np.isfinite(probs).all(axis=2).sum(axis=1) >= 2
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                std = np.nanstd(probs, axis=1)
                spread = np.nanmax(probs, axis=1) - np.nanmin(probs, axis=1)
            for j, outcome in enumerate("HDA"):
                expected_std = np.where(several, std[:, j], np.nan)
                expected_range = np.where(several, spread[:, j], np.nan)
                np.testing.assert_array_equal(got[f"mkt_books_std_{outcome}"], expected_std)
                np.testing.assert_array_equal(got[f"mkt_books_range_{outcome}"], expected_range)
        if n_matches > 1:  # the comparison covered real spreads, not only NaN
            assert np.isfinite(got["mkt_books_std_H"]).sum() > n_matches / 2
