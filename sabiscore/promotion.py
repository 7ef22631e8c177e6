"""The promotion gate: should a newly trained model replace the champion?

A pure function of the candidate's and the champion's scores on the SAME holdout matches, the
market's score there, and a policy from `configs/promotion.yaml`. The flow applies the decision
(aliases in the registry); this module only decides and says why, in one sentence a person can
read in the MLflow UI.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sabiscore.config import reject_unknown_keys


@dataclass(frozen=True)
class HoldoutScores:
    """A forecaster's scores on one holdout; `holdout_id` names the exact set of matches."""

    name: str
    holdout_id: str
    n: int
    log_loss: float | None
    brier: float | None
    rps: float | None
    ece: float | None

    def complete(self) -> bool:
        values = (self.log_loss, self.brier, self.rps, self.ece)
        return all(v is not None and math.isfinite(v) for v in values)


@dataclass(frozen=True)
class PromotionPolicy:
    max_ece: float = 0.05  # sanity: a model this badly calibrated is never promoted
    min_log_loss_gain: float = 0.001  # the candidate must beat the champion by at least this
    rps_tolerance: float = 0.001  # ... and not be worse than this on RPS
    brier_tolerance: float = 0.002  # ... or on Brier (sum over 3 outcomes)
    max_ece_increase: float = 0.01  # ... nor lose this much calibration
    require_beat_market: bool = False  # when true, log loss must be <= market + tolerance
    market_tolerance: float = 0.0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> PromotionPolicy:
        d = dict(d or {})
        reject_unknown_keys(d, cls, "promotion policy")
        return cls(**d)


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def probabilities_valid(probs: np.ndarray, tolerance: float = 1e-6) -> str | None:
    """None when every row is a probability distribution over H/D/A, else what is wrong.

    >>> probabilities_valid(np.array([[0.5, 0.3, 0.2]])) is None
    True
    """
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 2 or probs.shape[1] != 3 or len(probs) == 0:
        return f"expected an (n, 3) array of probabilities, got shape {probs.shape}"
    if not np.isfinite(probs).all():
        return f"{int((~np.isfinite(probs)).any(axis=1).sum())} rows hold NaN or infinity"
    if (probs < 0).any() or (probs > 1).any():
        return "probabilities outside [0, 1]"
    worst = float(np.abs(probs.sum(axis=1) - 1).max())
    if worst > tolerance:
        return f"rows do not sum to 1 (worst off by {worst:.2g})"
    return None


def _market_note(candidate: HoldoutScores, market: HoldoutScores | None) -> str:
    if market is None or market.log_loss is None:
        return "market: not available on this holdout"
    gap = candidate.log_loss - market.log_loss
    return f"market ({market.name}) log loss {market.log_loss:.4f}, candidate {gap:+.4f}"


def decide_promotion(
    candidate: HoldoutScores,
    champion: HoldoutScores | None,
    market: HoldoutScores | None,
    policy: PromotionPolicy,
    candidate_probs: np.ndarray | None = None,
) -> Decision:
    """Sanity first, then the champion on the same matches, then (optionally) the market."""
    problem = probabilities_valid(candidate_probs) if candidate_probs is not None else None
    if problem:
        return Decision(False, f"sanity failed: {problem}")
    if not candidate.complete():
        return Decision(False, "sanity failed: the candidate's holdout metrics are missing or NaN")
    if candidate.ece > policy.max_ece:
        return Decision(
            False, f"sanity failed: calibration error {candidate.ece:.4f} > {policy.max_ece}"
        )
    market_note = _market_note(candidate, market)
    if policy.require_beat_market and market is not None and market.log_loss is not None:
        if candidate.log_loss > market.log_loss + policy.market_tolerance:
            return Decision(
                False, f"does not beat the market as the policy requires; {market_note}"
            )
    if champion is None:
        return Decision(True, f"first model: sanity passed; {market_note}")
    if not champion.complete():
        return Decision(
            True, f"the champion has no holdout metrics to compare; sanity passed; {market_note}"
        )
    if champion.holdout_id != candidate.holdout_id:
        return Decision(
            False, "not comparable: candidate and champion were scored on different holdout matches"
        )
    return _against_champion(candidate, champion, policy, market_note)


def _against_champion(
    candidate: HoldoutScores, champion: HoldoutScores, policy: PromotionPolicy, market_note: str
) -> Decision:
    gain = champion.log_loss - candidate.log_loss
    if gain < policy.min_log_loss_gain:
        return Decision(
            False,
            f"log loss {candidate.log_loss:.4f} vs champion "
            f"{champion.log_loss:.4f}: gain {gain:+.4f} < required "
            f"{policy.min_log_loss_gain}; {market_note}",
        )
    worse = []
    if candidate.rps > champion.rps + policy.rps_tolerance:
        worse.append(f"RPS {candidate.rps:.4f} vs {champion.rps:.4f}")
    if candidate.brier > champion.brier + policy.brier_tolerance:
        worse.append(f"Brier {candidate.brier:.4f} vs {champion.brier:.4f}")
    if candidate.ece > champion.ece + policy.max_ece_increase:
        worse.append(f"calibration error {candidate.ece:.4f} vs {champion.ece:.4f}")
    if worse:
        return Decision(
            False,
            f"log loss improves by {gain:.4f} but {', '.join(worse)} got "
            f"worse beyond tolerance; {market_note}",
        )
    return Decision(
        True,
        f"log loss improves by {gain:.4f} over the champion "
        f"({champion.log_loss:.4f} -> {candidate.log_loss:.4f}); {market_note}",
    )


def next_semver(
    previous: str | None,
    previous_feature_hash: str | None,
    previous_params_hash: str | None,
    feature_hash: str,
    params_hash: str,
) -> str:
    """The semantic version of a new model, from the latest registered one.

    Major: the feature set changed (a caller must send other inputs); minor: the same features
    with other training parameters; patch: a plain retrain on new data. The first model is 1.0.0.

    >>> next_semver("1.2.3", "f1", "p1", "f1", "p1"), next_semver("1.2.3", "f1", "p1", "f1", "p2")
    ('1.2.4', '1.3.0')
    >>> next_semver("1.2.3", "f1", "p1", "f2", "p1"), next_semver(None, None, None, "f", "p")
    ('2.0.0', '1.0.0')
    """
    if previous is None:
        return "1.0.0"
    try:
        major, minor, patch = (int(part) for part in previous.split("."))
    except ValueError:
        raise ValueError(f"not a semantic version: {previous!r}") from None
    if feature_hash != previous_feature_hash:
        return f"{major + 1}.0.0"
    if params_hash != previous_params_hash:
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"
