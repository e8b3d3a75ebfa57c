"""Multi-turn conversations on the bundled demo catalog, in Chinese and English."""

from __future__ import annotations

import asyncio
import re

from conftest import Chat

from core.catalog import Catalog

CJK = re.compile(r"[\u4e00-\u9fff]")


async def test_chinese_sport_earbuds_within_budget_then_cheaper_then_no_sony(chat: Chat, demo_catalog: Catalog) -> None:
    await chat.say("我想买一款适合运动的蓝牙耳机，500元以内")
    first = chat.products()
    assert 3 <= len(first) <= 5
    assert all(p.price <= 500 for p in first)
    assert all("Headphones" in demo_catalog.get(p.id).category for p in first)
    assert CJK.search(chat.text()) and all(CJK.search(p.reason) for p in first)
    assert all(p.reason for p in first)

    await chat.say("便宜点")
    cheaper = chat.products()
    assert cheaper, chat.text()
    assert max(p.price for p in cheaper) < min(p.price for p in first)

    await chat.say("不要索尼的")
    assert chat.products()
    assert all(p.brand != "Sony" for p in chat.products())
    await chat.say("换一批")  # the exclusion holds for the rest of the session
    assert all(p.brand != "Sony" for p in chat.products())


async def test_english_waterproof_running_earbuds_and_compare(chat: Chat, demo_catalog: Catalog) -> None:
    await chat.say("waterproof running earbuds under 300")
    shown = chat.products()
    assert 3 <= len(shown) <= 5
    assert all(p.price <= 300 for p in shown)
    assert all("waterproof" in demo_catalog.get(p.id).features for p in shown)
    assert not CJK.search(chat.text())
    assert all("aterproof" in p.reason for p in shown)

    await chat.say("compare 1 and 2")
    (reply,) = chat.last
    assert reply.kind == "compare"
    assert [p.id for p in reply.products] == [shown[0].id, shown[1].id]
    assert shown[0].title in reply.text and shown[1].title in reply.text

    await chat.say("tell me more about 2")
    assert chat.last[0].kind == "details" and chat.last[0].products[0].id == shown[1].id


async def test_cheaper_is_strictly_cheaper_or_says_so(chat: Chat) -> None:
    await chat.say("running shoes")
    floor = min(p.price for p in chat.products())
    for _ in range(12):
        await chat.say("cheaper")
        if not chat.products():
            assert "nothing cheaper" in chat.text().lower()
            break
        assert all(p.price < floor for p in chat.products())
        floor = min(p.price for p in chat.products())
    else:
        raise AssertionError("prices kept falling for 12 rounds")


async def test_more_never_repeats_shown_products(chat: Chat) -> None:
    await chat.say("headphones")
    seen = {p.id for p in chat.products()}
    for _ in range(3):
        await chat.say("show me more")
        ids = {p.id for p in chat.products()}
        assert ids and not ids & seen
        seen |= ids


async def test_vague_request_gets_one_clarifying_question(chat: Chat) -> None:
    await chat.say("I need a gift")
    assert chat.last[0].kind == "clarify" and not chat.products()
    assert chat.last[0].buttons  # category suggestions
    await chat.say("a bluetooth speaker for my dad")
    assert chat.products()


async def test_more_like_the_second_one(chat: Chat, demo_catalog: Catalog) -> None:
    await chat.say("bluetooth speaker")
    second = demo_catalog.get(chat.products()[1].id)
    await chat.say("more like the second one")
    similar = chat.products()
    assert similar and second.id not in {p.id for p in similar}
    assert all(demo_catalog.get(p.id).category == second.category for p in similar)


async def test_only_brand_and_budget_refinement(chat: Chat) -> None:
    await chat.say("我想买手机")
    await chat.say("只要华为的")
    assert chat.products() and all(p.brand == "Huawei" for p in chat.products())
    await chat.say("3000以内")
    assert all(p.brand == "Huawei" and p.price <= 3000 for p in chat.products()) or "没有找到" in chat.text()


async def test_like_and_dislike_by_position_and_button(chat: Chat) -> None:
    await chat.say("rice cooker")
    shown = chat.products()
    await chat.say("I don't like the first one")
    assert "won't show it again" in chat.text()
    await chat.press(f"like:{shown[1].id}")
    assert "like" in chat.text().lower()
    await chat.say("rice cooker")
    assert shown[0].id not in {p.id for p in chat.products()}
    session = (await chat.app.store.load("test:alice", lang="en")).session
    assert session.disliked == [shown[0].id] and session.liked == [shown[1].id]


async def test_position_outside_the_list(chat: Chat) -> None:
    await chat.say("对比一下1和3")
    assert chat.last[0].kind == "notice" and not chat.products()
    await chat.say("laptop")
    await chat.say("tell me more about 9")
    assert "no number 9" in chat.text()


