"""The Telegram adapter end to end: the real python-telegram-bot Application, our handlers and
the dialogue manager on real Redis, talking to a stand-in of the Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from bots.telegram.bot import category_payload
from bots.telegram.run import Running, start
from core.app import App
from core.messages import Reply
from core.outbox import Outbox
from core.settings import Settings
from tests.telegram_standin import BotApiStandIn, Call

TOKEN = "123456:TEST-token"
SECRET = "s3cret_Token-1"
ALICE, BOB = 1001, 1002
SENDS = ("sendMessage", "sendPhoto")
PRICE = re.compile(r"¥([\d,]+(?:\.\d+)?)")


@pytest.fixture
async def api() -> AsyncIterator[BotApiStandIn]:
    async with BotApiStandIn() as standin:
        yield standin


def tg_settings(settings: Settings, api: BotApiStandIn, **changes: Any) -> Settings:
    return replace(settings, telegram_token=TOKEN, telegram_api_url=f"{api.url}/bot", outbox_retry_ms=200,
                   **changes)


@pytest.fixture
async def bot(app: App, settings: Settings, api: BotApiStandIn) -> AsyncIterator[Running]:
    running = await start(tg_settings(settings, api), app, webhook=False, poll_timeout=1)
    yield running
    await running.stop()


def sent(api: BotApiStandIn, chat_id: int, since: int = 0) -> list[Call]:
    return [c for c in api.calls[since:] if c.method in SENDS and not c.failed and c.params.get("chat_id") == chat_id]


def body(call: Call) -> str:
    return str(call.params.get("text") or call.params.get("caption") or "")


def buttons(call: Call) -> list[dict[str, Any]]:
    markup = call.params.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def button(call: Call, label: str) -> dict[str, Any]:
    return next(b for b in buttons(call) if label.lower() in b["text"].lower())


async def settle(api: BotApiStandIn, quiet: float = 0.4, timeout: float = 15) -> None:
    """Wait until the bot has made no call for ``quiet`` seconds (its turn is over)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    count = -1
    while loop.time() < deadline:
        working = [c for c in api.calls if c.method != "getUpdates"]
        if len(working) == count:
            return
        count = len(working)
        await asyncio.sleep(quiet)
    raise AssertionError("the bot kept calling the API")


async def say(api: BotApiStandIn, user: int, text: str, **kw: Any) -> list[Call]:
    mark = len(api.calls)
    api.feed(api.text_message(user, text, **kw))
    await settle(api)
    return sent(api, kw.get("chat_id") or user, mark)


async def press(api: BotApiStandIn, user: int, data: str, message: dict[str, Any] | None = None) -> list[Call]:
    mark = len(api.calls)
    api.feed(api.callback_query(user, data, message=message))
    await api.wait_for("answerCallbackQuery", count=len(api.calls_of("answerCallbackQuery")) + 1)
    await settle(api)
    return sent(api, user, mark)


def cards(calls: list[Call]) -> list[Call]:
    return [c for c in calls if any(b.get("callback_data") for b in buttons(c)) and PRICE.search(body(c))
            and not body(c).startswith(("Want", "需要"))]


def prices(calls: list[Call]) -> list[float]:
    return [float(PRICE.search(body(c)).group(1).replace(",", "")) for c in cards(calls)]  # type: ignore[union-attr]


async def test_start_registers_commands_in_both_languages(bot: Running, api: BotApiStandIn) -> None:
    commands = {c.params.get("language_code"): [x["command"] for x in c.params["commands"]]
                for c in api.calls_of("setMyCommands")}
    assert set(commands) == {None, "zh"}
    assert {"start", "help", "reset", "human", "lang", "forget"} <= set(commands[None]) == set(commands["zh"])
    assert api.calls_of("deleteWebhook")


async def test_start_with_a_category_deep_link(bot: Running, api: BotApiStandIn, app: App) -> None:
    category = "Electronics > Headphones"
    assert category in app.recommender.catalog.categories
    calls = await say(api, ALICE, f"/start {category_payload(category)}")
    assert "shopping guide" in body(calls[0])  # the greeting first
    shown = cards(calls)
    assert len(shown) >= 3
    ids = [p for c in shown for p in re.findall(r"hp-\d+", str(c.params))]
    assert all(app.recommender.catalog.get(i).category == category for i in ids)  # type: ignore[union-attr]


