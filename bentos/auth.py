"""Who may call what: the bearer token of `$SABISCORE_API_TOKEN` on the service's routes.

One rule for both kinds of route. BentoML serves the `@bentoml.api` endpoints (/predict,
/predict_batch, /edge) and the mounted FastAPI app (/teams, /odds, /reload, the WebSocket) from
one Starlette app; `RequireToken` is an ASGI middleware of that app (`add_asgi_middleware` in
bentos/service.py), so every request meets it before any route, whichever router owns it.

The rule itself (`route_access`, `authorize`) is pure and decides from a method, a path and an
`Authorization` header. Writes are every route but the reads and the open ones, so a write route
added later needs the token without anyone remembering to say so.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bentos.errors import loggable, send_error

logger = logging.getLogger(__name__)

API_TOKEN_ENV = "SABISCORE_API_TOKEN"
OPEN_WRITES_WARNING = f"writes are open: set {API_TOKEN_ENV}"

#: Never a token: the probes, the OpenAPI document and BentoML's own pages.
OPEN_PATHS = frozenset(
    {
        "/",
        "/healthz",
        "/readyz",
        "/livez",
        "/metrics",
        "/docs.json",
        "/schema.json",
        "/docs",
        "/openapi.json",
        "/redoc",
    }
)
OPEN_PREFIXES = ("/assets/", "/static_content/")
#: Answers that change nothing: a token only when `auth.protect_reads` says so.
READ_PATHS = frozenset({"/predict", "/predict_batch", "/edge"})
SAFE_METHODS = frozenset({"GET", "HEAD"})

#: Close codes of a WebSocket refused for its token (the HTTP status + 4000, as 4404 is).
CLOSE_NO_TOKEN = 4401
CLOSE_WRONG_TOKEN = 4403


class Access(StrEnum):
    OPEN = "open"  # anyone
    READ = "read"  # the token when reads are protected
    WRITE = "write"  # the token whenever one is set


@dataclass(frozen=True)
class AuthPolicy:
    """The token (None: none set) and whether reads need it too."""

    token: str | None = field(default=None, repr=False)  # never in a repr or a log line
    protect_reads: bool = False

    def needs_token(self, access: Access) -> bool:
        return access is Access.WRITE or (access is Access.READ and self.protect_reads)


@dataclass(frozen=True)
class Refusal:
    """Why a request may not pass: its HTTP status and a message for the caller."""

    status_code: int
    message: str

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="sabiscore"'} if self.status_code == 401 else {}


def route_access(method: str, path: str) -> Access:
    """What a request needs. A WebSocket handshake is a GET; OPTIONS (a CORS preflight, which
    never carries credentials) executes nothing.

    >>> [str(route_access(m, p)) for m, p in [("GET", "/readyz"), ("POST", "/edge"),
    ...  ("GET", "/teams"), ("GET", "/ws/edge/m1"), ("POST", "/odds"), ("DELETE", "/new")]]
    ['open', 'read', 'read', 'read', 'write', 'write']
    """
    method = method.upper()
    if method == "OPTIONS" or method in SAFE_METHODS and _is_open(path):
        return Access.OPEN
    if method in SAFE_METHODS or path in READ_PATHS:
        return Access.READ
    return Access.WRITE


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def authorize(access: Access, authorization: bytes | None, policy: AuthPolicy) -> Refusal | None:
    """None when the request may pass; else 401 (no bearer token sent) or 403 (a wrong one).

    Without a token set, nothing is refused: that is development (the service warns at start,
    and refuses to start so in production).
    """
    if policy.token is None or not policy.needs_token(access):
        return None
    sent = bearer_token(authorization)
    if sent is None:
        return Refusal(
            401,
            f"this endpoint needs a token: send 'Authorization: Bearer <token>' "
            f"(the service's {API_TOKEN_ENV})",
        )
    if not hmac.compare_digest(sent, policy.token.encode()):
        return Refusal(403, "the token sent is not the service's")
    return None


def bearer_token(authorization: bytes | None) -> bytes | None:
    """The credentials of an `Authorization: Bearer <token>` header (the scheme in any case).

    >>> bearer_token(b"bearer abc "), bearer_token(b"Basic abc"), bearer_token(b"Bearer")
    (b'abc', None, None)
    """
    scheme, _, credentials = (authorization or b"").strip().partition(b" ")
    credentials = credentials.strip()
    return credentials if scheme.lower() == b"bearer" and credentials else None


def warn_if_open(policy: AuthPolicy) -> None:
    """Once at start: without a token anyone who reaches the port can push prices and reload."""
    if policy.token is None:
        logger.warning(OPEN_WRITES_WARNING)


# --- the ASGI middleware ------------------------------------------------------------------------


class RequireToken:
    """Refuse requests the policy does not let pass, before any route sees them.

    `policy` is called per request: the service builds the policy from its settings in
    `__init__`, after BentoML has built this middleware. Until then (None) a route that would
    need a token is refused with 503, never let through.
    """

    def __init__(self, app: Any, policy: Callable[[], AuthPolicy | None]) -> None:
        self.app, self.policy = app, policy

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        access = route_access(method, scope["path"])
        policy = self.policy()
        if access is Access.OPEN or (policy is not None and not policy.needs_token(access)):
            return await self.app(scope, receive, send)
        refusal = (
            Refusal(503, "the service is starting")
            if policy is None
            else authorize(access, _header(scope, b"authorization"), policy)
        )
        if refusal is None:
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":  # an HTTP refusal is logged as every refusal is
            client = (scope.get("client") or ("?",))[0]  # (bentos/observability.py)
            logger.info(
                "refused WebSocket %s from %s: %s",
                loggable(scope["path"]),
                client,
                refusal.status_code,
            )
            await _close_websocket(refusal, receive, send)
        else:
            await send_error(send, refusal.status_code, refusal.message, refusal.headers)


def _header(scope: dict, name: bytes) -> bytes | None:
    return next((value for key, value in scope.get("headers", ()) if key.lower() == name), None)


async def _close_websocket(refusal: Refusal, receive: Callable, send: Callable) -> None:
    """Accepted, then closed with 4401 / 4403 and the reason: a browser sees a code it can act
    on (a handshake refused outright reaches its script as a bare 1006)."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    code = {401: CLOSE_NO_TOKEN, 403: CLOSE_WRONG_TOKEN}.get(refusal.status_code, 1013)
    await send({"type": "websocket.close", "code": code, "reason": refusal.message[:120]})
