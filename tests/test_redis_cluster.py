"""Everything daogou does in Redis, on a real 3-node Redis Cluster (DAOGOU_REDIS_MODE=cluster).

The cluster (three primaries, no replicas) starts once for the module.  Users are picked so
that their keys live on different nodes, and the tests check on the nodes themselves where
the keys went: conversations through the dialogue manager, the handoff with an agent and the
console's event feed, the outbox's consumer group with retries and dead letters, the
scheduler's leases and its sweep over every node, and forgetting a customer.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import Chat
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError

from bots.console.feed import TicketFeed
from core.app import App, build_app
from core.lexical import LexicalRecommender
from core.messages import Reply
from core.outbox import GROUP, Outbox, OutboxMessage, Undeliverable
from core.redis_conn import connect
from core.scheduler import JobContext, sweep
from core.settings import Settings, SettingsError
from core.tickets import ASSIGNED, PENDING, RESOLVED
from tests.redis_servers import RedisProcess, cluster, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RedisProcess]]:
    with cluster(Path(tmp_path_factory.mktemp("cluster"))) as started:
        yield started


@pytest.fixture
def settings(nodes: list[RedisProcess]) -> Settings:
    # Only the first node's URL has the scheme: the others are host:port, as operators may write them.
    url = ",".join([nodes[0].url, *(f"127.0.0.1:{n.port}" for n in nodes[1:])])
    return Settings(redis_url=url, redis_mode="cluster", key_prefix=f"test-{uuid.uuid4().hex[:10]}",
                    history_limit=50, handoff_hours="always", recommender="lexical")


@pytest.fixture
async def app(settings: Settings, demo_recommender: LexicalRecommender) -> AsyncIterator[App]:
    app = build_app(settings, recommender=demo_recommender)  # the client comes from the settings
    await app.start()
    yield app
    await app.stop()


def node_keys(nodes: list[RedisProcess], pattern: str) -> dict[int, set[str]]:
    """The keys matching ``pattern`` that each node really holds (asked of the node, not the client)."""
    found: dict[int, set[str]] = {}
    for node in nodes:
        with node.client() as client:
            found[node.port] = {k.decode() for k in client.scan_iter(match=pattern, count=1000)}
    return found


def users_on_each_node(nodes: list[RedisProcess], settings: Settings, platform: str = "test") -> list[str]:
    """One user id per node: the node that owns the slot of the user's hash tag."""
    owner: dict[int, int] = {}
    with nodes[0].client() as client:
        for start, end, primary, *_ in client.execute_command("CLUSTER", "SLOTS"):
            for slot in range(int(start), int(end) + 1):
                owner[slot] = int(primary[1])
        picked: dict[int, str] = {}
        for number in range(1000):
            user = f"u{number}"
            slot = int(client.execute_command("CLUSTER", "KEYSLOT", f"{{{platform}:{user}}}"))
            picked.setdefault(owner[slot], user)
            if len(picked) == len(nodes):
                return [picked[n.port] for n in nodes]
    raise AssertionError("no user for some node")


