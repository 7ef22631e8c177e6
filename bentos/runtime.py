"""The running service's state and behaviour, apart from any web framework: the loaded model
(swapped whole on reload), the matches it tracks, the push hub and the revalidator.

Both routers (the `@bentoml.api` methods and the mounted FastAPI app) delegate here, and the
tests drive it directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pandas as pd

from bentos.bets import BetQuery, bets_of, ledger_report, price, suggestions, value_bets
from bentos.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    ReloadFailed,
    RequestRejected,
    ServiceError,
    Unavailable,
)
from bentos.hub import EdgeHub
from bentos.registry_view import RegistryView
from bentos.revalidate import Revalidator
from bentos.schemas import (
    BatchPrediction,
    EdgeRequest,
    EdgeResponse,
    EdgeUpdate,
    LedgerReport,
    MatchRequest,
    ModelsReport,
    OddsUpdate,
    Prediction,
    ReloadResult,
    ValueBets,
    naive_utc,
)
from bentos.settings import ServingSettings
from bentos.state import LoadedModel, NoChampion, load_model, store_stamp
from models.registry import STATE_RUN
from sabiscore.football_data import make_match_id
from sabiscore.ledger import Ledger, track_record
from sabiscore.store import DataStore

logger = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: ServingSettings, registry: Any = None) -> None:
        self.settings = settings
        self.model: LoadedModel | None = None
        self.load_error: str | None = None
        self.hub = EdgeHub(settings.push)
        self.revalidator = Revalidator(settings.revalidation)
        self._registry = registry
        self.ledger = Ledger(settings.data_dir)  # every suggestion made, recorded once
        # the latest POST /odds of each tracked match, least recently posted first
        self._posted: OrderedDict[str, OddsUpdate] = OrderedDict()
        self.forgotten = 0  # tracked matches dropped (max_matches, or expired after kick-off)
        self._next_sweep = time.monotonic() + SWEEP_EVERY_S
        self._reload_lock: asyncio.Lock | None = None
        self._refresh_lock: asyncio.Lock | None = None
        self._watcher: asyncio.Task | None = None
        self._reloads: set[asyncio.Task] = set()  # running reloads, referenced until done
        self._installed = False  # a model was installed once (the heap is frozen)
        self._registry_view: RegistryView | None = None

    @property
    def registry(self) -> Any:
        if self._registry is None:
            from models.registry import ModelRegistry

            os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no log noise
            self._registry = ModelRegistry(self.settings.tracking_uri, self.settings.model_name)
        return self._registry

    # --- life cycle ---------------------------------------------------------------------------

    def load(self) -> None:
        """Load the champion at start-up; without one the service starts, not ready."""
        try:
            self._install(load_model(self.settings, self.registry))
        except NoChampion as error:
            self.load_error = str(error)
            logger.warning("%s; /readyz answers 503 until a reload finds one", error)

    async def start(self) -> None:
        """Background work on the serving event loop: the alias watcher."""
        if self.settings.watch_interval_s > 0 and self._watcher is None:
            self._watcher = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        await self.revalidator.close()

    def _install(self, model: LoadedModel) -> None:
        first = not self._installed
        self.model = model
        self.load_error = None
        self._installed = True
        _tag_sentry(model)
        settle_heap(freeze=first)

    async def reload(self, only_if_moved: bool = False) -> ReloadResult:
        """Load the version the alias names now, with its newest serving state, while the old
        model keeps serving; then swap and re-push every tracked match.

        `only_if_moved`: do nothing when the alias still names the loaded version and its
        state is the one loaded (the watcher); a `POST /reload` always loads.
        """
        self._reload_lock = self._reload_lock or asyncio.Lock()
        async with self._reload_lock:
            version = await in_daemon_thread(self.registry.version_by_alias, self.settings.alias)
            if version is None:
                raise NoChampion(f"{self.registry.name} has no {self.settings.alias!r} version")
            previous = self.model.info.version if self.model is not None else None
            if (
                only_if_moved
                and previous == str(version.version)
                and not state_moved(self.model, version)
            ):
                return ReloadResult(
                    reloaded=False, previous_version=previous, model=self.model.info
                )
            try:
                model = await in_daemon_thread(load_model, self.settings, self.registry, version)
            except NoChampion:
                raise
            except Exception as error:  # the data or the files: the old model keeps serving
                logger.exception("could not load version %s", version.version)
                still = f"still serving version {previous}" if previous else "no model loaded"
                reason = f"{type(error).__name__}: {error}"
                raise ReloadFailed(
                    f"could not load version {version.version}: {reason}; {still}"
                ) from None
            self._install(model)
            logger.info(
                "now serving %s version %s (was %s)", model.info.name, model.info.version, previous
            )
            await self._republish()
            return ReloadResult(reloaded=True, previous_version=previous, model=model.info)

    def store_moved(self) -> bool:
        """Whether the data store was committed to since the loaded state was read (new
        fixtures, a promoted team, new results)."""
        return (
            self.model is not None
            and store_stamp(DataStore(self.settings.data_dir)) != self.model.store_stamp
        )

    async def refresh_if_store_moved(self) -> bool:
        """Rebuild the state (a reload of the version served) when the store moved; True when
        it did. A failed refresh is logged and the state as loaded keeps serving."""
        if not self.store_moved():
            return False
        self._refresh_lock = self._refresh_lock or asyncio.Lock()
        async with self._refresh_lock:
            if not self.store_moved():  # another request refreshed it meanwhile
                return True
            try:
                await self.reload_in_background()
            except ServiceError as error:
                logger.warning("the store changed, but the state could not be refreshed: %s", error)
                return False
            logger.info("the store changed: the state was refreshed")
            return True

    async def post_odds_fresh(self, update: OddsUpdate) -> EdgeUpdate:
        """`post_odds`; a match it cannot price (a team not in the state, say) is priced again
        once the state is refreshed, when the store moved since it was loaded (the fixtures
        that list a promoted side were ingested after the service started)."""
        try:
            return self.post_odds(update)
        except RequestRejected:
            if not await self.refresh_if_store_moved():
                raise
        return self.post_odds(update)

    async def reload_in_background(self) -> ReloadResult:
        """`reload()` in a task of its own: cancelling the caller (a client that hung up, a
        request timeout) leaves the reload running to the swap."""
        task = asyncio.ensure_future(self.reload())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)
        return await asyncio.shield(task)

    async def _watch(self) -> None:
        """Reload when the alias moved without anyone telling the service."""
        while True:
            await asyncio.sleep(self.settings.watch_interval_s)
            try:
                await self.reload(only_if_moved=True)
            except NoChampion:
                pass
            except Exception:
                logger.exception("checking the %r alias failed", self.settings.alias)

    # --- answers --------------------------------------------------------------------------------

    def require_model(self) -> LoadedModel:
        if self.model is None:
            raise Unavailable(self.load_error or "no model loaded yet")
        return self.model

    def predict(self, match: MatchRequest) -> Prediction:
        return self.require_model().predict(match)

    def predict_batch(self, matches: Sequence[MatchRequest]) -> BatchPrediction:
        limit = self.settings.max_batch_size
        if not matches:
            raise BadRequest("matches is empty: send at least one match")
        if len(matches) > limit:
            raise PayloadTooLarge(f"{len(matches)} matches in one batch; at most {limit}")
        predictions = self.require_model().predict_many(matches)
        return BatchPrediction(predictions=predictions, model_version=predictions[0].model_version)

    def edge(self, request: EdgeRequest) -> EdgeResponse:
        _, response = self.require_model().edge(request, request.odds, request.reference_book)
        return response

    # --- pushed updates ---------------------------------------------------------------------

    def post_odds(self, update: OddsUpdate) -> EdgeUpdate:
        """Recompute the match's edge from its new prices, push it to the subscribers and
        schedule the site's revalidation. Returns the message pushed."""
        model = self.require_model()
        update, message = self.priced(update, model)
        self._record(model, bets_of(update, message.edge))
        self._track(message.match_id, update)
        self.hub.publish(message.match_id, message.model_dump_json())
        self.revalidator.schedule(message.match_id)
        return message

    def priced(
        self, update: OddsUpdate, model: LoadedModel | None = None
    ) -> tuple[OddsUpdate, EdgeUpdate]:
        """The update under its match_id (made from the kick-off when none was sent) and the
        message `post_odds` would push for it, pushed nowhere."""
        update = update.model_copy(update={"match_id": update.match_id or _match_id(update)})
        return update, price(model or self.require_model(), update)

    def _track(self, match_id: str, update: OddsUpdate) -> None:
        """Keep the match as the most recently posted; forget the least recent beyond
        `tracking.max_matches`, and (once a minute) those long past their kick-off."""
        self._posted[match_id] = update
        self._posted.move_to_end(match_id)
        while len(self._posted) > self.settings.tracking.max_matches:
            self._forget(next(iter(self._posted)))
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + SWEEP_EVERY_S
            self.forget_expired()

    def forget_expired(self, now: datetime | None = None) -> int:
        """Forget the tracked matches whose kick-off is more than
        `tracking.expire_after_kickoff_h` hours ago; returns how many."""
        hours = self.settings.tracking.expire_after_kickoff_h
        if hours is None:
            return 0
        cutoff = (now or datetime.now(UTC)).replace(tzinfo=None) - timedelta(hours=hours)
        expired = [
            match_id
            for match_id, update in self._posted.items()
            if update.kickoff is not None and naive_utc(update.kickoff) < cutoff
        ]
        for match_id in expired:
            self._forget(match_id)
        return len(expired)

    def _forget(self, match_id: str) -> None:
        del self._posted[match_id]
        self.hub.forget(match_id)
        self.forgotten += 1

    def upcoming(self) -> list[OddsUpdate]:
        """Every fixture known: the store's upcoming ones as loaded, each replaced by what
        `POST /odds` sent for it since."""
        known = dict(self.model.fixtures) if self.model is not None else {}
        known.update(self._posted)
        return list(known.values())

    def value_bets(self, query: BetQuery, record: bool = True) -> ValueBets:
        """The value bets of the upcoming fixtures; each new one recorded in the ledger unless
        `record` is False (a listing of the fixtures, not a suggestion)."""
        model = self.require_model()
        answer = value_bets(model, self.upcoming(), query)
        if record:
            self._record(model, answer.bets)
        return answer

    async def track_record(self, since: str | None = None) -> LedgerReport:
        """The ledger settled on the store as it is now (read off the event loop)."""
        policy = self.settings.staking
        record, _ = await in_daemon_thread(
            track_record, self.settings.data_dir, since, policy.sharp_books, policy.implied_method
        )
        return ledger_report(record)

    def _record(self, model: LoadedModel, bets: Sequence[Any]) -> None:
        """Into the ledger, once each; a ledger that cannot be written never fails an answer.
        A service without a data directory keeps none (it is kept where the store is)."""
        if not bets or not self.settings.data_dir.is_dir():
            return
        try:
            self.ledger.record(suggestions(bets, model, "service"))
        except OSError as error:
            logger.warning(
                "could not record %d suggestion(s) in the ledger at %s: %s",
                len(bets),
                self.ledger.path,
                error,
            )

    async def models_report(self, limit: int) -> ModelsReport:
        """The registry's newest versions and the champion's reliability curves, read off the
        event loop (an answer without a model loaded too: then no champion, or a new one)."""
        if self._registry_view is None:
            self._registry_view = RegistryView(self.registry, self.settings.market_forecaster)
        return await in_daemon_thread(self._registry_view.report, limit)

    def tracked(self, match_id: str) -> OddsUpdate | None:
        """The match as last posted, else as the store lists it among upcoming fixtures."""
        if match_id in self._posted:
            return self._posted[match_id]
        return self.model.fixtures.get(match_id) if self.model is not None else None

    async def current(self, match_id: str) -> str:
        """The message a new subscriber receives first."""
        latest = self.hub.latest(match_id)
        if latest is not None:
            return latest
        update = self.tracked(match_id)
        if update is None:
            raise NotFound(f"unknown match_id {match_id!r}")
        return price(self.require_model(), update).model_dump_json()

    async def _republish(self) -> None:
        """After a reload: every match pushed before, with the new model's numbers. One match
        at a time, giving the event loop back between two, so that requests are answered
        throughout however many matches are tracked."""
        model = self.require_model()
        refused = 0
        for match_id in list(self._posted):
            await asyncio.sleep(0)
            update = self._posted.get(match_id)
            if update is None or self.model is not model:  # forgotten, or another reload
                continue
            try:
                message = price(model, update)
            except RequestRejected as error:  # e.g. a team not in the new state
                refused += 1
                if refused <= 3:
                    logger.warning("cannot re-price %s with the new model: %s", match_id, error)
                continue
            self.hub.publish(match_id, message.model_dump_json())
            self.revalidator.schedule(match_id)
        if refused > 3:
            logger.warning("%d tracked matches could not be re-priced with the new model", refused)


