"""The whole handoff, customer and agent: through the dialogue manager, and through `daogou chat --jsonl`."""

from __future__ import annotations

import asyncio
import io
import json
import os
import queue
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import Chat

from bots import terminal
from core.app import App
from core.handoff import CANCEL_ACTION
from core.messages import Reply
from core.outbox import Outbox
from core.settings import Settings
from core.tickets import ASSIGNED, CANCELLED_NOTE, PENDING, RESOLVED, TicketStateError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, handoff_hours="always")


async def outbox_replies(app: App, platform: str) -> list[dict[str, Any]]:
    outbox = Outbox(app.redis, app.settings, platform)
    entries = await app.redis.xrange(outbox.stream)
    return [{"user": f[b"user"].decode(), "kind": f[b"kind"].decode(), **json.loads(f[b"reply"])} for _, f in entries]


async def test_customer_agent_rating_and_back_to_shopping(chat: Chat, app: App) -> None:
    await chat.say("waterproof running earbuds under 300")
    first = chat.products()
    await chat.press(f"like:{first[0].id}")
    await chat.press(f"dislike:{first[1].id}")

    # The customer asks for a person: a pending ticket with what the bot learned.
    await chat.say("talk to a person")
    assert chat.last[0].kind == "handoff" and CANCEL_ACTION in {b.action for b in chat.last[0].buttons}
    ticket = await app.tickets.open_ticket_of("test", "alice")
    assert ticket is not None and ticket.state == PENDING
    assert [t.id for t in await app.agents.queue()] == [ticket.id]
    summary = ticket.summary
    assert summary["budget"]["max"] == 300 and "waterproof" in summary["features"]
    assert [p["id"] for p in summary["shown"]] == [p.id for p in first]
    assert summary["shown"][0]["title"] == first[0].title
    assert [p["id"] for p in summary["liked"]] == [first[0].id]
    assert [p["id"] for p in summary["disliked"]] == [first[1].id]
    transcript = [(m["role"], m["text"]) for m in ticket.transcript]
    assert ("user", "waterproof running earbuds under 300") in transcript
    assert transcript[-1] == ("user", "talk to a person")

    # While it waits the bot is silent; only the first message is acknowledged.
    await chat.say("are you there?")
    assert [r.kind for r in chat.last] == ["handoff"]
    await chat.say("my order number is 12345")
    assert chat.last == []
    await chat.say("cheaper")  # not for the bot now: for the agent
    assert chat.last == []

    # An agent claims it and answers; the answer goes to the customer's platform.
    await app.agents.claim(ticket.id, "li", name="Li")
    with pytest.raises(TicketStateError):
        await app.agents.claim(ticket.id, "wang")
    with pytest.raises(TicketStateError, match="assigned to li"):
        await app.agents.reply(ticket.id, "wang", "let me butt in")
    await app.agents.reply(ticket.id, "li", "Hi, I can see order 12345. It ships tomorrow.", name="Li")
    sent = await outbox_replies(app, "test")
    assert [(m["user"], m["kind"]) for m in sent] == [("alice", "handoff"), ("alice", "agent")]
    assert "Li" in sent[0]["text"] and sent[1]["text"] == "Li: Hi, I can see order 12345. It ships tomorrow."
    await chat.say("great, thanks")
    assert chat.last == []

    live = await app.tickets.get(ticket.id)
    assert live.state == ASSIGNED and live.assignee == "li"
    assert [(m.sender, m.text) for m in live.messages] == [
        ("customer", "are you there?"), ("customer", "my order number is 12345"), ("customer", "cheaper"),
        ("agent", "Hi, I can see order 12345. It ships tomorrow."), ("customer", "great, thanks")]
    kinds = [e["type"] for _, e in await app.tickets.events("0-0")]
    assert kinds == ["created", "message", "message", "message", "changed", "message", "message"]

    # The agent resolves: the customer is told and asked for a rating, with buttons.
    await app.agents.resolve(ticket.id, "li", note="answered")
    notice = (await outbox_replies(app, "test"))[-1]
    assert notice["kind"] == "handoff" and "rate" in notice["text"]
    assert [b["action"] for b in notice["buttons"]] == [f"rate:{n}" for n in range(1, 6)]

    await chat.press("rate:4")
    assert "4/5" in chat.text()
    rated = await app.tickets.get(ticket.id)
    assert rated.state == RESOLVED and rated.rating == 4 and rated.resolution == "answered"
    events = [(f[b"type"], json.loads(f[b"data"])) for _, f in await app.redis.xrange(app.store.events_key)]
    assert (b"rated", {"ticket": ticket.id, "rating": 4, "platform": "test"}) in events
    await chat.press("rate:5")  # once only
    assert chat.last[0].kind == "notice" and (await app.tickets.get(ticket.id)).rating == 4

    # The bot is back, with the session as it was.
    await chat.say("cheaper")
    cheaper = chat.products()
    assert cheaper and max(p.price for p in cheaper) < min(p.price for p in first)
    session = (await app.store.load("test:alice", lang="en")).session
    assert session.state != "handoff" and session.liked == [first[0].id] and "waterproof" in session.prefs.features


