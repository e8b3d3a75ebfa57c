"""Durability: Redis with an append-only file fsynced on every write, killed mid-conversation.

Three customers talk and an agent-side producer fills the outbox, all at once, while an
adapter delivers; Redis is SIGKILLed (as by a crash or the OOM killer) with turns and sends
in flight, and started again on the same directory and port.  Every turn that returned its
replies and every outbox message whose ``put`` returned must be there afterwards; while Redis
is away the customers get an apology, and the conversations carry on once it is back.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from redis.exceptions import RedisError

from core.app import build_app
from core.lexical import LexicalRecommender
from core.messages import Inbound, Reply
from core.outbox import Outbox, OutboxMessage
from core.settings import Settings
from tests.redis_servers import RedisProcess, binaries

pytestmark = pytest.mark.slow

TEXTS = ["waterproof running earbuds under 300", "cheaper", "bluetooth speaker", "more", "yoga mat"]
FINAL = "bluetooth speaker"
USERS = ("ana", "bo", "chen")
DEADLINE_S = 90.0


@dataclass
class Talk:
    """What one customer sent, and which turns were acknowledged (answered without an apology)."""

    user: str
    sent: list[tuple[str, str]] = field(default_factory=list)  # (message id, text), in order
    acked: list[str] = field(default_factory=list)
    apologies: int = 0
    acked_after_restart: int = 0
    last_products: list[str] = field(default_factory=list)


async def wait_until(check: Callable[[], object], what: str, tasks: Sequence[asyncio.Task[None]] = ()) -> None:
    """Until ``check()`` (or what it awaits to) is truthy; generous, for a loaded machine.
    Fails at once when one of ``tasks`` failed."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise AssertionError(f"a task failed while waiting for {what}") from task.exception()
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_acknowledged_turns_and_outbox_messages_survive_sigkill(
        tmp_path: Path, demo_recommender: LexicalRecommender) -> None:
    binaries("redis-server")
    server = RedisProcess(tmp_path / "redis", None, "--appendonly", "yes", "--appendfsync", "always")
    try:
        server.start()
        await _crash_and_recover(server, demo_recommender)
    finally:
        server.stop()


