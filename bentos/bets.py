"""This weekend's bets: every upcoming fixture priced by the loaded model, and the value bets
among them, as `GET /value-bets`, `GET /fixtures` and `sabiscore bets` answer them.

One function builds the answer from a `LoadedModel` and the fixtures it knows (the store's
upcoming fixtures with their latest prices, and what `POST /odds` sent since), so the service
and the command line bet the same way: the staking rule of configs/staking.yaml, at real
books only (an aggregate is never the price taken), at the books the caller names.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from bentos.errors import BadRequest, RequestRejected
from bentos.schemas import (
    EdgeResponse,
    EdgeUpdate,
    FixtureForecast,
    LedgerNumbers,
    LedgerReport,
    OddsUpdate,
    SkippedFixture,
    ValueBet,
    ValueBets,
    naive_utc,
    utc_text,
)
from bentos.state import LoadedModel
from sabiscore.ledger import Suggestion, suggestions_of
from sabiscore.staking import BetReason


@dataclass(frozen=True)
class BetQuery:
    """Which fixtures and books: leagues (None: all), kick-offs from `start` (None: now) to the
    end of day `end`, the books one can bet at (None: every real book sent), and a bankroll
    that turns stake percentages into amounts (None: percentages only)."""

    leagues: frozenset[str] | None = None
    start: date | None = None
    end: date | None = None
    books: tuple[str, ...] | None = None
    bankroll: float | None = None

    @classmethod
    def of(
        cls,
        leagues: Iterable[str] | None = None,
        start: date | None = None,
        end: date | None = None,
        books: Iterable[str] | None = None,
        bankroll: float | None = None,
    ) -> BetQuery:
        """Checked: a bankroll above 0, `start` not after `end`."""
        if bankroll is not None and not (bankroll > 0 and bankroll < float("inf")):
            raise BadRequest(f"bankroll must be a positive amount, got {bankroll!r}")
        if start is not None and end is not None and start > end:
            raise BadRequest(f"from ({start}) is after to ({end})")
        return cls(
            frozenset(leagues) if leagues else None,
            start,
            end,
            tuple(books) if books else None,
            bankroll,
        )

    def window(self, now: datetime) -> tuple[datetime, datetime | None]:
        """(first, last) kick-off as naive UTC: from the start of day `start` (else `now`) to
        the end of day `end`."""
        first = datetime.combine(self.start, time()) if self.start else naive_utc(now)
        last = datetime.combine(self.end, time()) + timedelta(days=1) if self.end else None
        return first, last


def upcoming(fixtures: Iterable[OddsUpdate], query: BetQuery, now: datetime) -> list[OddsUpdate]:
    """The fixtures the query asks for, by kick-off (those without one last)."""
    first, last = query.window(now)

    def wanted(update: OddsUpdate) -> bool:
        if query.leagues is not None and update.league not in query.leagues:
            return False
        if update.kickoff is None:
            return query.start is None and query.end is None
        kickoff = naive_utc(update.kickoff)
        return kickoff >= first and (last is None or kickoff < last)

    chosen = [f for f in fixtures if wanted(f)]
    return sorted(
        chosen,
        key=lambda f: (
            f.kickoff is None,
            f.kickoff and naive_utc(f.kickoff),
            f.league,
            f.home_team,
        ),
    )


def value_bets(
    model: LoadedModel, fixtures: Iterable[OddsUpdate], query: BetQuery, now: datetime | None = None
) -> ValueBets:
    """Each fixture of the query priced (its forecast and, where books priced it, its edges),
    the value bets among them, and the fixtures that could not be priced, with why."""
    now = now or datetime.now(UTC)
    forecasts, bets, skipped = [], [], []
    for update in upcoming(fixtures, query, now):
        try:
            message = price(model, update, query.books, now)
        except RequestRejected as error:
            skipped.append(SkippedFixture(**_named(update), reason=str(error)))
            continue
        found = bets_of(update, message.edge, query.bankroll)
        p = message.prediction
        forecasts.append(
            FixtureForecast(
                **_named(update),
                home_win_probability=p.home_win_probability,
                draw_probability=p.draw_probability,
                away_win_probability=p.away_win_probability,
                books=sorted(update.odds or {}),
                bets=len(found),
                edge=message.edge,
            )
        )
        bets.extend(found)
    return ValueBets(
        model_version=model.info.version,
        model_semver=model.info.semver,
        trained_through=model.info.trained_through,
        generated_at=now,
        bankroll=query.bankroll,
        books=list(query.books) if query.books else None,
        fixtures=forecasts,
        bets=bets,
        skipped=skipped,
    )


def bets_of(
    update: OddsUpdate, edge: EdgeResponse | None, bankroll: float | None = None
) -> list[ValueBet]:
    """The value bets among a priced match's outcomes."""
    if edge is None:
        return []
    return [
        ValueBet(
            **_named(update),
            outcome=o.outcome,
            fair_probability=o.fair_probability,
            bookmaker=o.bookmaker,
            price=o.best_odds,
            net_odds=o.net_odds,
            edge_percentage=o.edge_percentage,
            kelly_stake_percentage=o.kelly_stake_percentage,
            stake_amount=None
            if bankroll is None
            else round(bankroll * o.kelly_stake_percentage / 100.0, 2),
            quality=o.quality,
            clv_expected=o.clv_expected,
            sharp_probability=o.sharp_probability,
        )
        for o in edge.outcomes
        if o.reason == BetReason.VALUE_BET
    ]


