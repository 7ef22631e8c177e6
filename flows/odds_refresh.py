"""The odds refresh: ingest the fixture lists → upcoming fixtures with their opening prices →
push them to the serving layer. Runs every few minutes from `prefect.yaml`."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from flows.ingest import ingest_flow
from sabiscore.config import default_data_dir, load_config
from sabiscore.football_data import one_x_two
from sabiscore.store import DataStore
from tasks.serving import service_failure, service_headers

SIDES = {"H": "home", "D": "draw", "A": "away"}


def odds_url(config: dict) -> str | None:
    """Where the service takes prices: `$SABISCORE_ODDS_URL`, else `serving.odds_url`."""
    return os.environ.get("SABISCORE_ODDS_URL") or config.get("serving", {}).get("odds_url")


@flow(name="odds-refresh", log_prints=True)
def odds_refresh_flow(
    sources: list[str] | None = None,
    data_dir: str | None = None,
    config_path: str | None = None,
) -> dict:
    """Refresh the upcoming fixtures' prices and hand them to the service, if one is set.

    sources: fixture/odds files as for `sabiscore ingest` (default: `odds_refresh.sources` of
    configs/data.yaml). A failed push is logged and counted; it never fails the run.
    """
    config = load_config(config_path)
    settings = config["data"]["odds_refresh"]
    root = Path(data_dir) if data_dir else default_data_dir()
    ingest_flow(sources=sources or settings["sources"], data_dir=str(root),
                config_path=config_path)  # fmt: skip
    prices = upcoming_prices(DataStore(root))
    pushed, failures = push_prices(odds_url(config), prices, settings.get("push_timeout_s", 5))
    print(f"{len(prices)} upcoming fixture(s); pushed {pushed}, {failures} push failure(s)")
    return {"fixtures": len(prices), "pushed": pushed, "push_failures": failures}


@task(name="upcoming-prices", cache_policy=NO_CACHE)
def upcoming_prices(store: DataStore) -> list[dict[str, Any]]:
    """Every fixture not yet played, with each bookmaker's opening 1X2 prices."""
    fixtures = store.upcoming_fixtures()
    if fixtures.empty:
        return []
    odds = store.load("odds", sorted(set(fixtures["league"])), sorted(set(fixtures["season"])))
    return price_messages(fixtures, odds)


def price_messages(fixtures: pd.DataFrame, odds: pd.DataFrame) -> list[dict[str, Any]]:
    """One JSON-able message per fixture: `{match_id, league, ..., odds: {bookmaker: {home,
    draw, away}}}`; a bookmaker missing any of the three prices is left out."""
    books: dict[str, dict[str, dict[str, float]]] = {}
    if not odds.empty:
        odds = odds[odds["match_id"].isin(fixtures["match_id"])]
        wide = one_x_two(odds, bookmakers=odds["bookmaker"].unique(), phases=("open",))
        for match_id, row in wide.iterrows():
            quotes: dict[str, dict[str, float]] = {}
            for column, price in row.items():
                bookmaker, _, outcome = column.rsplit("_", 2)
                quotes.setdefault(bookmaker, {})[SIDES[outcome]] = float(price)
            books[match_id] = {b: q for b, q in quotes.items()
                               if len(q) == 3 and not any(map(math.isnan, q.values()))}  # fmt: skip
    return [
        {
            "match_id": f.match_id,
            "league": f.league,
            "home_team": f.home_team,
            "away_team": f.away_team,
            "kickoff": None if pd.isna(f.kickoff) else pd.Timestamp(f.kickoff).isoformat(),
            "odds": books.get(f.match_id, {}),
        }
        for f in fixtures.itertuples(index=False)
    ]


@task(name="push-prices", cache_policy=NO_CACHE)
def push_prices(url: str | None, messages: list[dict], timeout_s: float) -> tuple[int, int]:
    """POST each fixture's prices to the service, with its API token when
    $SABISCORE_API_TOKEN is set; returns (pushed, failed). Never raises."""
    if not url or not messages:
        return 0, 0
    import httpx

    logger = get_run_logger()
    pushed = 0
    with httpx.Client(timeout=timeout_s, headers=service_headers()) as client:
        for message in messages:
            try:
                client.post(url, json=message).raise_for_status()
                pushed += 1
            except httpx.HTTPError as error:
                logger.warning("could not push %s to %s: %s", message["match_id"], url,
                               service_failure(error))  # fmt: skip
    return pushed, len(messages) - pushed