async def test_start_with_a_campaign_payload_is_recorded(bot: Running, api: BotApiStandIn, app: App) -> None:
    calls = await say(api, ALICE, "/start spring_sale-2026")
    assert "shopping guide" in body(calls[0])
    events = await app.redis.xrange(app.store.events_key)
    campaigns = [f for _, f in events if f[b"type"] == b"campaign"]
    assert campaigns and b"spring_sale-2026" in campaigns[0][b"data"]


async def test_english_and_chinese_queries_get_product_cards(bot: Running, api: BotApiStandIn, app: App) -> None:
    english = await say(api, ALICE, "waterproof running earbuds under 500")
    assert 3 <= len(cards(english)) <= 5
    first = cards(english)[0]
    assert first.method == "sendPhoto" and first.params["parse_mode"] == "HTML"
    assert "<b>" in first.params["caption"] and len(first.params["caption"]) <= 1024
    labels = [b["text"] for b in buttons(first)]
    assert labels[:4] == ["Details", "More like this", "👍 Like", "👎 Not for me"]
    assert any(b.get("url", "").startswith("https://") for b in buttons(first))
    for b in buttons(first):
        assert "url" in b or len(b["callback_data"].encode()) <= 64
    footer = english[-1]
    assert {b["text"] for b in buttons(footer)} >= {"Cheaper", "Another brand", "Talk to a human"}
    assert all(p <= 500 for p in prices(english))
    assert api.calls_of("sendChatAction")

    chinese = await say(api, BOB, "我想买一款适合运动的蓝牙耳机，500元以内", language_code="zh-hans")
    assert 3 <= len(cards(chinese)) <= 5
    assert all(p <= 500 for p in prices(chinese))
    assert [b["text"] for b in buttons(cards(chinese)[0])][:2] == ["详情", "类似的"]
    assert any(b["text"] == "便宜点" for b in buttons(chinese[-1]))


async def test_cheaper_button_lowers_every_price(bot: Running, api: BotApiStandIn) -> None:
    first = await say(api, ALICE, "bluetooth earbuds")
    before = prices(first)
    assert before
    footer = first[-1]
    again = await press(api, ALICE, button(footer, "Cheaper")["callback_data"],
                        message=api.messages[(ALICE, _message_id(api, footer))])
    after = prices(again)
    assert after and max(after) < min(before)
    answers = api.calls_of("answerCallbackQuery")
    assert answers and "text" not in answers[-1].params  # answered quietly, before the turn


async def test_forged_foreign_and_garbage_buttons_change_nothing(bot: Running, api: BotApiStandIn,
                                                                 app: App) -> None:
    first = await say(api, ALICE, "bluetooth earbuds")
    good = button(cards(first)[0], "👍")["callback_data"]
    session_before = await app.redis.hgetall(app.store.key(f"telegram:{ALICE}", "session"))
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    for user, data in [(ALICE, tampered), (BOB, good), (ALICE, "like:hp-0001"), (ALICE, "\x00" * 64), (ALICE, "")]:
        replies = await press(api, user, data)
        assert replies == []  # nothing sent: just a notice on the button
        notice = api.calls_of("answerCallbackQuery")[-1].params.get("text", "")
        assert "isn't one I gave you" in notice or "expired" in notice
    assert await app.redis.hgetall(app.store.key(f"telegram:{ALICE}", "session")) == session_before
    liked = await press(api, ALICE, good)
    assert liked and "like" in body(liked[0]).lower()


async def test_a_429_is_waited_out(bot: Running, api: BotApiStandIn) -> None:
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    api.feed(api.text_message(ALICE, "hello"))
    (reply,) = await api.wait_for("sendMessage", failed=False, predicate=lambda c: c.params.get("chat_id") == ALICE)
    assert "shopping guide" in body(reply)
    attempts = [c for c in api.calls_of("sendMessage") if c.params.get("chat_id") == ALICE]
    assert [c.error_code for c in attempts[:2]] == [429, None]
    assert attempts[1].at - attempts[0].at >= 0.9


async def test_network_errors_are_retried(bot: Running, api: BotApiStandIn) -> None:
    api.drop_connection_next("sendMessage", times=2)
    api.feed(api.text_message(ALICE, "hello"))
    (reply,) = await api.wait_for("sendMessage", failed=False, predicate=lambda c: c.params.get("chat_id") == ALICE)
    assert "shopping guide" in body(reply)
    assert len(api.calls_of("sendMessage", failed=True)) == 2


