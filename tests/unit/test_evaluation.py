"""Evaluation metrics, market forecasts and the comparison table, on hand-computed cases."""

from __future__ import annotations

import doctest
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sabiscore import evaluation
from sabiscore.evaluation import (
    MARKET_FORECASTERS,
    Scores,
    accuracy,
    brier,
    comparison_table,
    expected_calibration_error,
    log_loss,
    market_forecasts,
    market_probabilities,
    outcome_index,
    reliability_curve,
    rps,
    score,
    to_markdown,
)
from sabiscore.plots import bankroll_plot, calibration_plot, feature_importance_plot

REPO = Path(__file__).resolve().parents[2]

# Two matches, worked by hand (class order H, D, A):
#   match 1: forecast (0.5, 0.25, 0.25), home win  -> y = 0
#   match 2: forecast (0.2, 0.3, 0.5),   away win  -> y = 2
TWO = np.array([[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]])
TWO_Y = np.array([0, 2])


def test_outcome_index_maps_h_d_a_and_rejects_anything_else() -> None:
    assert outcome_index(pd.Series(["H", "D", "A", "H"])).tolist() == [0, 1, 2, 0]
    with pytest.raises(ValueError, match="one of H, D, A"):
        outcome_index(["H", "X"])
    with pytest.raises(ValueError, match="one of H, D, A"):
        outcome_index(["h"])
    with pytest.raises(ValueError, match="one of H, D, A"):
        outcome_index(["H", None])


# --- the metrics, by hand ----------------------------------------------------------------------


def test_log_loss_two_matches() -> None:
    # -(ln 0.5 + ln 0.5) / 2 = ln 2
    assert log_loss(TWO, TWO_Y) == pytest.approx(math.log(2))
    # results given as letters score the same
    assert log_loss(TWO, ["H", "A"]) == pytest.approx(math.log(2))


def test_brier_is_the_sum_over_three_classes() -> None:
    # match 1: (0.5 - 1)^2 + 0.25^2 + 0.25^2 = 0.25 + 0.0625 + 0.0625 = 0.375
    # match 2: 0.2^2 + 0.3^2 + (0.5 - 1)^2   = 0.04 + 0.09 + 0.25     = 0.38
    # mean (0.375 + 0.38) / 2 = 0.3775  (a mean over classes would be a third of that)
    assert brier(TWO, TWO_Y) == pytest.approx(0.3775)


def test_rps_two_matches() -> None:
    # match 1: cumulative forecast (0.5, 0.75) vs observed (1, 1):
    #          ((0.5)^2 + (0.25)^2) / 2 = (0.25 + 0.0625) / 2 = 0.15625
    # match 2: cumulative forecast (0.2, 0.5) vs observed (0, 0):
    #          (0.04 + 0.25) / 2 = 0.145
    # mean (0.15625 + 0.145) / 2 = 0.150625
    assert rps(TWO, TWO_Y) == pytest.approx(0.150625)


def test_accuracy_counts_the_most_probable_outcome() -> None:
    assert accuracy(TWO, TWO_Y) == 1.0
    assert accuracy(TWO, [1, 1]) == 0.0
    assert accuracy(TWO, [0, 0]) == 0.5
    # a tie goes to the first class in H, D, A order
    assert accuracy([[0.4, 0.4, 0.2]], [0]) == 1.0


def test_perfect_forecast_scores_zero() -> None:
    y = np.array([0, 1, 2, 0])
    perfect = np.eye(3)[y]
    assert log_loss(perfect, y) == pytest.approx(0.0, abs=1e-12)
    assert brier(perfect, y) == 0.0
    assert rps(perfect, y) == 0.0
    assert accuracy(perfect, y) == 1.0
    assert expected_calibration_error(perfect, y) == 0.0


def test_certain_miss_is_clipped_not_infinite() -> None:
    # -ln(1e-15) = 34.54
    assert log_loss([[1.0, 0.0, 0.0]], [2]) == pytest.approx(-math.log(1e-15))
    assert brier([[1.0, 0.0, 0.0]], [2]) == 2.0


def test_uniform_forecast_scores_log_three() -> None:
    y = np.array([0, 1, 2, 2, 0])
    uniform = np.full((5, 3), 1 / 3)
    assert log_loss(uniform, y) == pytest.approx(math.log(3))
    # Brier: (2/3)^2 + 2 * (1/3)^2 = 6/9 = 2/3 for every outcome
    assert brier(uniform, y) == pytest.approx(2 / 3)


