"""The outbox: messages that must reach a user outside their own turn, delivered at least once.

A human agent's answer, an SLA notice or an alert is produced by a process that holds no
connection to the customer's chat app.  It is written to one Redis Stream per platform and
read by that platform's adapters through the consumer group ``adapters``, so any number of
adapter replicas share the work and a message is acknowledged only after it was delivered:

    <prefix>:outbox:<platform>          stream  user, chat, kind, reply (JSON), ts
    <prefix>:outbox:<platform>:dead     stream  the same fields + reason, attempts, id
    <prefix>:{<platform>:<user>}:unreachable    the user blocked the bot; expires like a session

Delivery is at least once: a process that dies after sending but before acknowledging sends
that message again after a restart.  Each consumer name must belong to one live process at a
time (a pod or host name); a restarted process that reuses its name resumes its own
unfinished messages at once, others' are taken over when they have been idle for
``outbox_retry_ms``.  While a message is being delivered its idle time is kept low, so a
slow delivery (a platform's flood wait) is not taken over and sent twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from core import metrics
from core.logs import user_ref
from core.messages import Reply
from core.settings import Settings

log = logging.getLogger(__name__)

GROUP = "adapters"
_BATCH = 10
_BACKOFF_FIRST_S = 0.1
_BACKOFF_CAP_S = 5.0
_FIELDS = ("user", "chat", "kind", "reply")

# Reset the idle time of an entry, but only while this consumer still owns it: a keeper must
# never take a message back from a consumer that already took it over.
# KEYS: stream.  ARGV: group, consumer, entry id.  Returns 1 if still ours, else 0.
_TOUCH = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if p[1] == nil or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"""


class Undeliverable(Exception):
    """Raised by a deliver callback when retrying cannot help (bot blocked, chat gone).

    The message goes straight to dead letters with ``str(exc)`` as the reason.
    """


@dataclass(frozen=True)
class OutboxMessage:
    """One message handed to an adapter's deliver callback; ``attempt`` counts from 1."""

    id: str
    platform: str
    user_id: str
    chat_id: str
    kind: str
    reply: Reply
    attempt: int


Deliver = Callable[[OutboxMessage], Awaitable[None]]


