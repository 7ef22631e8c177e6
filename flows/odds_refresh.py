"""The odds refresh: fetch fixtures and prices from the configured sources → update the store
and its price history → push what changed to the serving layer → publish the current value
bets (a Prefect table artifact) and the ledger's track record (an artifact and MLflow metrics).
Runs every few minutes from `prefect.yaml`; `sabiscore odds-refresh` runs it once.

Sources are `configs/sources.yaml` `live:`: football-data.co.uk's fixtures.csv (ingested as a
file), The Odds API, the Betfair Exchange, or a plug-in (tasks/live_sources.py). A source that
fails is reported and counted; it never fails the run, nor does a service that cannot be
reached.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from flows.ingest import ingest_flow
from flows.run_names import odds_refresh_run_name
from sabiscore.config import default_data_dir, load_config
from sabiscore.live import (
    LiveSnapshot,
    calendar_year_leagues,
    in_calendar_seasons,
    live_kind,
    snapshot_partitions,
)
from sabiscore.serving_state import fixture_listing
from sabiscore.store import DataStore
from tasks.ledger import publish_ledger
from tasks.live_sources import FOOTBALL_DATA, LiveSourceError, fetch_live, no_public_api_notes
from tasks.serving import service_failure, service_headers
from tasks.serving_state import publish_serving_state


def odds_url(config: dict) -> str | None:
    """Where the service takes prices: `$SABISCORE_ODDS_URL`, else `serving.odds_url`."""
    return os.environ.get("SABISCORE_ODDS_URL") or config.get("serving", {}).get("odds_url")


@flow(name="odds-refresh", flow_run_name=odds_refresh_run_name, log_prints=True)
def odds_refresh_flow(
    sources: list[str] | None = None,
    data_dir: str | None = None,
    config_path: str | None = None,
    live: list[str] | None = None,
    leagues: list[str] | None = None,
) -> dict:
    """Refresh the upcoming fixtures' prices, hand them to the service, publish the bets.

    A failed source or push is logged and counted; it never fails the run.

    Args:
        sources: Fixture files or URLs for the football-data source, as for `sabiscore
            ingest`. Empty: `odds_refresh.sources` of configs/data.yaml.
        data_dir: The data store. Empty: $SABISCORE_DATA_DIR, else data/ in the project.
        config_path: A YAML file overriding configs/*.yaml. Empty: the shipped configs.
        live: The live sources to read, e.g. ["football-data", "the-odds-api", "betfair"].
            Empty: `live` of configs/sources.yaml.
        leagues: Only these league codes (for the live sources), e.g. ["E0"]. Empty: all the
            configured leagues.
    """
    # The deployments' run forms send "" and [] for what is left empty: the defaults.
    sources, data_dir, config_path, live, leagues = (
        value or None for value in (sources, data_dir, config_path, live, leagues)
    )
    config = load_config(config_path)
    settings = config["data"]["odds_refresh"]
    root = Path(data_dir) if data_dir else default_data_dir()
    kinds = list(
        live if live is not None else config.get("sources", {}).get("live", [FOOTBALL_DATA])
    )
    for note in no_public_api_notes(config.get("sources", {}), os.environ):
        print(f"note: {note}")
    failed: dict[str, str] = {}
    captured = {}
    if FOOTBALL_DATA in kinds or sources:
        ingest_flow(
            sources=sources or settings["sources"], data_dir=str(root), config_path=config_path
        )
    for kind in (k for k in kinds if k != FOOTBALL_DATA):
        try:
            captured[kind] = store_snapshot(DataStore(root), fetch_source(kind, config, leagues))
        except (LiveSourceError, ValueError, ImportError) as error:
            failed[kind] = str(error)
            print(f"warning: {kind}: {error}")
    state = publish_serving_state(str(root), config) if captured else None  # new fixtures
    prices = upcoming_prices(DataStore(root))
    pushed, failures = push_prices(odds_url(config), prices, settings.get("push_timeout_s", 5))
    print(f"{len(prices)} upcoming fixture(s); pushed {pushed}, {failures} push failure(s)")
    bets = publish_bets(str(root), config_path)
    return {
        "fixtures": len(prices),
        "pushed": pushed,
        "push_failures": failures,
        "live": captured,
        "failed_sources": failed,
        "serving_state": state,
        **bets,
    }


@task(name="fetch-live-source", cache_policy=NO_CACHE)
def fetch_source(kind: str, config: dict, leagues: list[str] | None) -> LiveSnapshot:
    """One live source's fixtures and prices, now; its notes and set-aside fixtures printed."""
    snapshot = fetch_live(kind, config, pd.Timestamp.now(tz="UTC").tz_localize(None), leagues)
    for note in snapshot.notes:
        print(f"{kind}: {note}")
    for aside in snapshot.set_aside:
        print(f"warning: {kind}: {aside.home_team} v {aside.away_team} set aside: {aside.reason}")
    return snapshot


@task(name="store-live-prices", cache_policy=NO_CACHE)
def store_snapshot(store: DataStore, snapshot: LiveSnapshot) -> dict[str, int]:
    """The snapshot as the source's latest fixtures and prices, its prices appended to the
    store's price history; returns the counts."""
    history = {}
    kind = live_kind(snapshot.source)
    entries = store.manifest()["partitions"].values()
    snapshot = in_calendar_seasons(snapshot, calendar_year_leagues(entries))
    for entry in entries:
        if entry.get("kind") == kind and "price_history" in entry["files"]:
            history[(entry["league"], entry["season"])] = pd.read_parquet(
                store.root / entry["files"]["price_history"]
            )
    parts = snapshot_partitions(snapshot, history)
    if parts:
        store.commit(parts)
    return {
        "fixtures": len(snapshot.fixtures),
        "prices": len(snapshot.odds),
        "set_aside": len(snapshot.set_aside),
        "price_history": sum(len(p.tables["price_history"]) for p in parts),
    }


@task(name="publish-bets", cache_policy=NO_CACHE)
def publish_bets(data_dir: str, config_path: str | None) -> dict[str, Any]:
    """The current value bets (a table artifact, each recorded in the ledger) and the ledger's
    track record (a markdown artifact and MLflow metrics); nothing without a champion."""
    from prefect.artifacts import create_table_artifact

    from bentos.bets import BetQuery, load_champion, suggestions, value_bets
    from bentos.state import NoChampion
    from sabiscore.ledger import Ledger

    try:
        model = load_champion(Path(data_dir), Path(config_path) if config_path else None)
    except NoChampion as error:
        print(f"no value bets: {error}")
        return {"value_bets": 0, "ledger": publish_ledger(data_dir, config_path)}
    answer = value_bets(model, model.fixtures.values(), BetQuery())
    recorded = Ledger(data_dir).record(suggestions(answer.bets, model, "odds-refresh"))
    rows = [
        {k: v for k, v in b.model_dump(mode="json").items() if k != "match_id"} for b in answer.bets
    ]
    create_table_artifact(
        key="value-bets",
        table=rows or [{"note": "no value bet now"}],
        description=f"Value bets of model version {model.info.version} "
        f"({model.info.semver}), {len(answer.fixtures)} fixture(s)",
    )
    report = publish_ledger(data_dir, config_path)
    print(f"{len(answer.bets)} value bet(s) now, {recorded} new in the ledger")
    return {"value_bets": len(answer.bets), "ledger": report}


@task(name="upcoming-prices", cache_policy=NO_CACHE)
def upcoming_prices(store: DataStore) -> list[dict[str, Any]]:
    """Every fixture not yet played, with each bookmaker's newest opening 1X2 prices, as
    `POST /odds` takes it (`sabiscore.serving_state.fixture_listing`, which the service's
    state lists too)."""
    fixtures = store.upcoming_fixtures()
    if fixtures.empty:
        return []
    odds = store.load("odds", sorted(set(fixtures["league"])), sorted(set(fixtures["season"])))
    return fixture_listing(fixtures, odds)


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
                logger.warning(
                    "could not push %s to %s: %s", message["match_id"], url, service_failure(error)
                )
    return pushed, len(messages) - pushed
