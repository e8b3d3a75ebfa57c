"""Handoff tickets in real Redis: lifecycle, the claim race, the queue order, the live event stream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from core.settings import Settings
from core.tickets import (
    ABANDONED,
    ASSIGNED,
    CANCELLED_NOTE,
    PENDING,
    RESOLVED,
    TicketNotFound,
    TicketStateError,
    TicketStore,
)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 1.0) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(make_redis: Callable[[], Redis], settings: Settings, clock: Clock) -> TicketStore:
    return TicketStore(make_redis(), settings, clock=clock)


async def _open(store: TicketStore, user: str, **fields):  # type: ignore[no-untyped-def]
    ticket, created = await store.open(platform="telegram", user_id=user, reason="customer_request", **fields)
    assert created
    return ticket


async def test_one_open_ticket_per_customer(store: TicketStore, make_redis, settings: Settings) -> None:
    first = await _open(store, "1", summary={"query": "earbuds"}, transcript=[{"role": "user", "text": "hi"}])
    again, created = await store.open(platform="telegram", user_id="1", reason="keyword")
    assert not created and again.id == first.id and again.reason == "customer_request"
    assert (await store.open_ticket_of("telegram", "1")).id == first.id  # type: ignore[union-attr]
    assert await store.open_ticket_of("telegram", "2") is None

    # Two processes opening for one customer at the same moment still make one ticket.
    other = TicketStore(make_redis(), settings)
    results = await asyncio.gather(*(s.open(platform="discord", user_id="9", reason="customer_request")
                                     for s in (store, other, store, other)))
    assert sum(created for _, created in results) == 1
    assert len({ticket.id for ticket, _ in results}) == 1
    assert len(await store.redis.keys(f"{settings.key_prefix}:ticket:*")) == 2  # the losers left nothing behind


async def test_every_transition_is_recorded_with_actor_time_and_note(store: TicketStore, clock: Clock) -> None:
    ticket = await _open(store, "1", queue="shopping")
    clock.tick()
    await store.assign(ticket.id, "li")
    clock.tick()
    await store.transfer(ticket.id, actor="li", to_agent="wang", note="speaks Cantonese")
    clock.tick()
    await store.transfer(ticket.id, actor="wang", to_queue="after_sales")
    queued = await store.get(ticket.id)
    assert queued.state == PENDING and queued.assignee is None and queued.queue == "after_sales"
    assert [t.id for t in await store.queue(queue="after_sales")] == [ticket.id]
    assert await store.queue(queue="shopping") == []
    clock.tick()
    await store.assign(ticket.id, "zhao")
    clock.tick()
    done = await store.resolve(ticket.id, actor="zhao", note="refund issued")

    steps = [(t.from_state, t.to_state, t.actor, t.note) for t in done.history]
    assert steps == [
        (None, PENDING, "customer", "customer_request"),
        (PENDING, ASSIGNED, "li", ""),
        (ASSIGNED, ASSIGNED, "li", "speaks Cantonese"),
        (ASSIGNED, PENDING, "wang", "transferred to queue after_sales"),
        (PENDING, ASSIGNED, "zhao", ""),
        (ASSIGNED, RESOLVED, "zhao", "refund issued"),
    ]
    assert [t.at for t in done.history] == [clock.now - n for n in range(5, -1, -1)]
    assert done.state == RESOLVED and done.resolution == "refund issued" and done.updated_at == clock.now
    assert await store.open_ticket_of("telegram", "1") is None
    assert await store.open_tickets() == []
    assert 0 < await store.redis.ttl(store.ticket_key(ticket.id)) <= store.settings.ticket_ttl


async def test_invalid_transitions_raise_clear_errors(store: TicketStore) -> None:
    ticket = await _open(store, "1")
    with pytest.raises(TicketStateError, match="only resolved tickets are rated"):
        await store.set_rating(ticket.id, 4)
    await store.assign(ticket.id, "li")
    with pytest.raises(TicketStateError, match=r"is assigned: cannot assign to wang \(expected pending, taken by li\)"):
        await store.assign(ticket.id, "wang")
    await store.resolve(ticket.id, actor="li")
    for attempt in (store.resolve(ticket.id, actor="li"), store.abandon(ticket.id),
                    store.assign(ticket.id, "li", expected_state=None), store.transfer(ticket.id, actor="li",
                                                                                      to_queue="x"),
                    store.append_message(ticket.id, "customer", "hello?")):
        with pytest.raises(TicketStateError, match=f"ticket {ticket.id} is resolved"):
            await attempt
    with pytest.raises(ValueError):
        await store.set_rating(ticket.id, 6)
    with pytest.raises(ValueError):
        await store.transfer(ticket.id, actor="li")
    with pytest.raises(TicketNotFound):
        await store.get("nope")
    with pytest.raises(TicketNotFound):
        await store.assign("nope", "li")
    with pytest.raises(TicketNotFound):
        await store.append_message("nope", "agent", "hi")


async def test_two_agents_claiming_at_once_one_wins(store: TicketStore, make_redis, settings: Settings) -> None:
    desks = [TicketStore(make_redis(), settings) for _ in range(2)]
    for n in range(15):
        ticket = await _open(store, f"u{n}")
        results = await asyncio.gather(desks[0].assign(ticket.id, "li"), desks[1].assign(ticket.id, "wang"),
                                       return_exceptions=True)
        winners = [r for r in results if not isinstance(r, BaseException)]
        losers = [r for r in results if isinstance(r, TicketStateError)]
        assert len(winners) == 1 and len(losers) == 1, results
        stored = await store.get(ticket.id)
        assert stored.assignee == winners[0].assignee
        assert [t.to_state for t in stored.history] == [PENDING, ASSIGNED]  # claimed once, not twice


async def test_queue_is_ordered_by_priority_then_age(store: TicketStore, clock: Clock) -> None:
    old_low = await _open(store, "a", priority=0)
    clock.tick(10)
    old_high = await _open(store, "b", priority=2, queue="complaints")
    clock.tick(10)
    new_low = await _open(store, "c", priority=0, queue="after_sales")
    clock.tick(10)
    new_high = await _open(store, "d", priority=2)
    clock.tick(10)
    middle = await _open(store, "e", priority=1)
    assert [t.id for t in await store.queue()] == [old_high.id, new_high.id, middle.id, old_low.id, new_low.id]
    assert [t.id for t in await store.queue(2)] == [old_high.id, new_high.id]
    assert [t.id for t in await store.queue(queue="shopping")] == [new_high.id, middle.id, old_low.id]

    await store.assign(new_high.id, "li")
    await store.cancel(middle.id)
    assert [t.id for t in await store.queue()] == [old_high.id, old_low.id, new_low.id]
    # An index entry whose ticket vanished (a crash between writes) is dropped by the reader.
    await store.redis.zadd(store.pending_key("shopping"), {"ghost": 0})
    assert [t.id for t in await store.queue()] == [old_high.id, old_low.id, new_low.id]
    assert await store.redis.zscore(store.pending_key("shopping"), "ghost") is None


async def test_cancel_rating_and_abandon(store: TicketStore, clock: Clock) -> None:
    cancelled = await store.cancel((await _open(store, "1")).id)
    assert cancelled.state == RESOLVED and cancelled.resolution == CANCELLED_NOTE
    assert cancelled.history[-1].actor == "customer"
    assert await store.awaiting_rating("telegram", "1") is None  # nobody served them: nothing to rate

    served = await _open(store, "1")
    await store.assign(served.id, "li")
    await store.resolve(served.id, actor="li", ask_rating=True)
    assert await store.awaiting_rating("telegram", "1") == served.id
    rated = await store.set_rating(served.id, 4)
    assert rated.rating == 4 and rated.rated_at == clock.now
    assert await store.awaiting_rating("telegram", "1") is None

    left = await store.abandon((await _open(store, "1")).id, note="no answer for a day")
    assert left.state == ABANDONED and left.resolution == "no answer for a day" and left.history[-1].actor == "system"


async def test_messages_and_the_live_event_stream(store: TicketStore) -> None:
    ticket = await _open(store, "1", chat_id="c1")
    await store.assign(ticket.id, "li")
    await store.append_message(ticket.id, "customer", "where is my order?")
    await store.append_message(ticket.id, "agent", "checking now", actor="li")
    loaded = await store.get(ticket.id)
    assert [(m.sender, m.text, m.actor) for m in loaded.messages] == [
        ("customer", "where is my order?", ""), ("agent", "checking now", "li")]
    assert loaded.customer_messages == 1
    assert (await store.get(ticket.id, messages=False)).messages == []

    events = await store.events("0-0")
    assert [(e["type"], e["state"]) for _, e in events] == [
        ("created", PENDING), ("changed", ASSIGNED), ("message", ASSIGNED), ("message", ASSIGNED)]
    assert events[2][1]["text"] == "where is my order?" and events[2][1]["sender"] == "customer"
    assert all(e["ticket"] == ticket.id and e["user"] == "telegram:1" for _, e in events)

    # A console following live sees what happens after it started to listen.
    last = events[-1][0]
    waiting = asyncio.create_task(store.events(last, block_ms=2000))
    await asyncio.sleep(0.05)
    await store.append_message(ticket.id, "customer", "hello?")
    (_, live), = await waiting
    assert live["type"] == "message" and live["text"] == "hello?"


async def test_sla_index_and_overdue(store: TicketStore, clock: Clock) -> None:
    soon = await _open(store, "1", sla_deadline=clock.now + 60)
    later = await _open(store, "2")  # default: now + handoff_sla
    assert later.sla_deadline == clock.now + store.settings.handoff_sla
    assert [t.id for t in await store.open_tickets()] == [soon.id, later.id]
    assert await store.overdue() == []
    clock.tick(61)
    assert [t.id for t in await store.overdue()] == [soon.id]
    await store.assign(soon.id, "li")
    assert [t.id for t in await store.overdue()] == [soon.id]  # claimed, still open: the SLA job decides
    await store.resolve(soon.id, actor="li")
    assert await store.overdue() == []


async def test_a_lost_index_update_is_repaired_by_readers(store: TicketStore) -> None:
    ticket = await _open(store, "1")
    # Simulate a crash right after the ticket closed, before its indexes were updated.
    raw = await store.redis.hget(store.ticket_key(ticket.id), "data")
    await store.redis.hset(store.ticket_key(ticket.id), mapping={"state": RESOLVED,
                                                                 "data": raw.replace(b'"pending"', b'"resolved"')})
    assert await store.open_ticket_of("telegram", "1") is None
    assert not await store.redis.exists(store.customer_key("telegram", "1", "ticket"))
    assert await store.queue() == []
    assert await store.open_tickets() == []
    reopened, created = await store.open(platform="telegram", user_id="1", reason="customer_request")
    assert created and reopened.id != ticket.id


async def test_forgetting_a_customer_removes_their_tickets_and_events(store: TicketStore) -> None:
    mine = await _open(store, "1")
    await store.append_message(mine.id, "customer", "my address is ...")
    await store.cancel(mine.id)
    current = await _open(store, "1")
    theirs = await _open(store, "2")
    assert await store.forget_customer("telegram", "1") == 2
    assert await store.find(mine.id) is None and await store.find(current.id) is None
    assert await store.open_ticket_of("telegram", "1") is None
    assert [t.id for t in await store.queue()] == [theirs.id]
    assert {e["user"] for _, e in await store.events("0-0")} == {"telegram:2"}
    assert await store.redis.keys(f"{store.settings.key_prefix}:{{telegram:1}}:*") == []