class Outbox:
    """The outbox of one platform: ``put`` by producers, ``run`` by that platform's adapters.

    Raises Redis errors from ``put`` and the operator methods; ``run`` survives them.
    """

    def __init__(self, redis: Redis, settings: Settings, platform: str) -> None:
        self.redis = redis
        self.settings = settings
        self.platform = platform
        self.stream = f"{settings.key_prefix}:outbox:{platform}"
        self.dead_stream = f"{self.stream}:dead"
        self._touch_script = redis.register_script(_TOUCH)

    def _user_key(self, user_id: str, name: str) -> str:
        # The same hash tag as SessionStore.key(f"{platform}:{user_id}", name), so the key lives in
        # the user's cluster slot and SessionStore.forget removes it with the rest of the user.
        return f"{self.settings.key_prefix}:{{{self.platform}:{user_id}}}:{name}"

    async def put(self, user_id: str, chat_id: str, reply: Reply, *, kind: str = "agent") -> str:
        """Queue ``reply`` for ``user_id`` in ``chat_id``; returns the stream entry id."""
        fields: dict[Any, Any] = {
            "user": user_id, "chat": chat_id, "kind": kind,
            "reply": json.dumps(reply.to_dict(), ensure_ascii=False, separators=(",", ":")),
            "ts": f"{time.time():.3f}",
        }
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(self.stream, fields, maxlen=self.settings.outbox_maxlen, approximate=True)
            pipe.sadd(platforms_key(self.settings), self.platform)  # so the metrics know which streams to read
            entry_id, _ = await pipe.execute()
        return _text(entry_id)

    # -- reachability ------------------------------------------------------------------------

    async def mark_unreachable(self, user_id: str) -> None:
        """Called by an adapter when the platform says the user blocked the bot.

        Until ``mark_reachable`` (the user writes again) or the session expiry, the outbox
        drops their messages to dead letters instead of hitting the platform again.
        """
        await self.redis.set(self._user_key(user_id, "unreachable"), f"{time.time():.0f}",
                             ex=self.settings.session_ttl)

    async def mark_reachable(self, user_id: str) -> None:
        await self.redis.delete(self._user_key(user_id, "unreachable"))

    async def is_unreachable(self, user_id: str) -> bool:
        return bool(await self.redis.exists(self._user_key(user_id, "unreachable")))

    # -- operators ---------------------------------------------------------------------------

    async def dead_letters(self, count: int = 100) -> list[dict[str, str]]:
        """The oldest ``count`` dead letters, each with its dead-letter entry id as ``dead_id``."""
        entries: Any = await self.redis.xrange(self.dead_stream, count=count)
        return [{"dead_id": _text(entry_id), **_decoded(fields)} for entry_id, fields in entries]

    async def pending_count(self) -> int:
        """Messages not yet delivered nor dead-lettered: waiting, in delivery, or waiting for a retry.

        Delivered messages are deleted from the stream, so this is the stream's length.
        """
        return int(await self.redis.xlen(self.stream))

    # -- delivery ----------------------------------------------------------------------------

    async def run(self, deliver: Deliver, *, consumer: str, stop: asyncio.Event, block_ms: int = 1000) -> None:
        """Deliver messages through ``deliver`` until ``stop`` is set; called once per adapter process.

        Each pass first resumes this consumer's own unfinished messages (only once, after a
        start), then takes over messages idle for ``outbox_retry_ms`` (a failed delivery of
        this or another consumer, or a consumer that died), then waits up to ``block_ms`` for
        new ones.  ``deliver`` returning means delivered; raising ``Undeliverable`` means
        dead-letter now; any other exception means retry after ``outbox_retry_ms``, up to
        ``outbox_attempts`` deliveries.  Redis outages are logged and waited out.
        ``deliver`` should bound its own time: the loop handles one message at a time.
        ``block_ms`` must stay below the Redis client's socket timeout.
        """
        backoff = _BACKOFF_FIRST_S
        group_ready = False
        resumed = False
        cursor = "0-0"
        block = max(1, min(block_ms, self.settings.outbox_retry_ms))
        while not stop.is_set():
            try:
                if not group_ready:
                    await self._create_group()
                    group_ready = True
                if not resumed:
                    await self._resume_own(deliver, consumer, stop)
                    resumed = True
                cursor = await self._take_over_idle(deliver, consumer, stop, cursor)
                if not stop.is_set():
                    await self._read_new(deliver, consumer, stop, block)
                backoff = _BACKOFF_FIRST_S
            except (RedisError, OSError) as exc:
                # A restarted Redis without persistence has lost the group (NOGROUP): recreate it.
                group_ready = False
                log.warning("outbox %s: Redis error, retrying in %.1f s: %s", self.stream, backoff, exc)
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, _BACKOFF_CAP_S)

    async def _create_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _resume_own(self, deliver: Deliver, consumer: str, stop: asyncio.Event) -> None:
        """Deliver what this consumer had read but not finished before it stopped or died."""
        after = "0"
        while not stop.is_set():
            response: Any = await self.redis.xreadgroup(GROUP, consumer, {self.stream: after}, count=_BATCH)
            entries = _stream_entries(response)
            if not entries:
                return
            await self._handle_batch(deliver, consumer, stop, entries)
            after = _text(entries[-1][0])

    async def _take_over_idle(self, deliver: Deliver, consumer: str, stop: asyncio.Event, cursor: str) -> str:
        """Claim entries idle for the retry delay (failed, or of a dead consumer); returns the next cursor."""
        response: Any = await self.redis.xautoclaim(
            self.stream, GROUP, consumer, self.settings.outbox_retry_ms, start_id=cursor, count=_BATCH,
        )
        next_cursor, entries = _text(response[0]), response[1]
        if entries:
            await self._handle_batch(deliver, consumer, stop, entries)
        return next_cursor

    async def _read_new(self, deliver: Deliver, consumer: str, stop: asyncio.Event, block: int) -> None:
        response: Any = await self.redis.xreadgroup(GROUP, consumer, {self.stream: ">"}, count=_BATCH, block=block)
        entries = _stream_entries(response)
        for entry_id, fields in entries:
            if stop.is_set():
                return  # left pending; resumed on restart or taken over by another consumer
            await self._handle(deliver, consumer, _text(entry_id), fields, attempt=1)

    async def _handle_batch(self, deliver: Deliver, consumer: str, stop: asyncio.Event, entries: list[Any]) -> None:
        """Handle re-read entries, whose delivery counts Redis keeps in the pending list."""
        ids = [_text(entry_id) for entry_id, _ in entries]
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id in ids:
                pipe.xpending_range(self.stream, GROUP, min=entry_id, max=entry_id, count=1, consumername=consumer)
            rows = await pipe.execute()
        for entry_id, (_, fields), row in zip(ids, entries, rows):
            if stop.is_set():
                return
            if row:  # else another consumer took it over meanwhile
                await self._handle(deliver, consumer, entry_id, fields, attempt=int(row[0]["times_delivered"]))

    async def _handle(self, deliver: Deliver, consumer: str, entry_id: str, fields: Any, *, attempt: int) -> None:
        """Deliver one entry, or bury it, or leave it pending for a retry."""
        if not fields:  # deleted or trimmed away while pending: nothing left to deliver
            log.warning("outbox %s: entry %s vanished before delivery", self.stream, entry_id)
            await self.redis.xack(self.stream, GROUP, entry_id)
            return
        if not await self._touch(entry_id, consumer):
            return  # taken over by another consumer since we read it
        try:
            message = self._parse(entry_id, fields, attempt)
        except Exception as exc:  # noqa: BLE001 - anything in a stored entry may be wrong; none of it may stop the loop
            log.error("outbox %s: malformed entry %s dead-lettered: %s", self.stream, entry_id, exc)
            await self._bury(entry_id, fields, f"malformed: {exc}", attempt)
            return
        limit = self.settings.outbox_attempts
        if attempt > limit:  # read again and again without an outcome: a delivery that kills its process
            await self._bury(entry_id, fields, f"no outcome after {attempt - 1} attempts", attempt)
            return
        if await self.is_unreachable(message.user_id):
            await self._bury(entry_id, fields, "unreachable", attempt)
            return

        error: Exception | None = None
        delivered = asyncio.Event()
        keeper = asyncio.create_task(self._keep(entry_id, consumer, delivered))
        try:
            await deliver(message)
        except Exception as exc:  # noqa: BLE001 - the adapter's failure, whatever it is, is this message's failure
            error = exc
        finally:
            delivered.set()
            await keeper
        if error is None:
            await self._done(entry_id)
            metrics.OUTBOX_DELIVERED.labels(self.platform, "delivered").inc()
            return
        ref = user_ref(message.user_id, self.platform)
        logged = {"user": ref, "platform": self.platform, "kind": message.kind}
        if isinstance(error, Undeliverable):
            log.info("outbox %s: %s undeliverable to %s: %s", self.stream, entry_id, ref, error, extra=logged)
            await self._bury(entry_id, fields, f"undeliverable: {error}" if str(error) else "undeliverable", attempt)
        else:
            log.warning("outbox %s: delivery of %s to %s failed (attempt %d of %d): %r",
                        self.stream, entry_id, ref, attempt, limit, error, extra=logged)
            if attempt >= limit:
                await self._bury(entry_id, fields, f"failed: {error!r}", attempt)
            else:
                metrics.OUTBOX_DELIVERED.labels(self.platform, "retry").inc()
                await self._touch(entry_id, consumer)  # the retry delay counts from the failure

    def _parse(self, entry_id: str, fields: Mapping[Any, Any], attempt: int) -> OutboxMessage:
        values = _decoded(fields, errors="strict")
        missing = [name for name in _FIELDS if name not in values]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        if not values["user"]:
            raise ValueError("empty user")
        reply = Reply.from_dict(json.loads(values["reply"]))
        return OutboxMessage(id=entry_id, platform=self.platform, user_id=values["user"], chat_id=values["chat"],
                             kind=values["kind"], reply=reply, attempt=attempt)

    async def _touch(self, entry_id: str, consumer: str) -> bool:
        return bool(await self._touch_script(keys=[self.stream], args=[GROUP, consumer, entry_id]))

    async def _keep(self, entry_id: str, consumer: str, delivered: asyncio.Event) -> None:
        """Keep an entry in delivery from looking idle, so no other consumer takes it over.

        Ends when ``delivered`` is set.  Not cancelled instead: on Python 3.11 a cancellation
        that lands inside a redis-py call can be swallowed, and the keeper would run forever.
        """
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(delivered.wait(), timeout=self.settings.outbox_retry_ms / 3000)
                return
            try:
                await self._touch(entry_id, consumer)
            except (RedisError, OSError) as exc:
                log.warning("outbox %s: could not keep %s claimed: %s", self.stream, entry_id, exc)

    async def _done(self, entry_id: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xack(self.stream, GROUP, entry_id)
            pipe.xdel(self.stream, entry_id)
            await pipe.execute()

    async def _bury(self, entry_id: str, fields: Mapping[Any, Any], reason: str, attempts: int) -> None:
        """Move an entry to the dead letters with why, then finish it.

        Not one transaction (the two streams may live in different cluster slots): a crash in
        between leaves a second dead letter of the same message, never a lost one.
        """
        # Names as text, so the fields added below replace rather than duplicate any stored ones;
        # values stay as they were, undecodable bytes included, for whoever investigates.
        dead: dict[Any, Any] = {
            (name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)): value
            for name, value in fields.items()
        }
        dead.update({"reason": reason[:1000], "attempts": str(attempts), "id": entry_id})
        await self.redis.xadd(self.dead_stream, dead, maxlen=self.settings.outbox_maxlen, approximate=True)
        await self._done(entry_id)
        metrics.OUTBOX_DELIVERED.labels(self.platform, "dead").inc()