async def _crash_and_recover(server: RedisProcess, demo_recommender: LexicalRecommender) -> None:
    # A short lease: a turn cut off by the crash keeps its place in the user's queue until it runs out.
    settings = Settings(redis_url=server.url, key_prefix=f"test-{uuid.uuid4().hex[:10]}", history_limit=1000,
                        turn_lease_ms=1500, outbox_retry_ms=500, handoff_hours="always")
    app = build_app(settings, recommender=demo_recommender)
    await app.start()
    outbox = Outbox(app.redis, settings, "test")
    stop, restarted = asyncio.Event(), asyncio.Event()
    talks = {user: Talk(user) for user in USERS}
    put_acked: list[tuple[str, str]] = []  # (entry id, text)
    put_failed = 0
    delivered: set[str] = set()

    async def customer(talk: Talk) -> None:
        number = 0
        while not stop.is_set():
            if talk.acked_after_restart >= 2:
                await stop.wait()  # enough: keep the history short whatever the machine's speed
                break
            text = TEXTS[number % len(TEXTS)]
            await turn(talk, f"{talk.user}-{number}", text)
            number += 1
        await turn(talk, f"{talk.user}-final", FINAL)  # Redis is back: this one must be answered

    async def turn(talk: Talk, message_id: str, text: str) -> None:
        talk.sent.append((message_id, text))
        outcome = await app.dialogue.handle(Inbound(platform="test", user_id=talk.user, message_id=message_id,
                                                    text=text))
        if any(reply.kind == "error" for reply in outcome.replies):
            talk.apologies += 1
            await asyncio.sleep(0.05)
            return
        talk.acked.append(message_id)
        talk.acked_after_restart += restarted.is_set()
        talk.last_products = [card.id for reply in outcome.replies for card in reply.products]

    async def producer() -> None:
        nonlocal put_failed
        number = 0
        while not stop.is_set():
            text = f"notice {number}"
            number += 1
            try:
                entry = await outbox.put("ana", "ana", Reply(text), kind="alert")
            except (RedisError, OSError):
                put_failed += 1
                await asyncio.sleep(0.05)
                continue
            put_acked.append((entry, text))
            await asyncio.sleep(0.005)

    async def deliver(message: OutboxMessage) -> None:
        delivered.add(message.reply.text)

    tasks = [asyncio.create_task(customer(talk)) for talk in talks.values()]
    tasks.append(asyncio.create_task(producer()))
    adapter_stop = asyncio.Event()
    adapter = asyncio.create_task(outbox.run(deliver, consumer="adapter-1", stop=adapter_stop, block_ms=200))
    try:
        await wait_until(lambda: all(len(t.acked) >= 3 for t in talks.values()) and len(put_acked) >= 20,
                         "a few turns and messages before the crash", tasks)
        await asyncio.to_thread(server.kill)  # turns and sends are in flight right now
        acked_before = {user: len(t.acked) for user, t in talks.items()}
        puts_before = len(put_acked)
        await wait_until(lambda: all(t.apologies for t in talks.values()) and put_failed > 0,
                         "every customer to get an apology while Redis is down", tasks)

        await asyncio.to_thread(server.start)  # the same directory, port and append-only file
        restarted.set()
        await wait_until(lambda: all(t.acked_after_restart >= 2 for t in talks.values())
                         and len(put_acked) >= puts_before + 10, "the conversations to carry on", tasks)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=DEADLINE_S)
        acked = {text for _, text in put_acked}
        await wait_until(lambda: acked <= delivered, "every acknowledged outbox message to be delivered", [adapter])

        async def drained() -> bool:  # also those whose put failed only after reaching Redis
            return await outbox.pending_count() == 0

        await wait_until(drained, "the outbox to be empty")
    finally:
        stop.set()
        adapter_stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, adapter, return_exceptions=True)

    try:
        for user, talk in talks.items():
            assert acked_before[user] >= 3 and talk.apologies >= 1 and talk.acked_after_restart >= 2
            loaded = await app.store.load(f"test:{user}", lang="en")
            session = loaded.session
            handled = {m.decode() for m in await app.redis.zrange(app.store.key(f"test:{user}", "seen"), 0, -1)}
            sent_ids = [message_id for message_id, _ in talk.sent]
            # Every acknowledged turn is stored; nothing was stored that was not sent; each handled once.
            assert set(talk.acked) <= handled <= set(sent_ids)
            assert session.turns == len(handled)
            said = [m["text"] for m in session.history if m["role"] == "user"]
            assert said == [text for message_id, text in talk.sent if message_id in handled]
            assert talk.sent[-1] == (f"{user}-final", FINAL) and talk.acked[-1] == f"{user}-final"
            assert talk.last_products and session.last_results == talk.last_products
        with server.client() as client:
            assert client.config_get("appendonly")["appendonly"] == "yes"
    finally:
        await app.stop()


async def test_connections_idle_in_the_pool_through_a_restart_reconnect_without_an_error(tmp_path: Path) -> None:
    # Every connection of a warm pool is dead after a restart; each must reconnect on its next
    # command instead of failing once (which a customer would see as an apology).
    binaries("redis-server")
    from core.redis_conn import connect

    server = RedisProcess(tmp_path / "redis", None, "--appendonly", "yes")
    server.start()
    client = connect(server.url, max_connections=8)
    try:
        await asyncio.gather(*(client.blpop(["nothing"], timeout=0.2) for _ in range(8)))  # 8 pooled connections
        await client.set("kept", "1")
        server.kill()
        server.start()
        results = await asyncio.gather(*(client.get("kept") for _ in range(8)), return_exceptions=True)
        assert results == [b"1"] * 8
        assert await client.incr("after") == 1
    finally:
        await client.aclose()
        server.stop()
