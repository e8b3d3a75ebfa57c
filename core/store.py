"""Per-user state in Redis: sessions, turn ordering, duplicate detection, events, forgetting.

Keys of one user share the hash tag ``{platform:user}`` so Redis Cluster keeps them in one
slot, and every multi-key script below touches only those keys:

    <prefix>:{<user>}:session   hash  {data: session JSON, rev: write counter}; idle expiry
    <prefix>:{<user>}:queue     list  tokens of turns waiting for this user, head = running
    <prefix>:{<user>}:leases    hash  token -> lease deadline (ms, Redis clock)
    <prefix>:{<user>}:seen      zset  platform message ids already handled -> when
    <prefix>:events             stream of events of all users (evaluation and training)

Turn ordering is a fair FIFO queue per user: a turn appends a token and runs when its token
reaches the head.  Every waiting or running turn keeps a lease fresh; a token whose lease
ran out (its process died) is skipped by whoever looks next, so a crash never wedges a user.
Session writes are compare-and-set on ``rev`` as a second guard against a turn that lost
its lease while stalled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
import weakref
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, AsyncIterator

from redis.asyncio import Redis

from core.session import CorruptSession, Session
from core.settings import Settings

log = logging.getLogger(__name__)

_ENQUEUE = """
redis.call('RPUSH', KEYS[1], ARGV[1])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
"""

# 1: our turn.  0: wait.  -1: our token is gone (our lease ran out while we stalled).
_AT_HEAD = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local deadline = redis.call('HGET', KEYS[2], ARGV[1])
if not deadline then
  redis.call('LREM', KEYS[1], 0, ARGV[1])
  return -1
end
redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[2]))
while true do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then return -1 end
  if head == ARGV[1] then return 1 end
  local d = redis.call('HGET', KEYS[2], head)
  if d and tonumber(d) >= now then return 0 end
  redis.call('LPOP', KEYS[1])
  redis.call('HDEL', KEYS[2], head)
end
"""

_RENEW = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
"""

_RELEASE = """
redis.call('LREM', KEYS[1], 0, ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""

# KEYS: session, seen.  ARGV: expected rev, data, ttl s, message id ('' for none), now, dedup ttl s
_COMMIT = """
local rev = tonumber(redis.call('HGET', KEYS[1], 'rev') or '0')
if rev ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'rev', rev + 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[5]) - tonumber(ARGV[6]))
  redis.call('EXPIRE', KEYS[2], ARGV[6])
end
return rev + 1
"""


class ConflictError(RuntimeError):
    """The session changed under a turn (it lost its lease); the turn must be redone."""


@dataclass
class Loaded:
    session: Session
    rev: int
    status: str  # "new", "ok" or "corrupt" (the stored data was replaced by a fresh session)


class SessionStore:
    """Reads and writes one user's state.  Raises redis errors; never swallows them."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self._enqueue = redis.register_script(_ENQUEUE)
        self._at_head = redis.register_script(_AT_HEAD)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._commit = redis.register_script(_COMMIT)
        # Arrival order inside this process: the enqueue of the first caller must reach
        # Redis before the second's, which the connection pool alone does not promise.
        self._arrivals: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def key(self, user: str, name: str) -> str:
        return f"{self.settings.key_prefix}:{{{user}}}:{name}"

    @property
    def events_key(self) -> str:
        return f"{self.settings.key_prefix}:events"

    @asynccontextmanager
    async def turn(self, user: str) -> AsyncIterator[None]:
        """Hold ``user``'s turn: one at a time per user, in arrival order, across processes."""
        token = uuid.uuid4().hex
        keys = [self.key(user, "queue"), self.key(user, "leases")]
        lease = self.settings.turn_lease_ms
        idle = str(max(lease * 4, 60_000))
        lock = self._arrivals.get(user)
        if lock is None:
            lock = self._arrivals[user] = asyncio.Lock()
        async with lock:
            await self._enqueue(keys=keys, args=[token, lease, idle])
        keeper = asyncio.create_task(self._keep_lease(keys, token, lease, idle))
        try:
            delay = 0.002
            while True:
                state = await self._at_head(keys=keys, args=[token, lease])
                if state == 1:
                    break
                if state == -1:
                    log.warning("turn of %s lost its place (stalled past its lease); queueing again", user)
                    await self._enqueue(keys=keys, args=[token, lease, idle])
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 0.05)
            yield
        finally:
            keeper.cancel()
            with suppress(asyncio.CancelledError):
                await keeper
            try:
                await asyncio.shield(self._release(keys=keys, args=[token]))
            except Exception:  # Redis gone: the lease runs out and the next turn skips us
                log.warning("could not release turn of %s; its lease will expire", user)

    async def _keep_lease(self, keys: list[str], token: str, lease: int, idle: str) -> None:
        while True:
            await asyncio.sleep(lease / 3000)
            try:
                await self._renew(keys=keys, args=[token, lease, idle])
            except Exception:
                log.warning("lease renewal failed", exc_info=True)

    async def is_duplicate(self, user: str, message_id: str) -> bool:
        if not message_id:
            return False
        return await self.redis.zscore(self.key(user, "seen"), message_id) is not None

    async def load(self, user: str, *, lang: str) -> Loaded:
        raw = await self.redis.hgetall(self.key(user, "session"))
        if not raw:
            return Loaded(Session(user=user, lang=lang), 0, "new")
        rev = int(raw.get(b"rev", b"0"))
        try:
            session = Session.from_dict(json.loads(raw[b"data"]))
            if session.user != user:
                raise CorruptSession("session of another user")
            return Loaded(session, rev, "ok")
        except (KeyError, ValueError, UnicodeDecodeError) as exc:
            log.error("corrupt session for %s replaced with a fresh one: %s", user, exc)
            return Loaded(Session(user=user, lang=lang), rev, "corrupt")

    async def save(self, user: str, session: Session, *, rev: int, message_id: str = "") -> int:
        """Write ``session`` if nobody wrote since ``rev``; record ``message_id`` as handled."""
        session.updated_at = time.time()
        data = json.dumps(session.to_dict(), ensure_ascii=False, separators=(",", ":"))
        new_rev = await self._commit(
            keys=[self.key(user, "session"), self.key(user, "seen")],
            args=[rev, data, self.settings.session_ttl, message_id, time.time(), self.settings.dedup_ttl],
        )
        if new_rev == -1:
            raise ConflictError(user)
        return int(new_rev)

    async def append_events(self, user: str, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in events:
                fields: dict[Any, Any] = {"type": event["type"], "user": user, "ts": f"{time.time():.3f}",
                          "data": json.dumps(event.get("data", {}), ensure_ascii=False)}
                pipe.xadd(self.events_key, fields, maxlen=self.settings.events_maxlen, approximate=True)
            await pipe.execute()

    async def forget(self, user: str) -> int:
        """Delete everything stored about ``user``: their keys and their events.  Returns events removed."""
        await self.redis.delete(self.key(user, "session"), self.key(user, "seen"), self.key(user, "unreachable"))
        removed = 0
        start = "-"
        while True:
            batch = await self.redis.xrange(self.events_key, min=start, count=1000)
            if not batch:
                break
            ids = [_text(entry_id) for entry_id, fields in batch if fields and _text(fields.get(b"user")) == user]
            if ids:
                removed += await self.redis.xdel(self.events_key, *ids)
            if len(batch) < 1000:
                break
            start = "(" + _text(batch[-1][0])
        return removed


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else value or ""
