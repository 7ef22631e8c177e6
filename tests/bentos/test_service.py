"""The whole service in-process (BentoML's own ASGI app under a TestClient) on a real champion:
answers checked against the model and the staking rules, every kind of bad input, the
WebSocket, reload, and the OpenAPI document."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.bentos.conftest import (
    BOOKS,
    KICKOFF,
    LEAGUE,
    copy_store,
    in_process_service,
    promote_copy,
)

pytestmark = pytest.mark.slow

TOKEN = "api-token-of-the-service-tests-9d27f4e1"


@pytest.fixture(scope="module")
def store(champion_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_store(champion_store, tmp_path_factory.mktemp("inprocess") / "store")


@pytest.fixture(scope="module")
def client(store: Path) -> Iterator[TestClient]:
    with in_process_service(store, TOKEN) as client:  # writes need it (tests/bentos/test_auth.py)
        yield client


@pytest.fixture(scope="module")
def model(client: TestClient):
    from bentos.service import app

    return app.state.runtime.model


@pytest.fixture(scope="module")
def teams(client: TestClient) -> list[str]:
    leagues = client.get("/teams").json()["leagues"]
    assert [entry["league"] for entry in leagues] == [LEAGUE]
    return leagues[0]["teams"]


def match(teams: list[str], **extra: object) -> dict:
    return {"league": LEAGUE, "home_team": teams[0], "away_team": teams[1], **extra}


# --- probes and teams -------------------------------------------------------------------------


def test_probes_say_which_model_is_loaded(client: TestClient, model) -> None:
    assert client.get("/healthz").json() == {"status": "alive"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready"
    trained_through = model.ensemble.metadata["trained_through"]
    assert ready["model"] == {
        "name": "sabiscore-ensemble",
        "version": "1",
        "semver": "1.0.0",
        "trained_through": trained_through,
    }
    assert ready["state_date"] == str(model.featurizer.state_date.date())


def test_the_loaded_heap_is_frozen_out_of_the_collectors_way(client: TestClient) -> None:
    import gc

    assert client.get("/readyz").status_code == 200
    # the libraries, the model and the teams' state: far more than a test's own objects
    assert gc.get_freeze_count() > 100_000


def test_teams_lists_the_leagues_teams(teams: list[str]) -> None:
    assert len(teams) == 16 and teams == sorted(teams)


# --- predict ----------------------------------------------------------------------------------


def test_predict_one_match(client: TestClient, model, teams: list[str]) -> None:
    answer = client.post("/predict", json=match(teams, kickoff=KICKOFF, odds=BOOKS))
    assert answer.status_code == 200, answer.text
    p = answer.json()
    probs = np.array([p["home_win_probability"], p["draw_probability"], p["away_win_probability"]])
    assert probs.sum() == pytest.approx(1.0, abs=1e-9) and (probs > 0).all()
    assert p["most_likely"] == ("home", "draw", "away")[int(probs.argmax())]
    assert p["confidence_score"] == pytest.approx(probs.max())
    assert p["brier_score"] == pytest.approx(model.holdout["brier"])
    assert p["calibration_status"] == model.settings.calibration.status(model.holdout["ece"])
    assert (p["model_version"], p["model_semver"]) == ("1", "1.0.0")
    triples = {book: tuple(q.values()) for book, q in BOOKS.items()}
    row = model.featurizer.features(LEAGUE, teams[0], teams[1], KICKOFF, triples)
    np.testing.assert_allclose(probs, model.ensemble.predict_one(row[model.order]))


def test_prices_move_the_forecast(client: TestClient, teams: list[str]) -> None:
    """The opening market is the model's main input: a home favourite's price lifts home."""
    favourite = {"pinnacle": {"home": 1.4, "draw": 4.8, "away": 8.0}}
    outsider = {"pinnacle": {"home": 6.0, "draw": 4.2, "away": 1.55}}
    home = [
        client.post("/predict", json=match(teams, odds=odds)).json()["home_win_probability"]
        for odds in (favourite, outsider)
    ]
    assert home[0] > home[1]


def _fair(prices: tuple[float, float, float], margin: float) -> dict[str, float]:
    """Prices of the same fair line (1 / price, normalised) at another margin."""
    inverse = np.array([1 / p for p in prices])
    fair = inverse / inverse.sum()
    return dict(zip(("home", "draw", "away"), (1 / (fair * (1 + margin))).tolist(), strict=True))


def test_the_forecast_does_not_swing_with_which_books_are_sent(
    client: TestClient, teams: list[str]
) -> None:
    """Tried as a new user would (the issue's case: a home price of 1.30 gave home 0.44 with
    Pinnacle alone and 0.66 with three books). Books that agree on the line, at their own
    margins, in any combination: no outcome moves by more than 0.02."""
    line = (1.30, 5.5, 10.0)
    books = {
        "pinnacle": _fair(line, 0.025),
        "bet365": _fair(line, 0.05),
        "market_avg": _fair(line, 0.06),
        "bwin": _fair(line, 0.055),
    }
    combinations = [
        ["pinnacle"],
        ["pinnacle", "bet365", "market_avg"],
        ["bet365"],
        ["market_avg"],
        ["bwin"],
        ["bet365", "bwin"],
        list(books),
    ]
    answers = []
    for names in combinations:
        odds = {name: books[name] for name in names}
        answer = client.post("/predict", json=match(teams, kickoff=KICKOFF, odds=odds))
        assert answer.status_code == 200, answer.text
        p = answer.json()
        answers.append(
            [p["home_win_probability"], p["draw_probability"], p["away_win_probability"]]
        )
    answers = np.array(answers)
    swing = answers.max(axis=0) - answers.min(axis=0)
    assert swing.max() <= 0.02, answers.round(3).tolist()
    assert answers[0, 0] > 0.6  # a 1.30 home favourite is a favourite


def test_a_batch_answers_like_single_calls(client: TestClient, teams: list[str]) -> None:
    matches = [match(teams, odds=BOOKS), match(teams[2:], kickoff=KICKOFF), match(teams[4:])]
    batch = client.post("/predict_batch", json={"matches": matches})
    assert batch.status_code == 200, batch.text
    singles = [client.post("/predict", json=m).json() for m in matches]
    assert batch.json()["model_version"] == "1"
    for got, expected in zip(batch.json()["predictions"], singles, strict=True):
        for key in ("home_win_probability", "draw_probability", "away_win_probability"):
            assert got[key] == pytest.approx(expected[key], abs=1e-9)


# --- edge -------------------------------------------------------------------------------------


def test_edge_at_the_best_price(client: TestClient, model, teams: list[str]) -> None:
    answer = client.post("/edge", json=match(teams, kickoff=KICKOFF, odds=BOOKS))
    assert answer.status_code == 200, answer.text
    edge = answer.json()
    policy = model.settings.staking
    predicted = client.post("/predict", json=match(teams, kickoff=KICKOFF, odds=BOOKS)).json()
    fair = [
        predicted[k] for k in ("home_win_probability", "draw_probability", "away_win_probability")
    ]
    assert [o["outcome"] for o in edge["outcomes"]] == ["home", "draw", "away"]
    sharp = fair_line(BOOKS["pinnacle"])  # Pinnacle: the first of sharp_books sent
    for o, side, p in zip(edge["outcomes"], ("home", "draw", "away"), fair, strict=True):
        best = max(BOOKS, key=lambda b, side=side: BOOKS[b][side])  # first listed on a tie
        assert (o["bookmaker"], o["best_odds"]) == (best, BOOKS[best][side])
        assert o["fair_probability"] == pytest.approx(p)
        assert o["implied_probability"] == pytest.approx(fair_line(BOOKS[best])[side])
        assert o["edge_percentage"] == pytest.approx(100 * (p * o["best_odds"] - 1))
        assert o["sharp_probability"] == pytest.approx(sharp[side])
        assert o["sharp_edge_percentage"] == pytest.approx(100 * (sharp[side] * o["best_odds"] - 1))
        kelly = 100 * policy.kelly_fraction * (p * o["best_odds"] - 1) / (o["best_odds"] - 1)
        if o["edge_percentage"] / 100 < policy.min_edge:
            assert o["reason"] == "below_min_edge"
        elif o["sharp_edge_percentage"] / 100 < -policy.sharp_tolerance:
            assert o["reason"] == "sharp_contradicts"
        else:
            assert o["reason"] == "value_bet" and o["quality"] != "AVOID"
            assert o["kelly_stake_percentage"] == pytest.approx(
                min(kelly, 100 * policy.max_stake_fraction)
            )
        if o["reason"] != "value_bet":
            assert o["kelly_stake_percentage"] == 0.0 and o["quality"] == "AVOID"
    assert edge["sharp_reference"] == {
        "bookmaker": "pinnacle",
        "sharp_books": list(policy.sharp_books),
        "tolerance_percentage": 100 * policy.sharp_tolerance,
        "note": "pinnacle: first of sharp_books sent (pinnacle, market_avg)",
    }
    assert edge["clv_reference"] == model.clv_book == "pinnacle"
    assert all(o["clv_expected"] is not None for o in edge["outcomes"])
    assert edge["total_stake_percentage"] == pytest.approx(
        sum(o["kelly_stake_percentage"] for o in edge["outcomes"])
    )
    assert edge["implied_method"] == str(policy.implied_method)


def fair_line(prices: dict[str, float]) -> dict[str, float]:
    """A book's multiplicative de-margined probabilities."""
    inverse = {side: 1 / price for side, price in prices.items()}
    return {side: value / sum(inverse.values()) for side, value in inverse.items()}


