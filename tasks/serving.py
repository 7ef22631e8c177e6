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


def refused_hint(error: Exception) -> str:
    """What to do about the service's 401 / 403 (nothing to add for another failure)."""
    import httpx

    if isinstance(error, httpx.HTTPStatusError) and error.response.status_code in (401, 403):
        return f" (the service wants its API token: set {API_TOKEN_ENV} to it)"
    return ""
