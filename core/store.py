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
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from core.logs import user_ref
from core.session import CorruptSession, Session
from core.settings import Settings

log = logging.getLogger(__name__)

# The start of a turn, in one round trip.  KEYS: queue, leases, session, seen, then any keys
# of this user the caller wants to read at the start (e.g. the open-ticket index).
# ARGV: token, lease ms, idle ms, '1' to join the queue (first call) else '0', message id.
# Returns {0} (wait: another turn of this user is running), {-1} (our token is gone: our
# lease ran out while we stalled; join again) or, at the head of the queue,
# {1, duplicate 0/1, session data, session rev, value of each extra key...}.
_BEGIN = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
if ARGV[4] == '1' then
  redis.call('RPUSH', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
elseif not redis.call('HGET', KEYS[2], ARGV[1]) then
  redis.call('LREM', KEYS[1], 0, ARGV[1])
  return {-1}
end
redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[2], ARGV[3])
while true do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then return {-1} end
  if head == ARGV[1] then
    local dup = 0
    if ARGV[5] ~= '' and redis.call('ZSCORE', KEYS[4], ARGV[5]) then dup = 1 end
    local s = redis.call('HMGET', KEYS[3], 'data', 'rev')
    local out = {1, dup, s[1], s[2]}
    for i = 5, #KEYS do out[#out + 1] = redis.call('GET', KEYS[i]) end
    return out
  end
  local d = redis.call('HGET', KEYS[2], head)
  if d and tonumber(d) >= now then return {0} end
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

