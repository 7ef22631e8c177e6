"""Schemathesis hooks (`SCHEMATHESIS_HOOKS=tests.bentos.schemathesis_hooks`) for the positive
run of tests/bentos/test_schemathesis.py: generated bodies speak of the real leagues, teams and
bookmakers of the service under test ($SABISCORE_SCHEMATHESIS_URL), with kick-offs after its
state's last day, so that schema-valid requests reach the model instead of stopping at a 422
for an unknown team; and kick-off windows in order. Which real name replaces a generated one
follows from the generated value, so a run is reproducible."""

from __future__ import annotations

import os
import zlib
from datetime import date, timedelta
from typing import Any

import httpx
import schemathesis

from sabiscore.football_data import BOOKMAKERS

URL = os.environ["SABISCORE_SCHEMATHESIS_URL"]
LEAGUES = httpx.get(f"{URL}/teams", timeout=30).json()["leagues"]
STATE_DATE = date.fromisoformat(httpx.get(f"{URL}/readyz", timeout=30).json()["state_date"])
BOOKS = sorted(set(BOOKMAKERS.values()))


def _index(value: object, size: int) -> int:
    return zlib.crc32(repr(value).encode()) % size


def _kickoff(value: object) -> str:
    return f"{STATE_DATE + timedelta(days=1 + _index(value, 60))}T15:00:00"


def real_match(body: Any) -> Any:
    """The league and two different teams of the service, a kick-off after its state, known
    bookmakers, and a reference book among those sent."""
    if not isinstance(body, dict):
        return body
    league = LEAGUES[_index(body.get("league"), len(LEAGUES))]
    teams = league["teams"]
    home = _index(body.get("home_team"), len(teams))
    away = (home + 1 + _index(body.get("away_team"), len(teams) - 1)) % len(teams)
    body.update(league=league["league"], home_team=teams[home], away_team=teams[away])
    if body.get("kickoff") is not None:
        body["kickoff"] = _kickoff(body["kickoff"])
    if isinstance(body.get("odds"), dict):
        body["odds"] = {
            BOOKS[_index(name, len(BOOKS))]: prices for name, prices in body["odds"].items()
        }
    if body.get("reference_book") is not None:
        body["reference_book"] = next(iter(body.get("odds") or {}), None)
    return body


@schemathesis.hook
def map_body(context: schemathesis.HookContext, body: Any) -> Any:
    path = context.operation.path if context.operation is not None else ""
    if path == "/predict_batch" and isinstance(body, dict):
        body["matches"] = [real_match(m) for m in body.get("matches") or []]
    elif path in ("/predict", "/edge"):
        body = real_match(body)
    elif path == "/odds" and isinstance(body, dict):
        body = real_match(body)
        if body.get("match_id") is None and body.get("kickoff") is None:
            body["kickoff"] = _kickoff(body.get("home_team"))
    return body


@schemathesis.hook
def map_query(context: schemathesis.HookContext, query: Any) -> Any:
    """A kick-off window that ends before it starts is refused (400), which the schema cannot
    say: the positive run asks for it in order."""
    if (
        isinstance(query, dict)
        and isinstance(query.get("from"), str)
        and isinstance(query.get("to"), str)
        and query["from"] > query["to"]
    ):
        query["from"], query["to"] = query["to"], query["from"]
    return query
