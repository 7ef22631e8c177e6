"""The service's refusals, each with its HTTP status: raised by the logic, turned into
`{"error": "..."}` responses in one place per router (bentos/app.py, bentos/service.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

#: The answer to a request that failed (logged once, with its traceback:
#: bentos/observability.py).
INTERNAL_ERROR = "internal error: the request failed (see the service's log)"


class ServiceError(Exception):
    """A failure with a message fit for the caller (never a traceback)."""

    status_code = 500


class BadRequest(ServiceError):
    status_code = 400


class NotFound(ServiceError):
    status_code = 404


class PayloadTooLarge(ServiceError):
    status_code = 413


class RequestRejected(ServiceError, ValueError):
    """Well-formed, but nothing the model can answer: an unknown league or team, a kick-off
    before the state's last day, a bookmaker it does not know."""

    status_code = 422


class Unavailable(ServiceError):
    """No model loaded yet (no champion in the registry)."""

    status_code = 503


class ReloadFailed(ServiceError):
    """A reload could not load the version named (the previous one keeps serving)."""

    status_code = 503


def loggable(text: object, limit: int = 200) -> str:
    """Caller-supplied text as it may enter a log line: quoted with every control character
    escaped (a newline cannot forge a line), and cut at `limit` characters.

    >>> print(loggable("x\\nforged [ERROR] line"))
    'x\\nforged [ERROR] line'
    >>> loggable("a" * 300, limit=5)
    "'aaaaa'... (300 characters)"
    """
    text = str(text)
    shown = repr(text[:limit])
    return shown if len(text) <= limit else f"{shown}... ({len(text)} characters)"


async def send_error(
    send: Callable, status: int, message: str, headers: Mapping[str, str] | None = None
) -> None:
    """An `{"error": message}` answer straight onto an ASGI `send` (for the middlewares)."""
    body = json.dumps({"error": message}).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
