"""The API token: the rule on its own (no server), the production checks of the settings, and
the whole service in-process (BentoML's ASGI app under a TestClient, on the real champion) with
both kinds of route — BentoML's `@bentoml.api` (/predict, /edge) and the mounted FastAPI app
(/teams, /odds, /reload, the WebSocket)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bentos.auth import (
    CLOSE_NO_TOKEN,
    CLOSE_WRONG_TOKEN,
    OPEN_WRITES_WARNING,
    Access,
    AuthPolicy,
    authorize,
    route_access,
)
from bentos.settings import DEFAULT_SECRET, Environment, ServingSettings
from sabiscore.config import load_config
from tasks.serving import service_headers
from tests.bentos.conftest import LEAGUE, copy_store, own_tracking_uri

TOKEN = "api-token-for-the-auth-tests-5f0c2a9e"  # 37 characters
SECRET = "site-secret-for-the-auth-tests-e81b7d40"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
WRONG = {"Authorization": f"Bearer {TOKEN[:-1]}x"}


# --- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "access"),
    [
        ("GET", "/healthz", Access.OPEN),
        ("GET", "/readyz", Access.OPEN),
        ("GET", "/docs.json", Access.OPEN),
        ("GET", "/", Access.OPEN),
        ("OPTIONS", "/odds", Access.OPEN),  # a CORS preflight carries no credentials
        ("POST", "/predict", Access.READ),
        ("POST", "/predict_batch", Access.READ),
        ("POST", "/edge", Access.READ),
        ("GET", "/teams", Access.READ),
        ("GET", "/ws/edge/sy1-20220813-a-b", Access.READ),
        ("POST", "/odds", Access.WRITE),
        ("POST", "/reload", Access.WRITE),
        ("post", "/reload", Access.WRITE),
        ("POST", "/healthz", Access.WRITE),
        ("PUT", "/anything-added-later", Access.WRITE),
        ("DELETE", "/teams", Access.WRITE),
        ("POST", "/odds/", Access.WRITE),
    ],
)
def test_every_route_not_a_read_or_open_is_a_write(method: str, path: str, access: Access) -> None:
    assert route_access(method, path) is access


def test_authorize_says_401_without_a_token_403_with_a_wrong_one() -> None:
    policy = AuthPolicy(token=TOKEN)
    missing = authorize(Access.WRITE, None, policy)
    assert missing is not None and missing.status_code == 401
    assert missing.headers == {"WWW-Authenticate": 'Bearer realm="sabiscore"'}
    for header in (b"Basic " + TOKEN.encode(), b"Bearer", b"Bearer  ", TOKEN.encode()):
        assert authorize(Access.WRITE, header, policy).status_code == 401, header
    for header in (b"Bearer " + WRONG["Authorization"][7:].encode(), b"Bearer x", b"Bearer \xff"):
        wrong = authorize(Access.WRITE, header, policy)
        assert wrong.status_code == 403 and wrong.headers == {}
    for header in (f"Bearer {TOKEN}", f"bearer {TOKEN}", f"  BEARER   {TOKEN} "):
        assert authorize(Access.WRITE, header.encode(), policy) is None
    for refusal in (missing, wrong):
        assert TOKEN not in refusal.message and TOKEN not in repr(refusal)
    assert TOKEN not in repr(policy)


def test_reads_need_the_token_only_when_protected() -> None:
    closed = AuthPolicy(token=TOKEN, protect_reads=True)
    assert authorize(Access.READ, None, AuthPolicy(token=TOKEN)) is None
    assert authorize(Access.READ, None, closed).status_code == 401
    assert authorize(Access.OPEN, None, closed) is None


def test_without_a_token_writes_are_open() -> None:
    assert authorize(Access.WRITE, None, AuthPolicy()) is None
    assert authorize(Access.WRITE, b"Bearer anything", AuthPolicy()) is None


def test_the_flows_send_the_token_from_the_environment() -> None:
    assert service_headers({"SABISCORE_API_TOKEN": TOKEN}) == BEARER
    assert service_headers({}) == {} and service_headers({"SABISCORE_API_TOKEN": " "}) == {}


# --- the settings: production refuses what would not keep anyone out ---------------------------


def settings(config: dict | None = None, **environ: str) -> ServingSettings:
    return ServingSettings.from_config(config or load_config(), environ)


PRODUCTION_OK = {"SABISCORE_API_TOKEN": TOKEN, "REVALIDATE_SECRET": SECRET}


@pytest.mark.parametrize(
    "name", ["production", "Production", "PRODUCTION", " production ", "production\n"]
)
@pytest.mark.parametrize("variable", ["APP_ENV", "SABISCORE_ENV"])
def test_production_is_recognised_in_any_case_and_spacing(variable: str, name: str) -> None:
    with pytest.raises(ValueError, match="refusing to start in production with no API token"):
        settings(**{variable: name, "REVALIDATE_SECRET": SECRET})
    assert settings(**{variable: name}, **PRODUCTION_OK).environment is Environment.PRODUCTION


def test_the_configured_environment_is_normalised_too() -> None:
    config = load_config()
    config["serving"]["environment"] = " Production"
    with pytest.raises(ValueError, match="no API token"):
        settings(config)
    assert settings(config, **PRODUCTION_OK).environment is Environment.PRODUCTION


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"REVALIDATE_SECRET": SECRET}, "no API token: set SABISCORE_API_TOKEN"),
        (
            {"SABISCORE_API_TOKEN": "short-token", "REVALIDATE_SECRET": SECRET},
            "SABISCORE_API_TOKEN is shorter than 32 characters",
        ),
        ({"SABISCORE_API_TOKEN": TOKEN}, "the default revalidation secret"),
        (
            {"SABISCORE_API_TOKEN": TOKEN, "REVALIDATE_SECRET": DEFAULT_SECRET},
            "the default revalidation secret",
        ),
        (
            {"SABISCORE_API_TOKEN": TOKEN, "REVALIDATE_SECRET": "s3cret-25-characters-long"},
            "REVALIDATE_SECRET is shorter than 32 characters",
        ),
        ({}, "no API token.*; the default revalidation secret"),
    ],
)
def test_production_refuses_a_missing_or_weak_token_or_secret(environ: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        settings(APP_ENV="production", **environ)
    for value in environ.values():
        assert value not in str(refused.value)


def test_outside_production_no_token_is_fine_and_a_short_one_too() -> None:
    for name in ("development", "Staging", ""):
        assert settings(APP_ENV=name).auth.token is None
    assert settings(SABISCORE_ENV="staging", SABISCORE_API_TOKEN=" short ").auth.token == "short"


def test_an_unknown_or_contradictory_environment_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown environment 'prod'"):
        settings(APP_ENV="prod", **PRODUCTION_OK)
    with pytest.raises(ValueError, match="named twice and differently"):
        settings(APP_ENV="staging", SABISCORE_ENV="production", **PRODUCTION_OK)
    assert settings(APP_ENV="Production", SABISCORE_ENV="production ", **PRODUCTION_OK)


def test_the_auth_keys_are_validated() -> None:
    config = load_config()
    assert config["serving"]["auth"] == {"protect_reads": False, "min_secret_length": 32}
    assert settings().auth.protect_reads is False and settings().auth.min_secret_length == 32
    for auth, message in (
        ({"protect_read": True}, r"unknown serving auth keys: \['protect_read'\]"),
        ({"protect_reads": "yes"}, "auth.protect_reads must be true or false"),
        ({"min_secret_length": 8}, "auth.min_secret_length must be an integer >= 16"),
        ({"token": TOKEN}, "read from \\$SABISCORE_API_TOKEN only"),
        ({"protect_reads": True}, "auth.protect_reads is true but SABISCORE_API_TOKEN is not set"),
    ):
        config["serving"]["auth"] = auth
        with pytest.raises(ValueError, match=message):
            settings(config)


# --- the service in-process -------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(champion_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_store(champion_store, tmp_path_factory.mktemp("auth") / "store")


@contextlib.contextmanager
def serving(store: Path, config: Path | None = None, **environ: str) -> Iterator[TestClient]:
    """The service as `bentoml serve` builds it, under this environment; `bentos.service.app`'s
    state (shared by every instance in the process) put back afterwards."""
    from bentos.settings import tracking_uri

    with pytest.MonkeyPatch.context() as patch, own_tracking_uri(tracking_uri(store)):
        for name in (
            "NEXT_URL",
            "SENTRY_DSN",
            "APP_ENV",
            "SABISCORE_ENV",
            "SABISCORE_API_TOKEN",
            "SABISCORE_CONFIG",
        ):
            patch.delenv(name, raising=False)
        patch.setenv("SABISCORE_DATA_DIR", str(store))
        for name, value in environ.items():
            patch.setenv(name, value)
        if config is not None:
            patch.setenv("SABISCORE_CONFIG", str(config))
        from bentos.service import SabiScore, app

        saved = dict(app.state._state)
        try:
            with TestClient(SabiScore.to_asgi(), raise_server_exceptions=False) as client:
                yield client
        finally:
            app.state._state.clear()
            app.state._state.update(saved)


@pytest.fixture(scope="module")
def client(store: Path) -> Iterator[TestClient]:
    with serving(store, SABISCORE_API_TOKEN=TOKEN) as client:
        yield client


@pytest.fixture(scope="module")
def fixture_match(client: TestClient) -> dict:
    teams = client.get("/teams").json()["leagues"][0]["teams"]
    return {
        "league": LEAGUE,
        "home_team": teams[0],
        "away_team": teams[1],
        "match_id": "auth-match",
    }


def _everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)


@pytest.mark.slow
def test_writes_need_the_token(
    client: TestClient, fixture_match: dict, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = []
    for path, body in (("/odds", fixture_match), ("/reload", {})):
        missing = client.post(path, json=body)
        assert missing.status_code == 401, missing.text
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert "Authorization: Bearer" in missing.json()["error"]
        wrong = client.post(path, json=body, headers=WRONG)
        assert wrong.status_code == 403 and wrong.json() == {
            "error": "the token sent is not the service's"
        }
        basic = client.post(path, json=body, headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 401
        answers += [missing, wrong, basic]
    posted = client.post("/odds", json=fixture_match, headers=BEARER)
    assert posted.status_code == 200, posted.text
    assert posted.json()["match_id"] == "auth-match"
    reloaded = client.post("/reload", headers=BEARER)
    assert reloaded.status_code == 200 and reloaded.json()["reloaded"] is True
    answers += [posted, reloaded]
    logged = _everything_logged(caplog)
    assert "401 POST '/odds'" in logged  # refusals are logged, without any header
    for text in (TOKEN, TOKEN[:-1]):
        assert text not in logged
        assert all(text not in a.text and text not in str(a.headers) for a in answers)


@pytest.mark.slow
def test_reads_and_probes_are_open_by_default(client: TestClient, fixture_match: dict) -> None:
    match = {k: v for k, v in fixture_match.items() if k != "match_id"}
    assert client.get("/readyz").status_code == 200 and client.get("/healthz").status_code == 200
    assert client.get("/teams").status_code == 200
    assert client.post("/predict", json=match).status_code == 200
    assert client.post("/predict_batch", json={"matches": [match]}).status_code == 200
    # a wrong token on an open read is not looked at: reads are open
    assert (
        client.post(
            "/edge",
            json={**match, "odds": {"pinnacle": {"home": 2.1, "draw": 3.4, "away": 3.6}}},
            headers=WRONG,
        ).status_code
        == 200
    )
    client.post("/odds", json=fixture_match, headers=BEARER)
    with client.websocket_connect("/ws/edge/auth-match") as socket:
        assert socket.receive_json()["match_id"] == "auth-match"
    assert client.get("/docs.json").status_code == 200


@pytest.mark.slow
def test_reads_closed_when_configured(
    store: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = tmp_path / "closed.yaml"
    config.write_text("serving:\n  auth:\n    protect_reads: true\n")
    with serving(store, config, SABISCORE_API_TOKEN=TOKEN) as client:
        teams = client.get("/teams", headers=BEARER).json()["leagues"][0]["teams"]
        match = {"league": LEAGUE, "home_team": teams[0], "away_team": teams[1]}
        for method, path, body in (
            ("GET", "/teams", None),
            ("POST", "/predict", match),
            ("POST", "/predict_batch", {"matches": [match]}),
            (
                "POST",
                "/edge",
                {**match, "odds": {"bet365": {"home": 2.1, "draw": 3.4, "away": 3.6}}},
            ),
        ):
            assert client.request(method, path, json=body).status_code == 401, path
            assert client.request(method, path, json=body, headers=WRONG).status_code == 403, path
            right = client.request(method, path, json=body, headers=BEARER)
            assert right.status_code == 200, (path, right.text)
        assert client.get("/readyz").status_code == 200  # probes stay open
        posted = client.post("/odds", json={**match, "match_id": "closed"}, headers=BEARER)
        assert posted.status_code == 200
        for headers, code in (({}, CLOSE_NO_TOKEN), (WRONG, CLOSE_WRONG_TOKEN)):
            with pytest.raises(WebSocketDisconnect) as closed:  # noqa: PT012
                with client.websocket_connect("/ws/edge/closed", headers=headers) as socket:
                    socket.receive_json()
            assert closed.value.code == code
        with client.websocket_connect("/ws/edge/closed", headers=BEARER) as socket:
            assert socket.receive_json()["match_id"] == "closed"
    assert TOKEN not in _everything_logged(caplog)


@pytest.mark.slow
def test_without_a_token_writes_are_open_with_one_warning_at_start(
    store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with serving(store) as client:
        assert client.post("/reload").status_code == 200
    warnings = [r for r in caplog.records if r.getMessage() == OPEN_WRITES_WARNING]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
