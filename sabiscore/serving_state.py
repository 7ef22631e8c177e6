"""The serving state of a model version: what the service needs besides the ensemble to answer
for a match named by its teams — every team's pre-match state (`MatchupFeaturizer`) and the
closing-line model — built once from the history and kept as explicit files (no pickle) with
the version in the registry, then updated as new results and fixtures arrive.

The service loads model and state from the registry alone: what a version predicts depends on
the version and its published state, not on whichever data store sits beside the service, and
two replicas serve the same numbers.

Files of a state directory: `state.json` (what it was built from, the closing-line model),
`fixtures.json` (the upcoming fixtures with their newest opening prices), `featurizer.json` and
`featurizer.npz` (`MatchupFeaturizer.to_files`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sabiscore.features import FeatureConfig
from sabiscore.football_data import one_x_two
from sabiscore.live import newest_first
from sabiscore.matchup import MatchupFeaturizer
from sabiscore.odds import ImpliedMethod, implied_probabilities
from sabiscore.outcomes import OUTCOMES, RESULT_CODES
from sabiscore.staking import ClosingLineModel

logger = logging.getLogger(__name__)

FORMAT = 1


@dataclass(frozen=True)
class ClvSettings:
    """Which book the closing-line model is fitted on: the first of `books` quoted at open and
    close on at least `min_matches` matches (serving.yaml's `edge` section)."""

    books: tuple[str, ...] = ("pinnacle", "market_avg")
    min_matches: int = 50
    method: ImpliedMethod | str = ImpliedMethod.MULTIPLICATIVE

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ClvSettings:
        """From loaded configs: serving's `edge` (`clv_books`, `clv_min_matches`, its
        `implied_method`, else staking's)."""
        edge = (config.get("serving") or {}).get("edge") or {}
        method = edge.get("implied_method") or (config.get("staking") or {}).get(
            "implied_method", "multiplicative"
        )
        return cls(
            books=tuple(edge.get("clv_books", ("pinnacle", "market_avg"))),
            min_matches=int(edge.get("clv_min_matches", 50)),
            method=ImpliedMethod(method),
        )


def fit_clv_model(
    odds: pd.DataFrame, settings: ClvSettings
) -> tuple[ClosingLineModel | None, str | None]:
    """The closing-line model on the first configured book quoted at open and close often
    enough; (None, None) when none is."""
    if odds.empty:
        return None, None
    wide = one_x_two(odds, bookmakers=settings.books, phases=("open", "close"))
    for book in settings.books:
        columns = [f"{book}_{phase}_{o}" for phase in ("open", "close") for o in RESULT_CODES]
        if not set(columns) <= set(wide.columns):
            continue
        prices = wide[columns].to_numpy(dtype=float)
        complete = np.isfinite(prices).all(axis=1) & (np.nan_to_num(prices) > 1.0).all(axis=1)
        if complete.sum() < settings.min_matches:
            continue
        opened = implied_probabilities(prices[complete, :3], settings.method)
        closed = implied_probabilities(prices[complete, 3:], settings.method)
        return ClosingLineModel.fit(opened, closed), book
    logger.warning(
        "no closing-line model: no book of %s has %d matches quoted at open and close",
        list(settings.books),
        settings.min_matches,
    )
    return None, None


def fixture_listing(matches: pd.DataFrame, odds: pd.DataFrame) -> list[dict[str, Any]]:
    """Each upcoming fixture of the history with the newest opening prices of every book that
    quoted all three outcomes: `{match_id, league, home_team, away_team, kickoff (ISO or
    None), odds: {book: {home, draw, away}}}`, as `POST /odds` would send it."""
    fixtures = matches[matches["status"] == "fixture"]
    if fixtures.empty:
        return []
    quoted = (
        newest_first(odds[odds["match_id"].isin(fixtures["match_id"])]) if not odds.empty else odds
    )
    wide = (
        one_x_two(quoted, bookmakers=quoted["bookmaker"].unique(), phases=("open",))
        if not quoted.empty
        else pd.DataFrame()
    )
    listing = []
    for fixture in fixtures.itertuples(index=False):
        books = {}
        if fixture.match_id in wide.index:
            row = wide.loc[fixture.match_id]
            for book in sorted({c.rsplit("_", 2)[0] for c in wide.columns}):  # a tie: the first
                triple = [row.get(f"{book}_open_{o.code}", np.nan) for o in OUTCOMES]
                if all(np.isfinite(p) and p > 1.0 for p in triple):
                    books[book] = {o.value: float(p) for o, p in zip(OUTCOMES, triple, strict=True)}
        kickoff = None if pd.isna(fixture.kickoff) else pd.Timestamp(fixture.kickoff).isoformat()
        listing.append(
            {
                "match_id": fixture.match_id,
                "league": fixture.league,
                "home_team": fixture.home_team,
                "away_team": fixture.away_team,
                "kickoff": kickoff,
                "odds": books,
            }
        )
    return listing


def history_digest(matches: pd.DataFrame, odds: pd.DataFrame) -> str:
    """A short hash of what a state is built from: the played results and listed fixtures, and
    the prices (match, book, phase, outcome, price). Equal digests, equal states."""
    result_columns = [
        c
        for c in (
            "match_id",
            "status",
            "home_goals",
            "away_goals",
            "kickoff",
            "home_team",
            "away_team",
        )
        if c in matches
    ]
    price_columns = [
        c
        for c in (
            "match_id",
            "bookmaker",
            "phase",
            "market",
            "outcome",
            "line",
            "price",
            "captured_at",
        )
        if c in odds
    ]
    digest = hashlib.sha256()
    for frame, columns in ((matches, result_columns), (odds, price_columns)):
        if len(frame):
            ordered = frame[columns].astype(str).sort_values(columns)
            digest.update(pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class ServingState:
    featurizer: MatchupFeaturizer
    clv_model: ClosingLineModel | None
    clv_book: str | None
    history: str  # `history_digest` of what it was built from
    leagues: tuple[str, ...]
    fixtures: tuple[dict[str, Any], ...] = ()  # `fixture_listing`: subscribable before a push

    @classmethod
    def build(
        cls, matches: pd.DataFrame, odds: pd.DataFrame, features: FeatureConfig, clv: ClvSettings
    ) -> ServingState:
        """From a history (played matches and listed fixtures: `DataStore.history` of the
        model's leagues) and its prices."""
        clv_model, clv_book = fit_clv_model(odds, clv)
        return cls(
            featurizer=MatchupFeaturizer.from_history(matches, odds, features),
            clv_model=clv_model,
            clv_book=clv_book,
            history=history_digest(matches, odds),
            leagues=tuple(sorted(map(str, matches["league"].unique()))),
            fixtures=tuple(fixture_listing(matches, odds)),
        )

    def save(self, directory: Path) -> Path:
        """The state's files in `directory` (created); returns it."""
        directory = Path(directory)
        self.featurizer.to_files(directory)
        (directory / "state.json").write_text(json.dumps(self.describe(), indent=1))
        (directory / "fixtures.json").write_text(json.dumps(list(self.fixtures), indent=1))
        return directory

    def describe(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "history": self.history,
            "leagues": list(self.leagues),
            "state_date": str(self.featurizer.state_date.date()),
            "state_time": self.featurizer.state_time.isoformat(),
            "clv_book": self.clv_book,
            "clv_model": None if self.clv_model is None else self.clv_model.to_dict(),
        }

    @classmethod
    def load(cls, directory: Path, features: FeatureConfig) -> ServingState:
        """The state `save` wrote, with the model's feature settings."""
        directory = Path(directory)
        described = json.loads((directory / "state.json").read_text())
        if described.get("format") != FORMAT:
            raise ValueError(
                f"{directory}: serving state format {described.get('format')!r}, "
                f"this code reads {FORMAT}"
            )
        clv = described.get("clv_model")
        return cls(
            featurizer=MatchupFeaturizer.from_files(directory, features),
            clv_model=None if clv is None else ClosingLineModel.from_dict(clv),
            clv_book=described.get("clv_book"),
            history=described["history"],
            leagues=tuple(described["leagues"]),
            fixtures=tuple(json.loads((directory / "fixtures.json").read_text())),
        )