async def test_the_customer_goes_back_to_the_bot(chat: Chat, app: App) -> None:
    await chat.say("蓝牙耳机 500元以内")
    shown = [p.id for p in chat.products()]
    await chat.say("转人工")
    ticket = await app.tickets.open_ticket_of("test", "alice")
    assert ticket is not None
    await chat.say("转人工")  # asking again while waiting
    assert chat.last[0].kind == "handoff" and "已经在等待" in chat.text()
    await chat.say("回到机器人")
    assert "已取消" in chat.text()
    closed = await app.tickets.get(ticket.id)
    assert closed.state == RESOLVED and closed.resolution == CANCELLED_NOTE
    await chat.press("rate:5")  # nobody served them: nothing to rate
    assert chat.last[0].kind == "notice"
    await chat.say("换一批")
    assert chat.products() and not {p.id for p in chat.products()} & set(shown)

    # The button does the same, and a ticket abandoned by the system also gives the bot back.
    await chat.say("人工客服")
    await chat.press(CANCEL_ACTION)
    assert await app.tickets.open_ticket_of("test", "alice") is None
    await chat.say("人工客服")
    left = await app.tickets.open_ticket_of("test", "alice")
    await app.tickets.abandon(left.id, note="customer gone")  # type: ignore[union-attr]
    await chat.say("便宜点")
    assert chat.products()


async def test_forgetting_while_waiting_deletes_the_ticket(chat: Chat, app: App) -> None:
    await chat.say("talk to a person")
    ticket = await app.tickets.open_ticket_of("test", "alice")
    await chat.say("forget me")
    assert "deleted" in chat.text()
    assert await app.tickets.find(ticket.id) is None  # type: ignore[union-attr]
    assert await app.agents.queue() == []


async def test_a_ticket_opened_elsewhere_also_gives_the_conversation_to_the_agent(chat: Chat, app: App) -> None:
    await chat.say("bluetooth earbuds")
    ticket, _ = await app.tickets.open(platform="test", user_id="alice", reason="crm", actor="li")
    await chat.say("hello?")
    assert [r.kind for r in chat.last] == ["handoff"] and not chat.products()
    session = (await app.store.load("test:alice", lang="en")).session
    assert session.state == "handoff" and session.handoff["ticket"] == ticket.id  # type: ignore[index]
    await app.tickets.assign(ticket.id, "li")
    await app.agents.resolve(ticket.id, "li")
    await chat.say("more")
    assert chat.products()