async def eventually(check: Callable[[], Any], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_the_client_is_a_cluster_client_that_sees_every_node(app: App, nodes: list[RedisProcess]) -> None:
    assert isinstance(app.redis, RedisCluster)
    assert await app.redis.ping()
    assert {n.port for n in app.redis.get_primaries()} == {n.port for n in nodes}


async def test_conversations_of_users_on_different_nodes(app: App, settings: Settings,
                                                         nodes: list[RedisProcess]) -> None:
    users = users_on_each_node(nodes, settings)

    async def converse(user: str) -> list[float]:
        chat = Chat(app, user=user)
        await chat.say("waterproof running earbuds under 300")
        first = chat.products()
        assert first and all(p.price <= 300 for p in first)
        await chat.press(f"like:{first[0].id}")
        await chat.say("cheaper")
        cheaper = chat.products()
        assert cheaper and max(p.price for p in cheaper) < min(p.price for p in first)
        await chat.say("cheaper", message_id="m3-" + user)
        await chat.say("cheaper", message_id="m3-" + user)  # re-delivered: dropped
        return [p.price for p in cheaper]

    await asyncio.gather(*(converse(user) for user in users))

    for user in users:
        loaded = await app.store.load(f"test:{user}", lang="en")
        session = loaded.session
        assert loaded.status == "ok" and session.turns == 4
        said = [m["text"] for m in session.history if m["role"] == "user"]
        assert said == ["waterproof running earbuds under 300", f"[like:{session.liked[0]}]", "cheaper", "cheaper"]
        assert session.last_results
    # The keys of the users really are spread: each node holds the sessions of its user.
    where = node_keys(nodes, f"{settings.key_prefix}:{{test:*}}:session")
    holding = {port: keys for port, keys in where.items() if keys}
    assert len(holding) >= 2
    assert sum(len(keys) for keys in where.values()) == len(users)
    for user, node in zip(users, nodes):
        assert where[node.port] == {app.store.key(f"test:{user}", "session")}
    # The event stream (its own slot) has every user's events.
    events = await app.redis.xrange(app.store.events_key)
    assert {f[b"user"].decode() for _, f in events} == {f"test:{u}" for u in users}


async def test_a_handoff_with_an_agent_and_the_console_feed(app: App, settings: Settings,
                                                             nodes: list[RedisProcess]) -> None:
    user = users_on_each_node(nodes, settings)[1]
    chat = Chat(app, user=user)
    feed = TicketFeed(app.tickets, block_ms=200)
    events = await feed.subscribe()
    try:
        await chat.say("waterproof running earbuds under 300")
        await chat.say("talk to a person")
        assert chat.last[0].kind == "handoff"
        ticket = await app.tickets.open_ticket_of("test", user)
        assert ticket is not None and ticket.state == PENDING
        assert [t.id for t in await app.agents.queue()] == [ticket.id]

        await app.agents.claim(ticket.id, "li", name="Li")
        await app.agents.reply(ticket.id, "li", "Hi, the blue ones ship today.", name="Li")
        await chat.say("thank you")
        assert chat.last == []  # the agent has the conversation
        await app.agents.resolve(ticket.id, "li", note="answered")
        await chat.press("rate:5")
        assert "5/5" in chat.text()

        done = await app.tickets.get(ticket.id)
        assert done.state == RESOLVED and done.assignee == "li" and done.rating == 5
        assert [(m.sender, m.text) for m in done.messages] == [
            ("agent", "Hi, the blue ones ship today."), ("customer", "thank you")]
        assert await app.tickets.open_ticket_of("test", user) is None and await app.agents.queue() == []
        outbox = Outbox(app.redis, settings, "test")
        sent = [(f[b"kind"].decode(), json.loads(f[b"reply"])["text"]) for _, f in await app.redis.xrange(outbox.stream)]
        assert [kind for kind, _ in sent] == ["handoff", "agent", "handoff"]
        assert "ship today" in sent[1][1]

        # The console's live feed (one blocking XREAD on the cluster) saw every step, in order.
        seen: list[tuple[str, str]] = []
        while not seen or seen[-1][0] != "rated":
            item = await asyncio.wait_for(events.get(), timeout=20)
            assert item is not None
            seen.append((item[1]["type"], item[1]["state"]))
        assert seen == [("created", PENDING), ("changed", ASSIGNED), ("message", ASSIGNED), ("message", ASSIGNED),
                        ("changed", RESOLVED), ("rated", RESOLVED)]
    finally:
        await feed.close()


async def test_the_outbox_delivers_retries_and_dead_letters(app: App, settings: Settings,
                                                            nodes: list[RedisProcess]) -> None:
    quick = replace(settings, outbox_retry_ms=200, outbox_attempts=2)
    users = users_on_each_node(nodes, settings)
    outbox = Outbox(app.redis, quick, "test")
    await outbox.mark_unreachable(users[2])  # a key in that user's slot
    ids = {
        "ok": await outbox.put(users[0], users[0], Reply("delivered at once")),
        "flaky": await outbox.put(users[1], users[1], Reply("fails once")),
        "broken": await outbox.put(users[0], users[0], Reply("always fails")),
        "gone": await outbox.put(users[1], users[1], Reply("chat deleted")),
        "blocked": await outbox.put(users[2], users[2], Reply("bot blocked")),
    }
    delivered: list[tuple[str, int]] = []
    tries: dict[str, int] = {}

    async def deliver(message: OutboxMessage) -> None:
        text = message.reply.text
        tries[text] = tries.get(text, 0) + 1
        if text == "always fails" or (text == "fails once" and tries[text] == 1):
            raise RuntimeError("platform hiccup")
        if text == "chat deleted":
            raise Undeliverable("chat not found")
        delivered.append((text, message.attempt))

    stop = asyncio.Event()
    runs = [asyncio.create_task(outbox.run(deliver, consumer=name, stop=stop, block_ms=200)) for name in ("a", "b")]
    async def finished() -> bool:
        return await outbox.pending_count() == 0

    try:
        await eventually(finished, timeout=30)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*runs), timeout=30)
    assert sorted(delivered) == [("delivered at once", 1), ("fails once", 2)]
    dead = {d["id"]: d for d in await outbox.dead_letters()}
    assert set(dead) == {ids["broken"], ids["gone"], ids["blocked"]}
    assert dead[ids["broken"]]["reason"].startswith("failed") and dead[ids["broken"]]["attempts"] == "2"
    assert dead[ids["gone"]]["reason"] == "undeliverable: chat not found"
    assert dead[ids["blocked"]]["reason"] == "unreachable"
    assert (await app.redis.xpending(outbox.stream, GROUP))["pending"] == 0


