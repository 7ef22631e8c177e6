"""ISR revalidation: after a pushed update, ask the Next.js site to rebuild the match's page.

`POST {secret, path}` to `$NEXT_URL/api/revalidate`, by a fixed pool of `max_in_flight`
workers taking match ids from one bounded queue:

- per match at most one call is in flight, and at most one more waits: updates that arrive
  meanwhile are coalesced into that single further call, so a burst of price changes costs
  the site two rebuilds, not one per change (`coalesced` counts them);
- at most `max_pending` matches wait; beyond that a new match's call is dropped and counted
  (`dropped`), never queued without bound and never waited for: `schedule` returns at once,
  whatever the site does, so a slow or dead site cannot stall the event loop or hold memory;
- timeouts, connection errors and 5xx are retried with exponential backoff; a call that still
  fails is logged and reported to Sentry (`failures`).

The push it follows has long been delivered: nothing here can break a push. The secret is
sent in the body only, never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
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
    calls: int = 0  # attempts made (for introspection and tests)
    failures: int = 0  # calls that failed after every retry
    coalesced: int = 0  # updates folded into a call already waiting or to follow
    dropped: int = 0  # matches not revalidated because max_pending were waiting
    _pending: OrderedDict[str, float] = field(default_factory=OrderedDict)  # id -> due time
    _in_flight: set[str] = field(default_factory=set)
    _again: set[str] = field(default_factory=set)  # in flight, and updated since it began
    _workers: list[asyncio.Task] = field(default_factory=list)
    _wake: asyncio.Event | None = None

    @property
    def enabled(self) -> bool:
        return self.settings.url is not None

    @property
    def pending(self) -> int:
        """Matches waiting for a worker."""
        return len(self._pending)

    def schedule(self, match_id: str) -> None:
        """Revalidate the match's page soon; returns at once, never blocks."""
        if not self.enabled or not is_safe_match_id(match_id):
            return  # never forwarded: an id outside the safe pattern is no path of the site
        if match_id in self._pending:
            self.coalesced += 1
        elif match_id in self._in_flight:
            self.coalesced += match_id in self._again
            self._again.add(match_id)  # one more call after the one in flight
        else:
            self._enqueue(match_id)

    def _enqueue(self, match_id: str) -> None:
        if len(self._pending) >= self.settings.max_pending:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning(
                    "ISR revalidation queue full (%d matches waiting): %d "
                    "revalidations dropped so far",
                    len(self._pending),
                    self.dropped,
                )
            return
        self._pending[match_id] = time.monotonic() + self.settings.debounce_s
        self._start_workers()
        assert self._wake is not None
        self._wake.set()

    def _start_workers(self) -> None:
        if self._workers:
            return
        self._wake = asyncio.Event()
        self._workers = [
            asyncio.create_task(self._work()) for _ in range(self.settings.max_in_flight)
        ]

    async def _work(self) -> None:
        assert self._wake is not None
        while True:
            while not self._pending:
                self._wake.clear()
                await self._wake.wait()
            match_id, due = self._pending.popitem(last=False)
            self._in_flight.add(match_id)
            try:
                # the debounce: updates arriving before `due` are coalesced into this call
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                self._again.discard(match_id)
                await self.revalidate(match_id)
            finally:
                self._in_flight.discard(match_id)
            if match_id in self._again:
                self._again.discard(match_id)
                self._enqueue(match_id)

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
            # as many connections as workers: no request ever waits for the pool
            workers = self.settings.max_in_flight
            limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
            self.client = httpx.AsyncClient(limits=limits)
        return self.client

    async def wait_idle(self) -> None:
        """Until no call is waiting or in flight (for tests)."""
        while self._pending or self._in_flight or self._again:
            await asyncio.sleep(0.005)

    async def close(self) -> None:
        """Stop the workers (calls in flight are abandoned) and the client."""
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._workers, self._wake = [], None
        self._pending.clear()
        self._in_flight.clear()
        self._again.clear()
        if self.client is not None:
            await self.client.aclose()
