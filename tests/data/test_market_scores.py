"""The market scored on the real files: the evaluation code reproduces the stack notes' table.

De-margined 1X2 prices on all 72 shared files (six leagues, 2012-13 ... 2023-24), scored with
`sabiscore.evaluation`; the expected numbers are those of `shared/design/stack-notes.md`.
The only prices set aside are two Bet365 opening quotes of 0.00 in E1 (treated as unquoted,
as the validation suite drops prices <= 1.01; de-margining would reject them); no other
quote lies at or below 1.01, and every count matches the notes exactly.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from sabiscore.evaluation import (
    comparison_table,
    market_forecasts,
    market_probabilities,
    outcome_index,
    score,
)
from sabiscore.football_data import ParsedFile, one_x_two, parse_football_data

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

#: stack-notes: name -> (n, log loss, Brier (sum of 3), RPS, accuracy)
EXPECTED = {
    "pinnacle_close": (28_355, 0.9800, 0.5836, 0.1984, 0.523),
    "pinnacle_open": (28_331, 0.9825, 0.5853, 0.1992, 0.523),
    "bet365_open": (28_353, 0.9830, 0.5856, 0.1993, 0.523),
}
BOOKS = {
    "pinnacle_close": ("pinnacle", "close"),
    "pinnacle_open": ("pinnacle", "open"),
    "bet365_open": ("bet365", "open"),
}


def _parse(path: Path) -> ParsedFile:
    return parse_football_data(path.read_bytes(), str(path))


@pytest.fixture(scope="module")
def market(football_data_dir: Path) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """(wide 1X2 prices, results, leagues), all indexed by match_id."""
    files = sorted(football_data_dir.glob("*/*.csv"))
    assert len(files) == 72
    with ThreadPoolExecutor(max_workers=4) as pool:
        parsed = list(pool.map(_parse, files))
    matches = pd.concat([p.matches for p in parsed], ignore_index=True).set_index("match_id")
    assert matches.index.is_unique and (matches["status"] == "played").all()
    wide = one_x_two(pd.concat([p.odds for p in parsed], ignore_index=True))
    return wide, matches["result"], matches["league"]


def _scored(wide: pd.DataFrame, results: pd.Series, name: str, method: str = "multiplicative"):
    probs = market_probabilities(wide, *BOOKS[name], method=method).dropna()
    return score(probs.to_numpy(), outcome_index(results.loc[probs.index]))


@pytest.mark.parametrize("name", list(EXPECTED))
def test_de_margined_market_matches_the_stack_notes(market, name: str) -> None:
    wide, results, _ = market
    n, log_loss, brier, rps, accuracy = EXPECTED[name]
    scores = _scored(wide, results, name)
    assert scores.n == n
    assert scores.log_loss == pytest.approx(log_loss, abs=5e-4)
    assert scores.brier == pytest.approx(brier, abs=5e-4)
    assert scores.rps == pytest.approx(rps, abs=5e-4)
    assert scores.accuracy == pytest.approx(accuracy, abs=1e-3)
    assert scores.ece < 0.02, "the market is close to calibrated"


def test_premier_league_closing_line(market) -> None:
    wide, results, leagues = market
    table = comparison_table(
        {"pinnacle_close": market_probabilities(wide, "pinnacle", "close")}, results, leagues
    )
    e0 = table.set_index("group").loc["E0"]
    assert e0["n"] == 380 * 12
    assert e0[["log_loss", "brier", "rps"]].tolist() == pytest.approx(
        [0.9495, 0.5610, 0.1924], abs=5e-4
    )
    assert e0["accuracy"] == pytest.approx(0.554, abs=1e-3)


def test_de_margining_methods_agree_on_pinnacle_close(market) -> None:
    wide, results, _ = market
    losses = {
        m: _scored(wide, results, "pinnacle_close", m).log_loss
        for m in ("multiplicative", "power", "shin")
    }
    assert max(losses.values()) - min(losses.values()) < 5e-4


def test_comparison_on_common_matches_ranks_the_close_first(market) -> None:
    wide, results, leagues = market
    table = comparison_table(market_forecasts(wide), results, leagues)
    pooled = table[table["group"] == "all"].set_index("forecaster")
    assert pooled.index.tolist() == ["pinnacle_open", "pinnacle_close", "bet365_open"]
    # the fallback fills 2 of Pinnacle's 6 missing closes (28,357); all three quote 28,326
    assert pooled["n"].tolist() == [28_326] * 3
    assert pooled["log_loss"].idxmin() == "pinnacle_close"
    assert set(table["group"]) == {"all", "D1", "E0", "E1", "F1", "I1", "SP1"}