async def test_scheduler_leases_and_the_sweep_cover_every_node(app: App, settings: Settings,
                                                               nodes: list[RedisProcess]) -> None:
    users = users_on_each_node(nodes, settings)
    for user in users:
        await Chat(app, user=user).say("yoga mat")
        await app.redis.persist(app.store.key(f"test:{user}", "seen"))  # a dedup set that lost its expiry
    # An outbox consumer that read everything it was given and then went away (a replaced pod).
    outbox = Outbox(app.redis, settings, "test")
    await outbox.put(users[0], users[0], Reply("hello"))
    await app.redis.xgroup_create(outbox.stream, GROUP, id="0", mkstream=True)
    await app.redis.xreadgroup(GROUP, "old-pod", {outbox.stream: ">"})
    await app.redis.xautoclaim(outbox.stream, GROUP, "new-pod", 0)  # its message moved on
    await asyncio.sleep(0.01)  # idle for longer than the 1 ms allowed below
    ctx = JobContext.build(app.redis, replace(settings, outbox_consumer_idle_ms=1))
    slot = 3600.0 * 1000
    counts = await sweep(ctx, fire_time=slot)
    assert counts is not None and counts["seen_trimmed"] == len(users)  # found on all three nodes
    assert counts["consumers_removed"] == 1  # the script that removes idle consumers, on the stream's node
    for user in users:
        assert await app.redis.ttl(app.store.key(f"test:{user}", "seen")) > 0
    other = JobContext.build(app.redis, settings)
    assert await sweep(other, fire_time=slot) is None  # the firing is taken: run once across replicas
    assert other.history[-1][2] == "skipped"


async def test_forget_removes_the_customer_from_every_node(app: App, settings: Settings,
                                                           nodes: list[RedisProcess]) -> None:
    users = users_on_each_node(nodes, settings)
    gone, kept = users[0], users[2]
    for user in (gone, kept):
        chat = Chat(app, user=user)
        await chat.say("waterproof running earbuds under 300")
        await chat.say("talk to a person")
    ticket = await app.tickets.open_ticket_of("test", gone)
    assert ticket is not None
    await app.agents.claim(ticket.id, "li")
    await app.agents.reply(ticket.id, "li", "Hello!")

    chat = Chat(app, user=gone)
    await chat.say("forget me")
    assert "deleted" in chat.text()

    prefix = settings.key_prefix
    everywhere = node_keys(nodes, f"{prefix}:*")
    left = {key for keys in everywhere.values() for key in keys}
    assert not [key for key in left if f"{{test:{gone}}}" in key or ticket.id in key]
    assert any(f"{{test:{kept}}}" in key for key in left)
    assert {f[b"user"].decode() for _, f in await app.redis.xrange(app.store.events_key)} == {f"test:{kept}"}
    ticket_events = await app.redis.xrange(app.tickets.events_key)
    assert ticket_events and {f[b"user"].decode() for _, f in ticket_events} == {f"test:{kept}"}


async def test_a_cluster_that_is_away_gets_the_customer_an_apology(demo_recommender: LexicalRecommender) -> None:
    # redis-py says "cannot be connected" with an exception that is not a RedisError; the client
    # turns it into a connection error, so the dialogue apologizes as it does for one server.
    settings = Settings(redis_url=f"redis://127.0.0.1:{free_port()}", redis_mode="cluster",
                        key_prefix=f"test-{uuid.uuid4().hex[:10]}")
    app = build_app(settings, recommender=demo_recommender)
    try:
        with pytest.raises(RedisConnectionError, match="cannot be connected"):
            await app.redis.ping()
        replies = await Chat(app, user="u0").say("waterproof running earbuds")
        assert [r.kind for r in replies] == ["error"]
    finally:
        await app.stop()


def test_cluster_urls_the_cluster_cannot_use_are_refused() -> None:
    with pytest.raises(ValueError, match="database 0"):
        connect("redis://127.0.0.1:7000/2", mode="cluster")
    with pytest.raises(ValueError, match="redis://"):
        connect("unix:///tmp/redis.sock", mode="cluster")
    # When settings load, so every command stops at once with the reason (and not the password).
    with pytest.raises(SettingsError, match="REDIS_URL with DAOGOU_REDIS_MODE=cluster: .*database 0"):
        Settings.from_env({"REDIS_URL": "redis://:hunter2@10.0.0.1:6379/3", "DAOGOU_REDIS_MODE": "cluster"})
    with pytest.raises(SettingsError, match="entry 2 of REDIS_URL names no host") as refused:
        Settings.from_env({"REDIS_URL": "redis://:hunter2@10.0.0.1:6379,:hunter2@:6379",
                           "DAOGOU_REDIS_MODE": "sentinel"})
    assert "hunter2" not in str(refused.value)
    assert Settings.from_env({"REDIS_URL": "redis://10.0.0.1,10.0.0.2:7001", "DAOGOU_REDIS_MODE": "cluster"})
