"""Requests no route takes: an unknown path (404) or a method the path does not answer (405),
answered as every other refusal, `{"error": "..."}`, saying what exists.

Three routers can refuse one: BentoML's (its `@bentoml.api` routes, /livez, /metrics, the
docs' static files), which answers in plain text (`Not Found`, `Method Not Allowed`), and the
mounted FastAPI app's, whose handler of Starlette's `HTTPException` (bentos/app.py) answers
`{"error": "Method Not Allowed"}`. Neither says more than the status's name, which is how
`JsonRouteErrors`, an ASGI middleware of BentoML's app, tells their answers from a route's own
404 (`unknown match_id ...`, kept as it is), and replaces them, in one place, whichever router
gave them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from bentos.errors import send_error
from bentos.observability import reason, scrub

ROUTING_STATUSES = frozenset({404, 405})
#: A router's refusal is its status's name: longer answers are a route's, passed on as sent.
_AT_MOST_BYTES = 64


def shown_path(path: str, secrets: Sequence[str] = (), limit: int = 80) -> str:
    """The path asked, fit to be answered: the secrets filtered, percent-encoded (no markup,
    quote or control character is echoed as sent) and cut at `limit` characters.

    >>> shown_path("/<script>alert(1)</script>")
    "'/%3Cscript%3Ealert%281%29%3C/script%3E'"
    >>> shown_path("/x\\n" + "a" * 100, limit=5)
    "'/x%0Aaa'... (103 characters)"
    >>> shown_path("/matches/s3cr3t", ["s3cr3t"])
    "'/matches/[Filtered]'"
    """
    cut = scrub(path, [s for s in secrets if s])[:limit]
    shown = f"'{quote(cut, safe='/[]')}'"
    return shown if len(path) <= limit else f"{shown}... ({len(path)} characters)"


def operations(document: Mapping[str, Any] | None) -> list[str]:
    """`METHOD /path` of each operation of the OpenAPI document.

    >>> operations({"paths": {"/teams": {"get": {}}, "/odds": {"post": {}}}})
    ['POST /odds', 'GET /teams']
    """
    paths = (document or {}).get("paths", {})
    return sorted(
        (f"{method.upper()} {path}" for path, ops in paths.items() for method in ops),
        key=lambda operation: operation.split(" ", 1)[::-1],
    )


def unrouted_message(
    status: int, method: str, path: str, allowed: str, served: Sequence[str]
) -> str:
    """What an unknown path (404) or a method the path does not answer (405) is told.

    >>> unrouted_message(404, "GET", "'/nope'", "", ["POST /predict", "GET /teams"])
    "no route GET '/nope': the service answers POST /predict, GET /teams (see /docs.json)"
    >>> unrouted_message(405, "GET", "'/predict'", "POST", [])
    "GET is not allowed on '/predict': it answers POST"
    """
    if status == 405:
        return f"{method} is not allowed on {path}: it answers {allowed or 'no method'}"
    listed = ", ".join(served) if served else "nothing yet (the service is starting)"
    return f"no route {method} {path}: the service answers {listed} (see /docs.json)"


class JsonRouteErrors:
    """Replace a router's 404 or 405 with the service's JSON refusal, headers kept (`Allow`
    among them). `document` (the published OpenAPI document, whose operations a 404 lists) and
    `secrets` are called per request: the service knows them once its `__init__` has run."""

    def __init__(
        self,
        app: Any,
        document: Callable[[], Mapping[str, Any] | None],
        secrets: Callable[[], Sequence[str]] = tuple,
    ) -> None:
        self.app, self.document, self.secrets = app, document, secrets

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        held: dict | None = None  # a 404/405's start, until its body says whose it is
        body = bytearray()

        async def answer(message: dict) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] in ROUTING_STATUSES:
                held = message
                return
            if held is None or message["type"] != "http.response.body":
                return await send(message)
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if more and len(body) <= _AT_MOST_BYTES:
                return
            start, held = held, None
            if not more and self._is_routers(start["status"], bytes(body)):
                return await self._refuse(scope, start, send)
            await send(start)
            await send({"type": "http.response.body", "body": bytes(body), "more_body": more})

        await self.app(scope, receive, answer)

    @staticmethod
    def _is_routers(status: int, body: bytes) -> bool:
        return len(body) <= _AT_MOST_BYTES and reason(body) == HTTPStatus(status).phrase

    async def _refuse(self, scope: dict, start: dict, send: Callable) -> None:
        headers = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in start["headers"]
            if k.lower() not in (b"content-type", b"content-length")
        }
        for key in [k for k in headers if k.lower() == "allow"]:  # Starlette's order: a set's
            headers[key] = ", ".join(sorted(m.strip() for m in headers[key].split(",")))
        allowed = next((v for k, v in headers.items() if k.lower() == "allow"), "")
        path = shown_path(scope.get("path", ""), self.secrets())
        message = unrouted_message(
            start["status"], scope.get("method", "?"), path, allowed, operations(self.document())
        )
        await send_error(send, start["status"], message, headers)
