"""The BentoML service: `bentoml serve bentos.service:SabiScore` (or `sabiscore serve`).

The champion ensemble and the teams' state are loaded once, in `__init__`; `predict`,
`predict_batch` and `edge` are typed `@bentoml.api` endpoints (POST); the probes, the team
list, pushed prices, reload and the WebSocket live in the FastAPI app of bentos/app.py,
mounted at "/". All of them delegate to one `Runtime` (bentos/runtime.py), and all of them
are behind one check of the API token (bentos/auth.py), an ASGI middleware of BentoML's app.

One worker: the WebSocket subscribers and the prices posted to /odds must meet in one process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bentoml
import uvicorn
from pydantic import BaseModel
from starlette.responses import JSONResponse

from bentos.app import create_app
from bentos.auth import AuthPolicy, RequireToken, warn_if_open
from bentos.bodies import DEFAULT_MAX_BODY_BYTES, CheckJsonBodies
from bentos.errors import ServiceError
from bentos.observability import LogErrors, init_sentry
from bentos.openapi import published_document
from bentos.runtime import Runtime
from bentos.schemas import (
    BatchPrediction,
    BatchRequest,
    EdgeRequest,
    EdgeResponse,
    MatchRequest,
    OddsUpdate,
    Prediction,
)
from bentos.settings import PushSettings, ServingSettings
from bentos.unrouted import JsonRouteErrors
from sabiscore.config import load_config

logger = logging.getLogger(__name__)
app = create_app()


def _serving_config() -> dict[str, Any]:
    """`serving` of the configs, with $SABISCORE_CONFIG merged on top."""
    return dict(load_config(os.environ.get("SABISCORE_CONFIG")).get("serving") or {})


def push_compression() -> bool:
    """`serving.push.compression`: permessage-deflate on the WebSocket."""
    return PushSettings(**(_serving_config().get("push") or {})).compression


def shutdown_timeout_s() -> float:
    """`serving.shutdown_timeout_s`: how long a stopping server waits for open requests."""
    value = _serving_config().get("shutdown_timeout_s", 5)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"serving.shutdown_timeout_s must be a number > 0, got {value!r}")
    return float(value)


def traced_urls_excluded() -> list[str]:
    """What BentoML's OpenTelemetry middleware leaves alone (`serving.opentelemetry`).

    Off (the default): every route. BentoML collects no trace unless its own config names an
    exporter and a sample rate, yet the middleware's spans and metrics cost more CPU than the
    prediction itself (benchmarks/serve.py, concurrency 8 on 2 cores: 199-283 requests/s with
    it, 330 without).
    On: every route but the WebSocket, whose every message would be a span of its own. A
    BentoML config file that sets `tracing.excluded_urls` decides instead.
    """
    return ["/ws/"] if _serving_config().get("opentelemetry") else [".*"]


class _Config(uvicorn.Config):
    """uvicorn's Config, with permessage-deflate as `serving.push.compression` says and a
    bounded graceful shutdown (`serving.shutdown_timeout_s`).

    BentoML 1.4 builds the worker's `uvicorn.Config` itself (`_bentoml_impl.worker.service`)
    and passes no WebSocket options, so uvicorn's default (compress every message, one zlib
    stream per connection) would always apply; and unless `bentoml serve` is given
    `--timeout-graceful-shutdown`, a SIGTERM waits for every open connection to close (a
    WebSocket subscriber, a client that never reads) - 45 s and more under load. That worker
    imports this module before it builds the Config, and looks `uvicorn.Config` up when it
    does; a caller that names either option still gets what it asked for.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("ws_per_message_deflate", push_compression())
        if kwargs.get("timeout_graceful_shutdown") is None:
            kwargs["timeout_graceful_shutdown"] = shutdown_timeout_s()
        super().__init__(*args, **kwargs)


uvicorn.Config = _Config  # type: ignore[misc]