async def test_greeting_help_thanks_offtopic_in_both_languages(chat: Chat) -> None:
    await chat.say("你好")
    assert CJK.search(chat.text()) and not chat.products()
    await chat.say("hello")
    assert not CJK.search(chat.text())
    await chat.say("help")
    assert "cheaper" in chat.text()
    await chat.say("谢谢")
    assert "不客气" in chat.text()
    await chat.say("what's the weather like tomorrow?")
    assert chat.last[0].kind == "notice" and not chat.products()


async def test_human_request_is_acknowledged_and_recorded(chat: Chat, app) -> None:
    await chat.say("转人工")
    assert "人工" in chat.text()
    session = (await app.store.load("test:alice", lang="en")).session
    assert session.state == "handoff" and session.handoff["reason"] == "customer_request"
    events = await app.redis.xrange(app.store.events_key)
    assert [f[b"type"] for _, f in events] == [b"handoff"]


async def test_reset_and_forget(chat: Chat, app) -> None:
    await chat.say("waterproof earbuds")
    await chat.say("start over")
    session = (await app.store.load("test:alice", lang="en")).session
    assert session.prefs.empty and session.last_results == []
    await chat.say("cheaper")
    assert not chat.products()  # nothing to be cheaper than any more

    await chat.say("forget me")
    assert "deleted" in chat.text()
    assert await app.redis.keys(f"{app.settings.key_prefix}:{{test:alice}}:*") == []
    assert await app.redis.xlen(app.store.events_key) == 0


async def test_every_turn_appends_events(chat: Chat, app) -> None:
    await chat.say("bluetooth speaker")
    shown = chat.products()
    await chat.press(f"details:{shown[0].id}")
    await chat.press(f"like:{shown[0].id}")
    await chat.press(f"dislike:{shown[1].id}")
    types = [f[b"type"].decode() for _, f in await app.redis.xrange(app.store.events_key)]
    assert types == ["query", "shown", "clicked", "liked", "disliked"]


async def test_forged_and_unknown_buttons_change_nothing(chat: Chat, app, demo_catalog: Catalog) -> None:
    await chat.say("yoga mat")
    before = (await app.store.load("test:alice", lang="en")).session
    unseen = next(p.id for p in demo_catalog.products if p.id not in before.shown)
    for action in (f"like:{unseen}", "like:no-such-product", "buy:everything", "details:", "category:Nope",
                   "x" * 5000, "cheaper:1", "lang:fr"):
        await chat.press(action)
        assert chat.last[0].kind == "notice", action
    after = (await app.store.load("test:alice", lang="en")).session
    assert after.liked == before.liked == [] and after.prefs == before.prefs


async def test_duplicate_delivery_is_handled_once(app) -> None:
    chat = Chat(app, user="bob")
    first = await chat.say("wireless earbuds", message_id="42")
    again = await chat.say("wireless earbuds", message_id="42")
    assert first and again == []
    session = (await app.store.load("test:bob", lang="en")).session
    assert session.turns == 1


async def test_twenty_concurrent_messages_of_one_user_apply_in_order(app) -> None:
    chat = Chat(app, user="carol")
    texts = [f"headphones number {i}" for i in range(20)]
    await asyncio.gather(*(chat.say(text) for text in texts))
    session = (await app.store.load("test:carol", lang="en")).session
    assert [h["text"] for h in session.history if h["role"] == "user"] == texts
    assert session.turns == 20


async def test_two_hundred_users_in_parallel(app) -> None:
    chats = [Chat(app, user=f"u{n}") for n in range(200)]
    await asyncio.gather(*(c.say("我想买蓝牙耳机" if n % 2 else "running shoes under 800")
                           for n, c in enumerate(chats)))
    assert all(c.products() for c in chats)
    assert all(p.price <= 800 for c in chats[::2] for p in c.products())


async def test_more_expensive_is_above_everything_shown(chat: Chat) -> None:
    await chat.say("推荐一款手机，三千以内")
    ceiling = max(p.price for p in chat.products())
    await chat.say("贵一点的")
    assert chat.products() and all(p.price > ceiling for p in chat.products())
    assert "以上" in chat.text()


async def test_references_without_a_number(chat: Chat) -> None:
    await chat.say("bluetooth speaker")
    shown = chat.products()
    await chat.say("compare them")
    assert chat.last[0].kind == "compare" and len(chat.last[0].products) == len(shown)
    await chat.say("tell me more")
    assert chat.last[0].kind == "notice" and "1 to 5" in chat.text()


async def test_typos_still_find_the_products(chat: Chat, demo_catalog: Catalog) -> None:
    await chat.say("waterprof runing earbudz under 300")
    typed = chat.products()
    assert 3 <= len(typed) <= 5 and all(p.price <= 300 for p in typed)
    for p in typed:
        product = demo_catalog.get(p.id)
        assert "Headphones" in product.category and "waterproof" in product.features