#: How often (at most) the tracked matches are checked for expiry, in seconds.
SWEEP_EVERY_S = 60.0

T = TypeVar("T")


async def in_daemon_thread(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in a daemon thread of its own, awaited without blocking the loop.

    Not `asyncio.to_thread`: its executor's threads are joined when the process exits, so a
    SIGTERM during a reload of a large store waited for the reload to finish (28 s and more);
    a daemon thread is abandoned, and the process stops at once.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # the awaiting coroutine was cancelled
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        result, failure = None, None
        try:
            result = function(*args)
        except BaseException as error:  # handed to the awaiting coroutine
            failure = error
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody awaits
            loop.call_soon_threadsafe(settle, result, failure)

    threading.Thread(target=run, name=f"sabiscore-{function.__name__}", daemon=True).start()
    return await future


def state_moved(model: LoadedModel, version: Any) -> bool:
    """Whether `version` (the alias's, as the registry has it now) names a newer serving
    state than the one `model` was loaded with (a flow published one since)."""
    published = version.tags.get(STATE_RUN)
    return published is not None and published != model.state_source


def _match_id(update: OddsUpdate) -> str:
    """As the data store names matches; it needs the kick-off's day."""
    if update.kickoff is None:
        raise RequestRejected("send match_id, or kickoff so that the match_id can be made")
    return make_match_id(
        update.league, pd.Timestamp(update.kickoff), update.home_team, update.away_team
    )


def settle_heap(freeze: bool) -> None:
    """Collect once; at start-up, then freeze what is left out of the garbage collector's way.

    After the first load the process holds ~350,000 long-lived objects (libraries, the model,
    the teams' state); every full collection walked them all, ~0.26 s with the event loop
    stopped, now and then in the middle of a request. Frozen at start-up, they are skipped.
    A reloaded model is not frozen: it holds a few hundred tracked objects (its arrays are not
    tracked), so collections stay fast, and it is freed whole at the next reload. Unfreezing
    at a reload instead would walk everything again: a 0.16 s pause of every request.
    """
    gc.collect()
    if freeze:
        gc.freeze()


def _tag_sentry(model: LoadedModel) -> None:
    """Events after a reload carry the model that answered (the release stays the start's)."""
    import sentry_sdk

    sentry_sdk.set_tag("model.version", model.info.version)
    sentry_sdk.set_tag("model.semver", model.info.semver)
