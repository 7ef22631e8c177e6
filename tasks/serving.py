"""How the flows identify themselves to the service: its API token, from the environment.

The service's write routes (POST /odds, /reload) need `Authorization: Bearer <token>` when it
has a token ($SABISCORE_API_TOKEN, bentos/auth.py); the flows send the same variable's value.
Unset, they send nothing, as before: a service without a token takes writes open.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

API_TOKEN_ENV = "SABISCORE_API_TOKEN"  # the service reads the same name (bentos/auth.py)


def service_headers(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The Authorization header for the service, when the token is set; else none.

    >>> service_headers({API_TOKEN_ENV: " t0ken "}), service_headers({})
    ({'Authorization': 'Bearer t0ken'}, {})
    """
    token = ((os.environ if environ is None else environ).get(API_TOKEN_ENV) or "").strip()
    return {"Authorization": f"Bearer {token}"} if token else {}


def service_failure(error: Exception) -> str:
    """One line on why a call to the service failed: for a refusal its status and what the
    service said (its `{"error": ...}`, quoted and cut short: a newline in it cannot forge a
    log line), and what to do about a 401 / 403; otherwise the error's own first line."""
    import httpx

    if not isinstance(error, httpx.HTTPStatusError):
        return (str(error).splitlines() or [type(error).__name__])[0]
    response = error.response
    try:
        said = response.json().get("error")
    except (ValueError, AttributeError):
        said = None
    line = f"HTTP {response.status_code} {response.reason_phrase}"
    if said:
        line += f"; the service says {str(said)[:300]!r}"
    if response.status_code in (401, 403):
        line += f" (the service wants its API token: set {API_TOKEN_ENV} to it)"
    return line
