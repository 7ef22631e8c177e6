"""Pre-match features: what was known about a match before its kick-off, as numbers.

Every feature of a match is computed from the state *after all matches of earlier dates*:
matches on the same day never see each other's results (the day is processed as a whole, then
the state is updated), and nothing of the match itself is read except its opening prices, which
are quoted before kick-off. Closing prices are never read. Fixtures (rows without a result) get
features from the latest state before their date, and never change the state themselves, so the
same code serves training and upcoming matches.

Families, each switchable in `configs/features.yaml`:

* ``form_``  rolling and exponentially weighted means of points, goals, shots, shots on target
  and corners, for and against, over all of a team's matches and over its home-only (home
  side) or away-only (away side) matches;
* ``elo_``   Elo ratings per league, regressed to the league mean between seasons; a team new to
  a league starts at the mean of the league's lowest third;
* ``pi_``    pi-ratings (Constantinou & Fenton 2013): a home and an away rating per team;
* ``rest_``  days since each team's previous match, capped;
* ``stage_`` how far the season has gone;
* ``mkt_``   the opening market: de-margined probabilities, overrounds, log-odds and the
  disagreement between bookmakers, and the over/under 2.5 goals line (``mkt_ou25_``). The stack
  notes found these the essential input.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sabiscore.features.config import (
    FAMILY_PREFIXES,
    FORM_STATS,
    SHARP_COLUMNS,
    EloConfig,
    FeatureConfig,
    FormConfig,
    MarketConfig,
    PiConfig,
    RestConfig,
    SeasonStageConfig,
)
from sabiscore.features.form import _form_features
from sabiscore.features.market import (
    _market_features,
    disagreement_books_of,
    market_features,
    sharp_line,
)
from sabiscore.features.maths import (
    elo_expected_score,
    elo_update,
    ewm_mean_by_group,
    pi_expected_goal_difference,
    pi_goal_difference,
    pi_update,
    rolling_mean_by_group,
)
from sabiscore.features.prepare import _prepare
from sabiscore.features.ratings import _elo_features, _pi_features
from sabiscore.features.rest_stage import _rest_features, _season_stage_features
from sabiscore.features.totals import TOTALS_COLUMNS, totals_line

__all__ = [
    "FAMILY_PREFIXES",
    "FORM_STATS",
    "SHARP_COLUMNS",
    "TOTALS_COLUMNS",
    "EloConfig",
    "FeatureConfig",
    "FormConfig",
    "MarketConfig",
    "PiConfig",
    "RestConfig",
    "SeasonStageConfig",
    "build_features",
    "disagreement_books_of",
    "elo_expected_score",
    "elo_update",
    "ewm_mean_by_group",
    "feature_columns",
    "market_features",
    "pi_expected_goal_difference",
    "pi_goal_difference",
    "pi_update",
    "rolling_mean_by_group",
    "sharp_line",
    "totals_line",
]

# --- assembly -------------------------------------------------------------------------------


def build_features(
    matches: pd.DataFrame, odds: pd.DataFrame, config: FeatureConfig | None = None
) -> pd.DataFrame:
    """Numeric pre-match features of every row of `matches` (played and fixtures), indexed by
    match_id in kick-off order. `odds` is the tidy price table of `football_data`; only its
    opening 1X2 rows (and over/under 2.5 rows, with `market.totals`) are read. NaN where a team
    has no history or a price is missing."""
    config = config or FeatureConfig()
    m = _prepare(matches)
    builders = {
        "form": lambda: _form_features(m, config.form),
        "elo": lambda: _elo_features(m, config.elo),
        "pi_ratings": lambda: _pi_features(m, config.pi_ratings),
        "rest": lambda: _rest_features(m, config.rest),
        "season_stage": lambda: _season_stage_features(m),
        "market": lambda: _market_features(m, odds, config.market),
    }
    columns: dict[str, np.ndarray] = {}
    for family in config.enabled_families():
        columns.update(builders[family]())
    return pd.DataFrame(columns, index=m.match_id, dtype=float)


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The feature columns of a frame (e.g. features joined with labels), in frame order.

    >>> feature_columns(pd.DataFrame({"elo_home": [1.0], "result": ["H"], "mkt_pinnacle_H": [.5]}))
    ['elo_home', 'mkt_pinnacle_H']
    """
    prefixes = tuple(FAMILY_PREFIXES.values())
    return [
        c
        for c in frame.columns
        if str(c).startswith(prefixes) and pd.api.types.is_numeric_dtype(frame[c])
    ]
