"""Files without Pinnacle's columns (a user's own data, leagues Pinnacle does not price), and
football-data's extra leagues' files (closing prices only): the pipeline, the training flow and
the betting backtest run, and leave what is missing out of their tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from flows.backtest import backtest_bets_flow
from flows.ingest import ingest_flow
from flows.pipeline import pipeline_flow
from flows.train import train_flow
from sabiscore.synthetic import LeagueSpec, SyntheticConfig, generate_league
from sabiscore.synthetic import write_football_data_csvs as write_csvs

pytestmark = pytest.mark.slow

SMALL = {
    "train": {
        "models": {"lightgbm": {"n_estimators": 20}},
        "stacking": {"n_folds": 3, "members": ["market", "lightgbm"]},
    },
    "promotion": {"refit": {"enabled": False}},
    "backtest": {"n_boot": 200},
}


def _season_files(root: Path, seed: int) -> list[Path]:
    """Three synthetic seasons (2020-21 to 2022-23) of one 12-team league, a file each."""
    config = SyntheticConfig(
        seed=seed,
        first_season=2020,
        n_seasons=3,
        leagues=(LeagueSpec(code="SY1", n_teams=12, tier=1, country="Sylvania"),),
    )
    write_csvs(generate_league(config), root)
    return sorted(root.glob("SY1/*.csv"))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three seasons of one league with every Pinnacle column taken out, as the files of a book
    that is not quoted."""
    root = tmp_path_factory.mktemp("no-pinnacle")
    out = {}
    for path in _season_files(root, seed=11):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        pinnacle = [c for c in frame.columns if c.startswith("PS")]
        assert pinnacle, "the synthetic files carry Pinnacle's prices to take out"
        frame.drop(columns=pinnacle).to_csv(path, index=False)
        out[path.stem] = path
    (root / "small.yaml").write_text(yaml.safe_dump(SMALL))
    return out


def test_the_pipeline_trains_and_says_the_market_rule_did_not_apply(
    files: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    summary = pipeline_flow(
        sources=[str(p) for p in files.values()],
        data_dir=str(tmp_path / "store"),
        config_path=str(next(iter(files.values())).parents[1] / "small.yaml"),
    )
    names = [row["forecaster"] for row in summary["training"]["rows"]]
    assert "pinnacle_open" not in names
    assert {"ensemble", "market", "bet365_open", "pinnacle_close"} <= set(names)
    assert (
        "pinnacle_open: no price on any test match, left out of the table"
        in caplog.text  # the run's log (Prefect's log_prints)
    )
    assert summary["registered_version"] == "1"
    assert "market rule did not apply (market.when_missing: skip)" in summary["reason"]
    assert summary["promoted"] is True


def test_the_backtest_bets_and_reports_without_the_sharp_baseline(
    files: dict[str, Path], tmp_path: Path
) -> None:
    seasons = sorted(files)
    summary = backtest_bets_flow(
        train_sources=[str(files[seasons[0]])],
        test_sources=[str(files[s]) for s in seasons[1:]],
        data_dir=str(tmp_path / "store"),
        config_path=str(files[seasons[0]].parents[1] / "small.yaml"),
        log_to_mlflow=False,
    )
    scored = [row["forecaster"] for row in summary["forecast_scores"]]
    assert "pinnacle_open" not in scored and {"ensemble", "elo", "bet365_open"} <= set(scored)
    assert summary["overall"]["pinnacle_open"]["bets"] == 0  # no line: no bet
    assert summary["overall"]["every_outcome"]["bets"] > 0
    assert summary["close_confirms"]["ensemble"]["matches"] == 0  # no opening line to depart from
    table = pd.read_csv(Path(summary["report"]).parent / "forecasts.csv")
    assert table["pinnacle_open_H"].isna().all() and table["ensemble_H"].notna().all()


def _extra_leagues_file(season_files: list[Path], out: Path) -> Path:
    """The synthetic seasons as one of football-data's extra leagues' files (their layout:
    Country, League, Season, Home, Away, HG, AG, Res and closing prices only)."""
    frames = []
    for path in season_files:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        closing = {
            f"{book}C{o}": f"{book}C{o}" for book in ("PS", "Max", "Avg", "B365") for o in "HDA"
        }
        frame = pd.DataFrame(
            {
                "Country": "Sylvania",
                "League": "Premier",
                "Season": path.stem.replace("-", "/"),
                "Date": raw["Date"],
                "Time": raw["Time"],
                "Home": raw["HomeTeam"],
                "Away": raw["AwayTeam"],
                "HG": raw["FTHG"],
                "AG": raw["FTAG"],
                "Res": raw["FTR"],
            }
        )
        frames.append(frame.join(raw[list(closing)]))
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.concat(frames).to_csv(out, index=False)
    return out


def test_an_extra_leagues_file_trains_the_models_without_the_market(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    seasons = _season_files(tmp_path_factory.mktemp("extra-source"), seed=12)
    source = _extra_leagues_file(seasons, tmp_path / "new" / "SYL.csv")
    store = tmp_path / "store"
    ingested = ingest_flow(sources=[str(source)], data_dir=str(store))
    assert ingested["files"] == 1 and ingested["errors"] == []
    from sabiscore.store import DataStore

    matches = DataStore(store).load("matches")
    assert set(matches["league"]) == {"SYL"}
    assert sorted(set(matches["season"])) == ["2020-2021", "2021-2022", "2022-2023"]
    override = tmp_path / "small.yaml"
    override.write_text(yaml.safe_dump(SMALL))
    summary = train_flow(data_dir=str(store), config_path=str(override), log_to_mlflow=False)
    names = [row["forecaster"] for row in summary["rows"]]
    assert names == ["ensemble", "lightgbm", "pinnacle_close"]  # no opening line of any book
    assert "the market is left out of the stack" in caplog.text
    assert summary["n_test"] == 132
