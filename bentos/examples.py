"""The requests of bentos/README.md as working examples for the OpenAPI document.

Swagger UI offered bodies built from the schemas alone (`"string"` for a team,
`additionalProp1` for a bookmaker, prices of 0), which the service refuses. These are the
README's requests, named in the loaded model's own leagues and teams (E0, Arsenal and Chelsea
where it knows them) and dated after its teams' state, so that each one, sent as it stands, is
answered with a 2xx: the service publishes them for the model it serves (bentos/openapi.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd

from sabiscore.football_data import make_match_id

#: The README's match and prices (`POST /predict`, `POST /edge`, `POST /odds`).
README_MATCH = ("E0", "Arsenal", "Chelsea")
README_KICKOFF = datetime(2024, 8, 17, 15, 0)
PINNACLE = {"home": 2.10, "draw": 3.40, "away": 3.60}
BET365 = {"home": 2.05, "draw": 3.50, "away": 3.50}

#: (method, path) -> {"body": ..., "parameters": {name: value}}, as Swagger UI sends them.
Examples = dict[tuple[str, str], dict[str, Any]]


@dataclass(frozen=True)
class ExampleMatch:
    """The match every example names."""

    league: str
    home_team: str
    away_team: str
    kickoff: datetime

    @classmethod
    def of(
        cls, teams: Mapping[str, Sequence[str]], state_date: date | None, today: date
    ) -> ExampleMatch:
        """The README's match when the model knows its teams, else the first two teams of
        its first league; kicking off at 15:00 tomorrow, or on the day after the teams' state
        (the first day the model prices) when that is later. A match of the past would be
        forgotten by the service as soon as `POST /odds` posted it (`tracking`), and
        `GET /matches/{match_id}` could not find it. The README's day when no model is loaded.

        >>> ExampleMatch.of({"SY1": ["Ash", "Birch", "Cedar"]}, date(2022, 5, 21),
        ...                 today=date(2022, 5, 1))
        ExampleMatch(league='SY1', home_team='Ash', away_team='Birch', kickoff=datetime.datetime(2022, 5, 22, 15, 0))
        >>> ExampleMatch.of({}, None, date(2022, 5, 1)).home_team
        'Arsenal'
        """  # noqa: E501 - a doctest's output is one line
        league, home, away = README_MATCH
        if not set(README_MATCH[1:]) <= set(teams.get(league, ())):
            league, names = next(
                ((k, v) for k, v in teams.items() if len(v) >= 2), (league, (home, away))
            )
            home, away = names[0], names[1]
        if state_date is None:
            return cls(league, home, away, README_KICKOFF)
        day = max(state_date, today) + timedelta(days=1)
        return cls(league, home, away, datetime.combine(day, time(15, 0)))

    @property
    def match_id(self) -> str:
        """The id the data store (and `POST /odds` without one) gives this match."""
        return make_match_id(
            self.league, pd.Timestamp(self.kickoff), self.home_team, self.away_team
        )

    def body(self, **extra: Any) -> dict[str, Any]:
        return {
            "league": self.league,
            "home_team": self.home_team,
            "away_team": self.away_team,
            "kickoff": self.kickoff.isoformat(),
            **extra,
        }


def served_examples(model: Any | None, today: date) -> Examples:
    """The examples for the model served (a `LoadedModel`; None while none is loaded): its
    league and teams, its first upcoming fixture for `GET /matches/{match_id}` and its name
    and version for `POST /reload`."""
    if model is None:
        return request_examples(ExampleMatch.of({}, None, today))
    match = ExampleMatch.of(model.teams(), model.featurizer.state_date.date(), today)
    fixture_id = next(iter(sorted(model.fixtures)), None)
    return request_examples(match, fixture_id, (model.info.name, model.info.version))


def request_examples(
    match: ExampleMatch, fixture_id: str | None = None, model: tuple[str, str] | None = None
) -> Examples:
    """One working request per operation. `fixture_id`: an upcoming fixture's id for
    `GET /matches/{match_id}` (default: the match `POST /odds`'s example posts); `model`:
    (name, version) served, as the pipeline names it to `POST /reload`."""
    day = match.kickoff.date().isoformat()
    single = match.body(odds={"pinnacle": PINNACLE})
    reverse = {**match.body(), "home_team": match.away_team, "away_team": match.home_team}
    name, version = model or ("sabiscore-ensemble", None)
    return {
        ("post", "/predict"): {"body": single},
        ("post", "/predict_batch"): {"body": {"matches": [single, reverse]}},
        ("post", "/edge"): {
            "body": match.body(
                odds={"pinnacle": PINNACLE, "bet365": BET365}, reference_book="pinnacle"
            )
        },
        ("post", "/odds"): {
            "body": {"match_id": match.match_id, **match.body(odds={"pinnacle": PINNACLE})}
        },
        ("post", "/reload"): {"body": {"model": name, "version": version}},
        ("get", "/fixtures"): {"parameters": {"league": [match.league], "from": day}},
        ("get", "/value-bets"): {
            "parameters": {
                "league": [match.league],
                "from": day,
                "book": ["bet365"],
                "bankroll": 1000,
            }
        },
        ("get", "/ledger"): {"parameters": {"since": day}},
        ("get", "/matches/{match_id}"): {"parameters": {"match_id": fixture_id or match.match_id}},
        ("get", "/models"): {"parameters": {"limit": 5}},
    }
