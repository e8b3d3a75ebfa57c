"""The scheduler's jobs against real Redis: SLA notices, abandonment, housekeeping, one run per
firing across replicas, and ``daogou run scheduler`` as a process."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from redis.asyncio import Redis

from core.messages import Reply
from core.outbox import GROUP, Outbox
from core.scheduler import SLA_TAG, JobContext, build_scheduler, run_once, sla_abandon, sla_unclaimed, sweep
from core.settings import Settings
from core.tickets import ABANDONED, ASSIGNED, PENDING, TicketStore

T0 = 1_750_000_000.0  # a fixed business clock; handoff hours are "always" below


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def sched_settings(settings: Settings) -> Settings:
    return replace(settings, handoff_hours="always", handoff_sla=300, handoff_handling_minutes=5.0,
                   handoff_abandon_hours=24.0)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def redis(make_redis: Callable[[], Redis]) -> Redis:
    return make_redis()


def context(redis: Redis, settings: Settings, clock: Clock) -> JobContext:
    return JobContext.build(redis, settings, now=clock)


async def sent(redis: Redis, settings: Settings, platform: str) -> list[dict[str, str]]:
    entries = await redis.xrange(Outbox(redis, settings, platform).stream)
    out = []
    for _, fields in entries:
        row = {k.decode(): v.decode() for k, v in fields.items()}
        row["text"] = json.loads(row["reply"])["text"]
        out.append(row)
    return out


async def test_unclaimed_ticket_gets_one_notice_and_a_higher_priority(redis: Redis, sched_settings: Settings,
                                                                      clock: Clock) -> None:
    ctx = context(redis, sched_settings, clock)
    store = TicketStore(redis, sched_settings, clock=clock)
    older, _ = await store.open(platform="discord", user_id="bob", reason="customer_request",
                               sla_deadline=T0 + 10 * 3600)
    clock.at = T0 + 1
    ticket, _ = await store.open(platform="telegram", user_id="li", chat_id="c-li", lang="zh",
                                 reason="customer_request")
    assert [t.id for t in await store.queue()] == [older.id, ticket.id]

    clock.at = T0 + 1 + 299  # one second before the deadline
    assert await sla_unclaimed(ctx, fire_time=1) == {"notified": 0}
    assert await sent(redis, sched_settings, "telegram") == []

    clock.at = T0 + 1 + 301
    assert await sla_unclaimed(ctx, fire_time=2) == {"notified": 1}
    notices = await sent(redis, sched_settings, "telegram")
    assert len(notices) == 1
    assert notices[0]["user"] == "li" and notices[0]["chat"] == "c-li" and notices[0]["kind"] == "sla"
    assert "客服都在忙" in notices[0]["text"] and "约5分钟" in notices[0]["text"]
    stored = await store.get(ticket.id)
    assert stored.priority == 1 and SLA_TAG in stored.tags and stored.state == PENDING
    assert stored.history[-1].actor == "scheduler"
    assert [t.id for t in await store.queue()] == [ticket.id, older.id]  # raised above the older one

    clock.at += 600
    assert await sla_unclaimed(ctx, fire_time=3) == {"notified": 0}  # a later firing: still one notice
    assert len(await sent(redis, sched_settings, "telegram")) == 1
    assert (await store.get(ticket.id)).priority == 1
    assert await sent(redis, sched_settings, "discord") == []  # bob's deadline is hours away


async def test_wait_estimate_grows_with_the_place_in_the_queue(redis: Redis, sched_settings: Settings,
                                                              clock: Clock) -> None:
    ctx = context(redis, sched_settings, clock)
    store = TicketStore(redis, sched_settings, clock=clock)
    for n, user in enumerate(("a", "b", "c")):
        clock.at = T0 + n
        await store.open(platform="test", user_id=user, reason="customer_request", priority=1 if user == "a" else 0)
    clock.at = T0 + 3600
    assert await sla_unclaimed(ctx, fire_time=1) == {"notified": 3}
    texts = {row["user"]: row["text"] for row in await sent(redis, sched_settings, "test")}
    assert "about 5 minutes" in texts["a"]  # priority 2 now: first in the queue
    assert re.search(r"about (10|15) minutes", texts["b"]) and re.search(r"about (10|15) minutes", texts["c"])


async def test_a_claimed_ticket_is_left_alone(redis: Redis, sched_settings: Settings, clock: Clock) -> None:
    ctx = context(redis, sched_settings, clock)
    store = TicketStore(redis, sched_settings, clock=clock)
    ticket, _ = await store.open(platform="test", user_id="u1", reason="customer_request")
    clock.at = T0 + 60
    await store.assign(ticket.id, "agent-7")
    clock.at = T0 + 2 * 3600
    await store.append_message(ticket.id, "agent", "Hello, looking into it", actor="agent-7")

    clock.at = T0 + 25 * 3600  # past the SLA, and 25 h after opening, but 23 h after the agent wrote
    assert await sla_unclaimed(ctx, fire_time=1) == {"notified": 0}
    assert await sla_abandon(ctx, fire_time=1) == {"abandoned": 0}
    stored = await store.get(ticket.id)
    assert stored.state == ASSIGNED and stored.priority == 0 and SLA_TAG not in stored.tags
    assert await sent(redis, sched_settings, "test") == []


async def test_unanswered_ticket_is_abandoned_and_the_customer_told(redis: Redis, sched_settings: Settings,
                                                                   clock: Clock) -> None:
    ctx = context(redis, sched_settings, clock)
    store = TicketStore(redis, sched_settings, clock=clock)
    ticket, _ = await store.open(platform="telegram", user_id="u2", chat_id="c2", lang="en", reason="keyword")
    await store.append_message(ticket.id, "customer", "hello? anyone?")
    claimed, _ = await store.open(platform="telegram", user_id="u3", reason="keyword")
    clock.at = T0 + 3600
    await store.assign(claimed.id, "agent-1")  # claimed, but the agent never wrote

    clock.at = T0 + 24 * 3600 - 1
    assert await sla_abandon(ctx, fire_time=1) == {"abandoned": 0}
    clock.at = T0 + 24 * 3600 + 1
    assert await sla_abandon(ctx, fire_time=2) == {"abandoned": 1}

    gone = await store.get(ticket.id)
    assert gone.state == ABANDONED and gone.history[-1].actor == "scheduler"
    assert "24 hours" in gone.resolution
    assert await store.open_ticket_of("telegram", "u2") is None
    assert (await store.get(claimed.id)).state == ASSIGNED  # 23 h since the claim
    notices = await sent(redis, sched_settings, "telegram")
    assert [(n["user"], n["chat"], n["kind"]) for n in notices] == [("u2", "c2", "sla")]
    assert "closed it" in notices[0]["text"]

    clock.at = T0 + 3600 + 24 * 3600 + 1
    assert await sla_abandon(ctx, fire_time=3) == {"abandoned": 1}
    assert (await store.get(claimed.id)).state == ABANDONED
    assert len(await sent(redis, sched_settings, "telegram")) == 2


async def test_two_replicas_firing_at_once_run_the_body_once(make_redis: Callable[[], Redis],
                                                            sched_settings: Settings, clock: Clock) -> None:
    one, two = context(make_redis(), sched_settings, clock), context(make_redis(), sched_settings, clock)
    runs: list[str] = []

    async def body(ctx: JobContext) -> str:
        runs.append("ran")
        await asyncio.sleep(0.05)
        return "done"

    results = await asyncio.gather(run_once(one, "sla_unclaimed", 100.0, body),
                                   run_once(two, "sla_unclaimed", 100.0, body))
    assert sorted(results, key=str) == [None, "done"] and runs == ["ran"]
    assert await run_once(two, "sla_unclaimed", 100.0, body) is None  # a late replica: the firing is done
    assert runs == ["ran"]

    async def broken(ctx: JobContext) -> str:
        runs.append("broke")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await run_once(one, "sweep", 200.0, broken)
    assert await run_once(two, "sweep", 200.0, body) == "done"  # a failed firing is released: retried

    store = TicketStore(one.redis, sched_settings, clock=clock)
    await store.open(platform="test", user_id="x", reason="customer_request")
    clock.at = T0 + 3600
    both = await asyncio.gather(sla_unclaimed(one, fire_time=300.0), sla_unclaimed(two, fire_time=300.0))
    assert sorted(both, key=str) == [None, {"notified": 1}]
    assert len(await sent(one.redis, sched_settings, "test")) == 1


async def test_two_scheduler_processes_share_each_firing(make_redis: Callable[[], Redis],
                                                        sched_settings: Settings, clock: Clock) -> None:
    settings = replace(sched_settings, scheduler_sla_interval=1, scheduler_sweep_interval=3600)
    contexts = [context(make_redis(), settings, clock) for _ in range(2)]
    schedulers = [build_scheduler(ctx) for ctx in contexts]
    for s in schedulers:
        s.start()
    await asyncio.sleep(2.3)
    for s in schedulers:
        s.shutdown(wait=False)
    await asyncio.sleep(0.1)
    firings: dict[float, list[str]] = {}
    for ctx in contexts:
        for job_id, fire_time, status, _ in ctx.history:
            if job_id == "sla_unclaimed":
                firings.setdefault(fire_time, []).append(status)
    assert len(firings) >= 2
    for fire_time, statuses in firings.items():
        assert statuses.count("ran") == 1, (fire_time, statuses)
        assert fire_time == int(fire_time)  # interval slots start at the epoch: the same in every replica
    assert any(statuses == ["ran", "skipped"] or statuses == ["skipped", "ran"] for statuses in firings.values())


async def test_sweep_removes_what_it_should_and_nothing_else(redis: Redis, sched_settings: Settings,
                                                            clock: Clock) -> None:
    settings = replace(sched_settings, outbox_consumer_idle_ms=200, dedup_ttl=3600, ticket_ttl=30 * 24 * 3600)
    ctx = context(redis, settings, clock)
    p = settings.key_prefix

    # Dedup sets: one that lost its expiry (old entry dropped, expiry set), one still expiring (untouched).
    await redis.zadd(f"{p}:{{test:a}}:seen", {"old": T0 - 7200, "new": T0 - 10})
    await redis.zadd(f"{p}:{{test:b}}:seen", {"old": T0 - 7200})
    await redis.expire(f"{p}:{{test:b}}:seen", 500)
    # Button references: one without an expiry, one with.
    await redis.set(f"{p}:button:persisted", "show:1")
    await redis.set(f"{p}:button:fine", "show:2", ex=100)
    # Sessions are never swept, even without an expiry; nor are other deployments' keys.
    await redis.hset(f"{p}:{{test:a}}:session", mapping={"data": "{}", "rev": 1})
    await redis.set(f"{p}-other:button:x", "y")

    store = TicketStore(redis, settings, clock=clock)
    clock.at = T0 - 40 * 24 * 3600
    ancient, _ = await store.open(platform="test", user_id="old", reason="keyword")
    await store.append_message(ancient.id, "customer", "hi")
    await store.resolve(ancient.id, actor="agent")
    clock.at = T0 - 3600
    recent, _ = await store.open(platform="test", user_id="recent", reason="keyword")
    await store.append_message(recent.id, "customer", "hi")
    await store.resolve(recent.id, actor="agent")
    expiring, _ = await store.open(platform="test", user_id="expiring", reason="keyword")
    await store.abandon(expiring.id, note="gone")
    still_open, _ = await store.open(platform="test", user_id="open", reason="keyword")
    await store.append_message(still_open.id, "customer", "hi")
    for ticket_id in (ancient.id, recent.id):  # as if closed before tickets expired, or by an older version
        await redis.persist(store.ticket_key(ticket_id))
        await redis.persist(store.messages_key(ticket_id))
    await redis.rpush(store.messages_key("orphan"), "{}")
    await redis.zadd(store.open_key, {"ghost": T0})
    await redis.zadd(store.pending_key("shopping"), {"ghost": 1})

    # Outbox consumers: idle with nothing pending (removed), idle with a pending message, and live.
    outbox = Outbox(redis, settings, "telegram")
    await redis.xgroup_create(outbox.stream, GROUP, id="0", mkstream=True)
    delivered = await outbox.put("u", "u", Reply("hi"))
    await redis.xreadgroup(GROUP, "dead-pod", {outbox.stream: ">"}, count=1)
    await redis.xack(outbox.stream, GROUP, delivered)
    await outbox.put("u", "u", Reply("hi again"))
    await redis.xreadgroup(GROUP, "busy-pod", {outbox.stream: ">"}, count=1)
    await asyncio.sleep(0.3)
    await redis.xgroup_createconsumer(outbox.stream, GROUP, "live-pod")  # a live adapter reads all the time

    clock.at = T0
    counts = await sweep(ctx, fire_time=1)
    assert counts is not None
    assert counts["seen_trimmed"] == 1 and counts["buttons_expiring"] == 1 and counts["tickets_deleted"] == 1
    assert counts["tickets_expiring"] == 1 and counts["orphan_messages"] == 1 and counts["consumers_removed"] == 1
    assert counts["index_repaired"] == 2

    assert await redis.zrange(f"{p}:{{test:a}}:seen", 0, -1) == [b"new"]
    assert 0 < await redis.ttl(f"{p}:{{test:a}}:seen") <= 3600
    assert await redis.zrange(f"{p}:{{test:b}}:seen", 0, -1) == [b"old"]
    assert await redis.ttl(f"{p}:button:persisted") > 0 and await redis.get(f"{p}:button:persisted") == b"show:1"
    assert await redis.ttl(f"{p}:{{test:a}}:session") == -1
    assert await redis.ttl(f"{p}-other:button:x") == -1
    await redis.delete(f"{p}-other:button:x")

    assert await store.find(ancient.id) is None and not await redis.exists(store.messages_key(ancient.id))
    kept = await store.get(recent.id)
    assert kept.messages and 0 < await redis.ttl(store.ticket_key(recent.id)) <= 30 * 24 * 3600
    assert await redis.ttl(store.messages_key(recent.id)) > 0
    assert (await store.get(expiring.id)).state == ABANDONED
    assert (await store.get(still_open.id)).messages and await redis.ttl(store.ticket_key(still_open.id)) == -1
    assert not await redis.exists(store.messages_key("orphan"))
    assert [t.id for t in await store.queue()] == [still_open.id]
    assert await redis.zrange(store.open_key, 0, -1) == [still_open.id.encode()]

    consumers = {c["name"].decode() if isinstance(c["name"], bytes) else c["name"]
                 for c in await redis.xinfo_consumers(outbox.stream, GROUP)}
    assert consumers == {"busy-pod", "live-pod"}


@pytest.mark.slow
def test_run_scheduler_starts_and_stops_on_sigterm(redis_url: str, sched_settings: Settings) -> None:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "REDIS_URL": redis_url, "DAOGOU_KEY_PREFIX": sched_settings.key_prefix,
           "DAOGOU_SCHEDULER_PORT": "0", "DAOGOU_SCHEDULER_LISTEN": "127.0.0.1",
           "DAOGOU_SCHEDULER_SLA_INTERVAL": "1", "DAOGOU_HANDOFF_HOURS": "always", "DAOGOU_LOG_LEVEL": "INFO"}
    proc = subprocess.Popen([sys.executable, "-m", "bots.cli", "run", "scheduler"], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        port = None
        deadline = time.monotonic() + 60
        assert proc.stderr is not None
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"health on http://127\.0\.0\.1:(\d+)/healthz", line)
            if found:
                port = int(found.group(1))
            if port and "job sla_unclaimed" in line and "ran" in line:
                break
        assert port, "".join(lines)
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            health = json.loads(response.read())
        assert response.status == 200 and health["status"] == "ok"
        assert set(health["jobs"]) == {"sla_unclaimed", "sla_abandon", "sweep"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            assert response.status == 200 and json.loads(response.read())["redis"] == "ok"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert b"daogou_handoff_queue_depth" in response.read() or response.status == 200
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
        assert proc.returncode == 0, "".join(lines) + rest
        assert "scheduler stopped" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