#: Pinnacle-only prices, from a short favourite to long odds on every side.
PINNACLE_ONLY = [
    {"home": 1.3, "draw": 6.0, "away": 11.0},
    {"home": 11.0, "draw": 6.0, "away": 1.3},
    {"home": 2.9, "draw": 2.9, "away": 2.9},
    {"home": 1.9, "draw": 3.5, "away": 4.2},
]


def test_no_bet_at_the_sharp_books_own_price(client: TestClient, model, teams: list[str]) -> None:
    """At Pinnacle's own price its fair line × price − 1 = 1 / overround − 1, minus its margin
    share: the sharp check refuses every edge the model sees there, however large."""
    refused = []
    for prices in PINNACLE_ONLY:
        edge = client.post("/edge", json=match(teams, odds={"pinnacle": prices})).json()
        margin_share = 1 / sum(1 / p for p in prices.values()) - 1
        assert edge["sharp_reference"]["bookmaker"] == "pinnacle"
        for o in edge["outcomes"]:
            assert o["sharp_edge_percentage"] == pytest.approx(100 * margin_share)
            assert o["reason"] != "value_bet" and o["kelly_stake_percentage"] == 0.0
            assert o["quality"] == "AVOID"
            if o["reason"] == "sharp_contradicts":
                refused.append(o["edge_percentage"])
        assert edge["total_stake_percentage"] == 0.0
    # the model sees edges at some of these prices: the check, not min_edge, refused them
    min_edge = 100 * model.settings.staking.min_edge
    assert refused and all(e >= min_edge for e in refused), refused


