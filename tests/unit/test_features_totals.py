"""The opening over/under 2.5 goals line (`market.totals`): hand-computed values, the sharp
chain's order, NaN without a quote, and no closing price ever read."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sabiscore.features import TOTALS_COLUMNS, FeatureConfig, build_features, market_features
from sabiscore.football_data import parse_football_data
from sabiscore.synthetic import (
    LeagueSpec,
    SyntheticConfig,
    generate_league,
    write_football_data_csvs,
)

TOTALS = FeatureConfig.from_dict({"market": {"totals": True}})
MARKET_ONLY = FeatureConfig.from_dict(
    {name: {"enabled": False} for name in ("form", "elo", "pi_ratings", "rest", "season_stage")}
    | {"market": {"totals": True}}
)


def _matches(n: int) -> pd.DataFrame:
    dates = pd.to_datetime("2021-08-14") + pd.to_timedelta(np.arange(n), unit="D")
    return pd.DataFrame(
        {
            "match_id": [f"m{i}" for i in range(n)],
            "league": "T1",
            "season": "2021-2022",
            "date": dates,
            "kickoff": dates + pd.Timedelta(hours=15),
            "home_team": [f"h{i}" for i in range(n)],
            "away_team": [f"a{i}" for i in range(n)],
            "home_goals": 1.0,
            "away_goals": 1.0,
            "status": "played",
        }
    )


def _odds(rows: list[tuple[str, str, str, str, str, float]]) -> pd.DataFrame:
    """(match_id, bookmaker, phase, market, outcome, price) rows."""
    columns = ["match_id", "bookmaker", "phase", "market", "outcome", "price"]
    odds = pd.DataFrame(rows, columns=columns)
    odds["is_aggregate"] = odds["bookmaker"].isin(["market_avg", "market_max"])
    return odds


def _totals(match: str, book: str, over: float, under: float, phase: str = "open") -> list:
    return [
        (match, book, phase, "ou2.5", "over", over),
        (match, book, phase, "ou2.5", "under", under),
    ]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical matches and odds of a small synthetic league, with O/U prices open and close."""
    config = SyntheticConfig(
        seed=5, first_season=2020, n_seasons=2, leagues=(LeagueSpec("SY1", 10, 1, "A"),)
    )
    paths = write_football_data_csvs(generate_league(config), tmp_path_factory.mktemp("fd"))
    parsed = [parse_football_data(p.read_bytes(), str(p)) for p in paths]
    matches = pd.concat([p.matches for p in parsed], ignore_index=True)
    odds = pd.concat([p.odds for p in parsed], ignore_index=True)
    return matches, odds


def test_the_line_is_the_first_sharp_book_quoting_both_sides() -> None:
    odds = _odds(
        _totals("m0", "pinnacle", 1.8, 2.2)  # Pinnacle quotes: it stands
        + _totals("m0", "market_avg", 2.0, 2.0)
        + [("m1", "pinnacle", "open", "ou2.5", "over", 1.5)]  # one side only: not a line
        + _totals("m1", "market_avg", 2.0, 2.0)
        + _totals("m2", "bet365", 1.6, 2.5)  # the last of the chain
        + _totals("m3", "bwin", 1.9, 1.9)  # not a sharp book: no line
        + _totals("m4", "pinnacle", 1.7, 2.3, phase="close")  # only a close: no line
    )
    features = build_features(_matches(5), odds, MARKET_ONLY)[list(TOTALS_COLUMNS)]
    over = [1 / 1.8 / (1 / 1.8 + 1 / 2.2), 0.5, 1 / 1.6 / (1 / 1.6 + 1 / 2.5), np.nan, np.nan]
    margin = [1 / 1.8 + 1 / 2.2 - 1, 0.0, 1 / 1.6 + 1 / 2.5 - 1, np.nan, np.nan]
    np.testing.assert_allclose(features["mkt_ou25_over"], over, rtol=1e-12)
    np.testing.assert_allclose(features["mkt_ou25_overround"], margin, rtol=1e-12)


def test_the_family_is_off_by_default_and_adds_exactly_two_columns(
    world: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    default = build_features(*world)
    with_totals = build_features(*world, TOTALS)
    assert not any(c.startswith("mkt_ou25_") for c in default.columns)
    assert with_totals.columns.tolist() == [*default.columns, *TOTALS_COLUMNS]
    pd.testing.assert_frame_equal(with_totals[default.columns], default)
    assert with_totals["mkt_ou25_over"].between(0.2, 0.8).all()
    assert with_totals["mkt_ou25_overround"].between(0.0, 0.15).all()


def test_changing_any_closing_price_moves_no_feature(
    world: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    matches, odds = world
    closing = odds["phase"] == "close"
    assert (closing & (odds["market"] == "ou2.5")).sum() > 500
    expected = build_features(matches, odds, TOTALS)
    shaken = odds.copy()
    rng = np.random.default_rng(0)
    shaken.loc[closing, "price"] = 1.01 + rng.uniform(0, 20, int(closing.sum()))
    pd.testing.assert_frame_equal(build_features(matches, shaken, TOTALS), expected)
    pd.testing.assert_frame_equal(build_features(matches, odds[~closing], TOTALS), expected)


def test_other_books_and_other_markets_move_nothing(
    world: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """A forecast must not depend on which books beyond the sharp chain a caller sends."""
    matches, odds = world
    expected = build_features(matches, odds, MARKET_ONLY)[list(TOTALS_COLUMNS)]
    sharp = odds["bookmaker"].isin(TOTALS.market.sharp_books)
    got = build_features(matches, odds[sharp], MARKET_ONLY)[list(TOTALS_COLUMNS)]
    pd.testing.assert_frame_equal(got, expected)


def test_market_features_asks_for_the_totals_prices_it_needs() -> None:
    one_x_two = np.array([[[2.0, 3.5, 4.0]] * 3])
    kwargs = {"sharp_prices": one_x_two, "consensus_prices": one_x_two}
    with pytest.raises(ValueError, match="over/under 2.5 prices"):
        market_features(one_x_two[:, :0], one_x_two, TOTALS.market, **kwargs)
    unquoted = np.full((1, 3, 2), np.nan)
    out = market_features(
        one_x_two[:, :0], one_x_two, TOTALS.market, totals_prices=unquoted, **kwargs
    )
    assert np.isnan(out["mkt_ou25_over"]).all() and np.isnan(out["mkt_ou25_overround"]).all()
