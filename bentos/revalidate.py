"""ISR revalidation: after a pushed update, ask the Next.js site to rebuild the match's page.

`POST {secret, path}` to `$NEXT_URL/api/revalidate`. Per match at most one call is in flight:
updates that arrive meanwhile are coalesced into a single further call, so a burst of price
changes costs the site two rebuilds, not one per change. Timeouts, connection errors and 5xx
are retried with exponential backoff; a call that still fails is logged and reported to Sentry,
and the push it follows has long been delivered: nothing here can break a push. The secret is
sent in the body only, never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from bentos.settings import RevalidationSettings
from sabiscore.football_data import is_safe_match_id

logger = logging.getLogger(__name__)


def report_failure(message: str) -> None:
    """To Sentry when it is set up (a no-op otherwise)."""
    import sentry_sdk

    sentry_sdk.capture_message(message, level="warning")


@dataclass
class Revalidator:
    settings: RevalidationSettings
    client: httpx.AsyncClient | None = None
    on_failure: Callable[[str], None] = report_failure
    calls: int = 0  # attempts made (for /readyz-style introspection and tests)
    failures: int = 0  # calls that failed after every retry
    _running: dict[str, asyncio.Task] = field(default_factory=dict)
    _again: set[str] = field(default_factory=set)

    @property
    def enabled(self) -> bool:
        return self.settings.url is not None

    def schedule(self, match_id: str) -> None:
        """Revalidate the match's page soon; returns at once."""
        if not self.enabled or not is_safe_match_id(match_id):
            return  # never forwarded: an id outside the safe pattern is no path of the site
        if match_id in self._running:
            self._again.add(match_id)  # coalesced into one call after the one in flight
            return
        self._running[match_id] = asyncio.create_task(self._run(match_id))

    async def _run(self, match_id: str) -> None:
        try:
            while True:
                await asyncio.sleep(self.settings.debounce_s)
                self._again.discard(match_id)
                await self.revalidate(match_id)
                if match_id not in self._again:
                    return
        finally:
            self._running.pop(match_id, None)

    async def revalidate(self, match_id: str) -> bool:
        """One call with its retries; True when the site answered 2xx. Never raises."""
        path = self.settings.path_template.format(match_id=match_id)
        payload = {"secret": self.settings.secret, "path": path}
        error = "no attempt"
        for attempt in range(self.settings.retries + 1):
            if attempt:
                await asyncio.sleep(self.settings.backoff_s * 2 ** (attempt - 1))
            self.calls += 1
            try:
                response = await self._client().post(
                    self.settings.url, json=payload, timeout=self.settings.timeout_s
                )
            except httpx.HTTPError as exc:  # timeouts and connection errors: retry
                error = f"{type(exc).__name__}"
                continue
            if response.is_success:
                return True
            error = f"HTTP {response.status_code}"
            if response.status_code < 500:  # a wrong secret or path: retrying cannot help
                break
        self.failures += 1
        message = f"ISR revalidation of {path} failed: {error}"
        logger.warning("%s (%s)", message, self.settings.url)
        try:
            self.on_failure(message)
        except Exception:  # reporting must not fail either
            logger.exception("could not report a failed revalidation")
        return False

    def _client(self) -> httpx.AsyncClient:
        if self.client is None:
            self.client = httpx.AsyncClient()
        return self.client

    async def wait_idle(self) -> None:
        """Until no call is in flight (for a clean shutdown and for tests)."""
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()