def test_a_better_price_than_the_sharp_line_is_bet(client: TestClient, teams: list[str]) -> None:
    """Bet365 beats every one of Pinnacle's prices by 10 %: the sharp line backs any outcome at
    1.1 / overround − 1 > 0, so the model's edge alone decides there."""
    for prices in PINNACLE_ONLY:
        better = {side: round(1.1 * price, 2) for side, price in prices.items()}
        books = {"pinnacle": prices, "bet365": better}
        edge = client.post("/edge", json=match(teams, odds=books)).json()
        sharp = fair_line(prices)
        for o in edge["outcomes"]:
            assert o["bookmaker"] == "bet365"
            assert o["sharp_edge_percentage"] == pytest.approx(
                100 * (sharp[o["outcome"]] * o["best_odds"] - 1)
            )
            assert o["sharp_edge_percentage"] > 0
            assert o["reason"] in ("value_bet", "below_min_edge")
            assert (o["reason"] == "value_bet") == (o["kelly_stake_percentage"] > 0)


def test_reference_book_does_not_choose_the_sharp_book(
    client: TestClient, teams: list[str]
) -> None:
    """It sets the expected CLV's starting line only; the check stays the policy's."""
    default = client.post("/edge", json=match(teams, odds=BOOKS)).json()
    chosen = client.post("/edge", json=match(teams, odds=BOOKS, reference_book="bet365")).json()
    assert chosen["clv_reference"] == "bet365" and default["clv_reference"] == "pinnacle"
    assert chosen["sharp_reference"] == default["sharp_reference"]
    assert chosen["sharp_reference"]["bookmaker"] == "pinnacle"
    for keys in ("reason", "sharp_probability", "kelly_stake_percentage"):
        assert [o[keys] for o in chosen["outcomes"]] == [o[keys] for o in default["outcomes"]]


def test_expected_clv_comes_from_the_closing_line_model(
    client: TestClient, model, teams: list[str]
) -> None:
    edge = client.post("/edge", json=match(teams, odds=BOOKS)).json()
    pinnacle = np.array(list(BOOKS["pinnacle"].values()))
    open_fair = (1 / pinnacle) / (1 / pinnacle).sum()
    best = np.array([o["best_odds"] for o in edge["outcomes"]])
    expected = model.clv_model.expected_clv(best, open_fair)
    np.testing.assert_allclose([o["clv_expected"] for o in edge["outcomes"]], expected)
    assert model.clv_model.n_matches >= model.settings.clv_min_matches


def test_kelly_across_a_match_never_exceeds_the_cap(
    client: TestClient, model, teams: list[str]
) -> None:
    """Prices so generous that every outcome has an edge: the stakes are scaled to the cap."""
    generous = {"bet365": {"home": 9.0, "draw": 9.0, "away": 9.0}}
    edge = client.post("/edge", json=match(teams, odds=generous)).json()
    stakes = [o["kelly_stake_percentage"] for o in edge["outcomes"]]
    cap = 100 * model.settings.staking.max_stake_fraction
    assert all(s > 0 for s in stakes)
    assert sum(stakes) == pytest.approx(cap) and edge["total_stake_percentage"] == pytest.approx(
        cap
    )
    assert {o["quality"] for o in edge["outcomes"]} <= {"PREMIUM", "VALUE"}
    # no sharp book sent: the edge alone decides, and the answer says so
    assert {
        (o["reason"], o["sharp_probability"], o["sharp_edge_percentage"]) for o in edge["outcomes"]
    } == {("value_bet", None, None)}
    assert edge["sharp_reference"]["bookmaker"] is None
    assert edge["sharp_reference"]["note"].endswith("bets rest on the model's edge alone")


# --- bad input --------------------------------------------------------------------------------


def _bad_requests(teams: list[str]) -> list[tuple[str, object, int, str]]:
    good = match(teams)
    return [
        ("/predict", {**good, "league": "XX"}, 422, "unknown league 'XX'"),
        ("/predict", {**good, "home_team": "Nobody FC"}, 422, "unknown team 'Nobody FC'"),
        ("/predict", {**good, "away_team": good["home_team"]}, 422, "named twice"),
        ("/predict", {**good, "kickoff": "2019-01-01"}, 422, "is not after"),
        (
            "/predict",
            {**good, "odds": {"pinnacle": {"home": 1.0, "draw": 3, "away": 4}}},
            400,
            "greater than 1",
        ),
        (
            "/predict",
            {**good, "odds": {"pinnacle": {"home": "2.1", "draw": 3, "away": 4}}},
            400,
            "valid number",
        ),
        (
            "/predict",
            {**good, "odds": {"nobody": {"home": 2.1, "draw": 3, "away": 4}}},
            422,
            "unknown bookmaker",
        ),
        ("/predict", {"league": LEAGUE, "home_team": teams[0]}, 400, "away_team: Field required"),
        ("/predict", {**good, "home": "typo"}, 400, "home: Extra inputs are not permitted"),
        ("/predict", b'{"league": ', 400, "malformed JSON"),
        ("/predict", b"", 400, "league: Field required"),
        ("/predict_batch", {"matches": []}, 400, "matches: List should have at least 1 item"),
        ("/predict_batch", {"matches": [good] * 101}, 413, "at most 100"),
        ("/predict_batch", {"matches": [good, {**good, "league": "XX"}]}, 422, "unknown league"),
        ("/edge", good, 400, "odds: Field required"),
        ("/edge", {**good, "odds": {}}, 400, "odds: Dictionary should have at least 1 item"),
        ("/edge", {**good, "odds": BOOKS, "reference_book": "bwin"}, 422, "not among the books"),
        (
            "/edge",
            {**good, "odds": {"pinnacle": {"home": -2, "draw": 3, "away": 4}}},
            400,
            "greater than 1",
        ),
        ("/odds", {**good, "odds": BOOKS}, 422, "kickoff"),
        (
            "/odds",
            {**good, "match_id": "m", "odds": {"b": [2, 3, 4]}},
            400,
            "odds.b: Input should be an object",
        ),
        ("/odds", b"{nope", 400, "malformed JSON"),
        ("/odds", {**good, "league": "XX", "match_id": "m"}, 422, "unknown league"),
        ("/odds", [1, 2], 400, "Input should be an object"),
    ]


