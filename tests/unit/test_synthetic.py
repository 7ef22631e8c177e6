"""Behavioural tests of the synthetic league: format, internal consistency, realism, markets."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import doctest
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sabiscore import synthetic
from sabiscore.synthetic import (
    BOOKMAKERS,
    FOOTBALL_DATA_COLUMNS,
    TRUTH_COLUMNS,
    LeagueSpec,
    SyntheticConfig,
    SyntheticLeague,
    generate_league,
    write_football_data_csvs,
    write_truth,
)

SMALL = SyntheticConfig(
    seed=7,
    first_season=2020,
    n_seasons=2,
    leagues=(
        LeagueSpec(code="SY1", n_teams=8, tier=1, country="Sylvania"),
        LeagueSpec(code="SY2", n_teams=10, tier=2, country="Sylvania"),
        LeagueSpec(code="SZ1", n_teams=6, tier=1, country="Zembla"),
    ),
    promotion_places=2,
)
PRICE_COLUMNS = list(FOOTBALL_DATA_COLUMNS[FOOTBALL_DATA_COLUMNS.index("B365H") :])
INT_COLUMNS = "FTHG FTAG HTHG HTAG HS AS HST AST HF AF HC AC HY AY HR AR".split()


@pytest.fixture(scope="module")
def small() -> SyntheticLeague:
    return generate_league(SMALL)


@pytest.fixture(scope="module")
def default() -> SyntheticLeague:
    return generate_league(SyntheticConfig())


def _file_bytes(paths: list[Path], root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in paths}


def _demargined(matches: pd.DataFrame, prefix: str) -> np.ndarray:
    inverse = 1.0 / matches[[f"{prefix}H", f"{prefix}D", f"{prefix}A"]].to_numpy()
    return inverse / inverse.sum(axis=1, keepdims=True)


def _true_probs(league: SyntheticLeague) -> np.ndarray:
    return league.truth[["p_home", "p_draw", "p_away"]].to_numpy()


def _final_table(season: pd.DataFrame) -> list[str]:
    """Teams ranked by points, goal difference, goals scored, then name."""
    home = pd.DataFrame({"team": season.HomeTeam, "gf": season.FTHG, "ga": season.FTAG})
    away = pd.DataFrame({"team": season.AwayTeam, "gf": season.FTAG, "ga": season.FTHG})
    rows = pd.concat([home, away])
    rows["pts"] = np.where(rows.gf > rows.ga, 3, np.where(rows.gf == rows.ga, 1, 0))
    rows["gd"] = rows.gf - rows.ga
    table = rows.groupby("team")[["pts", "gd", "gf"]].sum().reset_index()
    table = table.sort_values(["pts", "gd", "gf", "team"], ascending=[False, False, False, True])
    return table.team.tolist()


# --- determinism and files -------------------------------------------------------------------
def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = write_football_data_csvs(generate_league(SMALL), tmp_path / "a")
    second = write_football_data_csvs(generate_league(SMALL), tmp_path / "b")
    truth_a = write_truth(generate_league(SMALL), tmp_path / "ta")
    truth_b = write_truth(generate_league(SMALL), tmp_path / "tb")

    assert _file_bytes(first, tmp_path / "a") == _file_bytes(second, tmp_path / "b")
    assert _file_bytes(truth_a, tmp_path / "ta") == _file_bytes(truth_b, tmp_path / "tb")


def test_different_seed_changes_every_file(tmp_path: Path) -> None:
    other = dataclasses.replace(SMALL, seed=SMALL.seed + 1)
    paths_a = write_football_data_csvs(generate_league(SMALL), tmp_path / "a")
    paths_b = write_football_data_csvs(generate_league(other), tmp_path / "b")
    a, b = _file_bytes(paths_a, tmp_path / "a"), _file_bytes(paths_b, tmp_path / "b")

    assert a.keys() == b.keys()
    assert all(a[name] != b[name] for name in a)


def test_one_file_per_league_season_in_sorted_order(small: SyntheticLeague, tmp_path: Path) -> None:
    paths = write_football_data_csvs(small, tmp_path)

    expected = sorted(
        tmp_path / spec.code / f"{season}.csv"
        for spec in SMALL.leagues
        for season in ("2020-2021", "2021-2022")
    )
    assert paths == expected
    assert all(p.exists() for p in paths)


def test_files_have_football_data_layout(small: SyntheticLeague, tmp_path: Path) -> None:
    path = write_football_data_csvs(small, tmp_path)[0]
    raw = path.read_bytes()
    text = raw.decode("ascii")
    rows = list(csv.DictReader(text.splitlines()))

    assert text.splitlines()[0] == ",".join(FOOTBALL_DATA_COLUMNS)
    assert raw.count(b"\n") == raw.count(b"\r\n") == len(rows) + 1
    for row in rows:
        assert re.fullmatch(r"\d\d/\d\d/\d{4}", row["Date"])
        assert re.fullmatch(r"\d\d:\d\d", row["Time"])
        assert all(re.fullmatch(r"\d+", row[c]) for c in INT_COLUMNS)
        assert all(re.fullmatch(r"\d+\.\d\d", row[c]) for c in PRICE_COLUMNS)
        assert all(float(row[c]) >= 1.02 for c in PRICE_COLUMNS)


def test_frames_hold_exactly_the_documented_columns(small: SyntheticLeague) -> None:
    assert list(small.matches.columns) == [*FOOTBALL_DATA_COLUMNS, "Season"]
    assert list(small.truth.columns) == list(TRUTH_COLUMNS)
    keys = ["Div", "Season", "Date", "HomeTeam", "AwayTeam"]
    pd.testing.assert_frame_equal(small.matches[keys], small.truth[keys])


def test_truth_files_mirror_the_match_files(small: SyntheticLeague, tmp_path: Path) -> None:
    match_paths = write_football_data_csvs(small, tmp_path / "fd")
    truth_paths = write_truth(small, tmp_path / "truth")

    assert [p.relative_to(tmp_path / "fd") for p in match_paths] == [
        p.relative_to(tmp_path / "truth") for p in truth_paths
    ]
    for match_path, truth_path in zip(match_paths, truth_paths, strict=True):
        matches, truth = pd.read_csv(match_path), pd.read_csv(truth_path)
        assert list(truth.columns) == list(TRUTH_COLUMNS)
        assert truth[["HomeTeam", "AwayTeam"]].equals(matches[["HomeTeam", "AwayTeam"]])
        assert "p_home" not in matches.columns


# --- internal consistency --------------------------------------------------------------------
def test_results_follow_from_goals(small: SyntheticLeague) -> None:
    m = small.matches
    ft = np.sign(m.FTHG - m.FTAG).map({1: "H", 0: "D", -1: "A"})
    ht = np.sign(m.HTHG - m.HTAG).map({1: "H", 0: "D", -1: "A"})

    assert (m.FTR == ft).all()
    assert (m.HTR == ht).all()
    assert ((m.HTHG <= m.FTHG) & (m.HTAG <= m.FTAG)).all()


def test_shots_bound_goals(default: SyntheticLeague) -> None:
    m = default.matches
    assert ((m.HS >= m.HST) & (m.HST >= m.FTHG)).all()
    assert ((m.AS >= m.AST) & (m.AST >= m.FTAG)).all()


def test_match_statistics_track_strength(default: SyntheticLeague) -> None:
    m, t = default.matches, default.truth
    assert np.corrcoef(m.HS, t.exp_home_goals)[0, 1] > 0.3
    assert np.corrcoef(m.AST, t.exp_away_goals)[0, 1] > 0.2
    assert 0.40 < m.HTHG.sum() / m.FTHG.sum() < 0.50


def test_every_pair_meets_once_at_each_ground(small: SyntheticLeague) -> None:
    for (div, _season), season in small.matches.groupby(["Div", "Season"]):
        n = next(spec.n_teams for spec in SMALL.leagues if spec.code == div)
        pairs = season[["HomeTeam", "AwayTeam"]].apply(tuple, axis=1)

        assert len(season) == n * (n - 1)
        assert pairs.is_unique
        assert season.groupby("Date").size().eq(n // 2).all()  # each team once per matchday


def test_calendar_runs_from_august_to_may_on_weekends_and_midweeks(
    default: SyntheticLeague,
) -> None:
    for season_label, season in default.matches.groupby("Season"):
        start_year = int(season_label[:4])
        dates = pd.to_datetime(season.Date, format="%d/%m/%Y")

        assert dates.min() >= pd.Timestamp(start_year, 8, 1)
        assert dates.max() <= pd.Timestamp(start_year + 1, 5, 31)
        assert set(dates.dt.day_of_week) <= {1, 5}  # Tuesday, Saturday
    saturday = pd.to_datetime(default.matches.Date, format="%d/%m/%Y").dt.day_of_week == 5
    assert set(default.matches.Time[saturday]) == {"12:30", "15:00", "17:30", "20:00"}


def test_team_names_are_unique_and_belong_to_one_league_per_season(
    default: SyntheticLeague,
) -> None:
    m = default.matches
    for _season, season in m.groupby("Season"):
        teams = pd.concat(
            [
                season[["Div", "HomeTeam"]].set_axis(["Div", "team"], axis=1),
                season[["Div", "AwayTeam"]].set_axis(["Div", "team"], axis=1),
            ]
        )
        assert teams.groupby("team").Div.nunique().eq(1).all()
    all_teams = set(m.HomeTeam) | set(m.AwayTeam)
    assert len(all_teams) == 20 + 24 + 18
    assert all(name.isascii() and "," not in name for name in all_teams)


def test_three_up_three_down_between_tiers(default: SyntheticLeague) -> None:
    m = default.matches
    seasons = sorted(m.Season.unique())
    for this, following in zip(seasons, seasons[1:], strict=False):
        top = _final_table(m[(m.Div == "SY1") & (m.Season == this)])
        second = _final_table(m[(m.Div == "SY2") & (m.Season == this)])
        next_top = set(m[(m.Div == "SY1") & (m.Season == following)].HomeTeam)
        next_second = set(m[(m.Div == "SY2") & (m.Season == following)].HomeTeam)

        assert next_top == set(top[:-3]) | set(second[:3])
        assert next_second == set(second[3:]) | set(top[-3:])
    single_tier = m[m.Div == "SZ1"].groupby("Season").HomeTeam.apply(frozenset)
    assert single_tier.nunique() == 1


def test_truth_is_a_probability_distribution(small: SyntheticLeague) -> None:
    p = _true_probs(small)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert (p > 0).all()
    assert (small.truth.exp_home_goals > 0).all()


# --- realism on the default world -------------------------------------------------------------
def test_outcome_rates_and_goals_look_like_real_football(default: SyntheticLeague) -> None:
    m = default.matches
    rates = m.FTR.value_counts(normalize=True)
    goals_per_match = (m.FTHG + m.FTAG).mean()

    assert len(m) == 6 * (20 * 19 + 24 * 23 + 18 * 17)
    assert rates["H"] == pytest.approx(0.45, abs=0.04)
    assert rates["D"] == pytest.approx(0.25, abs=0.04)
    assert rates["A"] == pytest.approx(0.30, abs=0.04)
    assert 2.4 <= goals_per_match <= 3.0


@pytest.mark.parametrize("stage", ["", "C"])
def test_bookmaker_margins_are_realistic_and_pinnacle_is_sharpest(
    default: SyntheticLeague, stage: str
) -> None:
    m = default.matches
    overround = {
        book: float((1 / m[[f"{book}{stage}{o}" for o in "HDA"]]).sum(axis=1).mean() - 1)
        for book in BOOKMAKERS
    }

    assert all(0.02 <= value <= 0.065 for value in overround.values()), overround
    assert min(overround, key=overround.get) == "PS"


def test_market_aggregates_summarise_the_books(default: SyntheticLeague) -> None:
    m = default.matches
    for stage in ("", "C"):
        for outcome in "HDA":
            books = m[[f"{b}{stage}{outcome}" for b in BOOKMAKERS]]
            assert (m[f"Max{stage}{outcome}"] == books.max(axis=1)).all()
            assert np.allclose(m[f"Avg{stage}{outcome}"], books.mean(axis=1), atol=0.006)


def test_over_under_prices_reflect_total_goals(default: SyntheticLeague) -> None:
    m = default.matches
    over = 1 / m["PC>2.5"] / (1 / m["PC>2.5"] + 1 / m["PC<2.5"])
    overround = (1 / m["B365>2.5"] + 1 / m["B365<2.5"]).mean() - 1

    assert over.mean() == pytest.approx((m.FTHG + m.FTAG > 2).mean(), abs=0.02)
    expected_goals = default.truth.exp_home_goals + default.truth.exp_away_goals
    assert np.corrcoef(over, expected_goals)[0, 1] > 0.8
    assert 0.02 <= overround <= 0.065
    assert (m["Max>2.5"] >= m[["B365>2.5", "P>2.5"]].max(axis=1)).all()


def test_closing_prices_are_closer_to_truth_than_opening(default: SyntheticLeague) -> None:
    truth = _true_probs(default)

    def mean_kl(prefix: str) -> float:
        market = _demargined(default.matches, prefix)
        return float((truth * np.log(truth / market)).sum(axis=1).mean())

    for book in [*BOOKMAKERS, "Avg"]:
        assert mean_kl(f"{book}C") < 0.5 * mean_kl(book), book


def test_truth_and_closing_line_beat_opening_on_log_loss(default: SyntheticLeague) -> None:
    outcome = default.matches.FTR.map({"H": 0, "D": 1, "A": 2}).to_numpy()

    def log_loss(probs: np.ndarray) -> float:
        return float(-np.log(probs[np.arange(len(outcome)), outcome]).mean())

    opening = log_loss(_demargined(default.matches, "Avg"))
    assert log_loss(_true_probs(default)) < opening
    assert log_loss(_demargined(default.matches, "AvgC")) < opening


def test_from_dict_builds_the_same_config() -> None:
    raw = {
        "seed": 7,
        "first_season": 2020,
        "n_seasons": 2,
        "promotion_places": 2,
        "leagues": [
            {"code": s.code, "n_teams": s.n_teams, "tier": s.tier, "country": s.country}
            for s in SMALL.leagues
        ],
    }
    assert SyntheticConfig.from_dict(raw) == SMALL
    assert SyntheticConfig.from_dict({}) == SyntheticConfig()


@pytest.mark.parametrize(
    "raw",
    [
        {"seeds": 1},
        {"leagues": [{"code": "SY1", "n_teams": 20, "tier": 1, "country": "X", "size": 3}]},
        {"leagues": [{"code": "SY1", "n_teams": 20, "tier": 1}]},
    ],
)
def test_from_dict_rejects_unknown_or_missing_keys(raw: dict) -> None:
    with pytest.raises(ValueError, match="keys"):
        SyntheticConfig.from_dict(raw)


@pytest.mark.parametrize(
    "leagues",
    [
        (LeagueSpec("SY1", 20, 1, "A"), LeagueSpec("SY1", 20, 2, "A")),  # duplicate code
        (LeagueSpec("SY2", 20, 2, "A"),),  # no top tier
    ],
)
def test_config_rejects_inconsistent_leagues(leagues: tuple[LeagueSpec, ...]) -> None:
    with pytest.raises(ValueError):
        SyntheticConfig(leagues=leagues)


def test_league_spec_rejects_odd_team_count() -> None:
    with pytest.raises(ValueError, match="even"):
        LeagueSpec("SY1", 19, 1, "A")


def test_calendar_fits_large_leagues_with_midweek_rounds() -> None:
    dates, midweek = synthetic._matchday_dates(2018, 46)
    assert len(dates) == 46 and sum(midweek) > 0
    assert dates == sorted(dates) and len(set(dates)) == 46
    assert dates[0].month == 8 and dates[-1] <= dt.date(2019, 5, 31)


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(synthetic).failed == 0