class OwnProbes:
    """BentoML answers /healthz, /readyz, /docs.json and / itself, before any mounted app;
    send these to the FastAPI app instead, whose /readyz says which model is loaded (and
    answers 503 while none is), whose /docs.json is the document of bentos/openapi.py and
    whose / is Swagger UI on it."""

    def __init__(
        self,
        app: Any,
        probes: Any,
        paths: tuple[str, ...] = ("/healthz", "/readyz", "/docs.json", "/"),
    ):
        self.app, self.probes, self.paths = app, probes, paths

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and scope["path"] in self.paths:
            await self.probes(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class SiteCors:
    """CORS for the browsers' origins of `serving.cors` ($SABISCORE_CORS_ORIGINS), known only
    once the service's `__init__` has read its settings: Starlette's middleware, built then.
    Without origins, nothing is added to any answer. Preflights (OPTIONS) never need the token
    (bentos/auth.py); the answers allow the bearer header."""

    def __init__(self, app: Any, origins: Callable[[], tuple[str, ...]]) -> None:
        self.app, self.origins = app, origins
        self._built: tuple[tuple[str, ...], Any] | None = None

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        origins = self.origins()
        if scope["type"] != "http" or not origins:
            await self.app(scope, receive, send)
            return
        if self._built is None or self._built[0] != origins:
            from starlette.middleware.cors import CORSMiddleware

            cors = CORSMiddleware(
                self.app,
                allow_origins=list(origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            )
            self._built = (origins, cors)
        await self._built[1](scope, receive, send)


def _answer(respond: Callable[[], Any]) -> Any:
    """The endpoint's answer, or its refusal as `{"error": ...}` with the refusal's status."""
    try:
        return respond()
    except ServiceError as error:
        return JSONResponse({"error": str(error)}, status_code=error.status_code)


@bentoml.service(
    name="sabiscore",
    workers=1,
    traffic={"timeout": 30},
    # A log line and Prometheus counters per request cost more than the prediction itself here
    # (~3 ms of a ~7 ms request on 2 cores); errors are still logged and sent to Sentry.
    # Re-enable them with a BentoML config file ($BENTOML_CONFIG) where they are wanted.
    logging={"access": {"enabled": False}},
    metrics={"enabled": False},
    # Defaults: a BentoML config file ($BENTOML_CONFIG) overrides them.
    tracing={"excluded_urls": traced_urls_excluded()},
)
@bentoml.asgi_app(app, path="/")
class SabiScore:
    """SabiScore: 1X2 forecasts and value bets from the `champion` model.

    Besides the routes below, `WS /ws/edge/{match_id}` sends the match's current EdgeUpdate
    (the schema `POST /odds` answers) at once, then every update, and
    `{"type": "heartbeat", "at": "<ISO time>"}` when idle; an unknown match_id is closed with
    code 4404. Every refusal is a 4xx with `{"error": "..."}`. See bentos/README.md.
    """

    def __init__(self) -> None:
        # BentoML's server logging passes WARNING and above of every logger but its own: the
        # service's INFO lines (a refused request, a model loaded) would never be seen.
        logging.getLogger("bentos").setLevel(logging.INFO)
        settings = ServingSettings.from_environment()
        self.runtime = Runtime(settings)
        try:
            self.runtime.load()
        except Exception as error:
            give_up(f"{type(error).__name__}: {error}")
            raise
        model = self.runtime.model
        secrets = [s for s in (settings.revalidation.secret, settings.auth.token) if s]
        app.state.secrets = secrets
        init_sentry(
            settings.sentry.dsn,
            environment=settings.sentry.environment,
            traces_sample_rate=settings.sentry.traces_sample_rate,
            release=f"{model.info.name}@{model.info.semver}" if model else None,
            secrets=secrets,
        )
        warn_if_open(settings.auth.policy)
        app.state.auth = settings.auth.policy
        app.state.max_body_bytes = settings.max_body_bytes
        app.state.cors_origins = settings.cors_origins
        app.state.openapi = published_document(
            SabiScore.openapi_spec.asdict(), settings.auth.policy, bentoml_routes()
        )
        app.state.runtime = self.runtime

    @bentoml.api(route="/predict")
    async def predict(self, match: MatchRequest, /) -> Prediction:
        """One match: home/draw/away probabilities, the most likely outcome, confidence and
        the model's calibration. Send bookmakers' prices for the sharpest forecast."""
        return _answer(lambda: self.runtime.predict(match))

    @bentoml.api(route="/predict_batch")
    async def predict_batch(self, request: BatchRequest, /) -> BatchPrediction:
        """Several matches in one call (at most `predict.max_batch_size`; more: 413)."""
        return _answer(lambda: self.runtime.predict_batch(request.matches))

    @bentoml.api(route="/edge")
    async def edge(self, request: EdgeRequest, /) -> EdgeResponse:
        """Per outcome at the best price sent: fair and implied probability, edge, fractional
        Kelly stake (the match's total capped), quality tier and expected closing-line value."""
        return _answer(lambda: self.runtime.edge(request))


#: Set by `sabiscore serve`: the file a worker that cannot load writes its reason into.
START_FAILURE_ENV = "SABISCORE_START_FAILURE"


def give_up(reason: str) -> None:
    """A start that cannot load (the champion's files, a store with no played match): say
    why, then stop the whole server rather than leave it holding the port and answering
    nothing while BentoML respawns the worker for ever.

    Only inside a server that `sabiscore serve` started ($SABISCORE_START_FAILURE names where
    the reason goes, and the process manager is this worker's parent); in a test's
    in-process app the error is simply raised. A store without a champion is no failure: the
    service starts and /readyz answers 503.
    """
    logger.error("cannot start: %s", reason)
    failure = os.environ.get(START_FAILURE_ENV)
    if not failure:
        return
    with contextlib.suppress(OSError):
        Path(failure).write_text(reason + "\n")
    with contextlib.suppress(OSError):
        os.kill(os.getppid(), signal.SIGTERM)


def _auth_policy() -> AuthPolicy | None:
    """The policy the service's `__init__` set; None before it has run."""
    return getattr(app.state, "auth", None)


def bentoml_routes() -> dict[str, tuple[type[BaseModel], type[BaseModel]]]:
    """route -> (body model, answer model) of each `@bentoml.api` method, from its hints."""
    routes = {}
    for api in SabiScore.apis.values():
        hints = typing.get_type_hints(api.func)
        answer = hints.pop("return")
        (body,) = hints.values()
        routes[api.route] = (body, answer)
    return routes


def _secrets() -> tuple[str, ...]:
    """The revalidation secret and the API token, once the service's `__init__` has run."""
    return tuple(getattr(app.state, "secrets", ()))


def _published_document() -> dict[str, Any] | None:
    return getattr(app.state, "openapi", None)


def _max_body_bytes() -> int:
    return getattr(app.state, "max_body_bytes", DEFAULT_MAX_BODY_BYTES)


# In this order, outermost first: the log of refusals (each once, whoever refused); a router's
# 404 or 405 made JSON (bentos/unrouted.py); CORS (a preflight is answered before anything
# else); every route of both routers, the probes included, meets the token rule; then the
# `@bentoml.api` routes' bodies are checked (bentos/bodies.py).
SabiScore.add_asgi_middleware(LogErrors, secrets=_secrets)
SabiScore.add_asgi_middleware(JsonRouteErrors, document=_published_document, secrets=_secrets)
SabiScore.add_asgi_middleware(SiteCors, origins=lambda: getattr(app.state, "cors_origins", ()))
SabiScore.add_asgi_middleware(RequireToken, policy=_auth_policy)
SabiScore.add_asgi_middleware(
    CheckJsonBodies,
    max_bytes=_max_body_bytes,
    models={**{route: body for route, (body, _) in bentoml_routes().items()}, "/odds": OddsUpdate},
)
SabiScore.add_asgi_middleware(OwnProbes, probes=app)
