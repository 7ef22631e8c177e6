"""Value bets: edge, fractional Kelly stakes, quality tiers and closing-line value (CLV).

Shared by the BentoML `edge` endpoint and the betting backtest, so both bet the same way:

* edge = model_prob × decimal_odds − 1, the expected profit per unit staked *if the model's
  probability is right*. A bet is worth considering only when it is clearly positive
  (`min_edge`), because the model's probabilities carry error of a few points themselves.
* The sharp check: most of the model's "edges" are its own error (measured: the ensemble's
  bets lost 4.2 % to the closing line), while a sharp book's de-margined line is the best
  forecast on offer before the close (Pinnacle's opening line bet at Bet365 beat the close by
  2.6 %). So an outcome is bet only when the sharp line does not contradict it either:
  sharp_prob × decimal_odds − 1 ≥ −`sharp_tolerance`, the sharp book being the first of
  `sharp_books` that prices the match. At the sharp book's own price that is minus its margin
  share, so no bet is ever taken there. Without a sharp price the edge alone decides
  (`BetReason`, `bet_decisions`).
* Kelly's stake edge / (odds − 1) maximises long-run log growth only for true probabilities.
  Ours are estimates, and over-betting costs more than under-betting, so a fraction of it is
  staked (a quarter by default: about half the growth for a much smaller drawdown), and the
  total staked on one match is capped: the three outcomes share one model error.
* Tiers put a name on the size of the edge, for people reading the endpoint's answer.
* CLV: beating the de-margined closing price is the earliest evidence of a real edge. The
  close is the sharpest forecast there is (see `sabiscore.evaluation`); profit needs
  thousands of bets to tell skill from luck, CLV far fewer.

Every probability and price triple is in the order home, draw, away.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from sabiscore.config import reject_unknown_keys
from sabiscore.football_data import AGGREGATES
from sabiscore.odds import ImpliedMethod, implied_probabilities
from sabiscore.outcomes import OUTCOMES, Outcome

#: Probabilities are clipped this far from 0 and 1 before taking log-odds.
_LOGIT_EPSILON = 1e-6

#: Model probabilities of one match may miss summing to 1 by this much (rounded inputs).
_SUM_TOLERANCE = 1e-3

#: The sharp reference of a match: the first of these books that prices it (configs/staking.yaml).
SHARP_BOOKS: tuple[str, ...] = ("pinnacle", "market_avg")


class QualityTier(StrEnum):
    PREMIUM = "premium"
    VALUE = "value"
    MARGINAL = "marginal"
    AVOID = "avoid"


class BetReason(StrEnum):
    """Why an outcome is bet or not: the first rule that refuses it, else a value bet."""

    VALUE_BET = "value_bet"  # edge ≥ min_edge and no sharp line contradicts it: bet
    BELOW_MIN_EDGE = "below_min_edge"  # the model's edge is below min_edge (or not positive)
    SHARP_CONTRADICTS = "sharp_contradicts"  # sharp_prob × decimal_odds − 1 < −sharp_tolerance


# --- the policy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierThresholds:
    """Edge thresholds: edge ≥ premium → PREMIUM, ≥ value → VALUE, ≥ marginal → MARGINAL."""

    premium: float = 0.08
    value: float = 0.04
    marginal: float = 0.02

    def __post_init__(self) -> None:
        ordered = (self.marginal, self.value, self.premium)
        if not all(_is_number(t) for t in ordered) or not 0 <= ordered[0] < ordered[1] < ordered[2]:
            raise ValueError(
                "tier thresholds must satisfy 0 <= marginal < value < premium; got "
                f"marginal={self.marginal!r}, value={self.value!r}, premium={self.premium!r}"
            )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> TierThresholds:
        d = dict(d or {})
        reject_unknown_keys(d, cls, "staking tiers")
        return cls(**d)


#: The exchanges' commission on net winnings (configs/staking.yaml `commission`).
COMMISSION: Mapping[str, float] = {"betfair_exchange": 0.05, "matchbook": 0.02}


@dataclass(frozen=True)
class StakingPolicy:
    """How much to bet: settings from `configs/staking.yaml` (see the comments there)."""

    kelly_fraction: float = 0.25  # share of the full Kelly stake
    max_stake_fraction: float = 0.05  # cap on the total staked per match, share of the bankroll
    min_edge: float = 0.02  # bet an outcome only when its edge is at least this
    implied_method: ImpliedMethod = ImpliedMethod.MULTIPLICATIVE  # de-margining of a book
    tiers: TierThresholds = field(default_factory=TierThresholds)
    sharp_books: tuple[str, ...] = SHARP_BOOKS  # the sharp reference: first of these present
    sharp_tolerance: float = 0.0  # bet only if sharp_prob × decimal_odds − 1 ≥ −this
    # book -> its share of net winnings (an exchange's): its price taken is `net_price`
    commission: Mapping[str, float] = field(default_factory=lambda: dict(COMMISSION))

    def __post_init__(self) -> None:
        for name in ("kelly_fraction", "max_stake_fraction"):
            value = getattr(self, name)
            if not (_is_number(value) and 0 < value <= 1):
                raise ValueError(f"{name} must lie in (0, 1], got {value!r}")
        if not (_is_number(self.min_edge) and self.min_edge >= 0):
            raise ValueError(f"min_edge must be a finite number >= 0, got {self.min_edge!r}")
        if self.implied_method not in set(ImpliedMethod):
            choices = ", ".join(ImpliedMethod)
            got = self.implied_method
            raise ValueError(f"implied_method must be one of {choices}; got {got!r}")
        object.__setattr__(self, "implied_method", ImpliedMethod(self.implied_method))
        if not isinstance(self.tiers, TierThresholds):
            raise ValueError("tiers must be TierThresholds; from_dict converts a mapping")
        books = self.sharp_books
        if isinstance(books, str) or not all(isinstance(b, str) and b for b in books):
            raise ValueError(f"sharp_books must be a list of bookmaker names, got {books!r}")
        if len(set(books)) != len(books):
            raise ValueError(f"sharp_books names a bookmaker twice: {list(books)}")
        object.__setattr__(self, "sharp_books", tuple(books))
        if not (_is_number(self.sharp_tolerance) and 0 <= self.sharp_tolerance < 1):
            tolerance = self.sharp_tolerance
            raise ValueError(f"sharp_tolerance must lie in [0, 1), got {tolerance!r}")
        commission = dict(self.commission or {})
        for book, share in commission.items():
            if not (isinstance(book, str) and _is_number(share) and 0 <= share < 1):
                raise ValueError(
                    f"commission must map a book to a share in [0, 1), got {book!r}: {share!r}"
                )
        object.__setattr__(self, "commission", commission)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> StakingPolicy:
        """The policy from a settings mapping; unknown keys are typos and fail."""
        d = dict(d or {})
        reject_unknown_keys(d, cls, "staking policy")
        if "tiers" in d:
            d["tiers"] = TierThresholds.from_dict(d["tiers"])
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """Plain types (for YAML, JSON or tracking parameters); `from_dict` reads it back."""
        d = asdict(self)
        d["implied_method"] = str(self.implied_method)
        d["sharp_books"] = list(self.sharp_books)
        return d


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# --- validation ---------------------------------------------------------------------------------


def _prices(decimal_odds: Any, where: str = "") -> np.ndarray:
    """Prices as floats; a price of 1.0 or less, NaN or infinity is not a price."""
    prices = np.asarray(decimal_odds, dtype=float)
    bad = prices[~(np.isfinite(prices) & (prices > 1.0))]
    if bad.size:
        raise ValueError(
            f"decimal odds must be greater than 1.0 and finite{where}; got {bad[:5].tolist()}"
        )
    return prices


def _probabilities(model_prob: Any) -> np.ndarray:
    probs = np.asarray(model_prob, dtype=float)
    if not np.isfinite(probs).all() or (probs < 0).any() or (probs > 1).any():
        raise ValueError("probabilities must be finite and lie in [0, 1]")
    return probs


def _probabilities_or_nan(values: Any) -> np.ndarray:
    """Probabilities in [0, 1], where NaN marks a missing line."""
    probs = np.asarray(values, dtype=float)
    present = probs[~np.isnan(probs)]
    if not np.isfinite(present).all() or (present < 0).any() or (present > 1).any():
        raise ValueError("probabilities must lie in [0, 1] (NaN for a missing line)")
    return probs


def _triples(model_probs: Any, decimal_odds: Any) -> tuple[np.ndarray, np.ndarray]:
    """(probs, prices) of one match, shape (3,), or of n matches, shape (n, 3)."""
    probs, prices = _probabilities(model_probs), _prices(decimal_odds)
    if probs.shape != prices.shape or probs.ndim not in (1, 2) or probs.shape[-1] != 3:
        raise ValueError(
            "expected home/draw/away triples of equal shape, (3,) or (n, 3); got "
            f"probabilities {probs.shape} and odds {prices.shape}"
        )
    return probs, prices


def _sharp_lines(sharp_probs: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Sharp de-margined lines shaped like the prices; a row of NaN where there is none."""
    if sharp_probs is None:
        return np.full(shape, np.nan)
    sharp = _probabilities_or_nan(sharp_probs)
    if sharp.shape != shape:
        raise ValueError(
            f"sharp probabilities must be shaped like the odds {shape}, got {sharp.shape}"
        )
    rows = np.atleast_2d(sharp)
    missing = np.isnan(rows)
    if (missing.any(axis=1) != missing.all(axis=1)).any():
        raise ValueError("a sharp line is three probabilities or none (a row of NaN)")
    sums = rows[~missing.all(axis=1)].sum(axis=1)
    if (np.abs(sums - 1.0) > _SUM_TOLERANCE).any():
        raise ValueError("sharp probabilities must be de-margined: each line sums to 1")
    return sharp