def test_bad_input_is_a_4xx_that_says_what_is_wrong(client: TestClient, teams: list[str]) -> None:
    for path, body, status, words in _bad_requests(teams):
        if isinstance(body, bytes):
            answer = client.post(path, content=body, headers={"content-type": "application/json"})
        else:
            answer = client.post(path, json=body)
        assert answer.status_code == status, (path, body, answer.text)
        assert "error" in answer.json() and words in answer.text, (path, body, answer.text)
        assert "Traceback" not in answer.text


def test_unknown_paths_and_methods_are_4xx(client: TestClient) -> None:
    assert client.get("/no/such/route").status_code == 404
    assert client.get("/predict").status_code in (404, 405)


# --- pushes over the WebSocket ------------------------------------------------------------------


def test_post_odds_pushes_the_new_edge_to_subscribers(client: TestClient, teams: list[str]) -> None:
    first = client.post("/odds", json=match(teams, kickoff=KICKOFF, odds=BOOKS))
    assert first.status_code == 200, first.text
    match_id = first.json()["match_id"]
    assert match_id == f"sy1-20220813-{_slug(teams[0])}-{_slug(teams[1])}"
    with (
        client.websocket_connect(f"/ws/edge/{match_id}") as one,
        client.websocket_connect(f"/ws/edge/{match_id}") as two,
    ):
        for socket in (one, two):
            current = socket.receive_json()
            assert current["type"] == "edge" and current["edge"] == first.json()["edge"]
        moved = {**BOOKS, "pinnacle": {"home": 2.6, "draw": 3.4, "away": 3.6}}
        posted = client.post(
            "/odds", json={"match_id": match_id, **match(teams, kickoff=KICKOFF, odds=moved)}
        )
        for socket in (one, two):
            pushed = socket.receive_json()
            assert pushed == posted.json()
            assert pushed["edge"]["outcomes"][0]["best_odds"] == 2.6


@pytest.mark.parametrize(
    "match_id", ["../../api/admin", "x?secret=leak&path=/", "/etc/passwd", "x\nforged line", ""]
)
def test_an_unsafe_match_id_is_refused_and_never_forwarded(
    client: TestClient, teams: list[str], match_id: str
) -> None:
    """Issue 12's ids: a 400 naming the field, no push, no revalidation path built from it."""
    answer = client.post(
        "/odds", json={"match_id": match_id, **match(teams, kickoff=KICKOFF, odds=BOOKS)}
    )
    assert answer.status_code == 400, answer.text
    assert "match_id" in answer.text
    from bentos.service import app

    runtime = app.state.runtime
    assert runtime.tracked(match_id) is None and runtime.hub.latest(match_id) is None
    assert runtime.revalidator.pending == 0 and runtime.revalidator.calls == 0


