"""The Discord adapter end to end: the real discord.py client, our command tree and the dialogue
manager on real Redis, talking to stand-ins of Discord's REST API and gateway on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bots.discord.run import Running, start
from core.app import App
from core.messages import Reply
from core.outbox import Outbox
from core.settings import Settings
from tests.discord_standin import Call, DiscordStandIn

GUILD, CHANNEL = 700000000000000001, 700000000000000011
ALICE, BOB = 800000000000000001, 800000000000000002
EPHEMERAL = 64
PRICE = re.compile(r"¥([\d,]+(?:\.\d+)?)")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def api() -> AsyncIterator[DiscordStandIn]:
    async with DiscordStandIn() as standin:
        standin.add_guild(GUILD, channel_ids=(CHANNEL,))
        yield standin


def dc_settings(settings: Settings, api: DiscordStandIn, **changes: Any) -> Settings:
    return replace(settings, discord_token="dc-test-token", discord_api_url=api.api_url,
                   discord_gateway_url=api.gateway_url, outbox_retry_ms=200, **changes)


@pytest.fixture
async def bot(app: App, settings: Settings, api: DiscordStandIn) -> AsyncIterator[Running]:
    running = await start(dc_settings(settings, api), app, ready_timeout=15, guild_ready_timeout=0.05)
    yield running
    await running.stop()


async def answered(api: DiscordStandIn, interaction: dict[str, Any], quiet: float = 0.4) -> list[Call]:
    """The REST calls made for ``interaction`` once the bot has gone quiet about it."""
    count = -1
    for _ in range(100):
        calls = api.responses(interaction)
        if calls and len(calls) == count:
            return calls
        count = len(calls)
        await asyncio.sleep(quiet)
    raise AssertionError("the bot kept answering")


def followups(calls: list[Call]) -> list[dict[str, Any]]:
    return [c.json for c in calls if c.method == "POST" and "/webhooks/" in c.path and c.status < 300]


def embeds(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for m in messages for e in m.get("embeds") or []]


def prices(messages: list[dict[str, Any]]) -> list[float]:
    return [float(PRICE.search(f["value"]).group(1).replace(",", ""))  # type: ignore[union-attr]
            for e in embeds(messages) for f in e.get("fields", []) if PRICE.search(f["value"])]


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components") or [] for c in row["components"]]


def button(messages: list[dict[str, Any]], label: str) -> tuple[dict[str, Any], dict[str, Any]]:
    for message in reversed(messages):
        for b in buttons(message):
            if b.get("label", "").endswith(label) and "custom_id" in b:
                return message, b
    raise LookupError(label)


def stored(api: DiscordStandIn, message: dict[str, Any]) -> dict[str, Any]:
    """The message as the stand-in keeps it (with its id), for a component press on it."""
    ids = {b.get("custom_id") for b in buttons(message)} - {None}
    return next(m for m in reversed(api.messages) if ids & {b.get("custom_id") for b in buttons(m)})


async def test_shop_in_a_guild_defers_then_follows_up_ephemerally(bot: Running, api: DiscordStandIn) -> None:
    ix = await api.slash("shop", {"query": "bluetooth earbuds", "max_price": 500.0}, user_id=ALICE,
                         guild_id=GUILD, channel_id=CHANNEL)
    calls = await answered(api, ix)
    first = calls[0]
    assert first.path.endswith("/callback") and first.json["type"] == 5
    assert first.json["data"]["flags"] & EPHEMERAL
    messages = followups(calls)
    cards = embeds(messages)
    assert 3 <= len(cards) <= 5
    assert all(p <= 500 for p in prices(messages)) and prices(messages)
    assert all(e["url"].startswith("https://") and e.get("thumbnail") for e in cards)
    rows = messages[0]["components"]
    assert len(rows) == len(cards) <= 5
    labels = [b["label"] for b in rows[0]["components"]]
    assert labels[:4] == ["1 · Details", "1 · More like this", "1 · 👍 Like", "1 · 👎 Not for me"]
    assert rows[0]["components"][4]["style"] == 5 and rows[0]["components"][4]["url"].startswith("https://")
    for message in messages:
        for b in buttons(message):
            assert "url" in b or (b["custom_id"].startswith("dg:") and len(b["custom_id"]) <= 100)
        assert message["allowed_mentions"] == {"parse": []}
    assert {b["label"] for b in buttons(messages[-1])} >= {"Cheaper", "Another brand", "Talk to a human"}


async def test_shop_in_a_dm_answers_openly_and_in_chinese(bot: Running, api: DiscordStandIn) -> None:
    ix = await api.slash("shop", {"query": "适合运动的蓝牙耳机", "max_price": 500.0}, user_id=BOB, locale="zh-CN")
    calls = await answered(api, ix)
    assert calls[0].json["type"] == 5 and not calls[0].json.get("data", {}).get("flags", 0) & EPHEMERAL
    messages = followups(calls)
    assert 3 <= len(embeds(messages)) <= 5
    assert messages[0]["components"][0]["components"][0]["label"] == "1 · 详情"
    assert all(not m.get("flags", 0) & EPHEMERAL for m in messages)


async def test_category_autocomplete(bot: Running, api: DiscordStandIn, app: App) -> None:
    ix = await api.autocomplete("shop", {"query": "x", "category": "head"}, focused="category", user_id=ALICE,
                                guild_id=GUILD, channel_id=CHANNEL)
    (callback,) = await api.wait_for("POST", f"/interactions/{ix['id']}/.*/callback")
    assert callback.json["type"] == 8
    choices = callback.json["data"]["choices"]
    assert choices and len(choices) <= 25
    assert all(len(c["name"]) <= 100 and c["value"] in app.recommender.catalog.categories for c in choices)
    assert any("Headphones" in c["value"] for c in choices)
    ix = await api.autocomplete("shop", {"query": "x", "category": ""}, focused="category", user_id=ALICE)
    (callback,) = await api.wait_for("POST", f"/interactions/{ix['id']}/.*/callback")
    assert 1 <= len(callback.json["data"]["choices"]) <= 25


async def test_cheaper_button_updates_the_results(bot: Running, api: DiscordStandIn) -> None:
    ix = await api.slash("shop", {"query": "bluetooth earbuds"}, user_id=BOB)
    first = followups(await answered(api, ix))
    before = prices(first)
    message, cheaper = button(first, "Cheaper")
    press = await api.component(cheaper["custom_id"], user_id=BOB, message=stored(api, message))
    after_calls = await answered(api, press)
    assert after_calls[0].json["type"] == 5
    after = prices(followups(after_calls))
    assert after and max(after) < min(before)


async def test_forged_foreign_and_unknown_buttons_get_a_private_notice(bot: Running, api: DiscordStandIn,
                                                                      app: App) -> None:
    ix = await api.slash("shop", {"query": "bluetooth earbuds"}, user_id=ALICE)
    first = followups(await answered(api, ix))
    message, like = button(first, "👍 Like")
    session_key = app.store.key(f"discord:{ALICE}", "session")
    before = await app.redis.hgetall(session_key)
    forged = like["custom_id"][:-1] + ("A" if like["custom_id"][-1] != "A" else "B")
    shown = stored(api, message)
    # Another user pressing Alice's button on her message; ids that were never sent, on a
    # message that holds them (as a crafted client or an old message would).
    for user, custom_id, on in [(BOB, like["custom_id"], shown), (ALICE, forged, None), (ALICE, "like:hp-0001", None),
                                (ALICE, "dg:", None)]:
        press = await api.component(custom_id, user_id=user, message=on)
        calls = await answered(api, press)
        assert len(calls) == 1 and calls[0].json["type"] == 4
        assert calls[0].json["data"]["flags"] & EPHEMERAL
        assert "isn't one I gave you" in calls[0].json["data"]["content"]
    assert await app.redis.hgetall(session_key) == before
    press = await api.component(like["custom_id"], user_id=ALICE, message=stored(api, message))
    liked = followups(await answered(api, press))
    assert liked and "like" in liked[0]["content"].lower()


async def test_details_compare_and_the_other_commands(bot: Running, api: DiscordStandIn, app: App) -> None:
    await answered(api, await api.slash("shop", {"query": "bluetooth earbuds"}, user_id=ALICE))
    details = followups(await answered(api, await api.slash("details", {"n": 2}, user_id=ALICE)))
    assert len(embeds(details)) == 1 and embeds(details)[0]["title"].startswith("2. ")
    compare = followups(await answered(api, await api.slash("compare", {"a": 1, "b": 3}, user_id=ALICE)))
    assert "#1" in compare[0]["content"] and "#3" in compare[0]["content"]
    outside = followups(await answered(api, await api.slash("details", {"n": 9}, user_id=ALICE)))
    assert "9" in outside[0]["content"]
    more = followups(await answered(api, await api.slash("more", user_id=ALICE)))
    assert embeds(more)
    lang = followups(await answered(api, await api.slash("lang", {"language": "zh"}, user_id=ALICE)))
    assert re.search(r"[\u4e00-\u9fff]", lang[0]["content"])
    assert followups(await answered(api, await api.slash("human", user_id=ALICE)))
    assert followups(await answered(api, await api.slash("reset", user_id=ALICE)))
    assert await app.redis.exists(app.store.key(f"discord:{ALICE}", "session"))
    assert followups(await answered(api, await api.slash("forget", user_id=ALICE)))
    assert not await app.redis.exists(app.store.key(f"discord:{ALICE}", "session"))


async def test_free_text_in_a_dm_goes_to_the_dialogue(bot: Running, api: DiscordStandIn) -> None:
    await api.dm_message(ALICE, "waterproof running earbuds under 500")
    (call,) = await api.wait_for("POST", r"/channels/\d+/messages", predicate=lambda c: bool(c.json.get("embeds")))
    assert 3 <= len(call.json["embeds"]) <= 5


async def test_failing_rest_calls_are_retried(bot: Running, api: DiscordStandIn) -> None:
    api.fail_next("POST", r"/webhooks/", 500)
    api.fail_next("POST", r"/webhooks/", 429, retry_after=0.5)
    ix = await api.slash("shop", {"query": "bluetooth earbuds"}, user_id=ALICE)
    calls = await answered(api, ix, quiet=0.8)
    posts = [c.status for c in calls if "/webhooks/" in c.path]
    assert posts[:2] == [500, 429] and all(s < 300 for s in posts[2:])
    assert embeds(followups(calls))


async def test_an_expired_interaction_is_logged_not_fatal(bot: Running, api: DiscordStandIn,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    api.fail_next("POST", r"/callback", 404, body={"code": 10062, "message": "Unknown interaction"})
    ix = await api.slash("shop", {"query": "bluetooth earbuds"}, user_id=ALICE)
    calls = await answered(api, ix)
    assert [c.status for c in calls] == [404]
    assert "expired" in caplog.text
    again = await api.slash("shop", {"query": "bluetooth earbuds"}, user_id=ALICE)
    assert embeds(followups(await answered(api, again)))


async def test_a_failing_command_gets_a_friendly_answer(bot: Running, api: DiscordStandIn, app: App,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    async def broken(inbound: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(app.dialogue, "handle", broken)
    calls = await answered(api, await api.slash("more", user_id=ALICE))
    assert "technical problem" in followups(calls)[-1]["content"]
    assert "boom" in caplog.text


async def test_outbox_message_reaches_the_users_dms(bot: Running, api: DiscordStandIn, app: App,
                                                    settings: Settings) -> None:
    outbox = Outbox(app.redis, settings, "discord")
    await outbox.put(str(BOB), "", Reply("Agent Li: the blue one is back in stock"))
    await api.wait_for("POST", r"/channels/\d+/messages",
                       predicate=lambda c: "back in stock" in str(c.json.get("content")))
    assert api.calls_to("POST", r"/users/@me/channels")
    await asyncio.sleep(0.3)
    assert await outbox.pending_count() == 0


async def test_commands_sync_through_the_cli(api: DiscordStandIn, redis_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAOGOU_") and k != "REDIS_URL"}
    env.update(DAOGOU_DISCORD_TOKEN="dc-cli-token", DAOGOU_DISCORD_API_URL=api.api_url,
               DAOGOU_DISCORD_GATEWAY_URL=api.gateway_url, DAOGOU_KEY_PREFIX=f"test-{uuid.uuid4().hex[:8]}")
    for args, where in ((["--guild", str(GUILD)], GUILD), ([], None)):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bots.cli", "discord", "sync", *args, cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        assert b"synced 9 commands" in out
        commands = {c["name"]: c for c in api.commands[where]}
        assert set(commands) == {"shop", "more", "cheaper", "details", "compare", "human", "reset", "forget", "lang"}
        shop = commands["shop"]
        assert shop["name_localizations"]["zh-CN"] == "导购"
        assert shop["description_localizations"]["zh-CN"]
        category = next(o for o in shop["options"] if o["name"] == "category")
        assert category["autocomplete"] is True
        assert category["name_localizations"]["zh-CN"] == "类别"
