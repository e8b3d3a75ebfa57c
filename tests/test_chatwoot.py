"""The Chatwoot Agent Bot against real Redis and a Chatwoot API stand-in on 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from bots.chatwoot import PLATFORM, render
from bots.http_channel import Running, start
from core.app import App
from core.messages import ProductCard, Reply
from core.outbox import Outbox
from core.settings import Settings
from tests.http_standin import Recorder

SECRET = "chatwoot-hook-secret-0123"
TOKEN = "agent-bot-token-xyz"
MESSAGES = "/api/v1/accounts/1/conversations/7/messages"
TOGGLE = "/api/v1/accounts/1/conversations/7/toggle_status"


@pytest.fixture
async def chatwoot_api() -> AsyncIterator[Recorder]:
    recorder = await Recorder().start()
    yield recorder
    await recorder.stop()


@pytest.fixture
def cw_settings(settings: Settings, chatwoot_api: Recorder) -> Settings:
    return replace(settings, http_listen="127.0.0.1", chatwoot_url=chatwoot_api.url, chatwoot_token=TOKEN,
                   chatwoot_account_id="1", chatwoot_webhook_secret=SECRET, outbox_retry_ms=500)


@pytest.fixture
async def server(app: App, cw_settings: Settings) -> AsyncIterator[Running]:
    running = await start(cw_settings, app, port=0)
    yield running
    await running.stop()


@pytest.fixture
async def client(server: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
        yield http


_ids = iter(range(1000, 100000))


def message(content: str, *, conversation: int = 7, message_type: str = "incoming", private: bool = False,
            sender_type: str = "contact", status: str = "pending", account: int = 1) -> dict[str, Any]:
    """A ``message_created`` payload as Chatwoot's agent bot webhook sends it."""
    return {
        "event": "message_created", "id": next(_ids), "content": content, "message_type": message_type,
        "content_type": "text", "content_attributes": {}, "private": private, "source_id": None,
        "created_at": "2024-05-01T10:00:00.000Z",
        "sender": {"id": 5 if sender_type == "contact" else 2, "name": "Ann", "type": sender_type},
        "conversation": {"id": conversation, "inbox_id": 3, "status": status, "channel": "Channel::WebWidget",
                         "can_reply": True, "contact_inbox": {"contact_id": 5, "inbox_id": 3},
                         "meta": {"sender": {"id": 5, "type": "contact"}}, "messages": []},
        "account": {"id": account, "name": "Shop"}, "inbox": {"id": 3, "name": "Website"},
    }


def status_changed(status: str, conversation: int = 7) -> dict[str, Any]:
    return {"event": "conversation_status_changed", "id": conversation, "status": status, "inbox_id": 3,
            "account": {"id": 1, "name": "Shop"}, "meta": {"sender": {"id": 5, "type": "contact"}}}


async def send(client: httpx.AsyncClient, server: Running, payload: dict[str, Any], path: str = f"/chatwoot/{SECRET}"
               ) -> httpx.Response:
    response = await client.post(path, json=payload)
    assert server.chatwoot is not None
    await server.chatwoot.idle()
    return response


async def test_an_incoming_message_is_answered_in_the_conversation(client: httpx.AsyncClient, server: Running,
                                                                   chatwoot_api: Recorder) -> None:
    response = await send(client, server, message("waterproof running earbuds under 300"))
    assert response.status_code == 200 and response.json()["result"] == "message"
    posts = chatwoot_api.posts(MESSAGES)
    assert posts, chatwoot_api.calls
    assert all(c.headers["api_access_token"] == TOKEN for c in posts)
    body = posts[0].json()
    assert body["message_type"] == "outgoing" and body["private"] is False
    text = "\n".join(c.json()["content"] for c in posts)
    assert re.search(r"^1\. .+ — ¥[\d,]+", text, re.MULTILINE), text
    assert chatwoot_api.posts(TOGGLE) == []


async def test_a_request_for_a_person_opens_the_conversation_and_the_bot_goes_quiet(
        client: httpx.AsyncClient, server: Running, chatwoot_api: Recorder, app: App) -> None:
    await send(client, server, message("running shoes"))
    before = len(chatwoot_api.posts(MESSAGES))
    await send(client, server, message("转人工"))
    notices = chatwoot_api.posts(MESSAGES)[before:]
    assert len(notices) == 1 and any("\u4e00" <= ch <= "\u9fff" for ch in notices[0].json()["content"])
    [toggle] = chatwoot_api.posts(TOGGLE)
    assert toggle.json() == {"status": "open"} and toggle.headers["api_access_token"] == TOKEN
    assert chatwoot_api.calls.index(toggle) > chatwoot_api.calls.index(notices[0])  # notice first
    ticket = await app.tickets.open_ticket_of(PLATFORM, "1:7")
    assert ticket is not None and ticket.chat_id == "7"

    calls = len(chatwoot_api.calls)
    await send(client, server, message("hello? cheaper ones please", status="open"))
    await send(client, server, message("still there?", status="open"))
    assert len(chatwoot_api.calls) == calls  # the agent has it: the bot says nothing