def test_rps_penalises_a_far_miss_more_than_a_near_one() -> None:
    forecast = [[0.8, 0.1, 0.1]]
    # draw: cumulative (0.8, 0.9) vs (0, 1): (0.64 + 0.01) / 2 = 0.325
    # away: cumulative (0.8, 0.9) vs (0, 0): (0.64 + 0.81) / 2 = 0.725
    near, far = rps(forecast, [1]), rps(forecast, [2])
    assert near == pytest.approx(0.325)
    assert far == pytest.approx(0.725)
    # Brier does not see the order: 0.8^2 + 0.9^2 + 0.1^2 = 0.64 + 0.81 + 0.01 = 1.46 either way
    assert brier(forecast, [1]) == pytest.approx(1.46)
    assert brier(forecast, [2]) == pytest.approx(1.46)


# --- calibration --------------------------------------------------------------------------------


def test_ece_is_zero_when_frequencies_match_the_forecast() -> None:
    # ten matches all forecast (0.5, 0.3, 0.2); 5 home wins, 3 draws, 2 away wins
    probs = np.tile([0.5, 0.3, 0.2], (10, 1))
    y = np.array([0] * 5 + [1] * 3 + [2] * 2)
    assert expected_calibration_error(probs, y) == pytest.approx(0.0, abs=1e-12)


def test_ece_two_bins_by_hand() -> None:
    # (0.8, 0.1, 0.1) twice: H then D.  (0.2, 0.3, 0.5) twice: A, A.
    probs = np.array([[0.8, 0.1, 0.1]] * 2 + [[0.2, 0.3, 0.5]] * 2)
    y = np.array([0, 1, 2, 2])
    # H: bin 8 |0.8 - 0.5| = 0.3 (2 matches), bin 2 |0.2 - 0| = 0.2 (2) -> (0.6 + 0.4) / 4 = 0.25
    # D: bin 1 |0.1 - 0.5| = 0.4 (2),         bin 3 |0.3 - 0| = 0.3 (2) -> (0.8 + 0.6) / 4 = 0.35
    # A: bin 1 |0.1 - 0| = 0.1 (2),           bin 5 |0.5 - 1| = 0.5 (2) -> (0.2 + 1.0) / 4 = 0.30
    # mean over classes (0.25 + 0.35 + 0.30) / 3 = 0.30
    assert expected_calibration_error(probs, y) == pytest.approx(0.30)


def test_reliability_curve_rows() -> None:
    probs = np.array([[0.8, 0.1, 0.1]] * 2 + [[0.2, 0.3, 0.5]] * 2)
    curve = reliability_curve(probs, [0, 1, 2, 2])
    assert list(curve.columns) == ["class", "bin", "mean_predicted", "observed", "count"]
    home = curve[curve["class"] == "H"].set_index("bin")
    assert home["mean_predicted"].to_dict() == pytest.approx({2: 0.2, 8: 0.8})
    assert home["observed"].to_dict() == {2: 0.0, 8: 0.5}
    assert curve.groupby("class")["count"].sum().to_dict() == {"A": 4, "D": 4, "H": 4}
    # a probability of exactly 1 falls in the last bin, not an eleventh
    assert reliability_curve([[1.0, 0.0, 0.0]], [0])["bin"].max() == 9


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probs", "y", "message"),
    [
        ([[0.5, np.nan, 0.5]], [0], "NaN"),
        ([[0.5, 0.5]], [0], r"\(n, 3\)"),
        ([0.5, 0.25, 0.25], [0], r"\(n, 3\)"),
        ([[0.5, 0.3, 0.3]], [0], "sum to 1"),
        ([[1.2, -0.1, -0.1]], [0], r"\[0, 1\]"),
        (np.empty((0, 3)), [], "no forecasts"),
        ([[0.5, 0.25, 0.25]], [0, 1], "1 forecasts but 2 outcomes"),
        ([[0.5, 0.25, 0.25]], [3], "0 \\(H\\), 1 \\(D\\) or 2 \\(A\\)"),
        ([[0.5, 0.25, 0.25]], ["W"], "one of H, D, A"),
    ],
)
def test_score_rejects_bad_input(probs, y, message) -> None:
    with pytest.raises(ValueError, match=message):
        score(probs, y)


