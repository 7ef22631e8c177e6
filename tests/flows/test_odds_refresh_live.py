"""The odds refresh with a live source (issue 13): The Odds API's answers (a local stand-in in
the documented shape) become the store's upcoming fixtures and prices, each capture appended
to the price history, and the latest prices are pushed to the service (another stand-in)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sabiscore.live import live_kind
from sabiscore.store import DataStore
from tests.helpers import Recorded, recording_server
from tests.tasks.test_live_sources import QUOTA, SECRET, event, h2h

BRIGHTON, UNITED = "Brighton and Hove Albion", "Manchester United"


def _answers(kickoff: str, home_price: float) -> dict:
    return {
        "soccer_epl": [
            event(
                "soccer_epl",
                BRIGHTON,
                UNITED,
                kickoff,
                [
                    h2h("pinnacle", BRIGHTON, UNITED, (home_price, 3.62, 2.86)),
                    h2h("williamhill", BRIGHTON, UNITED, (home_price - 0.05, 3.5, 2.8)),
                ],
            )
        ]
    }


def test_live_prices_are_stored_with_their_history_and_pushed(tmp_path: Path, monkeypatch) -> None:
    from flows.odds_refresh import odds_refresh_flow

    kickoff = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=3)).floor("h")
    answers = {"now": _answers(kickoff.strftime("%Y-%m-%dT%H:%M:%SZ"), 2.45)}

    def odds_api(request: Recorded) -> tuple[int, object, dict]:
        return 200, answers["now"].get(request.route.split("/")[3], []), QUOTA

    monkeypatch.setenv("ODDS_API_KEY", SECRET)
    monkeypatch.delenv("SABISCORE_ODDS_URL", raising=False)
    with (
        recording_server(odds_api) as (api, asked),
        recording_server(lambda r: (200, {}, {})) as (service, pushed),
    ):
        override = tmp_path / "live.yaml"
        override.write_text(
            json.dumps(
                {
                    "sources": {"live": ["the-odds-api"], "the-odds-api": {"base_url": api}},
                    "serving": {"odds_url": f"{service}/odds"},
                }
            )
        )
        store = tmp_path / "store"
        first = odds_refresh_flow(data_dir=str(store), config_path=str(override), leagues=["E0"])
        answers["now"] = _answers(kickoff.strftime("%Y-%m-%dT%H:%M:%SZ"), 2.30)
        second = odds_refresh_flow(data_dir=str(store), config_path=str(override), leagues=["E0"])

    assert [a.route for a in asked] == ["/v4/sports/soccer_epl/odds"] * 2
    assert first["live"]["the-odds-api"] == {
        "fixtures": 1,
        "prices": 6,
        "set_aside": 0,
        "price_history": 6,
    }
    assert second["live"]["the-odds-api"]["price_history"] == 12, "the history grows"
    assert first["failed_sources"] == {} and second["pushed"] == 1

    data = DataStore(store)
    start = kickoff.year - (kickoff.month < 7)
    assert [
        k for k in data.manifest()["partitions"] if k.startswith(live_kind("the-odds-api"))
    ] == [f"live-the-odds-api:E0/{start}-{start + 1}"]
    upcoming = data.upcoming_fixtures()
    assert upcoming[["home_team", "away_team"]].values.tolist() == [["Brighton", "Man United"]]
    history = data.load("price_history")
    home = history[(history["bookmaker"] == "pinnacle") & (history["outcome"] == "H")]
    assert sorted(home["price"]) == [2.30, 2.45] and home["captured_at"].nunique() == 2
    latest = data.load("odds")
    assert latest.loc[
        (latest["bookmaker"] == "pinnacle") & (latest["outcome"] == "H"), "price"
    ].tolist() == [2.30]

    message = pushed[-1].json()
    assert (message["home_team"], message["away_team"], message["league"]) == (
        "Brighton",
        "Man United",
        "E0",
    )
    assert message["odds"]["pinnacle"] == {"home": 2.30, "draw": 3.62, "away": 2.86}
    assert message["odds"]["william_hill"]["home"] == pytest.approx(2.25)
    assert all(SECRET not in p.path and SECRET not in str(p.body) for p in pushed)


def test_the_ledger_is_published_as_an_artifact_and_mlflow_metrics(tmp_path: Path) -> None:
    import mlflow
    from prefect import flow
    from prefect.artifacts import Artifact

    from models.registry import tracking_uri
    from sabiscore.ledger import Ledger, Suggestion
    from tasks.ledger import EXPERIMENT, publish_ledger

    Ledger(tmp_path).record(
        [
            Suggestion(
                match_id="e0-20990101-a-b",
                league="E0",
                kickoff="2099-01-01T15:00:00Z",
                home_team="A",
                away_team="B",
                outcome="home",
                bookmaker="bet365",
                price=2.5,
                net_odds=2.5,
                stake=0.01,
                edge=0.05,
                quality="VALUE",
                model_version="1",
                model_semver="1.0.0",
                suggested_at="2098-12-31T09:00:00Z",
                source="sabiscore bets",
            )
        ]
    )

    @flow
    def publish() -> dict:
        return publish_ledger(str(tmp_path))

    report = publish()
    assert (report["suggested"], report["settled"], report["open"]) == (1, 0, 1)
    artifact = Artifact.get("ledger")
    assert artifact is not None and "**1** suggestions, **0** settled, 1 open" in artifact.data
    client = mlflow.MlflowClient(tracking_uri(tmp_path))
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # classic ML
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.metrics["ledger_suggested"] == 1 and run.data.metrics["ledger_bets"] == 0