# Writing the session at the end of a turn.  KEYS: session, seen, queue, leases.
# ARGV: expected rev, data, ttl s, message id ('' for none), now, dedup ttl s, token ('' for
# none), '1' to release the turn in the same step.  Returns the new rev, or -1 when the
# session changed since it was read (nothing is written and the turn is kept).  The token is
# kept in the session hash, so the same commit sent twice (the cluster client retries a
# command whose reply was lost) is answered as the success it was, not as a conflict.
_COMMIT = """
local rev = tonumber(redis.call('HGET', KEYS[1], 'rev') or '0')
if rev ~= tonumber(ARGV[1]) then
  if ARGV[7] == '' or redis.call('HGET', KEYS[1], 'turn') ~= ARGV[7] then return -1 end
  rev = rev - 1  -- this turn's own write, sent again (a client retry after a lost reply)
else
  redis.call('HSET', KEYS[1], 'data', ARGV[2], 'rev', rev + 1)
  if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'turn', ARGV[7]) end
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[5]) - tonumber(ARGV[6]))
  redis.call('EXPIRE', KEYS[2], ARGV[6])
end
if ARGV[8] == '1' then
  redis.call('LREM', KEYS[3], 0, ARGV[7])
  redis.call('HDEL', KEYS[4], ARGV[7])
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


@dataclass
class Held:
    """A turn being held: what its first round trip read, and whether it still holds the queue."""

    user: str
    token: str
    duplicate: bool = False  # the message id was handled before
    loaded: Loaded | None = None  # the session as the turn started
    peeked: dict[str, str] = field(default_factory=dict)  # the extra keys asked for -> value ('' absent)
    released: bool = False


class SessionStore:
    """Reads and writes one user's state.  Raises redis errors; never swallows them.

    A turn costs two round trips when nothing else of the user is running: ``turn`` joins
    the user's queue, checks the message id and reads the session in one script, and
    ``commit`` writes the session, records the message id, releases the queue and appends
    the events in one pipeline.
    """

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self._begin = redis.register_script(_BEGIN)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._commit = redis.register_script(_COMMIT)
        # Arrival order inside this process: the enqueue of the first caller must reach
        # Redis before the second's, which the connection pool alone does not promise.
        self._arrivals: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # Turns held by this process (token -> queue keys) and the one task that keeps their
        # leases fresh while there are any.  One task for all, never cancelled: a task per turn
        # cost CPU, and on Python 3.11 a cancel that lands as a redis-py call finishes inside
        # its ``wait_for`` is lost, which left a turn waiting for its keeper forever.
        self._held: dict[str, list[str]] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._lease = settings.turn_lease_ms
        self._idle = str(max(settings.turn_lease_ms * 4, 60_000))

    def key(self, user: str, name: str) -> str:
        return f"{self.settings.key_prefix}:{{{user}}}:{name}"

    @property
    def events_key(self) -> str:
        return f"{self.settings.key_prefix}:events"

    @asynccontextmanager
    async def turn(self, user: str, *, message_id: str = "", lang: str = "en",
                   peek: tuple[str, ...] = ()) -> AsyncIterator[Held]:
        """Hold ``user``'s turn: one at a time per user, in arrival order, across processes.

        The ``Held`` it yields carries the session (a fresh one in ``lang`` when there is
        none), whether ``message_id`` was handled before, and the values of the ``peek``
        keys (keys of this user, read in the same step).
        """
        held = Held(user, uuid.uuid4().hex)
        queue = [self.key(user, "queue"), self.key(user, "leases")]
        keys = [*queue, self.key(user, "session"), self.key(user, "seen"), *peek]
        lease, idle = self._lease, self._idle
        lock = self._arrivals.get(user)
        if lock is None:
            lock = self._arrivals[user] = asyncio.Lock()
        self._hold(held.token, queue)
        try:
            async with lock:
                state = await self._begin(keys=keys, args=[held.token, lease, idle, "1", message_id])
            delay = 0.002
            while state[0] != 1:
                if state[0] == -1:
                    log.warning("turn of %s lost its place (stalled past its lease); queueing again", user_ref(user),
                                extra={"user": user_ref(user)})
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 0.05)
                rejoin = "1" if state[0] == -1 else "0"
                state = await self._begin(keys=keys, args=[held.token, lease, idle, rejoin, message_id])
            held.duplicate = bool(state[1])
            held.loaded = self._parse(user, state[2], state[3], lang)
            held.peeked = {k: _text(v) for k, v in zip(peek, state[4:])}
            yield held
        finally:
            self._held.pop(held.token, None)
            if not held.released:
                try:
                    await asyncio.shield(self._release(keys=queue, args=[held.token]))
                except Exception:  # Redis gone: the lease runs out and the next turn skips us
                    log.warning("could not release turn of %s; its lease will expire", user_ref(user))

    def _hold(self, token: str, queue: list[str]) -> None:
        self._held[token] = queue
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_held())

    async def _renew_held(self) -> None:
        """Every third of a lease, renew the lease of every turn this process holds; ends
        when it holds none (the next turn starts it again)."""
        while self._held:
            await asyncio.sleep(self._lease / 3000)
            for token, queue in list(self._held.items()):
                try:
                    await self._renew(keys=queue, args=[token, self._lease, self._idle])
                except Exception:  # Redis away: the turn's own calls fail and say so
                    log.warning("lease renewal failed", exc_info=True)
                    break

    async def is_duplicate(self, user: str, message_id: str) -> bool:
        if not message_id:
            return False
        return await self.redis.zscore(self.key(user, "seen"), message_id) is not None

    async def load(self, user: str, *, lang: str) -> Loaded:
        raw = await self.redis.hmget(self.key(user, "session"), ["data", "rev"])
        return self._parse(user, raw[0], raw[1], lang)

    def _parse(self, user: str, data: bytes | str | None, rev: bytes | str | None, lang: str) -> Loaded:
        if data is None:
            return Loaded(Session(user=user, lang=lang), int(rev or 0), "new")
        try:
            session = Session.from_dict(json.loads(data))
            if session.user != user:
                raise CorruptSession("session of another user")
            return Loaded(session, int(rev or 0), "ok")
        except (ValueError, UnicodeDecodeError) as exc:
            log.error("corrupt session for %s replaced with a fresh one: %s", user_ref(user), exc,
                      extra={"user": user_ref(user)})
            return Loaded(Session(user=user, lang=lang), int(rev or 0), "corrupt")

    async def save(self, user: str, session: Session, *, rev: int, message_id: str = "") -> int:
        """Write ``session`` if nobody wrote since ``rev``; record ``message_id`` as handled."""
        return await self.commit(user, session, rev=rev, message_id=message_id)

    async def commit(self, user: str, session: Session, *, rev: int, message_id: str = "",
                     events: list[dict[str, Any]] = (), held: Held | None = None,  # type: ignore[assignment]
                     release: bool = False) -> int:
        """Write ``session`` if nobody wrote since ``rev``, record ``message_id``, append
        ``events``, and with ``release`` let the user's next turn start: one round trip.

        Raises ``ConflictError`` (nothing written, the turn still held) when the session
        changed since ``rev``.  The events are sent in the same pipeline, so in that rare
        case (a turn that stalled past its lease) they are appended again by the redo.
        """
        session.updated_at = time.time()
        data = json.dumps(session.to_dict(), ensure_ascii=False, separators=(",", ":"))
        release = release and held is not None
        keys = [self.key(user, "session"), self.key(user, "seen"), self.key(user, "queue"), self.key(user, "leases")]
        args: list[str | int | float] = [
            rev, data, self.settings.session_ttl, message_id, time.time(), self.settings.dedup_ttl,
            held.token if held else "", "1" if release else "0"]
        async with self.redis.pipeline(transaction=False) as pipe:
            # EVALSHA straight into the pipeline: a registered script would cost an extra
            # SCRIPT EXISTS round trip on every execute.  A server that lost its scripts
            # (restarted) answers NOSCRIPT, handled below.
            # (As a raw command: redis-py's cluster pipeline refuses its ``evalsha`` method.)
            pipe.execute_command("EVALSHA", self._commit.sha, len(keys), *keys, *args)
            for event in events:
                pipe.xadd(self.events_key, self._event_fields(user, event),
                          maxlen=self.settings.events_maxlen, approximate=True)
            results = await pipe.execute(raise_on_error=False)
        new_rev = results[0]
        if isinstance(new_rev, NoScriptError):
            new_rev = await self._commit(keys=keys, args=args)
        elif isinstance(new_rev, Exception):
            raise new_rev
        for result in results[1:]:
            if isinstance(result, Exception):
                raise result
        if new_rev == -1:
            raise ConflictError(user_ref(user))
        if release:
            held.released = True  # type: ignore[union-attr]
        return int(new_rev)

    async def append_events(self, user: str, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.xadd(self.events_key, self._event_fields(user, event),
                          maxlen=self.settings.events_maxlen, approximate=True)
            await pipe.execute()

    @staticmethod
    def _event_fields(user: str, event: dict[str, Any]) -> dict[Any, Any]:
        return {"type": event["type"], "user": user, "ts": f"{time.time():.3f}",
                "data": json.dumps(event.get("data", {}), ensure_ascii=False)}

    async def forget(self, user: str) -> int:
        """Delete everything stored about ``user``: their keys and their events.  Returns events removed."""
        await self.redis.delete(self.key(user, "session"), self.key(user, "seen"), self.key(user, "unreachable"),
                                self.key(user, "push"))  # the HTTP channel's undelivered pushes
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