def _scalar_or_array(values: np.ndarray) -> float | np.ndarray:
    return float(values) if values.ndim == 0 else values


# --- edge, Kelly, stakes, tiers -----------------------------------------------------------------


def edge(model_prob: float | Any, decimal_odds: float | Any) -> float | np.ndarray:
    """Expected profit per unit staked at `decimal_odds` if `model_prob` is right.

    >>> round(edge(0.30, 3.5), 6)  # 0.30 × 3.5 − 1
    0.05
    """
    return _scalar_or_array(_edges(_probabilities(model_prob), _prices(decimal_odds)))


def _edges(probs: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """The edge formula on checked arrays, the one place it is written: a NaN probability (a
    missing sharp line) gives a NaN edge.

    >>> _edges(np.array([0.30, np.nan]), np.array([3.5, 2.0])).round(6).tolist()
    [0.05, nan]
    """
    return probs * prices - 1.0


def kelly_fraction_full(model_prob: float | Any, decimal_odds: float | Any) -> float | np.ndarray:
    """Full Kelly stake edge / (odds − 1), as a share of the bankroll; 0 when the edge is ≤ 0.

    It maximises the expected log of the bankroll for one bet on its own; a negative value
    would mean laying the outcome, which a back-only bettor cannot do.

    >>> round(kelly_fraction_full(0.30, 3.5), 6)  # 0.05 / 2.5
    0.02
    """
    prices = _prices(decimal_odds)
    full = _edges(_probabilities(model_prob), prices) / (prices - 1.0)
    return _scalar_or_array(np.clip(full, 0.0, None))


@dataclass(frozen=True, eq=False)
class BetDecisions:
    """The betting rule's answer per outcome, each array shaped like the prices given."""

    stakes: np.ndarray  # fractional Kelly, capped per match, share of the bankroll; 0: no bet
    reasons: np.ndarray  # a BetReason per outcome (dtype object)
    edges: np.ndarray  # model_prob × decimal_odds − 1
    sharp_edges: np.ndarray  # sharp_prob × decimal_odds − 1; NaN where no sharp line


def bet_decisions(
    model_probs: Any, decimal_odds: Any, sharp_probs: Any | None, policy: StakingPolicy
) -> BetDecisions:
    """The bets of one match (3,) or n matches (n, 3): the one rule of the endpoint and the
    backtest.

    An outcome is bet when the model's edge at the price taken is at least `min_edge` (and
    positive), unless a sharp line is given and contradicts it: sharp_prob × decimal_odds − 1
    below −`sharp_tolerance`. `sharp_probs` holds de-margined lines shaped like the prices, a
    row of NaN (or None for all) where there is none: there the edge alone decides.

    Stakes are fractional Kelly, edge / (odds − 1) × `kelly_fraction`, on the outcomes bet;
    when a match's total exceeds `max_stake_fraction`, each of its stakes is scaled by the same
    factor so that the total equals the cap. The outcomes are treated one by one (not Kelly's
    joint solution for exclusive outcomes): with a quarter Kelly and a 5 % cap the difference
    is small, and two value outcomes in one match are rare.

    >>> d = bet_decisions([[0.5, 0.3, 0.2]] * 3, [[2.2, 3.0, 4.0]] * 3,
    ...     [[0.48, 0.28, 0.24], [0.44, 0.30, 0.26], [np.nan] * 3], StakingPolicy())
    >>> [str(r) for r in d.reasons[:, 0]]  # home: 0.48 × 2.2 − 1 > 0; 0.44 × 2.2 − 1 < 0
    ['value_bet', 'sharp_contradicts', 'value_bet']
    >>> d.stakes[:, 0].round(6).tolist()  # a quarter of 0.10 / 1.2
    [0.020833, 0.0, 0.020833]
    """
    probs, prices = _triples(model_probs, decimal_odds)
    edges = _edges(probs, prices)
    sharp_edges = _edges(_sharp_lines(sharp_probs, prices.shape), prices)
    below = ~((edges >= policy.min_edge) & (edges > 0))
    contradicts = ~below & (sharp_edges < -policy.sharp_tolerance)  # False where NaN
    reasons = np.empty(prices.shape, dtype=object)
    reasons.fill(BetReason.VALUE_BET)  # the member itself (np.full would store its str)
    reasons[contradicts] = BetReason.SHARP_CONTRADICTS
    reasons[below] = BetReason.BELOW_MIN_EDGE
    stakes = np.where(below | contradicts, 0.0, policy.kelly_fraction * edges / (prices - 1.0))
    total = stakes.sum(axis=-1, keepdims=True)
    scale = np.minimum(1.0, policy.max_stake_fraction / np.where(total > 0, total, 1.0))
    return BetDecisions(stakes * scale, reasons, edges, sharp_edges)


def match_stakes(
    model_probs: Any, decimal_odds: Any, policy: StakingPolicy, sharp_probs: Any | None = None
) -> np.ndarray:
    """The stakes of `bet_decisions`, for one match (3,) or n (n, 3), shares of the bankroll.

    >>> match_stakes([0.30, 0.30, 0.40], [3.5, 3.2, 2.2], StakingPolicy()).round(6).tolist()
    [0.005, 0.0, 0.0]
    """
    return bet_decisions(model_probs, decimal_odds, sharp_probs, policy).stakes


def quality_tier(edge: float, policy: StakingPolicy) -> QualityTier:
    """The tier of an edge (a fraction, 0.05 = 5 %); NaN is AVOID.

    >>> quality_tier(0.05, StakingPolicy()).value
    'value'
    """
    tiers = policy.tiers
    if edge >= tiers.premium:
        return QualityTier.PREMIUM
    if edge >= tiers.value:
        return QualityTier.VALUE
    if edge >= tiers.marginal:
        return QualityTier.MARGINAL
    return QualityTier.AVOID


def closing_line_value(
    decimal_odds_taken: float | Any, closing_fair_prob: float | Any
) -> float | np.ndarray:
    """Price taken ÷ fair (de-margined) closing price − 1 = odds_taken × closing_fair_prob − 1.

    Positive when the bet was struck at a better price than the market settled on.

    >>> round(closing_line_value(2.10, 0.50), 6)  # 2.10 against a fair close of 2.00
    0.05
    """
    return edge(closing_fair_prob, decimal_odds_taken)


# --- the closing-line model ---------------------------------------------------------------------


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _LOGIT_EPSILON, 1.0 - _LOGIT_EPSILON)
    return np.log(p / (1.0 - p))


