"""The FastAPI app the service mounts at "/": probes, the team list, pushed prices, reload and
the WebSocket. It reaches the service's state as `app.state.runtime` (set by the service, or
by a test), and turns every refusal into `{"error": "..."}` here, in one place.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Query, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.requests import HTTPConnection, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from bentos.bets import BetQuery, price, value_bets
from bentos.errors import INTERNAL_ERROR, BadRequest, NotFound, ServiceError, Unavailable
from bentos.examples import Examples, served_examples
from bentos.hub import CLOSE_UNKNOWN_MATCH
from bentos.openapi import SWAGGER_UI, Answers, served_document
from bentos.runtime import Runtime
from bentos.schemas import (
    BatchRequest,
    EdgeRequest,
    EdgeUpdate,
    Error,
    Health,
    League,
    LedgerReport,
    MatchRequest,
    ModelsReport,
    OddsUpdate,
    Ready,
    ReloadRequest,
    ReloadResult,
    Teams,
    UpcomingFixtures,
    ValueBets,
)
from bentos.state import LoadedModel
from sabiscore.football_data import is_safe_match_id

logger = logging.getLogger(__name__)

#: Close code of a subscription the service could not start (e.g. no model loaded).
CLOSE_UNAVAILABLE = 1013

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Error, "description": text}
    for code, text in (
        (400, "Malformed JSON, or a field missing or invalid"),
        (404, "Unknown match or path"),
        (422, "Unknown league, team or bookmaker, or a kick-off before the state"),
        (503, "No model loaded yet"),
    )
}


#: A day in a query: YYYY-MM-DD (a number is not a day, though pydantic would take it as one).
DAY = r"^\d{4}-\d{2}-\d{2}$"
_DATE = {"format": "date"}
Leagues = Annotated[list[str] | None, Query(description="Leagues (all when none).")]
FromDay = Annotated[
    str | None,
    Query(
        alias="from",
        pattern=DAY,
        json_schema_extra=_DATE,
        description="First kick-off day (default: now).",
    ),
]
ToDay = Annotated[
    str | None,
    Query(alias="to", pattern=DAY, json_schema_extra=_DATE, description="Last kick-off day."),
]
SinceDay = Annotated[
    str | None,
    Query(
        pattern=DAY, json_schema_extra=_DATE, description="Only suggestions made on or after it."
    ),
]


def parse_day(text: str | None, name: str) -> date | None:
    """A query's day, checked.

    >>> parse_day("2024-08-17", "from"), parse_day(None, "to")
    (datetime.date(2024, 8, 17), None)
    """
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: {text!r} is not a day (YYYY-MM-DD)") from None


def runtime_of(connection: HTTPConnection) -> Runtime:
    runtime = getattr(connection.app.state, "runtime", None)
    if runtime is None:
        raise Unavailable("the service is starting")
    return runtime


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime = getattr(app.state, "runtime", None)
    if runtime is not None:
        await runtime.start()
    try:
        yield
    finally:
        if runtime is not None:
            await runtime.stop()


def create_app() -> FastAPI:
    app = FastAPI(
        title="SabiScore",
        summary="Football 1X2 forecasts and value bets from the champion model.",
        lifespan=_lifespan,
        responses=_ERRORS,
        # one document, BentoML's made true (bentos/openapi.py), at /docs.json; not a second
        # one of these routes alone at /openapi.json
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    _add_error_handlers(app)
    _add_routes(app)
    return app


# --- errors ---------------------------------------------------------------------------------


def describe_errors(errors: Sequence[dict[str, Any]]) -> str:
    """Pydantic's errors as one line: where, then what.

    >>> describe_errors([{"loc": ("body", "odds", "b365", "home"), "msg": "Input should be "
    ...                   "greater than 1"}, {"loc": ("body", "league"), "msg": "Field required"}])
    'odds.b365.home: Input should be greater than 1; league: Field required'
    """
    parts = []
    for error in errors:
        if error.get("type") == "json_invalid":
            parts.append(f"malformed JSON: {(error.get('ctx') or {}).get('error', error['msg'])}")
            continue
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": describe_errors(error.errors())}, status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(error.detail)}, status_code=error.status_code, headers=error.headers
        )

    @app.exception_handler(ServiceError)
    async def refused(_: Request, error: ServiceError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=error.status_code)

    @app.exception_handler(Exception)
    async def failed(_: Request, __: Exception) -> JSONResponse:
        """The answer only: Starlette raises the exception on, to be logged once
        (bentos/observability.py)."""
        return JSONResponse({"error": INTERNAL_ERROR}, status_code=500)


# --- answers ----------------------------------------------------------------------------------


def ready(model: LoadedModel) -> Ready:
    return Ready(
        model=model.info,
        loaded_at=model.loaded_at,
        state_date=str(model.featurizer.state_date.date()),
        calibration_status=model.calibration_status,
    )


def teams_of(model: LoadedModel) -> Teams:
    return Teams(leagues=[League(league=k, teams=v) for k, v in model.teams().items()])


def listing(answer: ValueBets) -> UpcomingFixtures:
    """The fixtures of a value-bets answer, without its bets."""
    return UpcomingFixtures(**answer.model_dump(include=set(UpcomingFixtures.model_fields)))


def bet_query(parameters: dict[str, Any]) -> BetQuery:
    """A query's parameters as `/fixtures` and `/value-bets` take them."""
    return BetQuery.of(
        parameters.get("league"),
        parse_day(parameters.get("from"), "from"),
        parse_day(parameters.get("to"), "to"),
        parameters.get("book"),
        parameters.get("bankroll"),
    )


