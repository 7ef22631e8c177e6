"""The promotion gate: should a newly trained model replace the champion?

A pure function of the candidate's and the champion's scores on the SAME holdout matches, the
market's score there, and a policy from `configs/promotion.yaml`. The flow applies the decision
(aliases in the registry); this module only decides and says why, in one sentence a person can
read in the MLflow UI.

Three bars, in this order, the first model included:

* sanity — valid probabilities, and a calibration error no worse than the market's own on the
  same matches (never below what chance alone gives a calibrated forecast on that many
  matches) plus a margin (`ece_bound`);
* the market — log loss no worse than the market's (Pinnacle's de-margined opening line by
  default) by more than `market.tolerance`: a model the market beats has no edge to offer;
* the champion — a clear gain in log loss, and no loss beyond tolerance in RPS, Brier or
  calibration.

What is served after a promotion is the promoted configuration refitted on every played match,
the holdout included (`refit`): that refit trained on the next gate's holdout when no new season
has been played since, so `champion_reference` says which version stands for it at the gate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol, TypeGuard

import numpy as np

from sabiscore.config import reject_unknown_keys
from sabiscore.evaluation import MARKET_FORECASTERS

#: Slack for comparing a gap with its tolerance: 0.9900 - 0.9880 is 0.0020000000000000018 in
#: binary, and a gap equal to the tolerance in decimal is not "more than" it.
_SLACK = 1e-12

#: A perfectly calibrated 1X2 forecast shows, by chance alone, a class-wise ECE (10 bins, as
#: `sabiscore.evaluation.score`) of about this times sqrt(10 / n) on n matches: measured by
#: drawing outcomes from de-margined opening prices, 300 draws at each n from 240 to 3,800
#: (0.26-0.27; the 95th percentile is about 0.37 times it).
CHANCE_ECE_FACTOR = 0.27


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


class CompleteScores(Protocol):
    """A `HoldoutScores` with every metric (what `is_complete` lets through)."""

    @property
    def name(self) -> str: ...
    @property
    def holdout_id(self) -> str: ...
    @property
    def n(self) -> int: ...
    @property
    def log_loss(self) -> float: ...
    @property
    def brier(self) -> float: ...
    @property
    def rps(self) -> float: ...
    @property
    def ece(self) -> float: ...


def is_complete(scores: HoldoutScores | None) -> TypeGuard[CompleteScores]:
    """Whether `scores` exist and hold every metric, finite: only those are compared."""
    return scores is not None and scores.complete()


class WhenNoMarket(StrEnum):
    """What the gate does when the market prices none of the holdout matches."""

    SKIP = "skip"  # decide without the market rule: sanity and the champion still apply
    REFUSE = "refuse"  # promote nothing that was not measured against the market


@dataclass(frozen=True)
class MarketRule:
    """The market as a bar to clear (`market` in configs/promotion.yaml)."""

    forecaster: str = "pinnacle_open"  # a name of sabiscore.evaluation.MARKET_FORECASTERS
    required: bool = True  # false: the market is reported, never a reason to refuse
    tolerance: float = 0.002  # log loss may be worse than the market's by at most this
    when_missing: WhenNoMarket = WhenNoMarket.SKIP

    def __post_init__(self) -> None:
        if self.forecaster not in MARKET_FORECASTERS:
            known = ", ".join(MARKET_FORECASTERS)
            raise ValueError(f"unknown market forecaster {self.forecaster!r}; known: {known}")
        if not isinstance(self.required, bool):
            raise ValueError(f"market.required must be true or false, got {self.required!r}")
        if not (_is_number(self.tolerance) and self.tolerance >= 0):
            raise ValueError(f"market.tolerance must be a number >= 0, got {self.tolerance!r}")
        if self.when_missing not in set(WhenNoMarket):
            known = ", ".join(WhenNoMarket)
            raise ValueError(f"market.when_missing must be one of {known}: {self.when_missing!r}")
        object.__setattr__(self, "when_missing", WhenNoMarket(self.when_missing))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> MarketRule:
        d = dict(d or {})
        reject_unknown_keys(d, cls, "promotion market")
        return cls(**d)


@dataclass(frozen=True)
class RefitRule:
    """`refit` in configs/promotion.yaml: serve the promoted configuration refitted on every
    played match, the gate's holdout included, instead of the version the gate judged."""

    enabled: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ValueError(f"refit.enabled must be true or false, got {self.enabled!r}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> RefitRule:
        d = dict(d or {})
        reject_unknown_keys(d, cls, "promotion refit")
        return cls(**d)


@dataclass(frozen=True)
class PromotionPolicy:
    ece_margin: float = 0.01  # sanity: calibration error at most the market's (or chance's) + this
    min_log_loss_gain: float = 0.001  # the candidate must beat the champion by at least this
    rps_tolerance: float = 0.001  # ... and not be worse than this on RPS
    brier_tolerance: float = 0.002  # ... or on Brier (sum over 3 outcomes)
    max_ece_increase: float = 0.01  # ... nor lose this much calibration
    market: MarketRule = field(default_factory=MarketRule)
    refit: RefitRule = field(default_factory=RefitRule)

    def __post_init__(self) -> None:
        if not (_is_number(self.ece_margin) and self.ece_margin >= 0):
            raise ValueError(f"ece_margin must be a number >= 0, got {self.ece_margin!r}")
        if not isinstance(self.market, MarketRule):
            raise ValueError("market must be a MarketRule; from_dict converts a mapping")
        if not isinstance(self.refit, RefitRule):
            raise ValueError("refit must be a RefitRule; from_dict converts a mapping")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> PromotionPolicy:
        d = dict(d or {})
        reject_unknown_keys(d, cls, "promotion policy")
        if "market" in d:
            d["market"] = MarketRule.from_dict(d["market"])
        if "refit" in d:
            d["refit"] = RefitRule.from_dict(d["refit"])
        return cls(**d)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Decision:
    """The gate's verdict, its reason, and the figures the candidate was held to."""

    promote: bool
    reason: str
    ece_bound: float | None = None  # the calibration error the candidate had to stay under
    market_gap: float | None = None  # candidate minus market log loss (None: no market)
    market_tolerance: float | None = None  # what the gap may be (None: the rule did not apply)


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


def chance_ece(n: int, n_bins: int = 10) -> float:
    """The class-wise ECE a perfectly calibrated forecast shows on n matches by chance alone.

    Each bin's observed frequency misses its mean probability by sampling noise of order
    sqrt(p (1 - p) / matches in the bin), so the count-weighted gap falls like sqrt(bins / n)
    (`CHANCE_ECE_FACTOR` says by how much). One season of one league is 380 matches: chance
    alone is 0.044 there, which is why a fixed bound of 0.05 refused forecasts as good as the
    market's.

    >>> round(chance_ece(380), 4), round(chance_ece(3800), 4)  # 0.27 * sqrt(10 / n)
    (0.0438, 0.0139)
    """
    if n < 1 or n_bins < 1:
        raise ValueError(f"need at least one match and one bin, got n={n}, n_bins={n_bins}")
    return CHANCE_ECE_FACTOR * math.sqrt(n_bins / n)


def ece_bound(n: int, market_ece: float | None, margin: float, n_bins: int = 10) -> float:
    """The highest calibration error the gate lets a candidate show on its n holdout matches.

    The market's own ECE on the same matches, plus `margin` — a bound the market itself
    passes. Never below what chance alone gives a perfectly calibrated forecast on n matches
    (`chance_ece`), so that a market lucky on this holdout sets no bar a calibrated model
    misses by chance; without the market's ECE, that chance level plus the margin.

    >>> round(ece_bound(380, 0.052, 0.01), 4)  # E0: Pinnacle's opening line, 380 matches
    0.062
    >>> round(ece_bound(380, None, 0.01), 4)  # chance alone on 380 matches: 0.0438
    0.0538
    """
    chance = chance_ece(n, n_bins)
    if market_ece is None or not math.isfinite(market_ece):
        return chance + margin
    return max(market_ece, chance) + margin


def decide_promotion(
    candidate: HoldoutScores,
    champion: HoldoutScores | None,
    market: HoldoutScores | None,
    policy: PromotionPolicy,
    candidate_probs: np.ndarray | None = None,
    champion_note: str | None = None,
) -> Decision:
    """Sanity first, then the market, then the champion on the same matches.

    `market` is the policy's market forecaster on the candidate's holdout matches: scored when
    it prices every one of them; else its `n` says how many it prices and its scores are None
    (None altogether: it prices none). A candidate kept out while there is no champion leaves
    none, and the reason says so. `champion_note` (`GateReference.note`: which version stood
    for a refitted champion) ends the reason when there is a champion.
    """
    decision = _decide(candidate, champion, market, policy, candidate_probs)
    if champion is None and not decision.promote:
        return replace(decision, reason=f"{decision.reason}; no champion")
    if champion is not None and champion_note:
        return replace(decision, reason=f"{decision.reason}; {champion_note}")
    return decision


@dataclass(frozen=True)
class TrainedVersion:
    """A registry version as the gate sees it: the kick-off of its last training match, and
    for a refit the version it refits (the one the gate judged)."""

    version: str
    trained_through: str | None  # None: unknown, so it may have seen any match
    refit_of: TrainedVersion | None = None

    def saw(self, holdout_start: str) -> bool:
        """Whether it may have trained on a match kicking off at `holdout_start` or later."""
        return self.trained_through is None or holdout_start <= self.trained_through


@dataclass(frozen=True)
class GateReference:
    """The version the gate scores for the champion, whether that one is comparable with the
    candidate (trained on none of its holdout matches), and words for the reason."""

    version: str
    comparable: bool
    note: str | None = None  # None: the champion is no refit, there is nothing to explain

    def holdout_id(self, candidate_holdout: str, trained_through: str | None) -> str:
        """The holdout id the champion's scores carry: the candidate's when comparable, else
        one that says it saw those matches (so the gate never compares the two).

        >>> GateReference("3", False).holdout_id("e58c", "2022-05-22")
        'seen-by-champion:2022-05-22'
        """
        return candidate_holdout if self.comparable else f"seen-by-champion:{trained_through}"


def champion_reference(champion: TrainedVersion, holdout_start: str) -> GateReference:
    """Which version stands for the champion on a holdout whose first match kicks off at
    `holdout_start` (timestamps as ISO text, compared as text).

    The champion itself, when it trained on none of those matches. A refit trained on every
    played match up to the day it was made: until a new season is played the next candidate's
    holdout is the season it refitted on, where it cannot be scored. There the version it
    refits stands for it — the same configuration, the version the gate judged on the data
    before, which the refit differs from only by those matches. When that one saw the holdout
    too, the champion is scored as it is and is not comparable (the gate keeps the candidate
    out, as for any champion trained on the holdout).

    >>> refit = TrainedVersion("4", "2023-05-28", TrainedVersion("3", "2022-05-22"))
    >>> champion_reference(refit, "2022-08-06").version  # the refit trained on the holdout
    '3'
    >>> champion_reference(refit, "2023-08-12").version  # a new season: the refit is comparable
    '4'
    """
    judged = champion.refit_of
    if not champion.saw(holdout_start):
        note = (
            None
            if judged is None
            else (
                f"champion: version {champion.version}, a refit of version {judged.version} "
                f"trained through {champion.trained_through}, before the holdout"
            )
        )
        return GateReference(champion.version, True, note)
    if judged is None:
        return GateReference(champion.version, False)
    if not judged.saw(holdout_start):
        return GateReference(
            judged.version,
            True,
            (
                f"champion: version {champion.version} is a refit that trained on the holdout "
                f"(through {champion.trained_through}); scored in its place: version "
                f"{judged.version}, which it refits"
            ),
        )
    return GateReference(
        champion.version,
        False,
        (
            f"champion: version {champion.version} is a refit of version {judged.version}, and "
            "both trained on holdout matches"
        ),
    )


def _decide(
    candidate: HoldoutScores,
    champion: HoldoutScores | None,
    market: HoldoutScores | None,
    policy: PromotionPolicy,
    candidate_probs: np.ndarray | None,
) -> Decision:
    problem = probabilities_valid(candidate_probs) if candidate_probs is not None else None
    if problem:
        return Decision(False, f"sanity failed: {problem}")
    if not is_complete(candidate):
        return Decision(False, "sanity failed: the candidate's holdout metrics are missing or NaN")
    missing = _market_missing(candidate, market, policy.market.forecaster)
    scored = market if is_complete(market) else None  # missing is None just then
    if scored is not None and scored.holdout_id != candidate.holdout_id:
        return Decision(
            False, "not comparable: the market was not scored on the candidate's holdout matches"
        )
    bound = ece_bound(candidate.n, scored.ece if scored else None, policy.ece_margin)
    gap = candidate.log_loss - scored.log_loss if scored else None
    tolerance = policy.market.tolerance if scored and policy.market.required else None

    def decision(promote: bool, reason: str) -> Decision:
        return Decision(promote, reason, bound, gap, tolerance)

    if candidate.ece > bound + _SLACK:
        return decision(False, f"sanity failed: {_calibration_note(candidate, scored, bound)}")
    refusal, note = _market_rule(candidate, scored, missing, policy.market)
    if refusal:
        return decision(False, refusal)
    if champion is None:
        return decision(True, f"first model: sanity passed; {note}")
    if not is_complete(champion):
        return decision(
            True, f"the champion has no holdout metrics to compare; sanity passed; {note}"
        )
    if champion.holdout_id != candidate.holdout_id:
        return decision(
            False, "not comparable: candidate and champion were scored on different holdout matches"
        )
    return decision(*_against_champion(candidate, champion, policy, note))


def _market_rule(
    candidate: CompleteScores,
    market: CompleteScores | None,
    missing: str | None,
    rule: MarketRule,
) -> tuple[str | None, str]:
    """(why the market rule keeps the candidate out, or None; the note every reason ends with)."""
    if missing:
        if rule.required and rule.when_missing is WhenNoMarket.REFUSE:
            return (
                f"{missing}, and the policy promotes nothing unmeasured against the market "
                f"(market.when_missing: refuse)"
            ), ""
        if rule.required:
            return None, f"{missing}: the market rule did not apply (market.when_missing: skip)"
        return None, f"market: {missing}"
    assert market is not None  # not missing: scored on every holdout match
    gap = candidate.log_loss - market.log_loss
    note = f"market ({market.name}) log loss {market.log_loss:.4f}, candidate {gap:+.4f}"
    if rule.required and gap > rule.tolerance + _SLACK:
        return (
            f"worse than the market ({market.name}) by {gap:.4f} > tolerance "
            f"{rule.tolerance} on {candidate.n} holdout matches (log loss "
            f"{candidate.log_loss:.4f} vs {market.log_loss:.4f})"
        ), note
    return None, note


def _market_missing(
    candidate: CompleteScores, market: HoldoutScores | None, forecaster: str
) -> str | None:
    """None when the market was scored on every holdout match, else what it lacks."""
    if is_complete(market):
        return None
    priced = market.n if market is not None else 0
    if priced == 0:
        return f"{forecaster} prices none of the {candidate.n} holdout matches"
    return f"{forecaster} prices only {priced} of the {candidate.n} holdout matches"


def _calibration_note(
    candidate: CompleteScores, market: CompleteScores | None, bound: float
) -> str:
    chance = chance_ece(candidate.n)
    if market is not None and market.ece >= chance:
        basis = f"{market.name}'s {market.ece:.4f} on the same {candidate.n} matches"
    else:
        basis = f"chance alone {chance:.4f} on {candidate.n} matches"
    return f"calibration error {candidate.ece:.4f} > bound {bound:.4f} ({basis} + margin)"


def _against_champion(
    candidate: CompleteScores,
    champion: CompleteScores,
    policy: PromotionPolicy,
    market_note: str,
) -> tuple[bool, str]:
    gain = champion.log_loss - candidate.log_loss
    if gain < policy.min_log_loss_gain:
        return (
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
        return (
            False,
            f"log loss improves by {gain:.4f} but {', '.join(worse)} got "
            f"worse beyond tolerance; {market_note}",
        )
    return (
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
    major, minor, patch = _semver_parts(previous)
    if feature_hash != previous_feature_hash:
        return f"{major + 1}.0.0"
    if params_hash != previous_params_hash:
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def refit_semver(judged: str, taken: Iterable[str]) -> str:
    """The semantic version of a refit of the version the gate judged: a patch of it (the same
    features and parameters on more data), past every patch of its major.minor already taken
    (another pipeline may have registered one meanwhile).

    >>> refit_semver("1.2.3", ["1.0.0", "1.2.3"])
    '1.2.4'
    >>> refit_semver("1.2.3", ["1.2.3", "1.2.4", "2.0.0"])  # 1.2.4 registered meanwhile
    '1.2.5'
    """
    major, minor, patch = _semver_parts(judged)
    patches = [patch]
    for semver in taken:
        try:
            parts = _semver_parts(semver)
        except ValueError:  # "?" on a version registered by hand: in no line
            continue
        if parts[:2] == (major, minor):
            patches.append(parts[2])
    return f"{major}.{minor}.{max(patches) + 1}"


def _semver_parts(semver: str) -> tuple[int, int, int]:
    try:
        major, minor, patch = (int(part) for part in semver.split("."))
    except ValueError:
        raise ValueError(f"not a semantic version: {semver!r}") from None
    return major, minor, patch