async def test_photo_falls_back_to_text_when_telegram_cannot_fetch_it(bot: Running, api: BotApiStandIn) -> None:
    api.fail_next("sendPhoto", 400, "Bad Request: wrong file identifier/HTTP URL specified", times=10)
    calls = await say(api, ALICE, "bluetooth earbuds")
    shown = cards(calls)
    assert shown and all(c.method == "sendMessage" for c in shown)
    assert all(buttons(c) for c in shown)


async def test_media_stickers_locations_and_edits_get_a_polite_answer(bot: Running, api: BotApiStandIn) -> None:
    for update in (api.photo_message(ALICE), api.sticker_message(ALICE), api.voice_message(ALICE),
                   api.location_message(ALICE), api.document_message(ALICE)):
        mark = len(api.calls)
        api.feed(update)
        await settle(api)
        replies = sent(api, ALICE, mark)
        assert len(replies) == 1 and "only read text" in body(replies[0])
    first = await say(api, ALICE, "hello")
    mark = len(api.calls)
    api.feed(api.edited_message(ALICE, _message_id(api, first[0]) - 1, "hello there"))
    await settle(api)
    assert "not edits" in body(sent(api, ALICE, mark)[0])
    assert not [c for c in api.calls if c.failed]


async def test_groups_answer_only_commands_mentions_and_replies(bot: Running, api: BotApiStandIn) -> None:
    group = -500
    assert await say(api, ALICE, "bluetooth earbuds anyone?", chat_id=group, chat_type="group") == []
    assert await say(api, ALICE, "/help@other_bot", chat_id=group, chat_type="group") == []
    mentioned = await say(api, ALICE, "@daogou_test_bot bluetooth earbuds", chat_id=group, chat_type="group")
    assert cards(mentioned)
    assert mentioned[0].params.get("reply_parameters") or mentioned[0].params.get("reply_to_message_id")
    helped = await say(api, BOB, "/help@daogou_test_bot", chat_id=group, chat_type="group")
    assert helped and "own words" in body(helped[0])
    replied = await say(api, BOB, "thanks!", chat_id=group, chat_type="group", reply_to_bot=True)
    assert replied
    # A group photo not meant for the bot is ignored too.
    mark = len(api.calls)
    api.feed(api.photo_message(ALICE, chat_id=group, chat_type="group"))
    await settle(api)
    assert sent(api, group, mark) == []


async def test_lang_reset_human_and_forget_commands(bot: Running, api: BotApiStandIn, app: App) -> None:
    chooser = await say(api, ALICE, "/lang")
    assert {b["text"] for b in buttons(chooser[0])} == {"中文", "English"}
    switched = await press(api, ALICE, button(chooser[0], "中文")["callback_data"])
    assert re.search(r"[\u4e00-\u9fff]", body(switched[0]))
    assert await say(api, ALICE, "/reset")
    human = await say(api, ALICE, "/human")
    assert human and human[0].params["text"]
    assert await app.redis.exists(app.store.key(f"telegram:{ALICE}", "session"))
    assert await say(api, ALICE, "/forget")
    assert not await app.redis.exists(app.store.key(f"telegram:{ALICE}", "session"))


async def test_a_redelivered_update_is_handled_once(bot: Running, api: BotApiStandIn) -> None:
    update = api.text_message(ALICE, "bluetooth earbuds")
    mark = len(api.calls)
    api.feed(update)
    await settle(api)
    first = sent(api, ALICE, mark)
    again = dict(update)
    del again["update_id"]  # Telegram resends the same message under a new update id after a crash
    mark = len(api.calls)
    api.feed(again)
    await settle(api)
    assert first and sent(api, ALICE, mark) == []


async def test_one_users_updates_in_order_others_concurrently(bot: Running, api: BotApiStandIn) -> None:
    for n in range(3):
        api.feed(api.text_message(ALICE, f"earbuds under {300 + n * 100}"))
        api.feed(api.text_message(BOB, "hello"))
    await settle(api, quiet=0.8)
    headers = [body(c) for c in sent(api, ALICE) if not cards([c]) and "300" in body(c) or "400" in body(c)
               or "500" in body(c)]
    order = [m.group() for h in headers for m in [re.search(r"[345]00", h)] if m]
    assert order == sorted(order)
    assert len([c for c in sent(api, BOB) if "shopping guide" in body(c)]) == 3


