"""The JSON bodies of the `@bentoml.api` routes (/predict, /predict_batch, /edge) and of
POST /odds, checked before their routers see them.

BentoML 1.4 parses these bodies itself: on a bad one it logs the whole traceback at ERROR
(5,137 tracebacks, 11.5 MB of log in one schemathesis run) and answers `{"error": "3
validation error for MatchRequest", "detail": [...]}`; a multipart Content-Type without a
boundary was a 500. Here, in an ASGI middleware in front of BentoML's routes, each body must be

- JSON: any other Content-Type is refused with 415 (none at all is taken for JSON);
- at most `predict.max_body_bytes` long (413), read no further than that;
- valid for the route's own input model, the one BentoML validates against (400 with one line
  saying where and what, as the FastAPI routes answer).

Each refusal is one INFO line, with what the caller sent escaped (`LogErrors`,
bentos/observability.py). A body that passes goes on to its router byte for byte (FastAPI
validates /odds again: the same model, the same answer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from bentos.app import describe_errors
from bentos.errors import send_error

DEFAULT_MAX_BODY_BYTES = 1_048_576


def is_json(content_type: bytes | None) -> bool:
    """JSON, or no Content-Type at all (what BentoML then assumes).

    >>> [is_json(t) for t in (None, b"application/json; charset=utf-8", b"application/x+json",
    ...                       b"multipart/form-data", b"text/plain")]
    [True, True, True, False, False]
    """
    if not content_type:
        return True
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class CheckJsonBodies:
    """Refuse a bad body of a `models` route (path -> input model) with its 4xx; pass the rest.

    `max_bytes` is called per request: the service sets the limit from its settings in
    `__init__`, after BentoML has built this middleware.
    """

    def __init__(
        self, app: Any, models: Mapping[str, type[BaseModel]], max_bytes: Callable[[], int]
    ) -> None:
        self.app, self.models, self.max_bytes = app, dict(models), max_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        model = self.models.get(scope.get("path", "")) if scope["type"] == "http" else None
        if model is None or scope.get("method") != "POST":
            return await self.app(scope, receive, send)
        try:
            body = await self._body(scope, receive, model)
        except Refused as refusal:  # logged as every refusal (bentos/observability.py)
            return await send_error(send, refusal.status, refusal.message)
        await self.app(scope, _replay(body, receive), send)

    async def _body(self, scope: dict, receive: Callable, model: type[BaseModel]) -> bytes:
        headers = dict(scope.get("headers", ()))
        content_type = headers.get(b"content-type")
        if not is_json(content_type):
            shown = content_type.decode("latin-1").split(";", 1)[0][:60]
            raise Refused(
                415, f"send the body as JSON (Content-Type: application/json), not {shown!r}"
            )
        limit = self.max_bytes()
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            raise Refused(413, f"the body is {int(declared)} bytes; at most {limit}")
        body = await _read(receive, limit)
        try:
            model.model_validate_json(body or b"{}")
        except ValidationError as error:
            raise Refused(400, describe_errors(error.errors(include_input=False))) from None
        return body


async def _read(receive: Callable, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused(400, "the client went away before the body was sent")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"the body is more than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Callable) -> Callable:
    """A `receive` that gives the body read already, then waits on the real one (which says
    when the client disconnects)."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