def test_score_gathers_every_metric() -> None:
    scores = score(TWO, TWO_Y)
    assert isinstance(scores, Scores)
    assert scores.n == 2
    assert scores.log_loss == pytest.approx(math.log(2))
    assert scores.brier == pytest.approx(0.3775)
    assert scores.rps == pytest.approx(0.150625)
    assert scores.accuracy == 1.0
    with pytest.raises(AttributeError):
        scores.n = 3  # type: ignore[misc]


def test_rows_summing_to_one_within_float_error_are_accepted() -> None:
    assert score([[0.1 + 1e-9, 0.2, 0.7 - 1e-9]], [2]).n == 1


# --- the market ---------------------------------------------------------------------------------


def _wide() -> pd.DataFrame:
    """Three matches' prices as `one_x_two` gives them."""
    nan = np.nan
    return pd.DataFrame(
        {
            "pinnacle_close_H": [2.0, nan, 1.9],
            "pinnacle_close_D": [4.0, nan, 3.5],
            "pinnacle_close_A": [4.0, nan, 4.2],
            "market_avg_close_H": [2.1, 1.5, nan],
            "market_avg_close_D": [3.6, 4.0, nan],
            "market_avg_close_A": [3.6, 6.0, nan],
            "bet365_open_H": [0.0, 2.5, 1.8],  # 0.00: a broken quote in the raw files
            "bet365_open_D": [3.4, 3.2, 3.6],
            "bet365_open_A": [3.4, 3.0, 4.5],
        },
        index=pd.Index(["m1", "m2", "m3"], name="match_id"),
    )


def test_market_probabilities_are_de_margined_and_nan_where_unquoted() -> None:
    probs = market_probabilities(_wide(), "pinnacle", "close")
    assert list(probs.columns) == ["H", "D", "A"]
    assert probs.index.tolist() == ["m1", "m2", "m3"]
    # 1/2 + 1/4 + 1/4 = 1: no margin to remove
    assert probs.loc["m1"].tolist() == pytest.approx([0.5, 0.25, 0.25])
    assert probs.loc["m2"].isna().all()
    assert probs.loc["m3"].sum() == pytest.approx(1.0)


def test_market_probabilities_fall_back_only_where_the_book_is_missing() -> None:
    probs = market_probabilities(_wide(), "pinnacle", "close", fallback=("market_avg", "close"))
    assert probs.loc["m1"].tolist() == pytest.approx([0.5, 0.25, 0.25])  # Pinnacle kept
    # m2 from the average: 1/1.5 + 1/4 + 1/6 = 13/12 -> (8/13, 3/13, 2/13)
    assert probs.loc["m2"].tolist() == pytest.approx([8 / 13, 3 / 13, 2 / 13])
    assert probs.notna().all().all()


def test_market_probabilities_treat_prices_at_or_below_1_01_as_unquoted() -> None:
    probs = market_probabilities(_wide(), "bet365", "open")
    assert probs.loc["m1"].isna().all()
    assert probs.loc[["m2", "m3"]].notna().all().all()


def test_market_probabilities_of_an_absent_book_are_nan() -> None:
    assert market_probabilities(_wide(), "pinnacle", "open").isna().all().all()


def test_market_forecasts_follow_the_named_forecasters() -> None:
    forecasts = market_forecasts(_wide(), "power")
    assert list(forecasts) == ["pinnacle_open", "pinnacle_close", "bet365_open"]
    assert forecasts["pinnacle_close"].notna().all().all()  # m2 from the average close
    with pytest.raises(KeyError, match="unknown market forecaster"):
        market_forecasts(_wide(), names=["betfair_close"])


def test_config_names_known_forecasters_and_a_method() -> None:
    config = yaml.safe_load((REPO / "configs" / "evaluation.yaml").read_text())
    assert set(config["market_forecasters"]) <= set(MARKET_FORECASTERS)
    assert config["implied_method"] in {"multiplicative", "power", "shin"}
    assert config["calibration_bins"] >= 2


# --- the comparison table -----------------------------------------------------------------------


