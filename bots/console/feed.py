"""One reader of the ticket event stream per console process, fanned out to its live pages.

Each open page (``GET /events``) would otherwise hold a Redis connection in a blocking
XREAD; instead one task follows ``TicketStore.events`` and hands every event to the queue
of each subscriber.  A subscriber that falls far behind is dropped (its page reconnects and
re-reads the lists), so one stuck browser cannot make the process hold events without end.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Any

from redis.exceptions import RedisError

from core.tickets import TicketStore

log = logging.getLogger(__name__)

Event = tuple[str, dict[str, str]]
_QUEUE_SIZE = 500


class TicketFeed:
    """Started on the first subscription; ``close()`` at shutdown ends every subscription."""

    def __init__(self, tickets: TicketStore, *, block_ms: int = 1000) -> None:
        self.tickets = tickets
        self.block_ms = block_ms
        self._subscribers: set[asyncio.Queue[Event | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._cursor = ""
        self._lock = asyncio.Lock()

    async def subscribe(self) -> asyncio.Queue[Event | None]:
        """A queue of the events that come after this call; ``None`` in it means: stream over."""
        async with self._lock:
            if self._task is None or self._task.done():
                # Start after the newest event now in the stream, so nothing published after a
                # page subscribed is missed while the reader task gets going.
                newest: Any = await self.tickets.redis.xrevrange(self.tickets.events_key, count=1)
                self._cursor = _text(newest[0][0]) if newest else "0-0"
                self._stop.clear()
                self._task = asyncio.create_task(self._follow(), name="console-ticket-feed")
            queue: asyncio.Queue[Event | None] = asyncio.Queue(_QUEUE_SIZE)
            self._subscribers.add(queue)
            return queue

    def unsubscribe(self, queue: asyncio.Queue[Event | None]) -> None:
        self._subscribers.discard(queue)

    async def close(self) -> None:
        self._stop.set()
        for queue in list(self._subscribers):
            _offer(queue, None, force=True)
        self._subscribers.clear()
        if self._task is not None:
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                events = await self.tickets.events(self._cursor, block_ms=self.block_ms)
                backoff = 0.2
            except (RedisError, OSError) as exc:
                log.warning("console: cannot read ticket events, retrying in %.1f s: %s", backoff, exc)
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            for event in events:
                self._cursor = event[0]
                for queue in list(self._subscribers):
                    if not _offer(queue, event):
                        log.info("console: a live page fell behind; it will reconnect")
                        self._subscribers.discard(queue)
                        _offer(queue, None, force=True)


def _offer(queue: asyncio.Queue[Event | None], item: Event | None, *, force: bool = False) -> bool:
    if force and queue.full():
        with suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    try:
        queue.put_nowait(item)
        return True
    except asyncio.QueueFull:
        return False


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
