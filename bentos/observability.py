"""What the service says about its failures: one log line per refused request, and Sentry
(errors and a sample of traces) when `SENTRY_DSN` is set.

`LogErrors` logs each refusal once, in one line: a 4xx at INFO (a client's mistake: method,
path, client, status and the answer's reason, what the caller sent escaped, the secrets
filtered), a 5xx refusal at ERROR; an exception that escapes a route once at ERROR with its
traceback (BentoML's server logged every invalid body with a traceback at ERROR, and an
exception escaping the mounted app was logged by it and again by uvicorn).

`before_send` keeps the stream about the service's own failures: a client's mistake (a 404,
a request that fails validation) is the client's business and is dropped; and whatever is
sent is scrubbed of the revalidation secret (anywhere in the event) and of values under keys
that name credentials.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from bentos.errors import INTERNAL_ERROR, loggable, send_error

logger = logging.getLogger(__name__)

FILTERED = "[Filtered]"
_CREDENTIAL_KEY = re.compile(
    r"secret|token|password|passwd|authorization|cookie|api[-_]?key", re.IGNORECASE
)
#: Exceptions that are a client's mistake whatever their status attribute says.
_CLIENT_ERRORS = ("ValidationError", "RequestValidationError")


def init_sentry(
    dsn: str | None,
    *,
    environment: str,
    traces_sample_rate: float,
    release: str | None,
    secrets: Sequence[str],
    transport: Any = None,
) -> bool:
    """Start the Sentry SDK with the Starlette/FastAPI integration; False without a DSN."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.fastapi import FastApiIntegration
    from sentry_sdk.integrations.starlette import StarletteIntegration

    options: dict[str, Any] = {}
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(
        dsn=dsn,
        integrations=[StarletteIntegration(), FastApiIntegration()],
        traces_sample_rate=traces_sample_rate,
        environment=environment,
        release=release,
        send_default_pii=False,
        before_send=make_before_send(secrets),
        **options,
    )
    return True


def make_before_send(secrets: Sequence[str]) -> Callable[[dict, dict], dict | None]:
    """Drop client errors; scrub the secrets from the rest."""
    secrets = [s for s in secrets if s]

    def before_send(event: dict, hint: dict) -> dict | None:
        if is_client_error(event, hint):
            return None
        return scrub(event, secrets)

    return before_send


def is_client_error(event: dict, hint: dict) -> bool:
    """A 4xx: an HTTP exception with such a status, a validation error, a recorded 4xx."""
    exc_info = (hint or {}).get("exc_info")
    if exc_info and exc_info[1] is not None:
        error = exc_info[1]
        status = getattr(error, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            return True
        if type(error).__name__ in _CLIENT_ERRORS:
            return True
    status = ((event.get("contexts") or {}).get("response") or {}).get("status_code")
    return isinstance(status, int) and 400 <= status < 500


def scrub(value: Any, secrets: Sequence[str]) -> Any:
    """A copy of `value` with every secret replaced inside strings and credential keys
    blanked.

    >>> scrub({"a": "x s3cr3t y", "api_key": "k", "n": [1, "s3cr3t"]}, ["s3cr3t"])
    {'a': 'x [Filtered] y', 'api_key': '[Filtered]', 'n': [1, '[Filtered]']}
    """
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, FILTERED)
        return value
    if isinstance(value, dict):
        return {k: _scrub_entry(k, v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub(v, secrets) for v in value)
    return value


def _scrub_entry(key: Any, value: Any, secrets: Sequence[str]) -> Any:
    if isinstance(key, str) and _CREDENTIAL_KEY.search(key) and value:
        return FILTERED
    return scrub(value, secrets)


# --- the log of refusals ----------------------------------------------------------------------

#: How much of a refusal's body is read for its reason.
_REASON_BYTES = 2048
#: Answers that are no failure to log: the readiness probe says "not ready" by its 503.
_QUIET = frozenset({("GET", "/readyz", 503)})


class LogErrors:
    """Log each refused or failed request once (the outermost ASGI middleware of the service).

    A 4xx: one INFO line `400 POST '/predict' from 10.0.0.5: 'league: Field required'`. A 5xx
    the service answered itself (a 503 while no model is loaded, a reload that failed): one
    ERROR line. A 500 is an exception: logged once, with its traceback, where it was caught -
    by BentoML's handler for its `@bentoml.api` routes, else here, where it ends (answered
    `{"error": ...}` with 500 when nothing was sent yet) instead of reaching uvicorn, which
    would log it a second time. `secrets` (called per request: the service knows them once its
    `__init__` has run) are filtered out of every line.
    """

    def __init__(self, app: Any, secrets: Callable[[], Sequence[str]] = tuple) -> None:
        self.app, self.secrets = app, secrets

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status, body = 0, bytearray()

        async def watch(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and 400 <= status and status != 500:
                body.extend(message.get("body", b"")[: _REASON_BYTES - len(body)])
                if not message.get("more_body"):
                    self._log_refusal(scope, status, bytes(body))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            logger.exception(self._line(scope, 500, "the request failed"))
            if not status:
                await send_error(send, 500, INTERNAL_ERROR)

    def _log_refusal(self, scope: dict, status: int, body: bytes) -> None:
        if (scope.get("method"), scope.get("path"), status) in _QUIET:
            return
        level = logging.INFO if status < 500 else logging.ERROR
        logger.log(level, self._line(scope, status, reason(body)))

    def _line(self, scope: dict, status: int, why: str) -> str:
        client = (scope.get("client") or ("?",))[0]
        line = (
            f"{status} {scope.get('method', '?')} {loggable(scope.get('path', ''))} "
            f"from {client}: {loggable(why)}"
        )
        return scrub(line, [s for s in self.secrets() if s])


def reason(body: bytes) -> str:
    """An answer's reason: the `error` of a JSON answer, else its text.

    >>> reason(b'{"error": "unknown match_id"}'), reason(b"Not Found"), reason(b"[1]")
    ('unknown match_id', 'Not Found', '[1]')
    """
    text = body.decode("utf-8", "replace")
    try:
        answer = json.loads(text)
    except ValueError:
        return text
    return str(answer["error"]) if isinstance(answer, dict) and "error" in answer else text
