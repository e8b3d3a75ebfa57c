"""Handoff tickets in Redis (the ticket itself and its lifecycle: ``core.ticket``).

Keys (the record of one ticket shares the hash tag of its id; the customer's keys share the
customer's tag, as in ``core.store``)::

    <prefix>:ticket:{<id>}               hash   state, data (ticket JSON), customer_messages
    <prefix>:ticket:{<id>}:messages      list   messages while open (JSON), customer and agent
    <prefix>:{<platform:user>}:ticket    string id of the customer's open ticket
    <prefix>:{<platform:user>}:tickets   zset   every ticket id of the customer -> created (for forget)
    <prefix>:{<platform:user>}:rating    string id of a resolved ticket awaiting the customer's rating
    <prefix>:tickets:pending:<queue>     zset   pending ids; score = (9 - priority) * 1e13 + created ms
    <prefix>:tickets:queues              set    queue names that ever had a ticket
    <prefix>:tickets:open                zset   open ids -> SLA deadline (for the console and SLA job)
    <prefix>:tickets:events              stream created / changed / message / rated, for live consoles

The ticket record is the truth and each change of it is atomic (WATCH/MULTI on its own key,
so two agents cannot both claim it; Lua for appends).  The queue, open-ticket and customer
indexes live in other cluster slots, so they are updated right after and repaired by readers:
``queue`` drops ids that are no longer pending, ``open_ticket_of`` ignores and clears an index
that names a closed ticket, and every append re-queues a pending ticket.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from core import metrics
from core.logs import user_ref
from core.settings import Settings
from core.ticket import (
    ABANDONED,
    ASSIGNED,
    CANCELLED_NOTE,
    MAX_PRIORITY,
    OPEN_STATES,
    PENDING,
    RESOLVED,
    STATES,
    Ticket,
    TicketError,
    TicketMessage,
    TicketNotFound,
    TicketStateError,
    Transition,
    move,
)

__all__ = [  # the ticket model is re-exported: callers import everything about tickets from here
    "ABANDONED", "ASSIGNED", "CANCELLED_NOTE", "MAX_PRIORITY", "OPEN_STATES", "PENDING", "RESOLVED", "STATES",
    "Ticket", "TicketError", "TicketMessage", "TicketNotFound", "TicketStateError", "TicketStore", "Transition",
]

log = logging.getLogger(__name__)


class _Unchanged(Exception):
    """Raised inside a change function: the ticket is already as wanted, write nothing."""

MAX_MESSAGES = 1000  # kept per ticket; older ones drop off
MAX_TEXT = 4000
_PRIORITY_STEP = 1e13  # above any epoch millisecond until the year 2286
_WATCH_RETRIES = 50

# KEYS: ticket hash, messages list.  ARGV: message JSON, cap, 1 if from the customer.
# Returns the number of messages, 0 for a closed ticket, -1 for a missing one.
_APPEND = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return -1 end
if state ~= 'pending' and state ~= 'assigned' then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[1], 'customer_messages', 1) end
return redis.call('LLEN', KEYS[2])
"""

# Compare-and-set of a one-key index.  ARGV: expected ('' for none), new value ('' to delete).
_SWAP = """
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1
"""