def _as_triple(values: Sequence[float], name: str) -> tuple[float, float, float]:
    numbers = tuple(float(v) for v in values)
    if len(numbers) != 3 or not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"{name} must be 3 finite numbers (home, draw, away), got {values!r}")
    return numbers[0], numbers[1], numbers[2]


@dataclass(frozen=True)
class ClosingLineModel:
    """Predicts the de-margined closing probabilities of a match from its opening ones.

    Per outcome k, the log-odds move is a straight line in the opening log-odds:

        logit(close_k) − logit(open_k) = intercepts[k] + slopes[k] × logit(open_k)

    fitted by least squares on past matches. Two numbers per outcome capture what is
    systematic in how lines move (a drift towards or away from favourites, a level shift on
    the draw) and cannot overfit; the rest of the move is news, which no price model
    foresees. The three predictions are rescaled to sum to 1, as a closing line does.
    """

    intercepts: tuple[float, float, float] = (0.0, 0.0, 0.0)
    slopes: tuple[float, float, float] = (0.0, 0.0, 0.0)
    n_matches: int = 0  # matches it was fitted on; 0 for the identity

    def __post_init__(self) -> None:
        object.__setattr__(self, "intercepts", _as_triple(self.intercepts, "intercepts"))
        object.__setattr__(self, "slopes", _as_triple(self.slopes, "slopes"))

    @classmethod
    def identity(cls) -> ClosingLineModel:
        """No move: the predicted close is the opening line."""
        return cls()

    @classmethod
    def fit(cls, open_probs: Any, close_probs: Any) -> ClosingLineModel:
        """Least squares per outcome; matches lacking either line (NaN) are left out."""
        opened, closed = _probabilities_or_nan(open_probs), _probabilities_or_nan(close_probs)
        if opened.shape != closed.shape or opened.ndim != 2 or opened.shape[1] != 3:
            raise ValueError(
                f"expected (n, 3) opening and closing probabilities; got {opened.shape} "
                f"and {closed.shape}"
            )
        complete = np.isfinite(opened).all(axis=1) & np.isfinite(closed).all(axis=1)
        if complete.sum() < 3:
            raise ValueError("need at least 3 matches with both opening and closing probabilities")
        x = _logit(opened[complete])
        move = _logit(closed[complete]) - x
        lines = [_least_squares_line(x[:, k], move[:, k]) for k in range(3)]
        intercepts, slopes = zip(*lines, strict=True)
        return cls(intercepts, slopes, int(complete.sum()))

    def predict_close_prob(self, open_probs: Any) -> np.ndarray:
        """Predicted fair closing probabilities, same shape as `open_probs` ((3,) or (n, 3)).

        >>> ClosingLineModel.identity().predict_close_prob([0.5, 0.3, 0.2]).round(6).tolist()
        [0.5, 0.3, 0.2]
        """
        opened = _probabilities(open_probs)
        if opened.ndim not in (1, 2) or opened.shape[-1] != 3:
            raise ValueError(f"expected (3,) or (n, 3) probabilities, got {opened.shape}")
        x = _logit(opened)
        moved = x + np.asarray(self.intercepts) + np.asarray(self.slopes) * x
        close = 1.0 / (1.0 + np.exp(-moved))
        return close / close.sum(axis=-1, keepdims=True)

    def expected_clv(self, decimal_odds_taken: Any, open_probs: Any) -> float | np.ndarray:
        """CLV expected for prices taken now: odds_taken × predicted closing probability − 1.

        >>> ClosingLineModel.identity().expected_clv([2.1, 3.4, 4.0], [0.5, 0.3, 0.2]).round(3)
        array([ 0.05,  0.02, -0.2 ])
        """
        return closing_line_value(decimal_odds_taken, self.predict_close_prob(open_probs))

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers, for JSON; `from_dict` reads it back."""
        return {
            "intercepts": list(self.intercepts),
            "slopes": list(self.slopes),
            "n_matches": self.n_matches,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ClosingLineModel:
        d = dict(d)
        reject_unknown_keys(d, cls, "closing-line model")
        return cls(**d)


def _least_squares_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(intercept, slope) of y on x by ordinary least squares."""
    design = np.column_stack([np.ones_like(x), x])
    (intercept, slope), *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(intercept), float(slope)


