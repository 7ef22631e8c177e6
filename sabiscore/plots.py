"""Figures for evaluation reports: reliability diagrams, feature importance, bankroll paths.

Each function draws on its own matplotlib `Figure` with the Agg canvas and writes a PNG: no
pyplot, no global backend switch, nothing at import (matplotlib loads on the first call), so
the figures render the same in a flow on a server as on a laptop.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sabiscore.outcomes import RESULT_CODES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CLASS_TITLES = dict(zip(RESULT_CODES, ("Home win (H)", "Draw (D)", "Away win (A)"), strict=True))


def _figure(width: float, height: float, ncols: int = 1) -> tuple[Figure, list]:
    """A figure on the Agg canvas (file output only) and its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, ncols, squeeze=False)[0]
    return figure, list(axes)


def _save(figure: Figure, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=120)
    return path


def _panel_limits(curves: dict[str, pd.DataFrame]) -> tuple[float, float]:
    """Square limits around one class's points: a draw rarely passes 0.4, a home win 0.9."""
    points = pd.concat([c[["mean_predicted", "observed"]] for c in curves.values()])
    if points.empty:
        return 0.0, 1.0
    low, high = float(points.min().min()), float(points.max().max())
    pad = max(0.02, 0.05 * (high - low))
    return max(0.0, low - pad), min(1.0, high + pad)


def calibration_plot(
    curves: dict[str, pd.DataFrame], path: Path | str, min_count: int = 20
) -> Path:
    """Reliability diagrams, one panel per class H/D/A, one line per forecaster.

    `curves` maps a forecaster's name to its `evaluation.reliability_curve`; points on the
    diagonal are calibrated, points above it are outcomes that happened more than forecast.
    Bins of fewer than `min_count` matches are left out: one 0.43 draw that happened would
    otherwise draw a spike to 1.0 that says nothing.
    """
    if not curves:
        raise ValueError("no reliability curves to plot")
    figure, axes = _figure(13.5, 4.8, ncols=3)
    for axis, outcome in zip(axes, CLASS_TITLES, strict=True):
        panel = {
            name: c[(c["class"] == outcome) & (c["count"] >= min_count)]
            for name, c in curves.items()
        }
        low, high = _panel_limits(panel)
        axis.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1)
        for name, rows in panel.items():
            axis.plot(
                rows["mean_predicted"], rows["observed"], marker="o", markersize=4, label=name
            )
        axis.set(xlim=(low, high), ylim=(low, high), title=CLASS_TITLES[outcome], aspect="equal")
        axis.set_xlabel("mean forecast probability")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("observed frequency")
    axes[0].legend(loc="upper left", fontsize="small")
    figure.suptitle(
        f"Reliability: equal-width bins of at least {min_count} matches; "
        "dashed line = perfectly calibrated"
    )
    return _save(figure, path)


def feature_importance_plot(importances: pd.Series, path: Path | str, top_n: int = 25) -> Path:
    """Horizontal bars of the `top_n` largest importances, the largest at the top."""
    if importances.empty:
        raise ValueError("no feature importances to plot")
    top = importances.sort_values(ascending=False).head(top_n).iloc[::-1]
    figure, (axis,) = _figure(8.0, 1.2 + 0.28 * len(top))
    axis.barh([str(name) for name in top.index], top.to_numpy(), color="tab:blue")
    axis.set_xlabel(importances.name or "importance")
    axis.set_title(f"Feature importance (top {len(top)} of {len(importances)})")
    axis.grid(axis="x", alpha=0.3)
    return _save(figure, path)


def bankroll_plot(series: dict[str, pd.Series], path: Path | str) -> Path:
    """Bankroll over bets or dates, one line per staking strategy or forecaster."""
    if not series:
        raise ValueError("no bankroll series to plot")
    figure, (axis,) = _figure(10.0, 5.0)
    for name, bankroll in series.items():
        axis.plot(bankroll.index, bankroll.to_numpy(), linewidth=1.2, label=name)
    starts = {float(s.iloc[0]) for s in series.values() if len(s)}
    if len(starts) == 1:  # a common starting bankroll: the break-even line
        axis.axhline(starts.pop(), color="grey", linestyle="--", linewidth=1, label="start")
    axis.set(xlabel=next(iter(series.values())).index.name or "bet", ylabel="bankroll")
    axis.set_title("Bankroll")
    axis.legend(fontsize="small")
    axis.grid(alpha=0.3)
    return _save(figure, path)


