"""The HTTP channel over a real socket on 127.0.0.1, against real Redis."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from bots.http_channel import PLATFORM, ApiKeys, Running, start
from core.app import App
from core.messages import Reply
from core.outbox import Outbox
from core.settings import Settings, SettingsError

KEY = "widget-key-0123456789"
HASHED_KEY = "second-key-abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def http_settings(settings: Settings) -> Settings:
    keys = f"{KEY}, sha256:{hashlib.sha256(HASHED_KEY.encode()).hexdigest()}"
    return replace(settings, http_api_keys=keys, http_listen="127.0.0.1", http_max_body=4096,
                   outbox_retry_ms=500)


@pytest.fixture
async def server(app: App, http_settings: Settings) -> AsyncIterator[Running]:
    running = await start(http_settings, app, port=0)
    yield running
    await running.stop()


@pytest.fixture
async def client(server: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
        yield http


async def say(client: httpx.AsyncClient, user: str, text: str, **extra: str) -> dict:
    response = await client.post("/v1/messages", json={"user": user, "text": text, **extra}, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_key_is_required_and_checked(client: httpx.AsyncClient) -> None:
    body = {"user": "u1", "text": "hello"}
    missing = await client.post("/v1/messages", json=body)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    assert "API key" in missing.json()["error"]
    wrong = await client.post("/v1/messages", json=body, headers={"Authorization": "Bearer not-the-key"})
    assert wrong.status_code == 401
    basic = await client.post("/v1/messages", json=body, headers={"Authorization": f"Basic {KEY}"})
    assert basic.status_code == 401
    assert (await client.get("/v1/messages/pending", params={"user": "u1"})).status_code == 401
    right = await client.post("/v1/messages", json=body, headers=AUTH)
    assert right.status_code == 200 and right.json()["replies"]
    hashed = await client.post("/v1/messages", json=body, headers={"Authorization": f"Bearer {HASHED_KEY}"})
    assert hashed.status_code == 200


async def test_a_shopping_turn_then_a_refinement(client: httpx.AsyncClient) -> None:
    first = await say(client, "shopper", "waterproof running earbuds under 300")
    products = [p for r in first["replies"] for p in r["products"]]
    assert 3 <= len(products) <= 5
    assert all(p["price"] <= 300 and p["id"] and p["title"] for p in products)
    assert first["push"] == []
    cheaper = await say(client, "shopper", "cheaper")
    prices = [p["price"] for r in cheaper["replies"] for p in r["products"]]
    assert prices and max(prices) < min(p["price"] for p in products)
    zh = await say(client, "shopper-zh", "我想买一款适合运动的蓝牙耳机，500元以内")
    assert any("\u4e00" <= ch <= "\u9fff" for r in zh["replies"] for ch in r["text"])


async def test_a_button_action_and_a_resent_message_id(client: httpx.AsyncClient) -> None:
    shown = await say(client, "u2", "running shoes")
    product = shown["replies"][0]["products"][0]
    response = await client.post("/v1/messages", json={"user": "u2", "action": f"details:{product['id']}"},
                                 headers=AUTH)
    assert response.status_code == 200
    assert response.json()["replies"][0]["kind"] == "details"
    once = await say(client, "u2", "cheaper", message_id="m-1")
    again = await say(client, "u2", "cheaper", message_id="m-1")
    assert once["replies"] and again == {"replies": [], "duplicate": True, "push": []}


@pytest.mark.parametrize(("body", "needle"), [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"text": "hi"}', '"user"'),
    (b'{"user": "", "text": "hi"}', '"user"'),
    (b'{"user": "a{b}", "text": "hi"}', '"user"'),
    (b'{"user": true, "text": "hi"}', '"user"'),
    (b'{"user": "u", "text": 5}', "strings"),
    (b'{"user": "u"}', "exactly one"),
    (b'{"user": "u", "text": "hi", "action": "more"}', "exactly one"),
    (b'{"user": "u", "text": "hi", "message_id": {"a": 1}}', "message_id"),
    (b'{"user": "u", "text": "hi", "lang": 7}', "lang"),
    (b"\xff\xfe", "not JSON"),
])
async def test_malformed_bodies_get_a_clear_400(client: httpx.AsyncClient, body: bytes, needle: str) -> None:
    response = await client.post("/v1/messages", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert needle in response.json()["error"]


async def test_an_oversized_body_gets_413(client: httpx.AsyncClient) -> None:
    big = json.dumps({"user": "u", "text": "x" * 5000})
    response = await client.post("/v1/messages", content=big, headers=AUTH)
    assert response.status_code == 413 and "4096" in response.json()["error"]

    async def chunks():  # no Content-Length: the limit holds for a streamed body too
        for _ in range(5):
            yield b"x" * 1000

    streamed = await client.post("/v1/messages", content=chunks(), headers=AUTH)
    assert streamed.status_code == 413


async def test_pushes_come_with_the_next_answer(client: httpx.AsyncClient, app: App,
                                                http_settings: Settings) -> None:
    outbox = Outbox(app.redis, http_settings, PLATFORM)
    await outbox.put("u3", "u3", Reply("Your order shipped", kind="notice"), kind="alert")
    await outbox.put("u3", "u3", Reply("Tracking: SF123", kind="notice"), kind="alert")
    await outbox.put("someone-else", "someone-else", Reply("not for u3"), kind="alert")
    for _ in range(200):  # the outbox consumer moves them into the mailboxes
        if not await outbox.pending_count():
            break
        await asyncio.sleep(0.02)
    answer = await say(client, "u3", "hello")
    assert [p["text"] for p in answer["push"]] == ["Your order shipped", "Tracking: SF123"]
    assert (await say(client, "u3", "thanks"))["push"] == []  # collected once


async def test_pending_long_poll_returns_when_a_push_arrives(client: httpx.AsyncClient, app: App,
                                                             http_settings: Settings) -> None:
    empty = await client.get("/v1/messages/pending", params={"user": "u4"}, headers=AUTH)
    assert empty.status_code == 200 and empty.json() == {"push": []}
    poll = asyncio.create_task(client.get("/v1/messages/pending", params={"user": "u4", "wait": "10"},
                                          headers=AUTH))
    await asyncio.sleep(0.3)
    assert not poll.done()
    await Outbox(app.redis, http_settings, PLATFORM).put("u4", "u4", Reply("An agent answered", kind="agent"))
    response = await asyncio.wait_for(poll, 8)
    assert [p["text"] for p in response.json()["push"]] == ["An agent answered"]
    bad = await client.get("/v1/messages/pending", params={"user": "u4", "wait": "600"}, headers=AUTH)
    assert bad.status_code == 400
    assert (await client.get("/v1/messages/pending", headers=AUTH)).status_code == 400


async def test_handoff_and_an_agents_answer_reach_the_widget(client: httpx.AsyncClient, app: App) -> None:
    await say(client, "u5", "running shoes")
    handed = await say(client, "u5", "talk to a person")
    assert any(r["kind"] == "handoff" for r in handed["replies"])
    ticket = await app.tickets.open_ticket_of(PLATFORM, "u5")
    assert ticket is not None
    await app.agents.claim(ticket.id, "li", name="Li")
    await app.agents.reply(ticket.id, "li", "The blue ones are back in stock", name="Li")
    pushed: list[str] = []
    for _ in range(100):
        got = await client.get("/v1/messages/pending", params={"user": "u5", "wait": "1"}, headers=AUTH)
        pushed += [p["text"] for p in got.json()["push"]]
        if any("blue ones" in text for text in pushed):
            break
    assert any("blue ones" in text for text in pushed), pushed


async def test_health_needs_no_key_and_chatwoot_is_off(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["ok"] is True
    assert (await client.get("/readyz")).json() == {"ok": True, "redis": "ok", "recommender": "in process"}
    assert "daogou_turns_total" in (await client.get("/metrics")).text
    assert (await client.post("/chatwoot/whatever-secret-1234", json={})).status_code == 404


def test_api_keys() -> None:
    keys = ApiKeys(f"plain-key, sha256:{hashlib.sha256(b'other').hexdigest()}")
    assert keys.check("Bearer plain-key") and keys.check("bearer other") and keys.check("Bearer  plain-key ")
    assert not keys.check("Bearer plain") and not keys.check("") and not keys.check("plain-key")
    assert not ApiKeys(None) and not ApiKeys(" , ")
    with pytest.raises(SettingsError):
        ApiKeys("sha256:abc")


async def test_no_api_keys_and_no_chatwoot_refuses_to_start(app: App, settings: Settings) -> None:
    with pytest.raises(SettingsError, match="DAOGOU_HTTP_API_KEYS"):
        await start(replace(settings, http_api_keys=None), app, port=0)
    with pytest.raises(SettingsError, match="DAOGOU_TICKET_WEBHOOK_SECRET"):
        await start(replace(settings, http_api_keys=KEY, ticket_webhook_url="http://127.0.0.1:9/"), app, port=0)