# --- one match, several books -------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeEdge:
    """One outcome of a match at the best price on offer: what the model sees there.

    `implied_prob` is the de-margined probability of the book offering that best price;
    `sharp_prob` that of the match's sharp book (None when none was sent: no sharp check);
    `edge_percentage`, `sharp_edge_percentage` and `kelly_stake_percentage` are per cent
    (5.0 = 5 %, the stake as a share of the bankroll); `clv_expected` is a fraction
    (0.05 = 5 %), None without a closing-line model. `quality` is the tier of the edge of a
    bet, AVOID whenever the rule refuses it (`reason` says why).
    """

    outcome: Outcome
    model_prob: float
    implied_prob: float
    decimal_odds: float
    net_odds: float  # decimal_odds after the book's commission on winnings (`net_price`)
    bookmaker: str
    edge_percentage: float
    kelly_stake_percentage: float
    quality: QualityTier
    clv_expected: float | None
    reason: BetReason
    sharp_prob: float | None
    sharp_edge_percentage: float | None


def match_edges(
    model_probs: Sequence[float] | np.ndarray,
    books: Mapping[str, Sequence[float]],
    policy: StakingPolicy,
    clv_model: ClosingLineModel | None = None,
    *,
    reference_book: str | None = None,
    bet_at: Iterable[str] | None = None,
) -> list[OutcomeEdge]:
    """Edges, stakes, tiers and reasons of home/draw/away, each at the best price in `books`.

    `books` maps a bookmaker to its (home, draw, away) prices. The best price is a real book's:
    an aggregate (`market_max`, `market_avg`) is no price anyone can take, so it only informs
    (the sharp line, the implied probabilities); an exchange's price counts after its commission
    (`policy.commission`, `net_price`). A tie for the best price goes to the book listed first.
    `bet_at` limits the books a bet may be struck at (the user's own accounts; None: every real
    book sent); the others still inform. The bets are `bet_decisions` at the best prices,
    checked against the de-margined line of `sharp_book(books, policy)` when one was sent. The
    expected CLV starts from the market's current fair line: `reference_book`'s de-margined
    probabilities when given (a sharp book such as Pinnacle, the kind the model was fitted on),
    else the mean over all the books sent. `reference_book` does not choose the sharp book: the
    check is the policy's, the one the backtest measured.
    """
    probs = _match_probabilities(model_probs)
    names, prices = _checked_books(books)
    implied = implied_probabilities(prices, policy.implied_method)
    allowed = None if bet_at is None else set(bet_at)
    takeable = np.array([n not in AGGREGATES and (allowed is None or n in allowed) for n in names])
    if allowed is not None and not takeable.any():
        raise ValueError(
            f"no price of the books to bet at ({', '.join(sorted(allowed))}) among "
            f"the books sent ({', '.join(names)})"
        )
    if not takeable.any():
        raise ValueError(
            f"no bookmaker's price to take among the books sent ({', '.join(names)}): "
            f"{' and '.join(sorted(AGGREGATES))} are aggregates of many books, not a price "
            "anyone offers"
        )
    net = net_price(prices, np.array([[policy.commission.get(n, 0.0)] for n in names]))
    best = np.where(takeable[:, None], net, -np.inf).argmax(axis=0)
    best_prices, best_net = prices[best, np.arange(3)], net[best, np.arange(3)]
    sharp = sharp_book(names, policy)
    sharp_probs = None if sharp is None else implied[names.index(sharp)]
    bets = bet_decisions(probs, best_net, sharp_probs, policy)
    clv = _expected_clv(clv_model, best_net, implied, names, reference_book)
    tiers = [
        quality_tier(float(e), policy) if r is BetReason.VALUE_BET else QualityTier.AVOID
        for e, r in zip(bets.edges, bets.reasons, strict=True)
    ]
    return [
        OutcomeEdge(
            outcome=OUTCOMES[k],
            model_prob=float(probs[k]),
            implied_prob=float(implied[best[k], k]),
            decimal_odds=float(best_prices[k]),
            net_odds=float(best_net[k]),
            bookmaker=names[best[k]],
            edge_percentage=100.0 * float(bets.edges[k]),
            kelly_stake_percentage=100.0 * float(bets.stakes[k]),
            quality=tiers[k],
            clv_expected=None if clv is None else float(clv[k]),
            reason=bets.reasons[k],
            sharp_prob=None if sharp_probs is None else float(sharp_probs[k]),
            sharp_edge_percentage=None if sharp is None else 100.0 * float(bets.sharp_edges[k]),
        )
        for k in range(3)
    ]