def suggestions(
    bets: Iterable[ValueBet], model: LoadedModel, source: str, now: datetime | None = None
) -> list[Suggestion]:
    """The ledger's record of these bets, as suggested now by `model`."""
    at = utc_text(now or datetime.now(UTC))
    rows = [{**b.model_dump(mode="json")} for b in bets]
    return suggestions_of(rows, model.info.version, model.info.semver, at, source)


def price(
    model: LoadedModel,
    update: OddsUpdate,
    books: Iterable[str] | None = None,
    now: datetime | None = None,
) -> EdgeUpdate:
    """The match's forecast, and its edges when any book priced it (at `books` only)."""
    if update.odds:
        prediction, edge = model.edge(update, update.odds, bet_at=books)
    else:
        prediction, edge = model.predict(update), None
    return EdgeUpdate(
        match_id=update.match_id or "",
        prediction=prediction,
        edge=edge,
        updated_at=now or datetime.now(UTC),
    )


def _named(update: OddsUpdate) -> dict:
    return {
        "match_id": update.match_id or "",
        "league": update.league,
        "home_team": update.home_team,
        "away_team": update.away_team,
        "kickoff": update.kickoff,
    }


def ledger_report(record: dict) -> LedgerReport:
    """`sabiscore.ledger.report`'s numbers as the answer types them: NaN (no closing price, no
    bet) becomes null."""

    def numbers(values: dict) -> LedgerNumbers:
        return LedgerNumbers(**{k: _finite_or_none(v) for k, v in values.items()})

    return LedgerReport(
        suggested=record["suggested"],
        settled=record["settled"],
        open=record["open"],
        overall=numbers(record["overall"]),
        by_quality={k: numbers(v) for k, v in record["by_quality"].items()},
        by_model_version={k: numbers(v) for k, v in record["by_model_version"].items()},
    )


def _finite_or_none(value: object) -> object:
    if isinstance(value, list):
        cleaned = [_finite_or_none(v) for v in value]
        return None if any(v is None for v in cleaned) else cleaned
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def load_champion(data_dir: Path | None, config_path: Path | None) -> LoadedModel:
    """The champion and its state, loaded as the service loads them (for `sabiscore bets`)."""
    import os

    from bentos.settings import ServingSettings
    from bentos.state import load_model
    from models.registry import ModelRegistry
    from sabiscore.config import load_config

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # as the service
    settings = ServingSettings.from_config(load_config(config_path), os.environ, data_dir)
    return load_model(settings, ModelRegistry(settings.tracking_uri, settings.model_name))