async def test_back_to_pending_the_bot_answers_again(client: httpx.AsyncClient, server: Running,
                                                     chatwoot_api: Recorder, app: App) -> None:
    await send(client, server, message("talk to a person"))
    assert len(chatwoot_api.posts(TOGGLE)) == 1
    await send(client, server, status_changed("open"))  # our own toggle comes back: nothing changes
    assert await app.tickets.open_ticket_of(PLATFORM, "1:7") is not None

    response = await send(client, server, status_changed("pending"))
    assert response.json()["result"] == "status"
    assert await app.tickets.open_ticket_of(PLATFORM, "1:7") is None
    before = len(chatwoot_api.posts(MESSAGES))
    await send(client, server, message("wireless headphones under 500"))
    answers = chatwoot_api.posts(MESSAGES)[before:]
    assert answers and "1. " in "\n".join(c.json()["content"] for c in answers)
    assert len(chatwoot_api.posts(TOGGLE)) == 1  # no second handoff


@pytest.mark.parametrize("payload", [
    message("an agent's answer", message_type="outgoing", sender_type="user"),
    message("the bot's own answer", message_type="outgoing", sender_type="agent_bot"),
    message("a private note", private=True, sender_type="user"),
    message("an incoming note", private=True),
    message("from an agent bot", sender_type="agent_bot"),
    message("template", message_type="template"),
    message("   "),
    message("another account", account=2),
    {"event": "conversation_typing_on", "id": 7},
    {"event": "webwidget_triggered", "contact_inbox": {"id": 1}},
])
async def test_what_the_bot_must_not_answer(client: httpx.AsyncClient, server: Running, chatwoot_api: Recorder,
                                            payload: dict[str, Any]) -> None:
    response = await send(client, server, payload)
    assert response.status_code == 200 and response.json()["result"].startswith("ignored")
    assert chatwoot_api.calls == []


async def test_the_webhook_secret_is_required(client: httpx.AsyncClient, server: Running,
                                              chatwoot_api: Recorder) -> None:
    for path in ("/chatwoot/wrong-secret-0123456789", "/chatwoot", f"/chatwoot/{SECRET}x",
                 "/chatwoot?secret=nope"):
        response = await send(client, server, message("hi"), path=path)
        assert response.status_code == 403, path
    assert chatwoot_api.calls == []
    assert (await send(client, server, message("hi"), path=f"/chatwoot?secret={SECRET}")).status_code == 200
    assert chatwoot_api.posts(MESSAGES)
    bad = await client.post(f"/chatwoot/{SECRET}", content=b"{oops")
    assert bad.status_code == 400


async def test_a_chatwoot_5xx_is_retried(client: httpx.AsyncClient, server: Running,
                                         chatwoot_api: Recorder) -> None:
    chatwoot_api.statuses = [502]
    await send(client, server, message("hello"))
    posts = chatwoot_api.posts(MESSAGES)
    assert [c.status for c in posts][:2] == [502, 200]
    assert posts[0].json() == posts[1].json()


def titles(text: str) -> set[str]:
    return set(re.findall(r"^\d+\. (.+) — ¥", text, re.MULTILINE))


async def test_messages_of_one_conversation_are_answered_in_order(client: httpx.AsyncClient, server: Running,
                                                                  chatwoot_api: Recorder) -> None:
    for text in ("running shoes", "show me more"):  # the second arrives while the first turn may still run
        assert (await client.post(f"/chatwoot/{SECRET}", json=message(text))).status_code == 200
    assert server.chatwoot is not None
    await server.chatwoot.idle()
    first, second = [titles(c.json()["content"]) for c in chatwoot_api.posts(MESSAGES)]
    assert first and second and not first & second  # "more" came after the first list


async def test_outbox_messages_are_posted_to_the_conversation(server: Running, chatwoot_api: Recorder,
                                                              app: App, cw_settings: Settings) -> None:
    await Outbox(app.redis, cw_settings, PLATFORM).put("1:7", "7", Reply("An agent will call you", kind="agent"))
    [call] = await chatwoot_api.wait_for(1, MESSAGES)
    assert call.json()["content"] == "An agent will call you"


def test_render_lists_products() -> None:
    card = ProductCard("p1", "Trail Runner", "Acme", 299.0, "CNY", "Shoes", reason="light and grippy",
                       url="https://shop.example/p1", position=1)
    text = render(Reply("Here are some:", products=(card,), kind="results"))
    assert text.splitlines()[0] == "Here are some:"
    assert "1. Trail Runner" in text and "(Acme)" in text and "light and grippy" in text and "shop.example/p1" in text
