"""Sessions in a real Redis: ordering, no lost updates, expiry, dedup, forgetting, cluster tags."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

import pytest
from redis.crc import key_slot

from core.session import Session
from core.settings import Settings
from core.store import ConflictError, SessionStore


async def _append_turn(store: SessionStore, user: str, label: str, work: float = 0.0) -> None:
    """One turn's read-modify-write: append ``label`` to the session's history."""
    async with store.turn(user):
        loaded = await store.load(user, lang="en")
        await asyncio.sleep(work)  # widen the window in which a lost update would happen
        loaded.session.remember("user", label, 1000)
        await store.save(user, loaded.session, rev=loaded.rev)


async def _history(store: SessionStore, user: str) -> list[str]:
    return [h["text"] for h in (await store.load(user, lang="en")).session.history]


async def test_one_users_concurrent_turns_run_one_at_a_time_in_arrival_order(settings: Settings, app) -> None:
    store = app.store
    labels = [f"msg-{i:02}" for i in range(20)]
    await asyncio.gather(*(_append_turn(store, "tg:1", label, work=0.005) for label in labels))
    assert await _history(store, "tg:1") == labels


async def test_turns_from_several_processes_lose_no_update(settings: Settings, make_redis) -> None:
    # Three stores with their own connection pools stand for three bot processes.
    stores = [SessionStore(make_redis(), settings) for _ in range(3)]
    labels = [f"p{i % 3}-{i:02}" for i in range(30)]
    await asyncio.gather(*(_append_turn(stores[i % 3], "tg:7", label, 0.002) for i, label in enumerate(labels)))
    history = await _history(stores[0], "tg:7")
    assert sorted(history) == sorted(labels)  # none lost
    for p in range(3):  # each process's own messages stay in their order
        mine = [h for h in history if h.startswith(f"p{p}-")]
        assert mine == sorted(mine)


async def test_different_users_run_in_parallel(app) -> None:
    store = app.store
    started = time.perf_counter()
    await asyncio.gather(*(_append_turn(store, f"tg:{n}", "hello", work=0.2) for n in range(200)))
    elapsed = time.perf_counter() - started
    # Serialized, 200 turns of 0.2 s would take 40 s; in parallel they overlap.
    assert elapsed < 20, elapsed
    for n in (0, 99, 199):
        assert await _history(store, f"tg:{n}") == ["hello"]


async def test_a_crashed_turn_does_not_wedge_the_user(settings: Settings, make_redis) -> None:
    settings = replace(settings, turn_lease_ms=300)
    dead = SessionStore(make_redis(), settings)
    alive = SessionStore(make_redis(), settings)
    # A process takes the turn and dies without releasing it: its lease keeper stops too.
    holder = dead.turn("tg:9")
    await holder.__aenter__()
    assert dead._renewer is not None
    dead._renewer.cancel()  # the process is gone: nobody renews its lease
    started = time.perf_counter()
    await asyncio.wait_for(_append_turn(alive, "tg:9", "after crash"), timeout=5)
    assert time.perf_counter() - started >= 0.2  # it waited for the lease to run out
    assert await _history(alive, "tg:9") == ["after crash"]


async def test_a_stale_write_is_refused(app) -> None:
    store = app.store
    first = await store.load("tg:2", lang="en")
    second = await store.load("tg:2", lang="en")
    await store.save("tg:2", first.session, rev=first.rev)
    with pytest.raises(ConflictError):
        await store.save("tg:2", second.session, rev=second.rev)


async def test_idle_sessions_expire(settings: Settings, make_redis) -> None:
    store = SessionStore(make_redis(), replace(settings, session_ttl=1))
    await _append_turn(store, "tg:3", "hi")
    assert await _history(store, "tg:3") == ["hi"]
    await asyncio.sleep(2.1)
    loaded = await store.load("tg:3", lang="en")
    assert loaded.status == "new" and loaded.session.history == []


async def test_duplicate_message_ids_are_remembered(app) -> None:
    store = app.store
    loaded = await store.load("tg:4", lang="en")
    await store.save("tg:4", loaded.session, rev=loaded.rev, message_id="update-1")
    assert await store.is_duplicate("tg:4", "update-1")
    assert not await store.is_duplicate("tg:4", "update-2")
    assert not await store.is_duplicate("tg:5", "update-1")  # ids are per user
    assert not await store.is_duplicate("tg:4", "")


async def test_corrupt_and_foreign_sessions_are_replaced(app) -> None:
    store, redis = app.store, app.redis
    await redis.hset(store.key("tg:6", "session"), mapping={"data": "{not json", "rev": 3})
    loaded = await store.load("tg:6", lang="zh")
    assert loaded.status == "corrupt" and loaded.session.lang == "zh"
    await store.save("tg:6", loaded.session, rev=loaded.rev)  # the fresh one can be written over it
    assert (await store.load("tg:6", lang="en")).status == "ok"

    other = Session(user="tg:someone-else").to_dict()
    await redis.hset(store.key("tg:8", "session"), mapping={"data": json.dumps(other), "rev": 1})
    assert (await store.load("tg:8", lang="en")).status == "corrupt"


async def test_forget_deletes_the_users_keys_and_events(app) -> None:
    store, redis = app.store, app.redis
    await _append_turn(store, "tg:10", "secret")
    await store.append_events("tg:10", [{"type": "query", "data": {"text": "secret"}}])
    await store.append_events("tg:11", [{"type": "query", "data": {"text": "other"}}])
    assert await store.forget("tg:10") == 1
    assert await redis.keys(f"{store.settings.key_prefix}:{{tg:10}}:*") == []
    users = [fields[b"user"] for _, fields in await redis.xrange(store.events_key)]
    assert users == [b"tg:11"]


async def test_keys_of_one_user_share_a_cluster_hash_slot(app) -> None:
    store = app.store
    await _append_turn(store, "tg:12", "x")
    await store.save("tg:12", (await store.load("tg:12", lang="en")).session,
                     rev=(await store.load("tg:12", lang="en")).rev, message_id="m1")
    names = ["session", "queue", "leases", "seen"]
    stored = {k.decode() for k in await app.redis.keys(f"{store.settings.key_prefix}:{{tg:12}}:*")}
    assert {store.key("tg:12", "session"), store.key("tg:12", "seen")} <= stored
    # The slot Redis Cluster would pick (CRC16 of the hash tag), as redis-py computes it.
    assert len({key_slot(store.key("tg:12", n).encode()) for n in names}) == 1
    assert key_slot(store.key("tg:12", "session").encode()) == key_slot(b"{tg:12}")


async def test_a_long_turn_keeps_its_lease_and_the_renewer_ends_with_it(settings: Settings, make_redis) -> None:
    settings = replace(settings, turn_lease_ms=300)
    slow, other = SessionStore(make_redis(), settings), SessionStore(make_redis(), settings)
    order: list[str] = []

    async def long_turn() -> None:
        async with slow.turn("tg:30"):
            await asyncio.sleep(1.0)  # three leases long: renewed, so nobody skips it
            order.append("long")

    first = asyncio.create_task(long_turn())
    await asyncio.sleep(0.05)
    async with other.turn("tg:30"):
        order.append("next")
    await first
    assert order == ["long", "next"]
    assert slow._renewer is not None
    await asyncio.wait_for(slow._renewer, 1)  # nothing held any more: it ends by itself


async def test_a_commit_sent_twice_is_one_write_not_a_conflict(app) -> None:
    # The cluster client sends a command again when its reply was lost: the second copy of a
    # turn's own commit must answer as the success it was, while another turn's write still conflicts.
    store = app.store
    async with store.turn("tg:20", message_id="m1") as held:
        assert held.loaded is not None
        session = held.loaded.session
        session.remember("user", "hello", 10)
        first = await store.commit("tg:20", session, rev=held.loaded.rev, message_id="m1", held=held)
        again = await store.commit("tg:20", session, rev=held.loaded.rev, message_id="m1", held=held)
        assert first == again == 1
    async with store.turn("tg:20", message_id="m2") as other:
        with pytest.raises(ConflictError):
            await store.commit("tg:20", session, rev=0, message_id="m2", held=other)
    assert await _history(store, "tg:20") == ["hello"]


async def test_a_turn_costs_two_round_trips(app, monkeypatch: pytest.MonkeyPatch) -> None:
    from redis.asyncio.connection import AbstractConnection as Connection

    from core.messages import Inbound

    await app.dialogue.handle(Inbound(platform="tg", user_id="21", text="hi", message_id="1"))  # scripts loaded
    sent: list[bytes] = []
    original = Connection.send_packed_command

    async def counted(self, command, check_health=True):  # type: ignore[no-untyped-def]
        sent.append(command if isinstance(command, bytes) else b"".join(command))
        return await original(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counted)
    for n, text in enumerate(["wireless earbuds under 500", "cheaper", "thanks", "tell me more about 2"], 2):
        sent.clear()
        out = await app.dialogue.handle(Inbound(platform="tg", user_id="21", text=text, message_id=str(n)))
        assert out.replies and len(sent) == 2, (text, sent)