async def test_jsonl_writes_queued_pushes_before_the_next_answer(app: App) -> None:
    outbox = Outbox(app.redis, app.settings, terminal.PLATFORM)
    await outbox.put("ann", "ann", Reply("Li: your parcel left today", kind="agent"), kind="agent")
    out = io.StringIO()
    await terminal.run_jsonl(app.dialogue, user="ann", stdin=io.StringIO('{"text": "hello"}\n'), stdout=out,
                             outbox=outbox)
    push, answer = (json.loads(line) for line in out.getvalue().splitlines())
    assert push == {"push": {"text": "Li: your parcel left today", "kind": "agent", "products": [], "buttons": []},
                    "user": "ann"}
    assert answer["replies"] and await outbox.pending_count() == 0
    assert terminal.render(Reply("Li: hi", kind="agent")).startswith("agent>  Li: hi")


def _start_chat(env: dict[str, str]) -> tuple[subprocess.Popen[str], queue.Queue[str], threading.Thread]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DAOGOU_") and k != "REDIS_URL"}
    environ.update(env)
    process = subprocess.Popen([sys.executable, "-m", "bots.cli", "chat", "--jsonl"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=environ)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        process.stdout.close()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return process, lines, reader


@pytest.mark.slow
async def test_the_same_loop_through_the_terminal_chat(app: App, settings: Settings, redis_url: str) -> None:
    process, lines, reader = _start_chat({"REDIS_URL": redis_url, "DAOGOU_KEY_PREFIX": settings.key_prefix,
                                  "DAOGOU_RECOMMENDER": "lexical", "DAOGOU_HANDOFF_HOURS": "always"})
    seen: list[dict[str, Any]] = []

    async def next_line() -> dict[str, Any]:
        line = await asyncio.to_thread(lines.get, True, 60)
        seen.append(json.loads(line))  # every line is whole JSON: pushes never land inside answers
        return seen[-1]

    async def send(**message: str) -> dict[str, Any]:
        assert process.stdin is not None
        process.stdin.write(json.dumps({"user": "tom", **message}, ensure_ascii=False) + "\n")
        process.stdin.flush()
        while "replies" not in (line := await next_line()):
            pass
        return line

    try:
        first = (await send(text="waterproof running earbuds under 300"))["replies"][-1]["products"]
        assert first
        opened = await send(text="转人工")
        assert opened["replies"][0]["kind"] == "handoff"
        ticket = await app.tickets.open_ticket_of("terminal", "tom")
        assert ticket is not None and ticket.lang == "zh"

        await app.agents.claim(ticket.id, "li", name="小李")
        await app.agents.reply(ticket.id, "li", "你好，我是小李，有什么可以帮你？", name="小李")
        joined, answer = await next_line(), await next_line()
        assert joined == {"push": joined["push"], "user": "tom"} and "小李已接入" in joined["push"]["text"]
        assert answer["push"]["kind"] == "agent" and answer["push"]["text"] == "小李：你好，我是小李，有什么可以帮你？"

        assert (await send(text="耳机坏了怎么办"))["replies"] == []  # the bot is silent
        assert (await app.tickets.get(ticket.id)).messages[-1].text == "耳机坏了怎么办"

        await app.agents.resolve(ticket.id, "li")
        rating = await send(text="好的")  # the resolve notice comes out before this answer
        assert rating["replies"] and "rate:4" not in json.dumps(rating)
        pushed = [line["push"] for line in seen if "push" in line]
        assert [b["action"] for b in pushed[-1]["buttons"]] == [f"rate:{n}" for n in range(1, 6)]

        assert "4/5" in (await send(action="rate:4"))["replies"][0]["text"]
        assert (await app.tickets.get(ticket.id)).rating == 4
        cheaper = (await send(text="cheaper"))["replies"][-1]["products"]
        assert cheaper and max(p["price"] for p in cheaper) < min(p["price"] for p in first)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        code = await asyncio.to_thread(process.wait, 60)
        await asyncio.to_thread(reader.join, 10)
        assert process.stderr is not None
        errors = process.stderr.read()
        process.stderr.close()
    assert code == 0, errors
    assert sum("replies" in line for line in seen) == 6  # one answer per input line
    assert sum("push" in line for line in seen) == 3
