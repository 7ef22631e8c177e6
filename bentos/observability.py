"""Sentry: errors (and a sample of traces) of the service, when `SENTRY_DSN` is set.

`before_send` keeps the stream about the service's own failures: a client's mistake (a 404,
a request that fails validation) is the client's business and is dropped; and whatever is
sent is scrubbed of the revalidation secret (anywhere in the event) and of values under keys
that name credentials.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

FILTERED = "[Filtered]"
_CREDENTIAL_KEY = re.compile(r"secret|token|password|passwd|authorization|cookie|api[-_]?key",
                             re.IGNORECASE)
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
