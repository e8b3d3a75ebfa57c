"""Signed ticket webhooks against real Redis and a receiver stand-in on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from core.app import App
from core.settings import Settings
from core.tickets import TicketStore
from core.webhooks import DELIVERY_HEADER, GROUP, SIGNATURE_HEADER, TIMESTAMP_HEADER, TicketWebhooks, sign, verify
from tests.http_standin import Call, Recorder

SECRET = "s3cret-for-tests"


@pytest.fixture
async def receiver() -> AsyncIterator[Recorder]:
    recorder = await Recorder().start()
    yield recorder
    await recorder.stop()


def hook_settings(settings: Settings, receiver: Recorder, attempts: int = 3) -> Settings:
    return replace(settings, ticket_webhook_url=receiver.url + "/hooks/daogou", ticket_webhook_secret=SECRET,
                   ticket_webhook_attempts=attempts)


class Sender:
    """One replica's sender loop."""

    def __init__(self, app: App, settings: Settings, consumer: str = "r1") -> None:
        self.hooks = TicketWebhooks(TicketStore(app.redis, settings), settings, backoff_s=0.01)
        self.consumer = consumer
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> Sender:
        self.task = asyncio.create_task(self.hooks.run(consumer=self.consumer, stop=self.stop, block_ms=50))
        deadline = time.monotonic() + 5
        while not await _has_group(self.hooks):  # the group starts at "$": wait before making events
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        return self

    async def halt(self) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 5)
        await self.hooks.aclose()


async def _has_group(hooks: TicketWebhooks) -> bool:
    try:
        groups: Any = await hooks.redis.xinfo_groups(hooks.stream)
    except Exception:  # noqa: BLE001 - no stream yet
        return False
    return any((g.get("name") or g.get(b"name")) in (GROUP, GROUP.encode()) for g in groups)


def signed_ok(call: Call) -> bool:
    return verify(SECRET, call.body, call.headers[TIMESTAMP_HEADER], call.headers[SIGNATURE_HEADER])


async def open_ticket(app: App, user: str = "u1") -> str:
    ticket, created = await app.tickets.open(platform="test", user_id=user, reason="customer_request")
    assert created
    return ticket.id


async def test_a_ticket_event_arrives_signed_with_the_ticket(app: App, settings: Settings,
                                                             receiver: Recorder) -> None:
    settings = hook_settings(settings, receiver)
    sender = await Sender(app, settings).start()
    try:
        ticket_id = await open_ticket(app)
        [call] = await receiver.wait_for(1)
    finally:
        await sender.halt()
    assert call.path == "/hooks/daogou"
    assert call.headers[SIGNATURE_HEADER].startswith("sha256=")
    assert signed_ok(call)
    body = call.json()
    assert body["type"] == "created" and body["event"]["ticket"] == ticket_id
    assert body["ticket"]["id"] == ticket_id and body["ticket"]["state"] == "pending"
    assert call.headers[DELIVERY_HEADER] == body["id"]


async def test_500_twice_then_200_is_delivered_once_after_retries(app: App, settings: Settings,
                                                                  receiver: Recorder) -> None:
    receiver.statuses = [500, 500]
    sender = await Sender(app, hook_settings(settings, receiver)).start()
    try:
        await open_ticket(app)
        calls = await receiver.wait_for(3)
        await asyncio.sleep(0.2)  # nothing more may come
    finally:
        await sender.halt()
    assert [c.status for c in receiver.calls] == [500, 500, 200]
    assert len({c.headers[DELIVERY_HEADER] for c in calls}) == 1  # the same event each time
    assert all(signed_ok(c) for c in calls)
    assert await sender.hooks.dead_letters() == []
    pending: Any = await app.redis.xpending(sender.hooks.stream, GROUP)
    assert pending["pending"] == 0


async def test_an_event_that_keeps_failing_is_parked_in_dead_letters(app: App, settings: Settings,
                                                                     receiver: Recorder) -> None:
    receiver.statuses = [503] * 10
    sender = await Sender(app, hook_settings(settings, receiver, attempts=3)).start()
    try:
        ticket_id = await open_ticket(app)
        deadline = time.monotonic() + 5
        while not await sender.hooks.dead_letters():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
    finally:
        await sender.halt()
    assert len(receiver.calls) == 3
    [dead] = await sender.hooks.dead_letters()
    assert dead["ticket"] == ticket_id and "HTTP 503" in dead["reason"]


async def test_a_refusal_is_not_retried(app: App, settings: Settings, receiver: Recorder) -> None:
    receiver.statuses = [401]
    sender = await Sender(app, hook_settings(settings, receiver)).start()
    try:
        await open_ticket(app)
        deadline = time.monotonic() + 5
        while not await sender.hooks.dead_letters():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
    finally:
        await sender.halt()
    assert len(receiver.calls) == 1
    assert "HTTP 401" in (await sender.hooks.dead_letters())[0]["reason"]


async def test_replicas_share_the_events_each_sent_once(app: App, settings: Settings, receiver: Recorder) -> None:
    settings = hook_settings(settings, receiver)
    one, two = await Sender(app, settings, "r1").start(), await Sender(app, settings, "r2").start()
    try:
        for n in range(6):
            await open_ticket(app, f"user{n}")
        await receiver.wait_for(6)
        await asyncio.sleep(0.2)
    finally:
        await one.halt()
        await two.halt()
    ids = [c.headers[DELIVERY_HEADER] for c in receiver.calls]
    assert len(ids) == 6 and len(set(ids)) == 6


def test_a_signature_mismatch_is_detectable() -> None:
    body = json.dumps({"id": "1-0", "type": "created"}).encode()
    now = time.time()
    stamp = str(int(now))
    good = sign(SECRET, stamp, body)
    assert verify(SECRET, body, stamp, good, now=now)
    assert not verify("another secret", body, stamp, good, now=now)
    assert not verify(SECRET, body.replace(b"created", b"changed"), stamp, good, now=now)
    assert not verify(SECRET, body, str(int(now) - 1), good, now=now)  # the timestamp is in the MAC
    assert not verify(SECRET, body, stamp, good, now=now + 3600)  # a replay an hour later
    assert not verify(SECRET, body, "yesterday", good, now=now)
    assert not verify(SECRET, body, stamp, "", now=now)


async def test_daogou_run_http_sends_the_webhooks(app: App, settings: Settings, receiver: Recorder) -> None:
    from bots.http_channel import start

    settings = replace(hook_settings(settings, receiver), http_api_keys="k" * 20, http_listen="127.0.0.1")
    running = await start(settings, app, port=0)
    try:
        probe = TicketWebhooks(app.tickets, settings)
        deadline = time.monotonic() + 5
        while not await _has_group(probe):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        await probe.aclose()
        ticket_id = await open_ticket(app)
        await app.tickets.assign(ticket_id, "li")
        calls = await receiver.wait_for(2)
    finally:
        await running.stop()
    assert [c.json()["type"] for c in calls] == ["created", "changed"]
    assert calls[1].json()["ticket"]["assignee"] == "li" and all(signed_ok(c) for c in calls)
