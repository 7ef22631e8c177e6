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
from sabiscore.matchup import MatchupFeaturizer, UnknownLeague, UnknownTeam
from sabiscore.serving_state import ServingState
from sabiscore.staking import OUTCOMES, ClosingLineModel, StakingPolicy, match_edges, sharp_book
from sabiscore.store import DataStore

logger = logging.getLogger(__name__)

__all__ = ["LoadedModel", "NoChampion", "RequestRejected", "load_model"]


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
    state_source: str | None = None  # the state run's id, "embedded" or "the data store"

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
            edges = match_edges(
                probs / probs.sum(),
                prices,
                policy,
                self.clv_model,
                reference_book=reference,
                bet_at=bet_at,
            )
        except ValueError as error:
            raise RequestRejected(str(error)) from None
        outcomes = [OutcomeEdge.of(e) for e in edges]
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
    """The version under the alias (or `version`, a registry ModelVersion) with its serving
    state from the registry: the teams' pre-match state, the closing-line model and the
    upcoming fixtures, as the pipeline exported it or a flow last published it. The data store
    is not read, so a service needs none. A version registered before serving states has its
    state built here, from the store (`legacy_state`). Seconds: run it off the event loop."""
    version = version or registry.version_by_alias(settings.alias)
    if version is None:
        raise NoChampion(
            f"{registry.name} has no {settings.alias!r} version yet: run `sabiscore pipeline`; "
            f"if the gate kept every version out (`sabiscore models`), promote one by hand "
            f"with `sabiscore promote VERSION`"
        )
    ensemble, state, source = registry.load_served(version)
    stamp = store_stamp(DataStore(settings.data_dir))  # a commit during the load: seen next time
    if state is None:
        state, source = legacy_state(settings, ensemble.metadata), "the data store"
    featurizer = state.featurizer
    missing = sorted(set(ensemble.feature_names) - set(featurizer.columns))
    if missing:
        raise ValueError(f"the featurizer lacks {len(missing)} features of the model: {missing}")
    holdout = registry.holdout_metrics(version)
    info = ModelInfo(
        name=registry.name,
        version=str(version.version),
        semver=version.tags.get("semver", "?"),
        trained_through=ensemble.metadata.get("trained_through"),
    )
    logger.info(
        "loaded %s version %s (%s), state at %s from %s, closing-line model on %s",
        info.name,
        info.version,
        info.semver,
        featurizer.state_date.date(),
        source,
        state.clv_book,
    )
    return LoadedModel(
        info=info,
        ensemble=ensemble,
        featurizer=featurizer,
        order=np.array([featurizer.columns.index(c) for c in ensemble.feature_names]),
        holdout=holdout,
        calibration_status=settings.calibration.status(holdout.get("ece")),
        clv_model=state.clv_model,
        clv_book=state.clv_book,
        settings=settings,
        loaded_at=datetime.now(UTC),
        fixtures={f["match_id"]: OddsUpdate.model_validate(f) for f in state.fixtures},
        store_stamp=stamp,
        state_source=source,
    )


def legacy_state(settings: ServingSettings, metadata: Mapping[str, Any]) -> ServingState:
    """The state of a version that carries none, from the data store as it is now."""
    matches, odds = DataStore(settings.data_dir).history(metadata.get("leagues") or None)
    return ServingState.build(
        matches, odds, FeatureConfig.from_dict(metadata.get("features")), settings.clv
    )


def store_stamp(store: DataStore) -> tuple[int, int] | None:
    """(modification time in ns, size) of the store's manifest: every commit replaces it."""
    try:
        status = store.manifest_path.stat()
    except FileNotFoundError:
        return None
    return status.st_mtime_ns, status.st_size
