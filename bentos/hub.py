"""The push hub behind WS /ws/edge/{match_id}: the latest message of each match, and its
subscribers.

Publishing never waits for a client: it drops the message into each subscriber's bounded
queue and returns. One sender task per socket takes from that queue and writes; a slow client
fills only its own queue, and then loses its oldest messages (the newest edge is the one that
matters), a client that stops reading is disconnected after `send_timeout_s`, and a dead one
ends its sender at the first failed write. Subscriptions are removed when the socket closes,
whichever side closes it. A message is serialised once, whatever the number of subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from bentos.settings import PushSettings

logger = logging.getLogger(__name__)

#: Close codes sent to a subscriber (4000-4999 are the application's own).
CLOSE_UNKNOWN_MATCH = 4404
CLOSE_TOO_SLOW = 4408


class Socket(Protocol):
    """What the hub needs of a WebSocket (Starlette's fits)."""

    async def send_text(self, data: str) -> None: ...
    async def receive(self) -> dict[str, Any]: ...
    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


@dataclass(eq=False)
class Subscriber:
    socket: Socket
    queue: asyncio.Queue[str]
    dropped: int = 0

    def offer(self, text: str) -> None:
        """Queue a message without waiting; when full, the oldest one makes room."""
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(text)


@dataclass
class EdgeHub:
    settings: PushSettings
    _subscribers: dict[str, set[Subscriber]] = field(default_factory=dict)
    _latest: dict[str, str] = field(default_factory=dict)
    _forgotten: set[str] = field(default_factory=set)  # forgotten while someone listened

    def publish(self, match_id: str, message: dict[str, Any] | str) -> int:
        """Make `message` the match's current one and hand it to every subscriber; returns
        how many there are. Never waits."""
        text = message if isinstance(message, str) else json.dumps(message)
        self._latest[match_id] = text
        self._forgotten.discard(match_id)
        subscribers = self._subscribers.get(match_id, ())
        for subscriber in subscribers:
            subscriber.offer(text)
        return len(subscribers)

    def forget(self, match_id: str) -> None:
        """Drop the match's current message (the service stopped tracking it); while it has
        subscribers, only once the last of them leaves."""
        if self._subscribers.get(match_id):
            self._forgotten.add(match_id)
        else:
            self._latest.pop(match_id, None)

    @property
    def matches(self) -> int:
        """Matches with a current message."""
        return len(self._latest)

    def latest(self, match_id: str) -> str | None:
        return self._latest.get(match_id)

    def subscriber_count(self, match_id: str | None = None) -> int:
        if match_id is not None:
            return len(self._subscribers.get(match_id, ()))
        return sum(len(s) for s in self._subscribers.values())

    async def serve(
        self, match_id: str, socket: Socket, current: Callable[[], Awaitable[str]]
    ) -> None:
        """Run one accepted subscription until either side ends it: the current message at
        once (`current()` builds it when nothing was published yet), then every update."""
        subscriber = Subscriber(socket, asyncio.Queue(self.settings.queue_size))
        self._subscribers.setdefault(match_id, set()).add(subscriber)
        try:
            subscriber.offer(self._latest.get(match_id) or await current())
            sender = asyncio.create_task(self._send_loop(subscriber))
            listener = asyncio.create_task(_until_disconnect(socket))
            done, pending = await asyncio.wait(
                {sender, listener}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        finally:
            self._unsubscribe(match_id, subscriber)

    def _unsubscribe(self, match_id: str, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(match_id)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._subscribers[match_id]
                if match_id in self._forgotten:
                    self._forgotten.discard(match_id)
                    self._latest.pop(match_id, None)

    async def _send_loop(self, subscriber: Subscriber) -> None:
        """Write queued messages (a heartbeat when idle) until a write fails or stalls."""
        heartbeat_s, send_timeout_s = self.settings.heartbeat_s, self.settings.send_timeout_s
        while True:
            # asyncio.timeout rather than wait_for: no task per message (100 subscribers ->
            # 100 fewer tasks per update).
            try:
                async with asyncio.timeout(heartbeat_s):
                    text = await subscriber.queue.get()
            except TimeoutError:
                text = heartbeat()
            try:
                async with asyncio.timeout(send_timeout_s):
                    await subscriber.socket.send_text(text)
            except TimeoutError:
                logger.info("closing a subscriber that took no message for %.1f s", send_timeout_s)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(subscriber.socket.close(CLOSE_TOO_SLOW, "too slow"), 1.0)
                return
            except Exception:  # the client is gone: its listener sees the disconnect
                return


def heartbeat() -> str:
    return json.dumps({"type": "heartbeat", "at": datetime.now(UTC).isoformat()})


async def _until_disconnect(socket: Socket) -> None:
    """Read (and ignore) what the client sends, until it disconnects."""
    while True:
        message = await socket.receive()
        if message.get("type") == "websocket.disconnect":
            return
