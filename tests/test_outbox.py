"""The outbox against a real Redis: delivered once, retried, dead-lettered, shared by consumers."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from core.messages import Button, ProductCard, Reply
from core.outbox import GROUP, Outbox, OutboxMessage, Undeliverable
from core.redis_conn import EmbeddedRedis, connect
from core.settings import Settings
from core.store import SessionStore

BLOCK_MS = 100

REPLY = Reply(
    "An agent answered: the blue ones are back in stock.", kind="notice",
    products=(ProductCard("p1", "Earbuds", "Sony", 299.0, "CNY", "Electronics>Audio", reason="waterproof",
                          position=1, buttons=(Button("More", "more:p1"),)),),
    buttons=(Button("Thanks", "thanks"),),
)


class Consumer:
    """One adapter's delivery loop, recording what it was handed."""

    def __init__(self, outbox: Outbox, name: str = "c1",
                 outcome: Callable[[OutboxMessage], Awaitable[None]] | None = None) -> None:
        self.outbox = outbox
        self.name = name
        self.outcome = outcome
        self.calls: list[OutboxMessage] = []
        self.at: list[float] = []
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def deliver(self, message: OutboxMessage) -> None:
        self.calls.append(message)
        self.at.append(time.monotonic())
        if self.outcome is not None:
            await self.outcome(message)

    def start(self) -> Consumer:
        self.task = asyncio.create_task(self.outbox.run(self.deliver, consumer=self.name, stop=self.stop,
                                                        block_ms=BLOCK_MS))
        return self

    async def halt(self) -> None:
        """Stop, and check that the loop ends within its block time (plus slack for a slow machine)."""
        assert self.task is not None
        self.stop.set()
        await asyncio.wait_for(self.task, timeout=BLOCK_MS / 1000 + 2)


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> None:
    """Wait until ``check()`` (or what it awaits to) is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


@pytest.fixture
async def redis(make_redis: Callable[[], Redis], settings: Settings) -> AsyncIterator[Redis]:
    client = make_redis()
    yield client
    keys = [key async for key in client.scan_iter(match=f"{settings.key_prefix}:*")]
    if keys:
        await client.delete(*keys)


def quick(settings: Settings, *, outbox_retry_ms: int = 50, outbox_attempts: int = 5) -> Settings:
    """Settings with a short retry delay, so retries happen within a test."""
    return replace(settings, outbox_retry_ms=outbox_retry_ms, outbox_attempts=outbox_attempts)


async def group_pending(outbox: Outbox) -> int:
    return int((await outbox.redis.xpending(outbox.stream, GROUP))["pending"])


def failing(times: int, error: Exception) -> Callable[[OutboxMessage], Awaitable[None]]:
    """An outcome that raises ``error`` on its first ``times`` calls, then succeeds."""
    calls = 0

    async def outcome(message: OutboxMessage) -> None:
        nonlocal calls
        calls += 1
        if calls <= times:
            raise error

    return outcome


# -- the wire format -------------------------------------------------------------------------


def test_reply_round_trips_through_a_dict() -> None:
    assert Reply.from_dict(json.loads(json.dumps(REPLY.to_dict()))) == REPLY


def test_reply_from_dict_fills_missing_optional_fields() -> None:
    reply = Reply.from_dict({"text": "hi", "products": [{"id": "p", "title": "T", "brand": "", "price": 5,
                                                          "currency": "CNY", "category": ""}]})
    assert reply == Reply("hi", products=(ProductCard("p", "T", "", 5.0, "CNY", ""),))


@pytest.mark.parametrize("data", [
    None, "text", [], {}, {"text": 5}, {"text": "x", "kind": None}, {"text": "x", "buttons": "b"},
    {"text": "x", "buttons": [{"label": "L"}]}, {"text": "x", "buttons": [["L", "a"]]},
    {"text": "x", "products": [{"id": "p", "title": "T", "brand": "", "price": "5", "currency": "", "category": ""}]},
    {"text": "x", "products": [{"id": "p", "title": "T", "brand": "", "price": True, "currency": "", "category": ""}]},
    {"text": "x", "products": [{"id": "p", "title": "T", "brand": "", "price": 1, "currency": "", "category": "",
                                "position": 1.5}]},
])
def test_reply_from_dict_refuses_wrong_types(data: object) -> None:
    with pytest.raises(ValueError):
        Reply.from_dict(data)


# -- delivery --------------------------------------------------------------------------------


async def test_a_message_is_delivered_once_and_acknowledged(redis: Redis, settings: Settings) -> None:
    outbox = Outbox(redis, quick(settings), "tg")
    entry_id = await outbox.put("u1", "chat1", REPLY, kind="agent")
    consumer = Consumer(outbox).start()
    await eventually(lambda: len(consumer.calls) == 1)
    await asyncio.sleep(0.3)  # several retry delays: an unacknowledged message would come again
    await consumer.halt()
    assert consumer.calls == [OutboxMessage(entry_id, "tg", "u1", "chat1", "agent", REPLY, 1)]
    assert await outbox.pending_count() == 0 and await group_pending(outbox) == 0
    assert await outbox.dead_letters() == []


async def test_messages_put_while_no_consumer_runs_are_delivered_once_when_one_starts(
    redis: Redis, settings: Settings,
) -> None:
    outbox = Outbox(redis, quick(settings), "tg")
    ids = [await outbox.put(f"u{n}", f"chat{n}", Reply(f"notice {n}"), kind="sla") for n in range(3)]
    assert await outbox.pending_count() == 3
    consumer = Consumer(outbox).start()
    await eventually(lambda: len(consumer.calls) == 3)
    await asyncio.sleep(0.2)
    await consumer.halt()
    assert [m.id for m in consumer.calls] == ids  # in order, once each
    assert [m.reply.text for m in consumer.calls] == ["notice 0", "notice 1", "notice 2"]
    assert {m.kind for m in consumer.calls} == {"sla"}
    assert await outbox.pending_count() == 0


async def test_a_restarted_consumer_delivers_its_unfinished_message_once(
    redis: Redis, make_redis: Callable[[], Redis], settings: Settings,
) -> None:
    # A long retry delay: only the restart itself may bring the message back.
    slow = replace(settings, outbox_retry_ms=60_000)
    first = Consumer(Outbox(redis, slow, "tg"), "adapter-1", failing(1, RuntimeError("network down"))).start()
    entry_id = await first.outbox.put("u1", "chat1", REPLY)
    await eventually(lambda: len(first.calls) == 1)
    await first.halt()
    assert await group_pending(first.outbox) == 1

    other = Consumer(Outbox(make_redis(), slow, "tg"), "adapter-2").start()  # not idle long enough for it
    restarted = Consumer(Outbox(make_redis(), slow, "tg"), "adapter-1").start()
    await eventually(lambda: len(restarted.calls) == 1)
    await asyncio.sleep(0.2)
    await restarted.halt()
    await other.halt()
    assert [(m.id, m.attempt) for m in restarted.calls] == [(entry_id, 2)]
    assert other.calls == []
    assert await first.outbox.pending_count() == 0 and await group_pending(first.outbox) == 0


async def test_a_failed_delivery_is_retried_after_the_retry_delay(redis: Redis, settings: Settings) -> None:
    outbox = Outbox(redis, quick(settings), "tg")
    consumer = Consumer(outbox, outcome=failing(2, RuntimeError("timeout"))).start()
    await outbox.put("u1", "chat1", REPLY)
    await eventually(lambda: len(consumer.calls) == 3)
    await asyncio.sleep(0.2)
    await consumer.halt()
    assert [m.attempt for m in consumer.calls] == [1, 2, 3]
    gaps = [b - a for a, b in zip(consumer.at, consumer.at[1:])]
    assert min(gaps) >= 0.045, gaps  # waits for outbox_retry_ms; no hot loop
    assert await outbox.pending_count() == 0 and await outbox.dead_letters() == []


async def test_a_message_that_keeps_failing_is_dead_lettered_after_the_last_attempt(
    redis: Redis, settings: Settings,
) -> None:
    outbox = Outbox(redis, quick(settings, outbox_attempts=3), "tg")
    consumer = Consumer(outbox, outcome=failing(1000, RuntimeError("flood wait"))).start()
    entry_id = await outbox.put("u1", "chat1", REPLY)
    await eventually(outbox.dead_letters)
    await asyncio.sleep(0.2)
    await consumer.halt()
    assert [m.attempt for m in consumer.calls] == [1, 2, 3]
    [dead] = await outbox.dead_letters()
    assert dead["id"] == entry_id and dead["attempts"] == "3" and "flood wait" in dead["reason"]
    assert (dead["user"], dead["chat"], json.loads(dead["reply"])) == ("u1", "chat1", REPLY.to_dict())
    assert await outbox.pending_count() == 0 and await group_pending(outbox) == 0


async def test_undeliverable_goes_to_dead_letters_at_once(redis: Redis, settings: Settings) -> None:
    outbox = Outbox(redis, quick(settings), "tg")
    consumer = Consumer(outbox, outcome=failing(1000, Undeliverable("bot was blocked by the user"))).start()
    await outbox.put("u1", "chat1", REPLY)
    await eventually(outbox.dead_letters)
    await asyncio.sleep(0.2)
    await consumer.halt()
    assert len(consumer.calls) == 1
    [dead] = await outbox.dead_letters()
    assert dead["reason"] == "undeliverable: bot was blocked by the user" and dead["attempts"] == "1"
    assert await outbox.pending_count() == 0


async def test_messages_to_unreachable_users_are_dead_lettered_without_delivery(
    redis: Redis, settings: Settings,
) -> None:
    outbox = Outbox(redis, quick(settings), "tg")
    await outbox.mark_unreachable("blocked")
    assert await outbox.is_unreachable("blocked") and not await outbox.is_unreachable("fine")
    await outbox.put("blocked", "chat1", REPLY)
    await outbox.put("fine", "chat2", REPLY)
    consumer = Consumer(outbox).start()
    await eventually(lambda: len(consumer.calls) == 1)
    await eventually(outbox.dead_letters)
    await consumer.halt()
    assert [m.user_id for m in consumer.calls] == ["fine"]
    [dead] = await outbox.dead_letters()
    assert (dead["user"], dead["reason"]) == ("blocked", "unreachable")

    await outbox.mark_reachable("blocked")
    assert not await outbox.is_unreachable("blocked")


async def test_reachability_is_per_platform_and_forgotten_with_the_user(redis: Redis, settings: Settings) -> None:
    telegram, discord = Outbox(redis, settings, "tg"), Outbox(redis, settings, "discord")
    await telegram.mark_unreachable("42")
    assert not await discord.is_unreachable("42")
    assert await redis.exists(SessionStore(redis, settings).key("tg:42", "unreachable"))  # the user's hash tag
    await SessionStore(redis, settings).forget("tg:42")
    assert not await telegram.is_unreachable("42")


async def test_malformed_entries_are_dead_lettered_and_the_loop_goes_on(redis: Redis, settings: Settings) -> None:
    outbox = Outbox(redis, quick(settings), "tg")
    good = {"user": "u", "chat": "c", "kind": "agent"}
    bad: list[dict[Any, Any]] = [
        {**good, "reply": "{not json"},
        {**good, "reply": json.dumps({"text": 5})},
        {**good, "reply": json.dumps([1, 2])},
        {**good, "reply": "[" * 100_000},  # nested past the parser's recursion limit
        {**good, "user": "", "reply": json.dumps({"text": "x"})},
        {**good, "reply": b"\xff\xfe"},
        {"something": "else"},
    ]
    for fields in bad:
        await redis.xadd(outbox.stream, fields)
    consumer = Consumer(outbox).start()
    await outbox.put("u", "c", REPLY)
    await eventually(lambda: len(consumer.calls) == 1)
    await eventually(lambda: _count(outbox.dead_letters(), len(bad)))
    await consumer.halt()
    assert consumer.calls[0].reply == REPLY
    reasons = [d["reason"] for d in await outbox.dead_letters()]
    assert len(reasons) == len(bad) and all(r.startswith("malformed: ") for r in reasons), reasons
    assert await outbox.pending_count() == 0


async def _count(letters: Awaitable[list[dict[str, str]]], n: int) -> bool:
    return len(await letters) == n


async def test_a_message_read_too_often_without_an_outcome_is_dead_lettered(
    redis: Redis, settings: Settings,
) -> None:
    # A consumer that dies while delivering (the message crashes it) must not take every replica down in turn.
    outbox = Outbox(redis, quick(settings, outbox_attempts=2), "tg")
    await redis.xgroup_create(outbox.stream, GROUP, id="0", mkstream=True)
    await outbox.put("u", "c", REPLY)
    for start in (">", "0", "0"):
        await redis.xreadgroup(GROUP, "crashing", {outbox.stream: start})
    consumer = Consumer(outbox).start()
    await eventually(outbox.dead_letters)
    await consumer.halt()
    assert consumer.calls == []
    [dead] = await outbox.dead_letters()
    assert dead["reason"] == "no outcome after 3 attempts"


async def test_two_consumers_never_deliver_one_message_twice(
    redis: Redis, make_redis: Callable[[], Redis], settings: Settings,
) -> None:
    fast = quick(settings, outbox_retry_ms=100)
    seen: list[str] = []

    async def slow_sometimes(message: OutboxMessage) -> None:
        seen.append(message.id)
        # Some deliveries outlast the retry delay (a platform's flood wait): they must not be taken over.
        await asyncio.sleep(0.35 if message.reply.text.endswith("0") else 0.005)

    consumers = [Consumer(Outbox(make_redis(), fast, "tg"), f"c{n}", slow_sometimes).start() for n in (1, 2)]
    ids = [await consumers[0].outbox.put(f"u{n}", "chat", Reply(f"message {n}")) for n in range(30)]
    await eventually(lambda: len(seen) >= len(ids))
    await asyncio.sleep(0.5)
    for consumer in consumers:
        await consumer.halt()
    assert Counter(seen) == Counter(ids)
    assert all(consumer.calls for consumer in consumers)  # both took part
    assert await consumers[0].outbox.pending_count() == 0


async def test_the_loop_survives_redis_restarting(tmp_path: Path, settings: Settings) -> None:
    server = EmbeddedRedis(tmp_path).start()
    client = connect(server.url)
    try:
        outbox = Outbox(client, quick(settings), "tg")
        consumer = Consumer(outbox).start()
        await outbox.put("u", "c", Reply("before"))
        await eventually(lambda: len(consumer.calls) == 1)

        server.stop()  # no persistence: the stream and its group are gone too
        await asyncio.sleep(0.3)
        assert consumer.task is not None and not consumer.task.done()
        server.start()

        async def put_after_restart() -> bool:
            try:
                await outbox.put("u", "c", Reply("after"))
            except (RedisConnectionError, OSError):
                return False
            return True

        await eventually(put_after_restart)
        await eventually(lambda: len(consumer.calls) == 2, timeout=10)
        await consumer.halt()
        assert [m.reply.text for m in consumer.calls] == ["before", "after"]
    finally:
        await client.aclose()
        server.close()