async def test_inline_mode_offers_products(bot: Running, api: BotApiStandIn) -> None:
    api.feed(api.inline_query(ALICE, "wireless earbuds under 500"))
    (answer,) = await api.wait_for("answerInlineQuery")
    results = answer.params["results"]
    assert 1 <= len(results) <= 10
    first = results[0]
    assert first["type"] == "article" and first["input_message_content"]["parse_mode"] == "HTML"
    assert "¥" in first["description"]
    api.feed(api.inline_query(ALICE, ""))
    (_, empty) = await api.wait_for("answerInlineQuery", count=2)
    assert empty.params["results"] == []


async def test_blocked_user_is_marked_unreachable_and_outbox_skips_them(bot: Running, api: BotApiStandIn,
                                                                        app: App, settings: Settings) -> None:
    outbox = Outbox(app.redis, settings, "telegram")
    api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    api.fail_next("sendChatAction", 403, "Forbidden: bot was blocked by the user")
    await say(api, ALICE, "hello")
    assert await outbox.is_unreachable(str(ALICE))
    await outbox.put(str(ALICE), str(ALICE), Reply("An agent answered you"))
    await _until(lambda: _dead(outbox))
    assert not [c for c in sent(api, ALICE) if "agent answered" in body(c)]
    await say(api, ALICE, "hello again")  # writing again means they unblocked the bot
    assert not await outbox.is_unreachable(str(ALICE))


async def test_outbox_message_delivered_exactly_once_across_a_restart(app: App, settings: Settings,
                                                                       api: BotApiStandIn) -> None:
    outbox = Outbox(app.redis, settings, "telegram")
    s = tg_settings(settings, api)
    running = await start(s, app, webhook=False, poll_timeout=1)
    await outbox.put(str(ALICE), str(ALICE), Reply("Agent Li: the blue one is back in stock"))
    await api.wait_for("sendMessage", predicate=lambda c: "back in stock" in str(c.params.get("text")))
    await running.stop()
    await outbox.put(str(ALICE), str(ALICE), Reply("Agent Li: shall I reserve it?"))  # arrives while down
    running = await start(s, app, webhook=False, poll_timeout=1)
    await api.wait_for("sendMessage", predicate=lambda c: "reserve it" in str(c.params.get("text")))
    await settle(api, quiet=0.6)
    await running.stop()
    texts = [str(c.params.get("text")) for c in api.calls_of("sendMessage")]
    assert sum("back in stock" in t for t in texts) == 1
    assert sum("reserve it" in t for t in texts) == 1
    assert await outbox.pending_count() == 0


async def test_webhook_mode_checks_the_secret(app: App, settings: Settings, api: BotApiStandIn) -> None:
    s = tg_settings(settings, api, telegram_webhook_url="https://shop.example/tg/hook",
                    telegram_webhook_secret=SECRET, telegram_listen="127.0.0.1", telegram_port=0)
    running = await start(s, app, webhook=True)
    try:
        (hook,) = api.calls_of("setWebhook")
        assert hook.params["url"] == "https://shop.example/tg/hook" and hook.params["secret_token"] == SECRET
        url = f"http://127.0.0.1:{running.port}/tg/hook"
        update = api.text_message(ALICE, "hello")
        assert (await api.post_webhook(url, dict(update), secret="wrong"))[0] == 403
        assert (await api.post_webhook(url, dict(update)))[0] == 403
        assert sent(api, ALICE) == []
        status, _ = await api.post_webhook(url, dict(update), secret=SECRET)
        assert status == 200
        (reply,) = await api.wait_for("sendMessage", predicate=lambda c: c.params.get("chat_id") == ALICE)
        assert "shopping guide" in body(reply)
        status, _ = await api.post_webhook(url, {"update_id": 7, "message": 5}, secret=SECRET)
        assert status == 400
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{running.port}/healthz") as resp:
                assert resp.status == 200
            async with http.get(f"http://127.0.0.1:{running.port}/readyz") as resp:
                assert resp.status == 200
    finally:
        await running.stop()


