"""What training fits and produces: the feature table it reads, each member's fit, the
evaluation and the outcome the pipeline registers.

These contracts are shared by the training, registry and backtest tasks; they live here, below
all of them, so that no task module imports another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sabiscore.evaluation import outcome_index


@dataclass(frozen=True)
class FeatureTable:
    """Features of every match in time order, with what is needed to split and to score."""

    X: pd.DataFrame  # numeric features, index match_id
    info: pd.DataFrame  # league, season, kickoff, result, status; index match_id
    market: pd.DataFrame  # wide 1X2 prices (open and close), index match_id

    def rows(self, mask: pd.Series) -> tuple[pd.DataFrame, np.ndarray]:
        keep = mask.to_numpy()
        return self.X.loc[keep], outcome_index(self.info.loc[keep, "result"].to_numpy())


@dataclass(frozen=True)
class BaseFit:
    """One base model: refitted on all training rows, plus its out-of-fold forecasts."""

    name: str
    model: Any  # refitted on all rows: what the stack uses
    oof: np.ndarray
    seconds: float
    calibrated: Any  # the model recalibrated on its out-of-fold forecasts: what is scored alone


@dataclass(frozen=True)
class Evaluation:
    table: pd.DataFrame  # forecaster x group (league, "all")
    curves: dict[str, pd.DataFrame]
    forecasts: dict[str, pd.DataFrame]


@dataclass(frozen=True)
class TrainingOutcome:
    """What the training steps produced: the flow's summary, and the objects the pipeline
    registers and gates (the fitted stack, the feature table, the evaluation)."""

    summary: dict
    stack: Any
    table: FeatureTable
    evaluation: Evaluation
    fit_index: pd.Index
    test_index: pd.Index
    config: dict
    matches: pd.DataFrame
    odds: pd.DataFrame