async def example_answers(runtime: Runtime, examples: Examples) -> Answers:
    """The answer to each example request (bentos/examples.py), as its route computes it but
    without HTTP and without the route's effects: nothing is posted, pushed, recorded or
    reloaded. They are what the loaded model answers the examples sent in the document's
    order, `POST /odds`'s first, so that `GET /matches/{match_id}` and the fixtures' listings
    know its match; Swagger UI showed answers built from the schemas ("string", 0). An example
    that cannot be answered is logged and left out: the document is served without it."""
    model = runtime.require_model()
    body = {operation: example.get("body") for operation, example in examples.items()}
    query = {operation: example.get("parameters", {}) for operation, example in examples.items()}

    @functools.cache
    def posted() -> tuple[OddsUpdate, EdgeUpdate]:
        return runtime.priced(OddsUpdate.model_validate(body["post", "/odds"]), model)

    def upcoming() -> Iterable[OddsUpdate]:
        return {**model.fixtures, posted()[0].match_id: posted()[0]}.values()

    def current(match_id: str) -> EdgeUpdate:
        fixture = model.fixtures.get(match_id)
        return price(model, fixture) if fixture is not None else posted()[1]

    answer: dict[tuple[str, str], Callable[[], Any]] = {
        ("get", "/healthz"): Health,
        ("get", "/readyz"): lambda: ready(model),
        ("get", "/teams"): lambda: teams_of(model),
        ("post", "/predict"): lambda: runtime.predict(
            MatchRequest.model_validate(body["post", "/predict"])
        ),
        ("post", "/predict_batch"): lambda: runtime.predict_batch(
            BatchRequest.model_validate(body["post", "/predict_batch"]).matches
        ),
        ("post", "/edge"): lambda: runtime.edge(EdgeRequest.model_validate(body["post", "/edge"])),
        ("post", "/odds"): lambda: posted()[1],
        # what a reload answers while the alias still names the version loaded
        ("post", "/reload"): lambda: ReloadResult(
            reloaded=True, previous_version=model.info.version, model=model.info
        ),
        ("get", "/fixtures"): lambda: listing(
            value_bets(model, upcoming(), bet_query(query["get", "/fixtures"]))
        ),
        ("get", "/value-bets"): lambda: value_bets(
            model, upcoming(), bet_query(query["get", "/value-bets"])
        ),
        ("get", "/matches/{match_id}"): lambda: current(
            query["get", "/matches/{match_id}"]["match_id"]
        ),
        ("get", "/ledger"): lambda: runtime.track_record(query["get", "/ledger"]["since"]),
        ("get", "/models"): lambda: runtime.models_report(query["get", "/models"]["limit"]),
    }
    answers = {}
    for operation, respond in answer.items():
        try:
            answered = respond()
            answers[operation] = await answered if inspect.isawaitable(answered) else answered
        except Exception:
            logger.exception("the example of %s %s has no answer", *operation)
    return answers


# --- routes ---------------------------------------------------------------------------------


