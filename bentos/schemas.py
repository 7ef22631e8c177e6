"""Request and response bodies of every endpoint, as pydantic models: they validate what
comes in (a 4xx names the field and the problem) and are the schemas of the OpenAPI document
the service publishes at /docs.json. bentos/README.md shows them with examples.

Prices are decimal odds, strictly numbers (a string such as "2.1" is refused) above 1.0.
Probabilities and `clv_expected` are fractions (0.05 = 5 %); `edge_percentage`,
`sharp_edge_percentage` and `kelly_stake_percentage` are per cent (the stake: of the bankroll).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from sabiscore import staking
from sabiscore.football_data import MATCH_ID_PATTERN
from sabiscore.staking import BetReason


def max_decimal_odds() -> float:
    """`serving.odds.max_decimal` (with $SABISCORE_CONFIG merged on top): the highest decimal
    price accepted. Beyond it a "price" is a typo or an attack (1e300 made a PREMIUM bet with a
    5 % stake), not a quote; the longest real 1X2 prices are in the hundreds."""
    from sabiscore.config import load_config

    serving = load_config(os.environ.get("SABISCORE_CONFIG")).get("serving") or {}
    value = (serving.get("odds") or {}).get("max_decimal", 1000)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 < value < 1e9:
        raise ValueError(
            f"serving.odds.max_decimal must be a number above 1 (and below 1e9), got {value!r}"
        )
    return float(value)


#: Read once, when the service starts: the schemas below and the OpenAPI document carry it.
MAX_DECIMAL_ODDS = max_decimal_odds()

Outcome = Literal["home", "draw", "away"]
Quality = Literal["PREMIUM", "VALUE", "MARGINAL", "AVOID"]
CalibrationStatus = Literal["excellent", "good", "fair", "poor"]
DecimalOdds = Annotated[
    float,
    Field(
        gt=1.0,
        le=MAX_DECIMAL_ODDS,
        strict=True,
        allow_inf_nan=False,
        description=f"Decimal odds, above 1.0 and at most {MAX_DECIMAL_ODDS:g}.",
    ),
]
MatchId = Annotated[
    str,
    Field(pattern=MATCH_ID_PATTERN, description="Letters, digits, '-' and '_'; 1-255 characters."),
]
Name = Annotated[str, Field(min_length=1, max_length=100)]


def utc_text(moment: datetime) -> str:
    """RFC 3339 with its offset, as OpenAPI's `date-time` requires: a naive time is UTC (the
    store's convention).

    >>> utc_text(datetime(2024, 8, 17, 15, 0))
    '2024-08-17T15:00:00Z'
    """
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat().replace("+00:00", "Z")


def naive_utc(moment: datetime) -> datetime:
    """A time as naive UTC (the store's convention: naive times are UTC).

    >>> naive_utc(datetime.fromisoformat("2024-08-17T16:00:00+01:00"))
    datetime.datetime(2024, 8, 17, 15, 0)
    """
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


#: A time in an answer: always with its offset (a naive "2022-05-30T15:00:00" is no RFC 3339
#: date-time, and a client cannot tell which zone it is in).
AnsweredTime = Annotated[
    datetime,
    PlainSerializer(utc_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


class _Strict(BaseModel):
    """Unknown fields are refused: a misspelt `home` for `home_team` must not pass unnoticed.

    Each request model names its title: BentoML reports a validation error as "N validation
    error for <title>", and would otherwise name its own wrapper class.
    """

    model_config = ConfigDict(extra="forbid")


# --- requests ---------------------------------------------------------------------------------


class Prices(_Strict):
    """One bookmaker's 1X2 prices."""

    home: DecimalOdds
    draw: DecimalOdds
    away: DecimalOdds

    def triple(self) -> tuple[float, float, float]:
        return self.home, self.draw, self.away


class Match(_Strict, title="Match"):
    """A match named by its league and teams (as `GET /teams` lists them)."""

    league: Name = Field(examples=["E0"])
    home_team: Name = Field(examples=["Arsenal"])
    away_team: Name = Field(examples=["Chelsea"])
    kickoff: datetime | None = Field(
        default=None,
        description="Kick-off (ISO 8601); after the last played day of the history. "
        "Default: the day after it. Sets the rest-days features.",
    )


class MatchRequest(Match, title="MatchRequest"):
    """`POST /predict`: a match, optionally with bookmakers' prices (the model's market input)."""

    odds: dict[Name, Prices] | None = Field(
        default=None,
        description="Bookmaker -> opening 1X2 prices, e.g. {'pinnacle': {...}}. Without "
        "prices the model predicts from ratings and form alone (less sharp).",
    )


class BatchRequest(_Strict, title="BatchRequest"):
    """`POST /predict_batch`: several matches (at most `predict.max_batch_size`)."""

    matches: list[MatchRequest] = Field(min_length=1)


class EdgeRequest(Match, title="EdgeRequest"):
    """`POST /edge`: a match and one or more bookmakers' prices."""

    odds: dict[Name, Prices] = Field(min_length=1, description="Bookmaker -> 1X2 prices.")
    reference_book: Name | None = Field(
        default=None,
        description="The book whose de-margined line the expected closing move starts from. "
        "Default: the book the closing-line model was fitted on when sent, else the mean. "
        "It does not choose the sharp book of the bets' check (see `sharp_reference`).",
    )


class OddsUpdate(Match, title="OddsUpdate"):
    """`POST /odds`: new prices for a match (the odds-refresh flow sends exactly this)."""

    match_id: MatchId | None = Field(
        default=None,
        description="Id of the match (default: made from league, kick-off day and teams, as "
        "in the data store). The WebSocket /ws/edge/{match_id} takes it.",
    )
    odds: dict[Name, Prices] = Field(
        default_factory=dict,
        description="Bookmaker -> 1X2 prices; empty: the prediction alone is pushed.",
    )


class ReloadRequest(BaseModel):
    """`POST /reload` (what the pipeline sends after a promotion; every field optional)."""

    model: str | None = None
    version: str | None = None


# --- responses --------------------------------------------------------------------------------


class _Answer(BaseModel):
    """An answer's numbers are finite, as JSON and the schema say: an infinite or NaN value is
    refused where the answer is built (it would otherwise go out as `null` under a field the
    document types as a number)."""

    model_config = ConfigDict(allow_inf_nan=False)


class ModelInfo(_Answer):
    name: str
    version: str = Field(description="MLflow registry version number.")
    semver: str = Field(description="Semantic version of the model (tag `semver`).")
    trained_through: str | None = Field(description="Kick-off of the last training match.")


class Prediction(_Answer):
    """The model's 1X2 forecast of one match."""

    league: str
    home_team: str
    away_team: str
    kickoff: AnsweredTime | None
    home_win_probability: float
    draw_probability: float
    away_win_probability: float
    most_likely: Outcome
    confidence_score: float = Field(description="Probability of the most likely outcome.")
    brier_score: float | None = Field(
        description="The model's Brier score on the gate's holdout (sum over the 3 outcomes; "
        "lower is better, the market scores ~0.58)."
    )
    calibration_status: CalibrationStatus = Field(
        description="From the model's holdout calibration error (configs/serving.yaml)."
    )
    model_version: str
    model_semver: str


class BatchPrediction(_Answer):
    predictions: list[Prediction]
    model_version: str


class OutcomeEdge(_Answer):
    """One outcome at the best price among the bookmakers sent."""

    outcome: Outcome
    fair_probability: float = Field(description="The model's probability.")
    implied_probability: float = Field(
        description="De-margined probability of the book offering the best price."
    )
    best_odds: float = Field(
        description="The best price a real book sent offers (an aggregate such as market_max "
        "or market_avg is never the price taken)."
    )
    net_odds: float = Field(
        description="best_odds after the book's commission on winnings (staking.commission: "
        "an exchange's); equal to best_odds at a bookmaker. Edges and stakes use it."
    )
    bookmaker: str = Field(description="The book offering the best price (first on a tie).")
    edge_percentage: float = Field(description="100 × (fair_probability × net_odds − 1).")
    kelly_stake_percentage: float = Field(
        description="Fractional Kelly stake, % of bankroll; 0 unless `reason` is value_bet. "
        "The three outcomes of a match together never exceed the cap."
    )
    quality: Quality = Field(
        description="The tier of the edge of a bet; AVOID whenever no bet is suggested."
    )
    clv_expected: float | None = Field(
        description="Expected closing-line value of taking the price now: net_odds × the "
        "predicted fair closing probability − 1. Null without a closing-line model."
    )
    reason: BetReason = Field(
        description="value_bet: bet (edge ≥ min_edge, and the sharp line, when sent, does not "
        "contradict it); below_min_edge: the edge is below min_edge or not positive; "
        "sharp_contradicts: 100 × (sharp_probability × net_odds − 1) is below "
        "−sharp_reference.tolerance_percentage."
    )
    sharp_probability: float | None = Field(
        description="De-margined probability of the sharp reference book; null when no sharp "
        "book was sent (no sharp check: the edge alone decides)."
    )
    sharp_edge_percentage: float | None = Field(
        description="100 × (sharp_probability × net_odds − 1): the edge if the sharp line is "
        "right; negative at the sharp book's own price (its margin). Null without a sharp book."
    )

    @classmethod
    def of(cls, edge: staking.OutcomeEdge) -> OutcomeEdge:
        """The API's names for the domain's (`sabiscore.staking.OutcomeEdge`), in this one
        place: model_prob is fair_probability, decimal_odds best_odds, a tier its upper-case
        name."""
        return cls(
            outcome=edge.outcome,
            fair_probability=edge.model_prob,
            implied_probability=edge.implied_prob,
            best_odds=edge.decimal_odds,
            net_odds=edge.net_odds,
            bookmaker=edge.bookmaker,
            edge_percentage=edge.edge_percentage,
            kelly_stake_percentage=edge.kelly_stake_percentage,
            quality=edge.quality.name,
            clv_expected=edge.clv_expected,
            reason=edge.reason,
            sharp_probability=edge.sharp_prob,
            sharp_edge_percentage=edge.sharp_edge_percentage,
        )


class SharpReference(_Answer):
    """The sharp book every bet is checked against: `sharp_books` and `sharp_tolerance` of
    configs/staking.yaml, the rule the betting backtest measures."""

    bookmaker: str | None = Field(
        description="The first of sharp_books among the books sent; null when none was sent."
    )
    sharp_books: list[str] = Field(description="The configured order.")
    tolerance_percentage: float = Field(description="100 × sharp_tolerance.")
    note: str = Field(
        description="Why this book, or that bets rest on the model's edge alone.",
        examples=["pinnacle: first of sharp_books sent (pinnacle, market_avg)"],
    )


class EdgeResponse(_Answer):
    league: str
    home_team: str
    away_team: str
    kickoff: AnsweredTime | None
    outcomes: list[OutcomeEdge]
    total_stake_percentage: float
    implied_method: str
    clv_reference: str | None = Field(
        description="The book the expected closing move starts from; 'mean' for the mean "
        "of the books sent; null without a closing-line model."
    )
    sharp_reference: SharpReference
    model_version: str
    model_semver: str


class EdgeUpdate(_Answer):
    """The message `POST /odds` returns and pushes to WS /ws/edge/{match_id} subscribers.

    Subscribers also receive `{"type": "heartbeat", "at": ...}` when nothing else was sent
    for `push.heartbeat_s` seconds.
    """

    type: Literal["edge"] = "edge"
    match_id: str
    prediction: Prediction
    edge: EdgeResponse | None = Field(description="Null while no bookmaker has priced it.")
    updated_at: AnsweredTime


class Health(_Answer):
    status: Literal["alive"] = "alive"


class Ready(_Answer):
    status: Literal["ready"] = "ready"
    model: ModelInfo
    loaded_at: AnsweredTime
    state_date: str = Field(description="Last played day of the history the teams' state is at.")
    calibration_status: CalibrationStatus


class League(_Answer):
    league: str
    teams: list[str]


class Teams(_Answer):
    leagues: list[League]


class ReloadResult(_Answer):
    reloaded: bool = Field(
        description="True when a model was (re)loaded; `POST /reload` always reloads."
    )
    previous_version: str | None
    model: ModelInfo


class ValueBet(_Answer):
    """One suggested bet: the outcome, the book and price to take, and how much."""

    match_id: str
    league: str
    kickoff: AnsweredTime | None
    home_team: str
    away_team: str
    outcome: Outcome
    fair_probability: float = Field(description="The model's probability of the outcome.")
    bookmaker: str = Field(description="A real book (never an aggregate such as market_max).")
    price: float = Field(description="Its decimal price.")
    net_odds: float = Field(description="The price after the book's commission (an exchange's).")
    edge_percentage: float = Field(description="100 × (fair_probability × net_odds − 1).")
    kelly_stake_percentage: float = Field(description="Fractional Kelly, % of the bankroll.")
    stake_amount: float | None = Field(
        description="kelly_stake_percentage of the bankroll asked for; null without one."
    )
    quality: Quality
    clv_expected: float | None = Field(
        description="Expected closing-line value (a fraction); null without a closing-line model."
    )
    sharp_probability: float | None = Field(
        description="The sharp book's de-margined probability; null when none priced it."
    )


class FixtureForecast(_Answer):
    """An upcoming fixture: the model's forecast and, when books priced it, its edges."""

    match_id: str
    league: str
    kickoff: AnsweredTime | None
    home_team: str
    away_team: str
    home_win_probability: float
    draw_probability: float
    away_win_probability: float
    books: list[str] = Field(description="The books whose latest prices were used.")
    bets: int = Field(description="How many of its outcomes are value bets.")
    edge: EdgeResponse | None = Field(description="Null while no book has priced it.")


class SkippedFixture(_Answer):
    """An upcoming fixture that could not be priced, and why (e.g. a team not in the state)."""

    match_id: str
    league: str
    kickoff: AnsweredTime | None
    home_team: str
    away_team: str
    reason: str


class UpcomingFixtures(_Answer):
    """`GET /fixtures`: the upcoming matches with their latest forecast and edge."""

    model_version: str
    model_semver: str
    trained_through: str | None
    generated_at: AnsweredTime
    fixtures: list[FixtureForecast]
    skipped: list[SkippedFixture]


class ValueBets(UpcomingFixtures):
    """`GET /value-bets` and `sabiscore bets`: the fixtures, and the value bets among them."""

    bankroll: float | None
    books: list[str] | None = Field(description="The books bets may be struck at; null: all.")
    bets: list[ValueBet]


class LedgerNumbers(_Answer):
    """Settled suggestions of one slice; stakes and profit are shares of one bankroll (flat).
    Numbers are null where they do not exist (no bet, no closing price)."""

    bets: int
    staked: float | None = None
    profit: float | None = None
    yield_: float | None = Field(None, alias="yield", description="profit ÷ staked.")
    yield_ci: list[float] | None = Field(None, description="95 % bootstrap interval.")
    hit_rate: float | None = None
    clv_mean: float | None = Field(None, description="Mean closing-line value (a fraction).")
    clv_ci: list[float] | None = Field(None, description="95 % bootstrap interval.")
    clv_bets: int | None = Field(None, description="The bets with a closing price.")

    model_config = ConfigDict(allow_inf_nan=False, populate_by_name=True, serialize_by_alias=True)


class LedgerReport(_Answer):
    """`GET /ledger` and `sabiscore ledger`: every suggestion, settled as results arrive."""

    suggested: int
    settled: int
    open: int = Field(description="Suggestions whose match has no result yet.")
    overall: LedgerNumbers
    by_quality: dict[str, LedgerNumbers]
    by_model_version: dict[str, LedgerNumbers]


class Error(_Answer):
    """Every 4xx/5xx body of the service's own routes."""

    error: str


class Scores(_Answer, title="Scores"):
    """A forecaster's scores on the gate's holdout (lower is better; null where unknown)."""

    n: int | None = Field(None, description="Holdout matches.")
    log_loss: float | None = None
    rps: float | None = None
    brier: float | None = None
    ece: float | None = Field(None, description="Expected calibration error.")


class MarketScores(Scores, title="MarketScores"):
    forecaster: str = Field(description="The gate's market forecaster (configs/promotion.yaml).")


class RegisteredVersion(_Answer):
    """One version of the registered model, as the registry tags it."""

    version: str
    semver: str | None
    aliases: list[str]
    registered_at: str | None
    trained_through: str | None = Field(description="Kick-off of its last training match.")
    refit_of: str | None = Field(description="The version whose configuration it refits.")
    archived: bool
    promoted: bool | None = Field(description="The gate's (or a person's) verdict; null: none.")
    promotion_reason: str | None
    holdout: Scores
    market: MarketScores | None = Field(description="The market on the same holdout matches.")
    clv_mean: float | None = Field(None, description="Its holdout bets' mean closing-line value.")
    clv_ci: list[float] | None = Field(None, description="95 % bootstrap interval of clv_mean.")


class ReliabilityPoint(_Answer, title="ReliabilityPoint"):
    """One bin of a class's reliability curve on the holdout."""

    class_: Literal["H", "D", "A"] = Field(alias="class")
    bin: int
    mean_predicted: float
    observed: float
    count: int


class Calibration(_Answer):
    version: str = Field(description="The version whose training run the curves are from.")
    curves: dict[str, list[ReliabilityPoint]] = Field(
        description="Forecaster (ensemble, each member, the market) -> its reliability curve."
    )


class ModelsReport(_Answer):
    """The registry as a user checks what they are trusting."""

    model_name: str
    champion: str | None = Field(description="The version `champion` names; null: none yet.")
    versions: list[RegisteredVersion] = Field(description="Newest first.")
    calibration: Calibration | None = Field(
        description="The champion's holdout reliability curves; null: none logged."
    )