def test_a_websocket_for_an_unsafe_match_id_is_closed_as_unknown(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/ws/edge/bad.id!") as socket:  # outside the pattern
            socket.receive_json()
    assert closed.value.code == 4404


@pytest.mark.parametrize("price", [1e300, 1e308, 1000.5])
def test_absurd_prices_are_refused(client: TestClient, teams: list[str], price: float) -> None:
    """1e300 was a PREMIUM bet with a 5 % stake, 1e308 an edge of null: now a 400 naming the
    field and the bound (serving.odds.max_decimal)."""
    odds = {"pinnacle": {"home": price, "draw": 3.4, "away": 3.6}}
    for path in ("/edge", "/predict", "/odds"):
        answer = client.post(path, json=match(teams, kickoff=KICKOFF, odds=odds))
        assert answer.status_code == 400, (path, answer.text)
        assert "odds.pinnacle.home" in answer.text and "1000" in answer.text, answer.text


def _finite_numbers(value: object) -> list[float]:
    """Every number in a decoded JSON answer (NaN or infinity fails the decoding itself)."""
    if isinstance(value, dict):
        return [n for v in value.values() for n in _finite_numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _finite_numbers(v)]
    return [float(value)] if isinstance(value, int | float) and not isinstance(value, bool) else []


@pytest.mark.parametrize(
    "prices", [(1.0001, 1000, 1000), (1000, 1000, 1000), (1.0001,) * 3, (1000, 1.0001, 1.0001)]
)
def test_every_number_answered_at_the_price_bounds_is_finite(
    client: TestClient, teams: list[str], prices: tuple
) -> None:
    """At the extremes the bounds allow, (1e308 once gave an edge of null) every field the
    document types as a number is a finite number, never null or NaN."""
    home, draw, away = prices
    odds = {
        "pinnacle": {"home": home, "draw": draw, "away": away},
        "bet365": {"home": 2.0, "draw": 3.4, "away": 3.6},
    }
    answer = client.post("/edge", json=match(teams, kickoff=KICKOFF, odds=odds))
    assert answer.status_code == 200, answer.text

    def refuse(constant: str) -> float:
        raise AssertionError(f"{constant} in {answer.text}")

    edge = json.loads(answer.text, parse_constant=refuse)
    for outcome in edge["outcomes"]:
        for field in (
            "edge_percentage",
            "kelly_stake_percentage",
            "sharp_edge_percentage",
            "best_odds",
            "fair_probability",
            "implied_probability",
        ):
            assert isinstance(outcome[field], float | int), (field, outcome)
    assert all(np.isfinite(_finite_numbers(edge)))


def test_a_non_finite_number_is_refused_where_an_answer_is_built() -> None:
    """The answer models refuse infinity and NaN (they would be serialised as null)."""
    from pydantic import ValidationError

    from bentos.schemas import OutcomeEdge

    fields = dict(
        outcome="home",
        fair_probability=0.5,
        implied_probability=0.5,
        best_odds=2.0,
        net_odds=2.0,
        bookmaker="bet365",
        edge_percentage=float("inf"),
        kelly_stake_percentage=0.0,
        quality="AVOID",
        clv_expected=None,
        reason="below_min_edge",
        sharp_probability=None,
        sharp_edge_percentage=None,
    )
    with pytest.raises(ValidationError, match="finite"):
        OutcomeEdge(**fields)
    with pytest.raises(ValidationError, match="finite"):
        OutcomeEdge(**{**fields, "edge_percentage": 1.0, "clv_expected": float("nan")})


def test_a_fixture_without_prices_is_pushed_without_an_edge(
    client: TestClient, teams: list[str]
) -> None:
    posted = client.post("/odds", json={"match_id": "no-prices-yet", **match(teams)})
    assert posted.status_code == 200 and posted.json()["edge"] is None
    with client.websocket_connect("/ws/edge/no-prices-yet") as socket:
        assert socket.receive_json()["prediction"] == posted.json()["prediction"]


def test_an_unknown_match_id_closes_the_websocket_with_4404(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/ws/edge/never-heard-of-it") as socket:
            socket.receive_json()
    assert closed.value.code == 4404 and "never-heard-of-it" in closed.value.reason


# --- reload and the OpenAPI document ----------------------------------------------------------


def test_a_match_answers_what_its_subscribers_receive_first(
    client: TestClient, teams: list[str]
) -> None:
    """GET /matches/{id} (the site's match page): the match's current EdgeUpdate, the same
    message as POST /odds answered and a new WebSocket subscriber receives."""
    posted = client.post(
        "/odds", json={"match_id": "page-match", **match(teams, kickoff=KICKOFF, odds=BOOKS)}
    )
    assert posted.status_code == 200, posted.text
    page = client.get("/matches/page-match")
    assert page.status_code == 200 and page.headers["content-type"] == "application/json"
    assert page.json() == posted.json()
    with client.websocket_connect("/ws/edge/page-match") as socket:
        assert socket.receive_json() == page.json()
    for unknown in ("no-such-match", "bad.id!"):
        refused = client.get(f"/matches/{unknown}")
        assert refused.status_code == 404
        assert refused.json() == {"error": f"unknown match_id {unknown!r}"}


def test_models_lists_the_versions_beside_the_market(client: TestClient, model) -> None:
    """GET /models (the site's /models page): the champion's holdout scores from its tags,
    the market's on the same matches, the gate's verdict, and its reliability curves from
    its training run."""
    report = client.get("/models", params={"limit": 5}).json()
    assert report["model_name"] == "sabiscore-ensemble"
    assert report["champion"] == model.info.version
    (newest, *_) = report["versions"]
    champion = next(v for v in report["versions"] if v["version"] == report["champion"])
    assert "champion" in champion["aliases"]
    assert champion["promoted"] is True and champion["promotion_reason"]
    assert champion["holdout"]["log_loss"] == pytest.approx(model.holdout["log_loss"])
    assert champion["holdout"]["n"] == model.holdout["n"]
    assert champion["market"]["forecaster"] == "pinnacle_open"
    assert champion["market"]["log_loss"] == pytest.approx(model.holdout["market_log_loss"])
    assert [int(v["version"]) for v in report["versions"]] == sorted(
        (int(v["version"]) for v in report["versions"]), reverse=True
    )
    curves = report["calibration"]["curves"]
    assert report["calibration"]["version"] == report["champion"]
    assert {"ensemble", "pinnacle_open"} <= set(curves)
    ensemble = curves["ensemble"]
    assert {p["class"] for p in ensemble} == {"H", "D", "A"}
    for outcome in "HDA":  # each class's bins count every holdout match once
        assert sum(p["count"] for p in ensemble if p["class"] == outcome) == model.holdout["n"]
    assert all(0 <= p["mean_predicted"] <= 1 and 0 <= p["observed"] <= 1 for p in ensemble)
    assert client.get("/models", params={"limit": 0}).status_code == 400


def test_reload_after_a_promotion_serves_the_new_version(
    client: TestClient, store: Path, teams: list[str]
) -> None:
    posted = client.post("/odds", json={"match_id": "reloaded", **match(teams, odds=BOOKS)})
    with client.websocket_connect("/ws/edge/reloaded") as socket:
        assert socket.receive_json()["prediction"]["model_version"] == "1"
        version = promote_copy(store)
        reloaded = client.post("/reload", json={"model": "sabiscore-ensemble", "version": version})
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json()["previous_version"] == "1"
        assert reloaded.json()["model"]["version"] == version
        assert client.get("/readyz").json()["model"]["version"] == version
        assert client.post("/predict", json=match(teams)).json()["model_version"] == version
        pushed = socket.receive_json()  # every tracked match is re-priced by the new model
        assert pushed["prediction"]["model_version"] == version
        assert pushed["edge"]["outcomes"] == posted.json()["edge"]["outcomes"]  # same weights


def test_the_openapi_document_has_every_schema(client: TestClient) -> None:
    spec = client.get("/docs.json").json()
    paths = spec["paths"]
    for route in ("/predict", "/predict_batch", "/edge"):
        assert "post" in paths[route] and "requestBody" in paths[route]["post"]
    for route in ("/healthz", "/readyz", "/teams"):
        assert "get" in paths[route]
    for route in ("/odds", "/reload"):
        assert "post" in paths[route]
    schemas = spec["components"]["schemas"]
    for name in (
        "Prediction",
        "EdgeResponse",
        "OutcomeEdge",
        "EdgeUpdate",
        "OddsUpdate",
        "Ready",
        "Teams",
        "ReloadResult",
        "Error",
        "Prices",
        "SharpReference",
        "BetReason",
    ):
        assert name in schemas, name
    assert schemas["BetReason"]["enum"] == ["value_bet", "below_min_edge", "sharp_contradicts"]
    outcome = schemas["OutcomeEdge"]["properties"]
    assert {"reason", "sharp_probability", "sharp_edge_percentage"} <= set(outcome)
    assert "SharpReference" in json.dumps(schemas["EdgeResponse"]["properties"]["sharp_reference"])
    assert "sharp_reference" in schemas["EdgeResponse"]["required"]
    ready = json.dumps(paths["/readyz"]["get"]["responses"]["200"])
    assert "#/components/schemas/Ready" in ready
    # OpenAPI has no WebSocket: /odds and the EdgeUpdate schema describe what it pushes
    assert "/ws/edge/{match_id}" in paths["/odds"]["post"]["description"]
    assert "heartbeat" in schemas["EdgeUpdate"]["description"]


def _slug(name: str) -> str:
    from sabiscore.football_data import slug

    return slug(name)


def test_the_openapi_document_is_valid_for_its_version_and_says_every_status(
    client: TestClient,
) -> None:
    """BentoML's said 3.0.2 over 3.1 schemas, documented a 400 `detail` string it sends as an
    array, and none of 413 / 415 / 422 / 503 (issue 12): now valid 3.1, every status, the
    bearer scheme on the writes."""
    from openapi_spec_validator import validate

    def no_key_twice(pairs: list) -> dict:  # a parsed dict would hide one (Swagger UI did not)
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), f"a key twice: {keys}"
        return dict(pairs)

    spec = json.loads(client.get("/docs.json").text, object_pairs_hook=no_key_twice)
    validate(spec)  # raises on any schema error
    assert spec["openapi"] == "3.1.0"
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The service's $SABISCORE_API_TOKEN.",
    }
    paths = spec["paths"]

    def statuses(method: str, path: str) -> set[str]:
        return set(paths[path][method]["responses"])

    for route in ("/predict", "/edge", "/predict_batch"):
        assert statuses("post", route) == {"200", "400", "413", "415", "422", "503"}, route
        assert "security" not in paths[route]["post"]  # reads are open by default
    assert statuses("post", "/odds") == {"200", "400", "401", "403", "413", "415", "422", "503"}
    assert statuses("post", "/reload") == {"200", "400", "401", "403", "503"}
    for route in ("/odds", "/reload"):
        assert paths[route]["post"]["security"] == [{"bearerAuth": []}]
    assert statuses("get", "/readyz") == {"200", "503"} and statuses("get", "/healthz") == {"200"}
    assert "/metrics" not in paths  # off in this service: BentoML documented it anyway
    text = json.dumps(spec)
    for name in ("InvalidArgument", "InternalServerError", '"500"'):
        assert name not in text, name
    error = spec["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["type"] == "string" and error["required"] == ["error"]
    assert client.get("/openapi.json").status_code == 404  # one document, not two


@pytest.mark.parametrize("path", ["/predict", "/edge", "/predict_batch", "/odds"])
def test_a_body_that_is_not_json_is_a_415_logged_in_one_line(
    client: TestClient, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """`Content-Type: multipart/form-data` without a boundary was a 500 with three tracebacks
    at ERROR (issue 12)."""
    caplog.set_level(logging.INFO)
    answer = client.post(path, content=b"x", headers={"content-type": "multipart/form-data"})
    assert answer.status_code == 415, answer.text
    assert answer.json() == {
        "error": "send the body as JSON (Content-Type: application/json), not 'multipart/form-data'"
    }
    refusals = [r for r in caplog.records if r.name == "bentos.observability"]
    assert [r.levelno for r in refusals] == [logging.INFO]
    assert all(r.levelno < logging.WARNING and not r.exc_info for r in caplog.records)
    assert "Traceback" not in caplog.text


def test_invalid_bodies_are_one_info_line_each_without_a_traceback(
    client: TestClient, teams: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """One schemathesis run logged 5,137 tracebacks at ERROR (issue 12): a client's mistake is
    one INFO line, with what it sent escaped (a newline cannot forge a line)."""
    caplog.set_level(logging.INFO)
    bodies = [
        b"{",
        b"[1]",
        json.dumps({**match(teams), "x\n[ERROR] forged": 1}).encode(),
        json.dumps({"league": 3}).encode(),
    ]
    for body in bodies:
        answer = client.post("/predict", content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 400, answer.text
    refusals = [r for r in caplog.records if r.name == "bentos.observability"]
    assert len(refusals) == len(bodies) and {r.levelno for r in refusals} == {logging.INFO}
    assert not any(r.exc_info or r.levelno >= logging.ERROR for r in caplog.records)
    assert all("\n" not in r.getMessage() for r in refusals)
    assert "\\n[ERROR] forged" in caplog.text  # escaped, on the refusal's own line


def test_refusals_of_the_fastapi_routes_are_one_info_line_each(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """They were not logged at all; now as the bodies' refusals are: method, path, client,
    status and reason, what the caller sent escaped, the token filtered."""
    caplog.set_level(logging.INFO)
    answers = [
        client.get("/fixtures", params={"from": "x\n[ERROR] forged"}),
        client.get(f"/matches/{TOKEN}"),
        client.post("/odds", json={}, headers={"Authorization": "Bearer wrong"}),
    ]
    assert [a.status_code for a in answers] == [400, 404, 403]
    lines = [r.getMessage() for r in caplog.records if r.name == "bentos.observability"]
    assert lines == [
        "400 GET '/fixtures' from testclient: \"query.from: String should match pattern "
        "'^\\\\d{4}-\\\\d{2}-\\\\d{2}$'\"",
        "404 GET '/matches/[Filtered]' from testclient: \"unknown match_id '[Filtered]'\"",
        "403 POST '/odds' from testclient: \"the token sent is not the service's\"",
    ]
    assert {r.levelno for r in caplog.records if r.name == "bentos.observability"} == {logging.INFO}
    logged = "\n".join(
        r.getMessage() for r in caplog.records if r.name != "httpx"
    )  # the test's client logs its URLs
    assert TOKEN not in logged and "Traceback" not in caplog.text


@pytest.mark.parametrize("path", ["/teams", "/predict"])
def test_a_failure_is_a_500_logged_once_with_its_traceback(
    client: TestClient,
    teams: list[str],
    path: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception escaping the mounted app was logged by it and again by uvicorn; one of a
    `@bentoml.api` route is logged by BentoML's handler, and not a second time here."""
    from bentos.service import app

    def fail(*_: object) -> None:
        raise RuntimeError("a bug")

    runtime = app.state.runtime
    monkeypatch.setattr(runtime, "require_model" if path == "/teams" else "predict", fail)
    caplog.set_level(logging.INFO)
    answer = client.get(path) if path == "/teams" else client.post(path, json=match(teams))
    assert answer.status_code == 500 and "error" in answer.json()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None, caplog.text
    assert caplog.text.count("RuntimeError: a bug") == 1


def test_a_body_over_the_limit_is_413_without_being_read_whole(client: TestClient) -> None:
    huge = b"[" * 2_000_000
    answer = client.post(
        "/predict_batch", content=huge, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413 and "at most 1048576" in answer.json()["error"]


# --- bounded tracking (last: it forgets what the tests above posted) ---------------------------


def test_tracked_matches_are_bounded_and_expire_after_kickoff(
    client: TestClient, teams: list[str]
) -> None:
    """Issue 12: 1,000 POST /odds with distinct ids grew the service without bound. At most
    `tracking.max_matches` (1000) are kept, the least recently posted forgotten first; a
    forgotten match's new subscriber is refused as unknown."""
    from datetime import datetime, timedelta

    from bentos.service import app

    runtime = app.state.runtime
    limit = runtime.settings.tracking.max_matches
    assert limit == 1000 and runtime.settings.tracking.expire_after_kickoff_h == 6
    body = match(teams, kickoff=KICKOFF, odds=BOOKS)
    for i in range(limit + 5):
        assert client.post("/odds", json={**body, "match_id": f"bound-{i:04d}"}).status_code == 200
    tracked = [m for m in runtime._posted]
    assert len(tracked) == limit and tracked[-1] == f"bound-{limit + 4:04d}"
    assert runtime.tracked("bound-0000") is None and runtime.hub.latest("bound-0000") is None
    assert runtime.hub.matches <= limit
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/ws/edge/bound-0000") as socket:
            socket.receive_json()
    assert closed.value.code == 4404
    # re-posting moves a match to the back of the queue
    client.post("/odds", json={**body, "match_id": "bound-0010"})
    assert next(reversed(runtime._posted)) == "bound-0010"
    # six hours after the kick-off, every match of that kick-off is forgotten
    kickoff = datetime.fromisoformat(KICKOFF)
    assert runtime.forget_expired(now=kickoff + timedelta(hours=5)) == 0
    assert runtime.forget_expired(now=kickoff + timedelta(hours=7)) >= limit
    assert runtime.tracked("bound-0010") is None and runtime.hub.matches == 0


# --- this weekend's bets ----------------------------------------------------------------------


def test_value_bets_of_the_posted_fixtures_at_real_books_only(
    client: TestClient, teams: list[str]
) -> None:
    """GET /value-bets prices every upcoming fixture; market_max (no one's price) is never
    taken, even when it is the best; `book` limits where bets are struck; a bankroll turns
    stakes into amounts. GET /fixtures lists the same fixtures with their forecasts."""
    generous = {
        "pinnacle": {"home": 2.10, "draw": 3.40, "away": 3.60},
        "bet365": {"home": 2.60, "draw": 4.20, "away": 4.40},  # above the sharp line
        "market_max": {"home": 9.0, "draw": 9.0, "away": 9.0},
    }
    for i, (home, away) in enumerate([(teams[4], teams[5]), (teams[6], teams[7])]):
        posted = client.post(
            "/odds",
            json={
                "match_id": f"weekend-{i}",
                "league": LEAGUE,
                "home_team": home,
                "away_team": away,
                "kickoff": f"2022-08-2{i}T15:00:00Z",
                "odds": generous,
            },
        )
        assert posted.status_code == 200, posted.text
    window = {"from": "2022-08-20", "to": "2022-08-21"}
    answer = client.get("/value-bets", params={**window, "bankroll": 1000})
    assert answer.status_code == 200, answer.text
    bets = answer.json()
    assert [f["match_id"] for f in bets["fixtures"]] == ["weekend-0", "weekend-1"]
    assert all(f["books"] == ["bet365", "market_max", "pinnacle"] for f in bets["fixtures"])
    # bet365 beats the sharp line on every outcome: 0.39 + 0.24 + 0.23 < 1, so some outcome of
    # each match has a model edge of 2 % there
    assert len({b["match_id"] for b in bets["bets"]}) == 2, bets["bets"]
    for bet in bets["bets"]:
        assert bet["bookmaker"] == "bet365" and bet["price"] < 9.0
        assert bet["stake_amount"] == pytest.approx(10 * bet["kelly_stake_percentage"], abs=0.01)
        assert bet["edge_percentage"] >= 2.0 and bet["quality"] != "AVOID"
    at_bet365 = client.get("/value-bets", params={**window, "book": "bet365"}).json()
    assert {b["bookmaker"] for b in at_bet365["bets"]} <= {"bet365"}
    assert at_bet365["books"] == ["bet365"] and at_bet365["bankroll"] is None

    listed = client.get("/fixtures", params=window).json()
    assert [f["match_id"] for f in listed["fixtures"]] == ["weekend-0", "weekend-1"]
    assert listed["fixtures"] == bets["fixtures"]
    one_day = client.get("/fixtures", params={"from": "2022-08-21", "league": LEAGUE}).json()
    assert [f["match_id"] for f in one_day["fixtures"]] == ["weekend-1"]


def test_the_ledger_records_each_suggestion_once(
    client: TestClient, store: Path, teams: list[str]
) -> None:
    """Bets suggested by GET /value-bets (and pushes) are recorded once; GET /ledger reports
    them open until their match is played."""
    from sabiscore.ledger import Ledger

    odds = {
        "pinnacle": {"home": 2.10, "draw": 3.40, "away": 3.60},
        "bet365": {"home": 2.60, "draw": 4.20, "away": 4.40},
    }
    posted = client.post(
        "/odds",
        json={
            "match_id": "ledger-0",
            "league": LEAGUE,
            "home_team": teams[8],
            "away_team": teams[9],
            "kickoff": "2022-09-03T15:00:00Z",
            "odds": odds,
        },
    )
    assert posted.status_code == 200, posted.text
    window = {"from": "2022-09-03", "to": "2022-09-03"}
    first = client.get("/value-bets", params=window).json()["bets"]
    assert first and client.get("/value-bets", params=window).json()["bets"] == first
    recorded = Ledger(store).load()
    mine = recorded[recorded["match_id"] == "ledger-0"]
    assert sorted(mine["outcome"]) == sorted(b["outcome"] for b in first)
    served = client.get("/readyz").json()["model"]["version"]
    assert set(mine["source"]) == {"service"} and set(mine["model_version"]) == {served}
    np.testing.assert_allclose(
        sorted(mine["stake"] * 100), sorted(b["kelly_stake_percentage"] for b in first)
    )
    report = client.get("/ledger").json()
    assert report["suggested"] == len(recorded) == report["open"] and report["settled"] == 0
    assert report["overall"] == {
        "bets": 0,
        "staked": None,
        "profit": None,
        "yield": None,
        "yield_ci": None,
        "hit_rate": None,
        "clv_mean": None,
        "clv_ci": None,
        "clv_bets": None,
    }
    assert client.get("/ledger", params={"since": "2999-01-01"}).json()["suggested"] == 0


@pytest.mark.parametrize(
    "params, message",
    [
        ({"from": "2022-08-21", "to": "2022-08-20"}, "is after to"),
        ({"bankroll": "-5"}, "bankroll"),
        ({"from": "next week"}, "from"),
    ],
)
def test_bad_bet_queries_are_a_400_naming_the_parameter(
    client: TestClient, params: dict, message: str
) -> None:
    answer = client.get("/value-bets", params=params)
    assert answer.status_code == 400 and message in answer.json()["error"], answer.text