def _add_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        """Swagger UI on the document of /docs.json (BentoML's page, without its title,
        badges and tag manager)."""
        return HTMLResponse(SWAGGER_UI)

    @app.get("/docs.json", include_in_schema=False)
    async def openapi_document(request: Request) -> JSONResponse:
        """The OpenAPI document (bentos/openapi.py), built by the service at start-up, with
        the version and examples of the model served now."""
        state = request.app.state
        published = getattr(state, "openapi", None)
        if published is None:
            raise Unavailable("the service is starting")
        runtime = getattr(state, "runtime", None)
        model = runtime.model if runtime is not None else None
        served = (model.info.version, model.loaded_at) if model is not None else None
        key = (id(published), served, datetime.now(UTC).date())
        cached = getattr(state, "served_openapi", None)
        if cached is None or cached[0] != key:
            examples = served_examples(model, key[2])
            answers = await example_answers(runtime, examples) if model is not None else {}
            document = served_document(published, model, examples, answers)
            cached = state.served_openapi = (key, document)
        return JSONResponse(cached[1])

    @app.get("/healthz", tags=["probes"])
    async def healthz() -> Health:
        """Alive: the process answers (the model may still be loading)."""
        return Health()

    @app.get("/readyz", tags=["probes"], responses={503: {"model": Error}})
    async def readyz(request: Request) -> Ready:
        """Ready: a model is loaded. Which one, and the date of the teams' state."""
        return ready(runtime_of(request).require_model())

    @app.get("/teams", tags=["matches"])
    async def teams(request: Request) -> Teams:
        """The leagues and teams the model can be asked about (for a team picker)."""
        return teams_of(runtime_of(request).require_model())

    @app.get("/fixtures", tags=["bets"])
    async def fixtures(
        request: Request,
        league: Leagues = None,
        start: FromDay = None,
        end: ToDay = None,
    ) -> UpcomingFixtures:
        """The upcoming fixtures (the store's, and each as `POST /odds` last sent it) with the
        model's forecast and their latest edge: what a front end lists."""
        runtime = runtime_of(request)
        query = BetQuery.of(league, parse_day(start, "from"), parse_day(end, "to"))
        await runtime.refresh_if_store_moved()
        return listing(runtime.value_bets(query, record=False))

    @app.get("/value-bets", tags=["bets"])
    async def bets(
        request: Request,
        league: Leagues = None,
        start: FromDay = None,
        end: ToDay = None,
        book: Annotated[
            list[str] | None, Query(description="Books one can bet at (all real books when none).")
        ] = None,
        bankroll: Annotated[
            float | None, Query(gt=0, allow_inf_nan=False, description="Turns stakes into amounts.")
        ] = None,
    ) -> ValueBets:
        """The value bets of the upcoming fixtures, as `sabiscore bets` prints them: at real
        books only (an aggregate is never the price taken), each recorded once in the ledger."""
        runtime = runtime_of(request)
        query = BetQuery.of(league, parse_day(start, "from"), parse_day(end, "to"), book, bankroll)
        await runtime.refresh_if_store_moved()
        return runtime.value_bets(query)

    @app.get("/ledger", tags=["bets"])
    async def ledger(
        request: Request,
        since: SinceDay = None,
    ) -> LedgerReport:
        """The live track record, as `sabiscore ledger` reports it: every suggestion recorded
        (once), settled against the result and the sharp book's close as they are ingested;
        yield and closing-line value with 95 % bootstrap intervals, by tier and model version."""
        return await runtime_of(request).track_record(
            None if since is None else str(parse_day(since, "since"))
        )

    @app.get("/matches/{match_id}", tags=["matches"], response_model=EdgeUpdate)
    async def match(request: Request, match_id: str) -> Response:
        """One match as a subscriber of WS /ws/edge/{match_id} receives it first: its forecast,
        its latest edge (null while no book has priced it), the model and the last update. The
        matches known are the store's upcoming fixtures and those posted to `POST /odds`."""
        runtime = runtime_of(request)
        runtime.require_model()
        if not is_safe_match_id(match_id):
            raise NotFound(f"unknown match_id {match_id!r}")
        await runtime.refresh_if_store_moved()
        return Response(await runtime.current(match_id), media_type="application/json")

    @app.get("/models", tags=["model"])
    async def models(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=100, description="Versions, newest first.")] = 10,
    ) -> ModelsReport:
        """The registered versions (newest first) with their holdout scores beside the market's
        on the same matches and the gate's verdict, and the champion's reliability curves.
        Answers without a loaded model too."""
        return await runtime_of(request).models_report(limit)

    @app.post("/odds", tags=["matches"])
    async def odds(update: OddsUpdate, request: Request) -> EdgeUpdate:
        """New prices for a match: its edge is recomputed, returned, pushed to the
        subscribers of WS /ws/edge/{match_id} (this same message) and the match's page is
        revalidated on the Next.js site."""
        return await runtime_of(request).post_odds_fresh(update)

    @app.post("/reload", tags=["model"])
    async def reload(request: Request, body: ReloadRequest | None = None) -> ReloadResult:
        """Load the version the `champion` alias names now (the pipeline calls this after a
        promotion), with the teams' state from the current data. A caller that gives up
        waiting (or a request timeout) does not stop the reload."""
        return await runtime_of(request).reload_in_background()

    @app.websocket("/ws/edge/{match_id}")
    async def edge_updates(websocket: WebSocket, match_id: str) -> None:
        """The match's current EdgeUpdate at once, then each update; heartbeats when idle.
        An unknown match_id is closed with code 4404."""
        await websocket.accept()
        runtime = runtime_of(websocket)
        if not is_safe_match_id(match_id) or (
            runtime.tracked(match_id) is None and runtime.hub.latest(match_id) is None
        ):
            await websocket.close(CLOSE_UNKNOWN_MATCH, f"unknown match_id {match_id!r}"[:120])
            return
        try:
            await runtime.hub.serve(match_id, websocket, lambda: runtime.current(match_id))
        except ServiceError as error:
            code = CLOSE_UNKNOWN_MATCH if error.status_code < 500 else CLOSE_UNAVAILABLE
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await websocket.close(code, str(error)[:120])