def _frame(rows: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index", columns=["H", "D", "A"])


def test_comparison_table_scores_only_the_common_matches_by_group() -> None:
    model = _frame({"a": [0.5, 0.25, 0.25], "b": [0.2, 0.3, 0.5], "c": [1 / 3] * 3})
    market = _frame(
        {"a": [0.5, 0.25, 0.25], "b": [np.nan] * 3, "c": [0.6, 0.2, 0.2], "d": [0.4, 0.3, 0.3]}
    )
    results = pd.Series({"a": "H", "b": "A", "c": "D", "d": "H", "e": None})
    leagues = pd.Series({"a": "E0", "b": "E0", "c": "SP1", "d": "SP1", "e": "E0"})
    table = comparison_table({"model": model, "market": market}, results, leagues)

    assert list(table.columns) == [
        "forecaster",
        "group",
        "n",
        "log_loss",
        "brier",
        "rps",
        "accuracy",
        "ece",
    ]
    # common matches: a and c (b lacks the market, d the model, e a result)
    assert table[["forecaster", "group", "n"]].values.tolist() == [
        ["model", "all", 2],
        ["market", "all", 2],
        ["model", "E0", 1],
        ["market", "E0", 1],
        ["model", "SP1", 1],
        ["market", "SP1", 1],
    ]
    by = table.set_index(["forecaster", "group"])
    # model on a (H at 0.5) and c (D at 1/3): (ln 2 + ln 3) / 2
    assert by.loc[("model", "all"), "log_loss"] == pytest.approx((math.log(2) + math.log(3)) / 2)
    assert by.loc[("market", "SP1"), "log_loss"] == pytest.approx(-math.log(0.2))
    assert by.loc[("model", "E0"), "brier"] == pytest.approx(0.375)


def test_comparison_table_without_groups_has_one_row_per_forecaster() -> None:
    forecasts = {name: _frame({"a": [0.5, 0.25, 0.25]}) for name in ("z", "y", "x")}
    table = comparison_table(forecasts, pd.Series({"a": "H"}))
    assert table["forecaster"].tolist() == ["z", "y", "x"]
    assert table["group"].tolist() == ["all"] * 3


def test_comparison_table_errors() -> None:
    good = _frame({"a": [0.5, 0.25, 0.25]})
    with pytest.raises(ValueError, match="no match"):
        comparison_table({"m": good}, pd.Series({"b": "H"}))
    with pytest.raises(ValueError, match="columns H, D, A"):
        comparison_table({"m": good.rename(columns={"D": "X"})}, pd.Series({"a": "H"}))
    with pytest.raises(ValueError, match="one of H, D, A"):
        comparison_table({"m": good}, pd.Series({"a": "Z"}))
    with pytest.raises(ValueError, match="no forecasters"):
        comparison_table({}, pd.Series({"a": "H"}))


def test_to_markdown_writes_a_table_and_the_brier_note() -> None:
    table = comparison_table({"model": _frame({"a": [0.5, 0.25, 0.25]})}, pd.Series({"a": "H"}))
    text = to_markdown(table)
    lines = text.splitlines()
    assert lines[0] == "| forecaster | group | n | log_loss | brier | rps | accuracy | ece |"
    assert lines[1] == "|---|---|---:|---:|---:|---:|---:|---:|"
    assert lines[2] == "| model | all | 1 | 0.6931 | 0.3750 | 0.1562 | 1.0000 | 0.3333 |"
    assert "sum over the 3 classes" in text


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(evaluation).failed == 0


def test_importing_the_modules_loads_no_plotting_or_framework() -> None:
    code = (
        "import sys, sabiscore.evaluation, sabiscore.plots\n"
        "print(','.join(m for m in ('matplotlib', 'prefect', 'mlflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# --- figures ------------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n"


def test_plots_write_pngs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([4, 2, 3], size=300)
    y = np.array([rng.choice(3, p=p) for p in probs])
    curves = {"model": reliability_curve(probs, y), "uniform": reliability_curve(probs[::-1], y)}
    importances = pd.Series(rng.random(40), index=[f"feature_{i}" for i in range(40)])
    bankroll = {"kelly": pd.Series(np.cumprod(1 + rng.normal(0, 0.02, 100)))}
    paths = [
        calibration_plot(curves, tmp_path / "calibration.png"),
        feature_importance_plot(importances, tmp_path / "deep" / "importance.png", top_n=10),
        bankroll_plot(bankroll, tmp_path / "bankroll.png"),
    ]
    for path in paths:
        assert path.read_bytes().startswith(PNG)
    with pytest.raises(ValueError, match="no reliability curves"):
        calibration_plot({}, tmp_path / "empty.png")