async def test_hostile_text_is_escaped_and_long_text_split(bot: Running, api: BotApiStandIn) -> None:
    from bots.telegram.render import CAPTION_LIMIT, TEXT_LIMIT, render, split, units
    from core.messages import ProductCard

    hostile = ProductCard(id="x", title="<b>50% off</b> & <a href='javascript:1'>", brand="A&B", price=9.5,
                          currency="CNY", category="c", reason="<script>" * 300,
                          image_url="https://img.example/x.jpg", url="https://shop.example/x?a=1&b=2")
    (out,) = render(Reply("", products=(hostile,), kind="results"), "en")
    assert "<script>" not in out.html and "&lt;b&gt;50% off&lt;/b&gt; &amp;" in out.html
    assert 'href="https://shop.example/x?a=1&amp;b=2"' in out.html
    visible = re.sub(r"<[^>]+>", "", out.html).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert units(visible) <= CAPTION_LIMIT
    pieces = split("词" * 5000 + " tail " + "😀" * 3000)
    assert all(units(p) <= TEXT_LIMIT for p in pieces) and len(pieces) >= 3


async def _until(check: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


async def _dead(outbox: Outbox) -> bool:
    return bool(await outbox.dead_letters())


def _message_id(api: BotApiStandIn, call: Call) -> int:
    """The id the stand-in gave the message that ``call`` sent."""
    chat = call.params["chat_id"]
    mine = [m for (c, _), m in api.messages.items() if c == chat and m["from"]["id"] == api.bot_user["id"]
            and (m.get("text") or m.get("caption")) == body(call)]
    return int(mine[-1]["message_id"])


async def test_redis_away_gets_an_apology_not_silence(settings: Settings, api: BotApiStandIn,
                                                      demo_recommender: Any) -> None:
    from core.app import build_app

    dead = replace(settings, redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    app = build_app(dead, recommender=demo_recommender)
    await app.start()
    running = await start(tg_settings(dead, api), app, webhook=False, poll_timeout=1)
    try:
        api.feed(api.text_message(ALICE, "bluetooth earbuds"))
        (reply,) = await api.wait_for("sendMessage", predicate=lambda c: c.params.get("chat_id") == ALICE,
                                      timeout=15)
        assert "try again" in body(reply).lower() or "稍后" in body(reply)
    finally:
        await running.stop()
        await app.stop()


async def test_a_full_handoff_loop_through_telegram(bot: Running, api: BotApiStandIn, app: App) -> None:
    """Trigger, agent claims, agent replies, customer answers, resolve, rating — all through
    the real adapter: the customer's side in Telegram, the agent's through the agent desk."""
    shopping = await say(api, ALICE, "bluetooth earbuds under 500")
    assert cards(shopping)
    notice = await say(api, ALICE, "转人工")
    assert notice and any(b.get("callback_data") for b in buttons(notice[-1]))  # "back to the bot"
    ticket = await app.tickets.open_ticket_of("telegram", str(ALICE))
    assert ticket is not None and ticket.state == "pending" and ticket.summary
    ack = await say(api, ALICE, "还在吗？")
    assert len(ack) <= 1  # at most a short acknowledgement: the bot does not shop meanwhile
    assert not cards(ack)

    await app.agents.claim(ticket.id, "li", name="Li")
    await app.agents.reply(ticket.id, "li", "您好，我是小李。想要防水的吗？", name="Li")
    (answer,) = await api.wait_for("sendMessage", timeout=10,
                                   predicate=lambda c: "想要防水的吗" in str(c.params.get("text")))
    assert answer.params["chat_id"] == ALICE
    silent = await say(api, ALICE, "要防水的，预算300")
    assert silent == []  # an agent has the conversation: the bot stays quiet
    messages = (await app.tickets.get(ticket.id)).messages
    assert "要防水的" in [m.text for m in messages if m.sender == "customer"][-1]

    await app.agents.resolve(ticket.id, "li")
    (closing,) = await api.wait_for("sendMessage", timeout=10,
                                    predicate=lambda c: any("★" in b["text"] for b in buttons(c)))
    rated = await press(api, ALICE, button(closing, "4 ★")["callback_data"])
    assert rated and "4/5" in body(rated[0])
    assert (await app.tickets.get(ticket.id)).rating == 4
    back = await say(api, ALICE, "cheaper")
    assert cards(back)  # the bot is back, with the search it had
