"""The service's refusals, each with its HTTP status: raised by the logic, turned into
`{"error": "..."}` responses in one place per router (bentos/app.py, bentos/service.py)."""

from __future__ import annotations


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