class TicketStore:
    """Tickets in Redis.  Raises Redis errors, ``TicketNotFound`` and ``TicketStateError``.

    ``clock`` is injectable so tests can order tickets by age without sleeping.
    """

    def __init__(self, redis: Redis, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.settings = settings
        self.clock = clock
        self._append = redis.register_script(_APPEND)
        self._swap = redis.register_script(_SWAP)

    # -- keys --------------------------------------------------------------------------------

    def ticket_key(self, ticket_id: str) -> str:
        return f"{self.settings.key_prefix}:ticket:{{{ticket_id}}}"

    def messages_key(self, ticket_id: str) -> str:
        return self.ticket_key(ticket_id) + ":messages"

    def customer_key(self, platform: str, user_id: str, name: str) -> str:
        return f"{self.settings.key_prefix}:{{{platform}:{user_id}}}:{name}"

    def pending_key(self, queue: str) -> str:
        return f"{self.settings.key_prefix}:tickets:pending:{queue}"

    @property
    def queues_key(self) -> str:
        return f"{self.settings.key_prefix}:tickets:queues"

    @property
    def open_key(self) -> str:
        return f"{self.settings.key_prefix}:tickets:open"

    @property
    def events_key(self) -> str:
        return f"{self.settings.key_prefix}:tickets:events"

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex[:12]

    # -- opening and reading -----------------------------------------------------------------

    async def open(
        self,
        *,
        platform: str,
        user_id: str,
        reason: str,
        chat_id: str = "",
        lang: str = "en",
        queue: str = "shopping",
        priority: int = 0,
        sla_deadline: float | None = None,
        tags: tuple[str, ...] | list[str] = (),
        transcript: list[dict[str, Any]] | None = None,
        summary: dict[str, Any] | None = None,
        actor: str = "customer",
        ticket_id: str | None = None,
    ) -> tuple[Ticket, bool]:
        """Open a ticket for the customer, or return the one already open: ``(ticket, created)``.

        One open ticket per customer holds across processes: the record is written first,
        then the customer's index is compare-and-set; the loser deletes its record.
        """
        now = self.clock()
        ticket = Ticket(
            id=ticket_id or self.new_id(), state=PENDING, reason=reason, queue=queue, platform=platform,
            user_id=user_id, chat_id=chat_id, lang=lang, priority=max(0, min(MAX_PRIORITY, priority)),
            created_at=now, updated_at=now,
            sla_deadline=sla_deadline if sla_deadline is not None else now + self.settings.handoff_sla,
            tags=list(dict.fromkeys(tags)), transcript=list(transcript or []), summary=dict(summary or {}),
            history=[Transition(None, PENDING, actor, now, reason)],
        )
        index = self.customer_key(platform, user_id, "ticket")
        written = False
        for _ in range(_WATCH_RETRIES):
            current = _text(await self.redis.get(index))
            if current:
                existing = await self.find(current)
                if existing is not None and existing.is_open:
                    if written:
                        await self.redis.delete(self.ticket_key(ticket.id))
                    return existing, False
            if not written:
                await self.redis.hset(self.ticket_key(ticket.id), mapping={"state": PENDING, "data": ticket.to_json()})
                written = True
            if await self._swap(keys=[index], args=[current, ticket.id]):
                break
        else:
            raise RuntimeError(f"the open ticket of {user_ref(user_id, platform)} kept changing")
        async with self.redis.pipeline(transaction=False) as pipe:
            mine = self.customer_key(platform, user_id, "tickets")
            pipe.zadd(mine, {ticket.id: now})
            pipe.expire(mine, self.settings.ticket_ttl)
            pipe.sadd(self.queues_key, queue)
            self._index(pipe, ticket)
            self._publish(pipe, "created", ticket, actor)
            await pipe.execute()
        return ticket, True

    async def find(self, ticket_id: str, *, messages: bool = True) -> Ticket | None:
        """The ticket, or None.  ``messages=False`` skips the message list (counts stay)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(self.ticket_key(ticket_id))
            if messages:
                pipe.lrange(self.messages_key(ticket_id), 0, -1)
            results = await pipe.execute()
        return self._decode(results[0], results[1] if messages else [])

    async def get(self, ticket_id: str, *, messages: bool = True) -> Ticket:
        ticket = await self.find(ticket_id, messages=messages)
        if ticket is None:
            raise TicketNotFound(ticket_id)
        return ticket

    async def open_ticket_id(self, platform: str, user_id: str) -> str:
        """What the customer's open-ticket index holds ('' for none); it may name a closed ticket."""
        return _text(await self.redis.get(self.customer_key(platform, user_id, "ticket")))

    async def open_ticket_of(self, platform: str, user_id: str, *, messages: bool = False,
                             known: str | None = None) -> Ticket | None:
        """The customer's pending or assigned ticket.  ``known``: the index's value, when
        the caller has read it already (the dialogue reads it with the session)."""
        index = self.customer_key(platform, user_id, "ticket")
        current = known if known is not None else await self.open_ticket_id(platform, user_id)
        if not current:
            return None
        ticket = await self.find(current, messages=messages)
        if ticket is not None and ticket.is_open:
            return ticket
        await self._swap(keys=[index], args=[current, ""])  # a close whose index update was lost
        return None

    async def awaiting_rating(self, platform: str, user_id: str) -> str | None:
        """The id of the customer's resolved ticket that still waits for a rating."""
        return _text(await self.redis.get(self.customer_key(platform, user_id, "rating"))) or None

    async def queue(self, limit: int = 50, *, queue: str | None = None) -> list[Ticket]:
        """Pending tickets, highest priority first, then oldest; of one queue or of all."""
        names = [queue] if queue else sorted(_text(q) for q in await self.redis.smembers(self.queues_key))
        ranked: list[tuple[float, str, str]] = []
        for name in names:
            entries: Any = await self.redis.zrange(self.pending_key(name), 0, limit * 2 + 10, withscores=True)
            ranked.extend((score, _text(member), name) for member, score in entries)
        ranked.sort()
        tickets = await self._load([ticket_id for _, ticket_id, _ in ranked])
        found = []
        for (_, ticket_id, name), ticket in zip(ranked, tickets):
            if ticket is None or ticket.state != PENDING or ticket.queue != name:
                await self.redis.zrem(self.pending_key(name), ticket_id)  # an index update that was lost
                continue
            found.append(ticket)
        return found[:limit]

    async def queue_stats(self) -> dict[str, tuple[int, float]]:
        """Per queue: pending tickets, and when the longest-waiting one was created (0: none).

        The pending index is ordered by priority first, so the oldest ticket is the first of
        one of the priority bands: one look per band, in one pipeline.
        """
        names = sorted(_text(q) for q in await self.redis.smembers(self.queues_key))
        if not names:
            return {}
        bands = range(MAX_PRIORITY + 1)
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.zcard(self.pending_key(name))
                for band in bands:
                    low = band * _PRIORITY_STEP
                    pipe.zrangebyscore(self.pending_key(name), low, f"({low + _PRIORITY_STEP}", start=0, num=1,
                                       withscores=True)
            answers = await pipe.execute()
        stats = {}
        step = len(bands) + 1
        for i, name in enumerate(names):
            depth, firsts = answers[i * step], answers[i * step + 1: (i + 1) * step]
            created = [(score % _PRIORITY_STEP) / 1000 for first in firsts for _, score in first]
            stats[name] = (int(depth), min(created) if created else 0.0)
        return stats

    async def open_tickets(self, limit: int = 100) -> list[Ticket]:
        """Pending and assigned tickets, the nearest SLA deadline first."""
        ids = [_text(m) for m in await self.redis.zrange(self.open_key, 0, limit - 1)]
        tickets = await self._load(ids)
        stale = [ticket_id for ticket_id, t in zip(ids, tickets) if t is None or not t.is_open]
        if stale:
            await self.redis.zrem(self.open_key, *stale)
        return [t for t in tickets if t is not None and t.is_open]

    async def overdue(self, now: float | None = None, limit: int = 100) -> list[Ticket]:
        """Open tickets past their SLA deadline (for the SLA job); ``now`` defaults to the clock."""
        moment = self.clock() if now is None else now
        ids = [_text(m) for m in await self.redis.zrangebyscore(self.open_key, "-inf", moment, start=0, num=limit)]
        return [t for t in await self._load(ids) if t is not None and t.is_open and t.sla_deadline <= moment]

    # -- changes -----------------------------------------------------------------------------

    async def assign(self, ticket_id: str, agent: str, *, expected_state: str | None = PENDING,
                     actor: str | None = None, note: str = "") -> Ticket:
        """Give the ticket to ``agent``.  With ``expected_state`` (a claim from the queue), the
        ticket must still be in it: of two agents claiming at once, one gets it and the other
        a ``TicketStateError``."""
        def change(ticket: Ticket) -> None:
            if expected_state is not None and ticket.state != expected_state:
                raise TicketStateError(ticket.id, ticket.state, f"assign to {agent}",
                                       f"expected {expected_state}" + (f", taken by {ticket.assignee}"
                                                                       if ticket.assignee else ""))
            waited = ticket.state == PENDING and not any(step.to_state == ASSIGNED for step in ticket.history)
            ticket.assignee = agent
            move(ticket, ASSIGNED, actor or agent, note, self.clock())
            if waited:  # the first claim: how long the customer waited for a person
                claims.append(self.clock() - ticket.created_at)

        claims: list[float] = []
        assigned = await self._change(ticket_id, change, actor or agent)
        if claims:
            metrics.HANDOFF_WAIT.observe(max(0.0, claims[-1]))
        return assigned

    async def transfer(self, ticket_id: str, *, actor: str, to_agent: str | None = None,
                       to_queue: str | None = None, note: str = "") -> Ticket:
        """Hand an open ticket to another agent (it stays assigned), or back to a queue (pending,
        unassigned; the queue may change).  The SLA deadline is kept: the customer is still waiting."""
        if not to_agent and not to_queue:
            raise ValueError("transfer needs to_agent or to_queue")

        old_queue: list[str] = []

        def change(ticket: Ticket) -> None:
            if not ticket.is_open:
                raise TicketStateError(ticket.id, ticket.state, "transfer")
            old_queue[:] = [ticket.queue]
            if to_queue:
                ticket.queue = to_queue
            ticket.assignee = to_agent
            move(ticket, ASSIGNED if to_agent else PENDING, actor, note or _transfer_note(to_agent, to_queue),
                  self.clock())

        ticket = await self._change(ticket_id, change, actor)
        if to_queue:
            await self.redis.sadd(self.queues_key, to_queue)
            if old_queue and old_queue[0] != to_queue:
                await self.redis.zrem(self.pending_key(old_queue[0]), ticket.id)
        return ticket

    async def escalate(self, ticket_id: str, *, actor: str, tag: str, now: float | None = None) -> Ticket | None:
        """Raise a pending ticket's priority by one and tag it ``tag``, once: None when it is no
        longer pending or already carries the tag.  The queue re-scores it; the change is
        recorded and published like any other."""
        at = self.clock() if now is None else now

        def change(ticket: Ticket) -> None:
            if ticket.state != PENDING or tag in ticket.tags:
                raise _Unchanged
            ticket.priority = min(MAX_PRIORITY, ticket.priority + 1)
            ticket.tags.append(tag)
            ticket.history.append(Transition(PENDING, PENDING, actor, at, f"priority raised to {ticket.priority}"))
            ticket.updated_at = at

        try:
            return await self._change(ticket_id, change, actor)
        except _Unchanged:
            return None

    async def resolve(self, ticket_id: str, *, actor: str, note: str = "", ask_rating: bool = False) -> Ticket:
        """Close the ticket as settled.  ``ask_rating``: the customer may rate it for
        ``handoff_rating_ttl`` seconds (an agent served them)."""
        def change(ticket: Ticket) -> None:
            move(ticket, RESOLVED, actor, note, self.clock())

        ticket = await self._change(ticket_id, change, actor)
        if ask_rating:
            await self.redis.set(self.customer_key(ticket.platform, ticket.user_id, "rating"), ticket.id,
                                 ex=self.settings.handoff_rating_ttl)
        return ticket

    async def cancel(self, ticket_id: str, *, actor: str = "customer") -> Ticket:
        """The customer went back to the bot: resolved, noted "cancelled by customer", no rating."""
        return await self.resolve(ticket_id, actor=actor, note=CANCELLED_NOTE)

    async def abandon(self, ticket_id: str, *, actor: str = "system", note: str = "") -> Ticket:
        """Close a ticket nobody saw through (the customer left, the SLA job gave up)."""
        def change(ticket: Ticket) -> None:
            move(ticket, ABANDONED, actor, note, self.clock())

        return await self._change(ticket_id, change, actor)

    async def set_rating(self, ticket_id: str, rating: int, *, actor: str = "customer") -> Ticket:
        """Record the customer's 1-5 rating of a resolved ticket; ends the wait for one."""
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise ValueError(f"a rating is a whole number from 1 to 5, got {rating!r}")

        def change(ticket: Ticket) -> None:
            if ticket.state != RESOLVED:
                raise TicketStateError(ticket.id, ticket.state, "rate", "only resolved tickets are rated")
            ticket.rating, ticket.rated_at = rating, self.clock()

        ticket = await self._change(ticket_id, change, actor, event="rated", rating=str(rating))
        await self._swap(keys=[self.customer_key(ticket.platform, ticket.user_id, "rating")], args=[ticket.id, ""])
        return ticket

    async def append_message(self, ticket_id: str, sender: str, text: str, *, actor: str = "") -> TicketMessage:
        """Add a message to an open ticket and publish it for live consoles.

        Raises ``TicketStateError`` once the ticket is closed, ``TicketNotFound`` if it is gone.
        """
        if sender not in ("customer", "agent"):
            raise ValueError(f"sender must be customer or agent, got {sender!r}")
        message = TicketMessage(sender, text[:MAX_TEXT], self.clock(), actor)
        count = await self._append(
            keys=[self.ticket_key(ticket_id), self.messages_key(ticket_id)],
            args=[json.dumps(message.to_dict(), ensure_ascii=False), MAX_MESSAGES, "1" if sender == "customer" else "0"],
        )
        if count == -1:
            raise TicketNotFound(ticket_id)
        ticket = await self.get(ticket_id, messages=False)
        if count == 0:
            raise TicketStateError(ticket_id, ticket.state, f"add a {sender} message")
        async with self.redis.pipeline(transaction=False) as pipe:
            self._index(pipe, ticket)  # re-queues a pending ticket whose indexing was lost
            self._publish(pipe, "message", ticket, actor or sender, sender=sender, text=message.text)
            await pipe.execute()
        return message

    async def forget_customer(self, platform: str, user_id: str) -> int:
        """Delete every ticket of the customer, their indexes and their ticket events; returns tickets removed."""
        mine = self.customer_key(platform, user_id, "tickets")
        ids = [_text(m) for m in await self.redis.zrange(mine, 0, -1)]
        current = _text(await self.redis.get(self.customer_key(platform, user_id, "ticket")))
        if current and current not in ids:
            ids.append(current)
        tickets = await self._load(ids)
        async with self.redis.pipeline(transaction=False) as pipe:
            for ticket_id, ticket in zip(ids, tickets):
                if ticket is not None:
                    pipe.zrem(self.pending_key(ticket.queue), ticket_id)
                pipe.zrem(self.open_key, ticket_id)
                pipe.delete(self.ticket_key(ticket_id), self.messages_key(ticket_id))
            pipe.delete(mine, self.customer_key(platform, user_id, "ticket"),
                        self.customer_key(platform, user_id, "rating"))
            await pipe.execute()
        customer = f"{platform}:{user_id}"
        start = "-"
        while True:
            batch: Any = await self.redis.xrange(self.events_key, min=start, count=1000)
            if not batch:
                break
            doomed = [_text(i) for i, fields in batch if _text(fields.get(b"user")) == customer]
            if doomed:
                await self.redis.xdel(self.events_key, *doomed)
            if len(batch) < 1000:
                break
            start = "(" + _text(batch[-1][0])
        return sum(t is not None for t in tickets)

    async def events(self, last_id: str = "$", *, block_ms: int | None = None,
                     count: int = 100) -> list[tuple[str, dict[str, str]]]:
        """Ticket events after ``last_id`` ("$": only new ones), for a live console to follow."""
        response: Any = await self.redis.xread({self.events_key: last_id}, count=count, block=block_ms)
        return [(_text(i), {_text(k): _text(v) for k, v in fields.items()}) for i, fields in _entries(response)]

    # -- internals ---------------------------------------------------------------------------

    async def _change(self, ticket_id: str, change: Callable[[Ticket], None], actor: str, *,
                      event: str = "changed", **extra: str) -> Ticket:
        """Apply ``change`` to the stored ticket atomically (retried when another writer got there
        first), then update the indexes and publish the event."""
        key = self.ticket_key(ticket_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            for _ in range(_WATCH_RETRIES):
                try:
                    await pipe.watch(key)
                    raw = await pipe.hget(key, "data")
                    if raw is None:
                        raise TicketNotFound(ticket_id)
                    ticket = Ticket.from_json(raw)
                    change(ticket)
                    pipe.multi()
                    pipe.hset(key, mapping={"state": ticket.state, "data": ticket.to_json()})
                    if not ticket.is_open:
                        pipe.expire(key, self.settings.ticket_ttl)
                        pipe.expire(self.messages_key(ticket_id), self.settings.ticket_ttl)
                    await pipe.execute()
                    break
                except WatchError:
                    continue
            else:
                raise RuntimeError(f"ticket {ticket_id} kept changing")
        async with self.redis.pipeline(transaction=False) as index:
            self._index(index, ticket)
            self._publish(index, event, ticket, actor, **extra)
            await index.execute()
        if not ticket.is_open:
            await self._swap(keys=[self.customer_key(ticket.platform, ticket.user_id, "ticket")], args=[ticket.id, ""])
        return ticket

    def _index(self, pipe: Any, ticket: Ticket) -> None:
        """Queue a pending ticket, keep every open one in the SLA index, drop closed ones."""
        if ticket.state == PENDING:
            score = (MAX_PRIORITY - ticket.priority) * _PRIORITY_STEP + round(ticket.created_at * 1000)
            pipe.zadd(self.pending_key(ticket.queue), {ticket.id: score})
        else:
            pipe.zrem(self.pending_key(ticket.queue), ticket.id)
        if ticket.is_open:
            pipe.zadd(self.open_key, {ticket.id: ticket.sla_deadline})
        else:
            pipe.zrem(self.open_key, ticket.id)

    def _publish(self, pipe: Any, kind: str, ticket: Ticket, actor: str, **extra: str) -> None:
        fields: dict[Any, Any] = {
            "type": kind, "ticket": ticket.id, "state": ticket.state, "queue": ticket.queue,
            "user": ticket.customer, "assignee": ticket.assignee or "", "actor": actor,
            "at": f"{self.clock():.3f}", **extra,
        }
        pipe.xadd(self.events_key, fields, maxlen=self.settings.events_maxlen, approximate=True)

    async def _load(self, ids: list[str]) -> list[Ticket | None]:
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for ticket_id in ids:
                pipe.hgetall(self.ticket_key(ticket_id))
            rows = await pipe.execute()
        return [self._decode(row, []) for row in rows]

    @staticmethod
    def _decode(row: dict[Any, Any], messages: list[Any]) -> Ticket | None:
        data = row.get(b"data") or row.get("data")
        if data is None:
            return None
        ticket = Ticket.from_json(data)
        ticket.customer_messages = int(row.get(b"customer_messages") or row.get("customer_messages") or 0)
        ticket.messages = [TicketMessage.from_dict(json.loads(m)) for m in messages]
        return ticket


def _transfer_note(to_agent: str | None, to_queue: str | None) -> str:
    return "transferred to " + " in ".join(x for x in (to_agent, to_queue and f"queue {to_queue}") if x)


def _entries(response: Any) -> list[Any]:
    """The entries of a one-stream XREAD reply, in its RESP2 (list) or RESP3 (map) shape."""
    if not response:
        return []
    if isinstance(response, dict):
        entries = next(iter(response.values()))
        return list(entries[0] if entries and isinstance(entries[0], list) else entries)
    return list(response[0][1])


def _text(value: Any) -> str:
    """Redis replies as text, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else str(value or "")