def platforms_key(settings: Settings) -> str:
    """The set of platforms that ever had an outbox message."""
    return f"{settings.key_prefix}:outbox:platforms"


async def outbox_stats(redis: Redis, settings: Settings) -> dict[str, tuple[int, float, int]]:
    """Per platform: messages not yet delivered, the time the oldest was queued (0: none) and
    dead letters.  Delivered messages are deleted from the stream, so what is left is the lag."""
    platforms = sorted(_text(p) for p in await redis.smembers(platforms_key(settings)))
    if not platforms:
        return {}
    async with redis.pipeline(transaction=False) as pipe:
        for platform in platforms:
            stream = f"{settings.key_prefix}:outbox:{platform}"
            pipe.xlen(stream)
            pipe.xrange(stream, count=1)
            pipe.xlen(f"{stream}:dead")
        answers = await pipe.execute()
    stats = {}
    for i, platform in enumerate(platforms):
        lag, first, dead = answers[3 * i: 3 * i + 3]
        oldest = int(_text(first[0][0]).split("-")[0]) / 1000 if first else 0.0
        stats[platform] = (int(lag), oldest, int(dead))
    return stats


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else value or ""


def _stream_entries(response: Any) -> list[Any]:
    """The entries of a one-stream XREADGROUP reply, in its RESP2 (list) or RESP3 (map) shape."""
    if not response:
        return []
    if isinstance(response, Mapping):  # redis-py's RESP3 map wraps the entry list in one more list
        entries = next(iter(response.values()))
        return list(entries[0] if entries and isinstance(entries[0], list) else entries)
    return list(response[0][1])


def _decoded(fields: Mapping[Any, Any], errors: str = "replace") -> dict[str, str]:
    """Stream fields as text, whether the client decodes responses or not."""
    out: dict[str, str] = {}
    for key, value in fields.items():
        name = key.decode("utf-8", errors) if isinstance(key, bytes) else str(key)
        out[name] = value.decode("utf-8", errors) if isinstance(value, bytes) else str(value)
    return out
