"""What the service serves: the champion ensemble, the teams' latest pre-match state and the
closing-line model, loaded together, and the answers built from them.

A `LoadedModel` is immutable: a reload builds a whole new one beside the old (which keeps
serving) and the service swaps one reference, so a request never sees half of each.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from bentos.errors import RequestRejected, Unavailable
from bentos.schemas import (
    EdgeResponse,
    Match,
    MatchRequest,
    ModelInfo,
    OddsUpdate,
    OutcomeEdge,
    Prediction,
    Prices,
    SharpReference,
)
from bentos.settings import ServingSettings
from sabiscore.features import FeatureConfig
from sabiscore.football_data import one_x_two
from sabiscore.live import newest_first
from sabiscore.matchup import MatchupFeaturizer, UnknownLeague, UnknownTeam
from sabiscore.odds import implied_probabilities
from sabiscore.staking import OUTCOMES, ClosingLineModel, StakingPolicy, match_edges, sharp_book
from sabiscore.store import DataStore

logger = logging.getLogger(__name__)

__all__ = ["LoadedModel", "NoChampion", "RequestRejected", "load_model", "fit_clv_model"]


class NoChampion(Unavailable):
    """The registry has no model under the alias yet."""


@dataclass(frozen=True)
class LoadedModel:
    """One registry version with everything needed to answer for it."""

    info: ModelInfo
    ensemble: Any  # models.compiled.CompiledEnsemble
    featurizer: MatchupFeaturizer
    order: np.ndarray  # featurizer column positions in ensemble.feature_names order
    holdout: Mapping[str, float]
    calibration_status: str
    clv_model: ClosingLineModel | None
    clv_book: str | None
    settings: ServingSettings
    loaded_at: datetime
    fixtures: Mapping[str, OddsUpdate]  # the store's upcoming fixtures with opening prices
    store_stamp: tuple[int, int] | None = None  # the store's manifest when it was read

    # --- predictions ----------------------------------------------------------------------

    def predict(self, match: MatchRequest) -> Prediction:
        """One match: a feature row from the state, then the ensemble's single-row path."""
        row = self._features(match, _books(match.odds))
        return self._prediction(match, self.ensemble.predict_one(row[self.order]))

    def predict_many(self, matches: Sequence[MatchRequest]) -> list[Prediction]:
        """A batch: one feature frame, one vectorised ensemble call."""
        requests = [_featurizer_request(m, _books(m.odds)) for m in matches]
        try:
            frame = self.featurizer.features_frame(requests)
        except (UnknownLeague, UnknownTeam, ValueError) as error:
            raise RequestRejected(str(error)) from None
        probs = self.ensemble.predict_proba(frame.to_numpy()[:, self.order])
        return [self._prediction(m, p) for m, p in zip(matches, probs, strict=True)]

    def edge(
        self,
        match: Match,
        books: Mapping[str, Prices],
        reference_book: str | None = None,
        bet_at: Iterable[str] | None = None,
    ) -> tuple[Prediction, EdgeResponse]:
        """The prediction from these prices, and each outcome's edge at the best of them (at
        the books of `bet_at` only, when given)."""
        prices = _books(books)
        row = self._features(match, prices)
        probs = self.ensemble.predict_one(row[self.order])
        reference = self._reference(prices, reference_book)
        policy = self.settings.staking
        try:
            edges = match_edges(probs / probs.sum(), prices, policy, self.clv_model,
                                reference_book=reference, bet_at=bet_at)  # fmt: skip
        except ValueError as error:
            raise RequestRejected(str(error)) from None
        outcomes = [
            OutcomeEdge(
                outcome=e.outcome,
                fair_probability=e.model_prob,
                implied_probability=e.implied_prob,
                best_odds=e.decimal_odds,
                net_odds=e.net_odds,
                bookmaker=e.bookmaker,
                edge_percentage=e.edge_percentage,
                kelly_stake_percentage=e.kelly_stake_percentage,
                quality=e.quality.name,
                clv_expected=e.clv_expected,
                reason=e.reason,
                sharp_probability=e.sharp_prob,
                sharp_edge_percentage=e.sharp_edge_percentage,
            )
            for e in edges
        ]
        response = EdgeResponse(
            league=match.league,
            home_team=match.home_team,
            away_team=match.away_team,
            kickoff=match.kickoff,
            outcomes=outcomes,
            total_stake_percentage=sum(o.kelly_stake_percentage for o in outcomes),
            implied_method=str(policy.implied_method),
            clv_reference=None if self.clv_model is None else reference or "mean",
            sharp_reference=sharp_reference(prices, policy),
            model_version=self.info.version,
            model_semver=self.info.semver,
        )
        return self._prediction(match, probs), response

    # --- pieces -----------------------------------------------------------------------------

    def _features(self, match: Match, books: Mapping[str, tuple[float, float, float]]) -> Any:
        try:
            return self.featurizer.features(**_featurizer_request(match, books))
        except (UnknownLeague, UnknownTeam, ValueError) as error:
            raise RequestRejected(str(error)) from None

    def _reference(self, books: Mapping[str, Any], requested: str | None) -> str | None:
        if requested is not None:
            if requested not in books:
                raise RequestRejected(
                    f"reference_book {requested!r} is not among the books sent: {sorted(books)}"
                )
            return requested
        return self.clv_book if self.clv_book in books else None

    def _prediction(self, match: Match, probs: np.ndarray) -> Prediction:
        home, draw, away = (float(p) for p in probs)
        best = int(np.argmax(probs))
        return Prediction(
            league=match.league,
            home_team=match.home_team,
            away_team=match.away_team,
            kickoff=match.kickoff,
            home_win_probability=home,
            draw_probability=draw,
            away_win_probability=away,
            most_likely=OUTCOMES[best],
            confidence_score=float(probs[best]),
            brier_score=self.holdout.get("brier"),
            calibration_status=self.calibration_status,
            model_version=self.info.version,
            model_semver=self.info.semver,
        )

    def teams(self) -> dict[str, list[str]]:
        return self.featurizer.teams()


