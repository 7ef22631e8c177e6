"""The serving state as files (issue 14): the teams' state, the closing-line model and the
upcoming fixtures written without pickle and read back to the same numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sabiscore.features import FeatureConfig
from sabiscore.matchup import MatchupFeaturizer
from sabiscore.serving_state import ClvSettings, ServingState, history_digest
from tests.unit.test_matchup import ALL_BOOKS_SHIN, _as_fixtures, _days, tables  # noqa: F401


def _every_pair(featurizer: MatchupFeaturizer, quotes: dict | None) -> np.ndarray:
    rows = []
    for league, teams in featurizer.teams().items():
        for home in teams:
            for away in teams:
                if home != away:
                    rows.append(featurizer.features(league, home, away, odds=quotes))
    return np.vstack(rows)


@pytest.mark.parametrize("config", [FeatureConfig(), ALL_BOOKS_SHIN], ids=["default", "shin"])
def test_the_featurizer_read_back_gives_every_pair_the_same_row(
    tables: tuple[pd.DataFrame, pd.DataFrame],  # noqa: F811
    config: FeatureConfig,
    tmp_path: Path,
) -> None:
    matches, odds = tables
    cut = _days(matches, 1)[-4]
    built = MatchupFeaturizer.from_history(matches[matches["date"] <= cut], odds, config)
    paths = built.to_files(tmp_path)
    assert sorted(p.name for p in paths) == ["featurizer.json", "featurizer.npz"]
    with np.load(tmp_path / "featurizer.npz", allow_pickle=False) as arrays:  # no object arrays
        assert all(arrays[name].dtype == np.float64 for name in arrays.files)
    read = MatchupFeaturizer.from_files(tmp_path, config)
    assert read.columns == built.columns and read.teams() == built.teams()
    assert (read.state_date, read.state_time) == (built.state_date, built.state_time)
    quotes = {"pinnacle": (2.1, 3.4, 3.6), "bet365": (2.05, 3.5, 3.5)}
    for sent in (None, quotes):
        np.testing.assert_array_equal(_every_pair(read, sent), _every_pair(built, sent))


def test_a_state_with_fixtures_and_a_closing_line_model_is_read_back_whole(
    tables: tuple[pd.DataFrame, pd.DataFrame],  # noqa: F811
    tmp_path: Path,
) -> None:
    matches, odds = tables
    days = _days(matches, 1)
    cut = days[-4]
    upcoming = _as_fixtures(matches[matches["date"] > cut])
    history = pd.concat([matches[matches["date"] <= cut], upcoming], ignore_index=True)
    state = ServingState.build(history, odds, FeatureConfig(), ClvSettings(min_matches=10))
    assert state.clv_model is not None and state.clv_book == "pinnacle"
    assert {f["match_id"] for f in state.fixtures} == set(upcoming["match_id"])
    priced = next(f for f in state.fixtures if f["odds"])
    assert set(priced["odds"]["pinnacle"]) == {"home", "draw", "away"}

    read = ServingState.load(state.save(tmp_path / "state"), FeatureConfig())
    assert read.clv_model == state.clv_model and read.clv_book == state.clv_book
    assert read.fixtures == state.fixtures and read.history == state.history
    assert read.describe() == state.describe()


def test_the_history_digest_moves_with_a_result_or_a_price(
    tables: tuple[pd.DataFrame, pd.DataFrame],  # noqa: F811
) -> None:
    matches, odds = tables
    base = history_digest(matches, odds)
    assert history_digest(matches.sample(frac=1.0, random_state=3), odds) == base  # order
    changed = matches.copy()
    changed.loc[changed.index[-1], "home_goals"] += 1
    assert history_digest(changed, odds) != base
    repriced = odds.copy()
    repriced.loc[repriced.index[0], "price"] += 0.01
    assert history_digest(matches, repriced) != base