def net_price(price: Any, commission: Any) -> Any:
    """The price a bet is worth after a commission on its net winnings (an exchange's):
    1 + (price − 1) × (1 − commission). A bookmaker's price (commission 0) is itself.

    >>> float(net_price(3.0, 0.05)), net_price(np.array([2.5, 4.0]), 0.0).tolist()
    (2.9, [2.5, 4.0])
    """
    return 1.0 + (np.asarray(price, dtype=float) - 1.0) * (1.0 - np.asarray(commission))


def sharp_book(books: Iterable[str], policy: StakingPolicy) -> str | None:
    """The match's sharp reference: the first of `policy.sharp_books` among `books`, or None.

    >>> sharp_book(["bet365", "market_avg", "pinnacle"], StakingPolicy())
    'pinnacle'
    """
    sent = set(books)
    return next((book for book in policy.sharp_books if book in sent), None)


def _match_probabilities(model_probs: Any) -> np.ndarray:
    probs = _probabilities(model_probs)
    if probs.shape != (3,):
        raise ValueError(f"expected 3 model probabilities (home, draw, away), got {probs.shape}")
    if abs(probs.sum() - 1.0) > _SUM_TOLERANCE:
        raise ValueError(f"model probabilities must sum to 1, got {probs.sum():.4f}")
    return probs


def _checked_books(books: Mapping[str, Sequence[float]]) -> tuple[list[str], np.ndarray]:
    """(bookmaker names, (m, 3) prices), each book's prices checked."""
    if not isinstance(books, Mapping) or not books:
        raise ValueError("books must map at least one bookmaker to (home, draw, away) prices")
    rows = []
    for name, odds in books.items():
        prices = _prices(odds, f" (bookmaker {name!r})")
        if prices.shape != (3,):
            raise ValueError(f"bookmaker {name!r}: expected 3 prices, got {prices.shape}")
        rows.append(prices)
    return list(books), np.vstack(rows)


def _expected_clv(
    clv_model: ClosingLineModel | None,
    best_prices: np.ndarray,
    implied: np.ndarray,
    names: list[str],
    reference_book: str | None,
) -> np.ndarray | None:
    if clv_model is None:
        return None
    if reference_book is None:
        open_probs = implied.mean(axis=0)
    elif reference_book in names:
        open_probs = implied[names.index(reference_book)]
    else:
        raise ValueError(f"reference book {reference_book!r} is not among the books {names}")
    return np.asarray(clv_model.expected_clv(best_prices, open_probs))