def sharp_reference(books: Mapping[str, Any], policy: StakingPolicy) -> SharpReference:
    """Which book the bets were checked against (`sabiscore.staking.sharp_book`), and why."""
    book = sharp_book(books, policy)
    order = ", ".join(policy.sharp_books)
    if book is not None:
        note = f"{book}: first of sharp_books sent ({order})"
    elif policy.sharp_books:
        note = f"no book of sharp_books ({order}) sent: bets rest on the model's edge alone"
    else:
        note = "sharp_books is empty: bets rest on the model's edge alone"
    return SharpReference(
        bookmaker=book,
        sharp_books=list(policy.sharp_books),
        tolerance_percentage=100.0 * policy.sharp_tolerance,
        note=note,
    )


def _books(odds: Mapping[str, Prices] | None) -> dict[str, tuple[float, float, float]]:
    return {book: prices.triple() for book, prices in (odds or {}).items()}


def _featurizer_request(match: Match, books: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "league": match.league,
        "home_team": match.home_team,
        "away_team": match.away_team,
        "kickoff": match.kickoff,
        "odds": books or None,
    }


# --- loading ----------------------------------------------------------------------------------


def load_model(settings: ServingSettings, registry: Any, version: Any | None = None) -> LoadedModel:
    """The version under the alias (or `version`, a registry ModelVersion) with the state of
    every team of its leagues from the data store. Seconds: run it off the event loop."""
    version = version or registry.version_by_alias(settings.alias)
    if version is None:
        raise NoChampion(
            f"{registry.name} has no {settings.alias!r} version yet: run `sabiscore pipeline`"
        )
    ensemble = registry.load_ensemble(str(version.version))
    metadata = ensemble.metadata
    store = DataStore(settings.data_dir)
    stamp = store_stamp(store)  # before reading: a commit during the load is seen next time
    leagues = metadata.get("leagues") or None
    matches = _history(store, leagues)
    odds = store.load("odds", leagues=leagues)
    featurizer = MatchupFeaturizer.from_history(
        matches, odds, FeatureConfig.from_dict(metadata.get("features"))
    )
    missing = sorted(set(ensemble.feature_names) - set(featurizer.columns))
    if missing:
        raise ValueError(f"the featurizer lacks {len(missing)} features of the model: {missing}")
    holdout = registry.holdout_metrics(version)
    clv_model, clv_book = fit_clv_model(odds, settings)
    info = ModelInfo(
        name=registry.name,
        version=str(version.version),
        semver=version.tags.get("semver", "?"),
        trained_through=metadata.get("trained_through"),
    )
    logger.info("loaded %s version %s (%s), state at %s, closing-line model on %s",
                info.name, info.version, info.semver, featurizer.state_date.date(),
                clv_book)  # fmt: skip
    return LoadedModel(
        info=info,
        ensemble=ensemble,
        featurizer=featurizer,
        order=np.array([featurizer.columns.index(c) for c in ensemble.feature_names]),
        holdout=holdout,
        calibration_status=settings.calibration.status(holdout.get("ece")),
        clv_model=clv_model,
        clv_book=clv_book,
        settings=settings,
        loaded_at=datetime.now(UTC),
        fixtures=fixture_updates(matches, odds),
        store_stamp=stamp,
    )