#: Quality tiers from the smallest edge to the largest (sabiscore.staking.QualityTier).
TIER_ORDER = ("marginal", "value", "premium")


def roi_by_tier_plot(tiers: pd.DataFrame, path: Path | str) -> Path:
    """ROI and yield per quality tier, one bar per strategy, with bootstrap intervals.

    `tiers` has one row per (strategy, tier): columns `strategy`, `group` (the tier), `bets`,
    and `roi`, `yield` with their `_low` / `_high` bounds (`sabiscore.backtest` results rows).
    """
    if tiers.empty:
        raise ValueError("no per-tier results to plot")
    known = [t for t in TIER_ORDER if t in set(tiers["group"])]
    order = known + sorted(set(tiers["group"]) - set(known))
    strategies = list(dict.fromkeys(tiers["strategy"]))
    width = 0.8 / len(strategies)
    figure, axes = _figure(12.0, 4.8, ncols=2)
    for axis, metric in zip(axes, ("roi", "yield"), strict=True):
        for s, strategy in enumerate(strategies):
            rows = tiers[tiers["strategy"] == strategy].set_index("group").reindex(order)
            x = [i + (s - (len(strategies) - 1) / 2) * width for i in range(len(order))]
            values = rows[metric].to_numpy(dtype=float)
            low = rows[f"{metric}_low"].to_numpy(dtype=float)
            high = rows[f"{metric}_high"].to_numpy(dtype=float)
            # a percentile interval of a ratio need not contain the estimate itself
            errors = [(values - low).clip(min=0), (high - values).clip(min=0)]
            axis.bar(x, values, width, yerr=errors, capsize=3, label=strategy)
            for xi, n in zip(x, rows["bets"], strict=True):
                if pd.notna(n):
                    axis.annotate(f"{int(n)}", (xi, 0), ha="center", va="bottom", fontsize=7)
        axis.axhline(0.0, color="grey", linewidth=1)
        axis.set_xticks(range(len(order)), order)
        axis.set_xlabel("quality tier (bets at the foot of each bar)")
        axis.grid(axis="y", alpha=0.3)
    axes[0].set(ylabel="profit ÷ initial bankroll", title="ROI by tier (flat stakes)")
    axes[1].set(ylabel="profit ÷ turnover", title="Yield by tier")
    axes[0].legend(fontsize="small")
    figure.suptitle("Bars: value; whiskers: bootstrap interval")
    return _save(figure, path)


def clv_histogram_plot(clv: dict[str, pd.Series], path: Path | str, bins: int = 40) -> Path:
    """Distribution of closing-line value per strategy, as shares of its bets, with the means.

    CLV = price taken ÷ fair closing price − 1: right of zero, the bet beat the close. Values
    beyond the pooled 0.5 % and 99.5 % quantiles are counted in the end bins.
    """
    present = {name: values.dropna() for name, values in clv.items() if values.notna().any()}
    if not present:
        raise ValueError("no closing-line values to plot")
    pooled = pd.concat(present.values())
    low, high = pooled.quantile([0.005, 0.995])
    step = (high - low) / bins
    edges = [low + i * step for i in range(bins + 1)] if high > low else bins
    figure, (axis,) = _figure(10.0, 5.0)
    for index, (name, values) in enumerate(present.items()):
        colour = f"C{index}"
        label = f"{name} (mean {values.mean():+.2%})"
        weights = [1.0 / len(values)] * len(values)
        axis.hist(
            values.clip(low, high),
            bins=edges,
            weights=weights,
            histtype="step",
            linewidth=1.4,
            color=colour,
            label=label,
        )
        axis.axvline(values.mean(), color=colour, linestyle=":", linewidth=1.2)
    axis.axvline(0.0, color="grey", linestyle="--", linewidth=1)
    axis.set(xlabel="closing-line value (price taken ÷ fair close − 1)", ylabel="share of bets")
    axis.set_title("Closing-line value of the bets (the end bins hold the tails)")
    axis.legend(fontsize="small")
    axis.grid(alpha=0.3)
    return _save(figure, path)