def store_stamp(store: DataStore) -> tuple[int, int] | None:
    """(modification time in ns, size) of the store's manifest: every commit replaces it."""
    try:
        status = store.manifest_path.stat()
    except FileNotFoundError:
        return None
    return status.st_mtime_ns, status.st_size


def _history(store: DataStore, leagues: list[str] | None) -> pd.DataFrame:
    """Played matches and listed fixtures (promoted sides appear there first)."""
    played = store.load("matches", leagues=leagues)
    fixtures = store.upcoming_fixtures()
    if not fixtures.empty and leagues:
        fixtures = fixtures[fixtures["league"].isin(leagues)]
    return pd.concat([played, fixtures], ignore_index=True) if not fixtures.empty else played


def fixture_updates(matches: pd.DataFrame, odds: pd.DataFrame) -> dict[str, OddsUpdate]:
    """Each upcoming fixture of the history as `POST /odds` would send it, with the opening
    prices of every book that quoted all three outcomes: subscribable before any push."""
    fixtures = matches[matches["status"] == "fixture"]
    if fixtures.empty:
        return {}
    quoted = newest_first(odds[odds["match_id"].isin(fixtures["match_id"])]) \
        if not odds.empty else odds  # fmt: skip
    wide = one_x_two(quoted, bookmakers=quoted["bookmaker"].unique(), phases=("open",)) \
        if not quoted.empty else pd.DataFrame()  # fmt: skip
    updates = {}
    for fixture in fixtures.itertuples(index=False):
        books = {}
        if fixture.match_id in wide.index:
            row = wide.loc[fixture.match_id]
            for book in sorted({c.rsplit("_", 2)[0] for c in wide.columns}):  # a tie: the first
                triple = [row.get(f"{book}_open_{o}", np.nan) for o in "HDA"]
                if all(np.isfinite(p) and p > 1.0 for p in triple):
                    books[book] = Prices(
                        home=float(triple[0]), draw=float(triple[1]), away=float(triple[2])
                    )
        kickoff = None if pd.isna(fixture.kickoff) else pd.Timestamp(fixture.kickoff)
        updates[fixture.match_id] = OddsUpdate(
            match_id=fixture.match_id, league=fixture.league, home_team=fixture.home_team,
            away_team=fixture.away_team, kickoff=kickoff, odds=books,
        )  # fmt: skip
    return updates


def fit_clv_model(
    odds: pd.DataFrame, settings: ServingSettings
) -> tuple[ClosingLineModel | None, str | None]:
    """The closing-line model on the first configured book quoted at open and close often
    enough; (None, None) when none is."""
    if odds.empty:
        return None, None
    wide = one_x_two(odds, bookmakers=settings.clv_books, phases=("open", "close"))
    method = settings.staking.implied_method
    for book in settings.clv_books:
        columns = [f"{book}_{phase}_{o}" for phase in ("open", "close") for o in "HDA"]
        if not set(columns) <= set(wide.columns):
            continue
        prices = wide[columns].to_numpy(dtype=float)
        complete = np.isfinite(prices).all(axis=1) & (np.nan_to_num(prices) > 1.0).all(axis=1)
        if complete.sum() < settings.clv_min_matches:
            continue
        opened = implied_probabilities(prices[complete, :3], method)
        closed = implied_probabilities(prices[complete, 3:], method)
        return ClosingLineModel.fit(opened, closed), book
    logger.warning("no closing-line model: no book of %s has %d matches quoted at open and "
                   "close", list(settings.clv_books), settings.clv_min_matches)  # fmt: skip
    return None, None
