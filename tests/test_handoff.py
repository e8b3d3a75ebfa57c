"""When the bot hands a conversation to a person: triggers, routing rules, business hours."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import Chat

from core.app import App
from core.handoff import CANCEL_ACTION, back_at
from core.hours import BusinessHours, parse_spans
from core.settings import Settings, SettingsError
from core.tickets import PENDING
from core.triggers import Rule, is_cancel, is_frustrated, parse_rules

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str) -> float:
    """A Shanghai wall-clock time as a timestamp: at("2024-06-01 10:00") is a Saturday morning."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Agents always in, so replies do not depend on when the tests run; hours have their own tests.
    return replace(settings, handoff_hours="always")


async def ticket_of(app: App, user: str = "alice"):  # type: ignore[no-untyped-def]
    return await app.tickets.open_ticket_of("test", user, messages=True)


def buttons(chat: Chat) -> set[str]:
    return {b.action for reply in chat.last for b in reply.buttons}


# -- rules, cues and hours, without Redis ---------------------------------------------------------


def test_rules_parse_robustly_and_match_words() -> None:
    rules = parse_rules(" 退货，退款|Refund , return = After_Sales ;; 投诉、complain=complaints@2\n")
    assert rules == (Rule(("退货", "退款", "refund", "return"), "after_sales", 0),
                     Rule(("投诉", "complain"), "complaints", 2))
    assert rules[0].match("我想退货") == "退货" and rules[0].match("I want a REFUND please") == "refund"
    assert rules[0].match("it was returned broken") == "return"  # the start of a word counts
    assert rules[0].match("a prefund scheme") == "" and rules[0].match("蓝牙耳机") == ""
    assert rules[1].match("I'd like to file a complaint") == "complain"
    assert parse_rules("") == ()
    for bad in ("refund", "=after_sales", "refund=After Sales", "refund=x@10", "refund=x@high"):
        with pytest.raises(ValueError):
            parse_rules(bad)


def test_frustration_and_cancel_cues_in_both_languages() -> None:
    for text in ("this is useless", "WTF", "you don't understand", "not helpful at all", "垃圾", "气死我了",
                 "什么破机器人", "你太差了", "答非所问"):
        assert is_frustrated(text), text
    for text in ("a trash can 垃圾桶", "这款我没用过", "useful earbuds", "running shoes", "不错"):
        assert not is_frustrated(text), text
    for text in ("cancel", "/bot", "回到机器人", "取消", "back to the bot!", "Never mind"):
        assert is_cancel(text), text
    for text in ("cancel my order", "I want to cancel the refund", "取消订单"):
        assert not is_cancel(text), text


def test_business_hours_parse_and_the_next_opening() -> None:
    hours = BusinessHours.parse("Mon-Fri 09:00-12:00 13:00-18:00; Sat 10:00-14:00", "Asia/Shanghai")
    assert hours.is_open(at("2024-06-03 09:00"))  # Monday
    assert not hours.is_open(at("2024-06-03 12:30"))  # lunch
    assert hours.next_open(at("2024-06-03 12:30")) == datetime(2024, 6, 3, 13, 0, tzinfo=SHANGHAI)
    assert hours.next_open(at("2024-06-03 10:00")) is None
    assert hours.next_open(at("2024-06-01 15:00")) == datetime(2024, 6, 3, 9, 0, tzinfo=SHANGHAI)  # Sat → Mon
    assert hours.next_open(at("2024-06-07 19:00")) == datetime(2024, 6, 8, 10, 0, tzinfo=SHANGHAI)  # Fri → Sat

    assert parse_spans("周一至周五 09:00-18:00") == parse_spans("Mon-Fri 09:00-18:00")
    assert parse_spans("每天 08:00-22:00") == parse_spans("daily 08:00-22:00") == parse_spans("08:00-22:00")
    overnight = BusinessHours.parse("Fri 22:00-02:00", "Asia/Shanghai")
    assert overnight.is_open(at("2024-06-08 01:30")) and not overnight.is_open(at("2024-06-08 02:00"))
    assert BusinessHours.parse("always", "UTC").next_open(at("2024-06-01 03:00")) is None
    for bad in ("Mon-Fri", "Funday 09:00-10:00", "Mon 09:00-25:00", "Mon 09:00-09:00", "Mon 09:00-10:00 soon"):
        with pytest.raises(ValueError):
            parse_spans(bad)


def test_when_agents_are_back_is_said_in_the_customers_language() -> None:
    hours = BusinessHours.parse("Mon-Fri 09:00-18:00", "Asia/Shanghai")
    saturday = at("2024-06-01 10:00")
    monday = hours.next_open(saturday)
    assert monday is not None
    assert back_at(hours, monday.timestamp(), saturday, "en") == "on Monday at 09:00 (Asia/Shanghai time)"
    assert back_at(hours, monday.timestamp(), saturday, "zh") == "周一09:00（北京时间）"
    evening = at("2024-06-03 20:00")
    assert back_at(hours, hours.next_open(evening).timestamp(), evening, "en").startswith("tomorrow at 09:00")  # type: ignore[union-attr]
    early = at("2024-06-03 07:00")
    assert back_at(hours, hours.next_open(early).timestamp(), early, "zh").startswith("今天09:00")  # type: ignore[union-attr]


def test_handoff_settings_are_checked_when_they_load() -> None:
    loaded = Settings.from_env({"DAOGOU_HANDOFF_HOURS": "周一至周五 09:00-18:00", "DAOGOU_HANDOFF_TIMEZONE": "Europe/Berlin",
                                "DAOGOU_HANDOFF_RULES": "refund=billing@3", "DAOGOU_HANDOFF_IMPLICIT": "open"})
    assert loaded.handoff_timezone == "Europe/Berlin" and loaded.handoff_implicit == "open"
    for name, value in (("HOURS", "weekdays"), ("TIMEZONE", "Mars/Olympus"), ("RULES", "refund"),
                        ("REPEATS", "1"), ("IMPLICIT", "maybe")):
        with pytest.raises(SettingsError, match=f"DAOGOU_HANDOFF_{name}"):
            Settings.from_env({f"DAOGOU_HANDOFF_{name}": value})


# -- triggers in conversations ---------------------------------------------------------------------


@pytest.mark.parametrize("say", ["转人工", "人工客服", "talk to a person", "/human", "I need customer service"])
async def test_an_explicit_request_opens_a_ticket(chat: Chat, app: App, say: str) -> None:
    await chat.say(say)
    ticket = await ticket_of(app)
    assert ticket is not None and ticket.state == PENDING
    assert ticket.reason == "customer_request" and ticket.queue == "shopping"
    assert chat.last[0].kind == "handoff" and CANCEL_ACTION in buttons(chat)
    assert ("人工" in chat.text()) == (say in ("转人工", "人工客服"))
    session = (await app.store.load("test:alice", lang="en")).session
    assert session.state == "handoff" and session.handoff["ticket"] == ticket.id  # type: ignore[index]


async def test_the_human_button_opens_a_ticket(chat: Chat, app: App) -> None:
    await chat.say("bluetooth earbuds")
    shown = [p.id for p in chat.products()]
    assert shown and "human" in buttons(chat)
    await chat.press("human")
    ticket = await ticket_of(app)
    assert ticket is not None and ticket.reason == "customer_request"
    assert [p["id"] for p in ticket.summary["shown"]] == shown


async def test_routing_words_go_to_after_sales_without_touching_the_shopping_need(chat: Chat, app: App) -> None:
    await chat.say("waterproof running earbuds under 300")
    before = (await app.store.load("test:alice", lang="en")).session
    await chat.say("I want a refund for the earbuds I bought last week")
    ticket = await ticket_of(app)
    assert ticket is not None and ticket.queue == "after_sales" and ticket.reason == "keyword"
    assert "keyword:refund" in ticket.tags and "after-sales" in chat.text()
    after = (await app.store.load("test:alice", lang="en")).session
    assert after.prefs == before.prefs and after.last_results == before.last_results

    complaint = Chat(app, user="bob")
    await complaint.say("我要投诉你们的快递")
    ticket = await ticket_of(app, "bob")
    assert ticket is not None and ticket.queue == "complaints" and ticket.priority == 1
    assert "投诉" in complaint.text()


async def test_an_explicit_request_is_routed_by_what_the_customer_said_before(chat: Chat, app: App) -> None:
    await chat.say("我要退货")
    await chat.press(CANCEL_ACTION)
    await chat.say("算了还是转人工吧")
    ticket = await ticket_of(app)
    assert ticket is not None and ticket.reason == "customer_request" and ticket.queue == "after_sales"


async def test_turns_without_results_offer_a_person(chat: Chat, app: App) -> None:
    for n in range(app.settings.handoff_no_result_turns):
        assert "human" not in buttons(chat)
        await chat.say(f"laptop under {n + 3} yuan")
        assert not chat.products()
    assert chat.last[-1].kind == "offer" and "human" in buttons(chat)
    assert await ticket_of(app) is None  # offered, not forced
    await chat.say("laptop under 2 yuan")
    assert "human" not in buttons(chat)  # not again at once
    await chat.press("human")
    ticket = await ticket_of(app)
    assert ticket is not None and "offered:no_results" in ticket.tags


async def test_when_set_to_open_a_stuck_bot_opens_the_ticket_itself(app: App, settings: Settings,
                                                                    demo_recommender) -> None:  # type: ignore[no-untyped-def]
    from core.app import build_app

    eager = build_app(replace(settings, handoff_implicit="open", handoff_no_result_turns=2), redis=app.redis,
                      recommender=demo_recommender)
    chat = Chat(eager)
    await chat.say("laptop under 3 yuan")
    await chat.say("laptop under 4 yuan")
    ticket = await ticket_of(eager)
    assert ticket is not None and ticket.reason == "no_results" and "stuck" in ticket.tags
    assert [r.kind for r in chat.last] == ["handoff"]


async def test_repeated_dislikes_offer_a_person_and_a_like_resets_them(chat: Chat, app: App) -> None:
    await chat.say("waterproof running earbuds under 300")
    shown = [p.id for p in chat.products()]
    await chat.press(f"dislike:{shown[0]}")
    await chat.press(f"dislike:{shown[1]}")
    await chat.press(f"like:{shown[2]}")
    await chat.press(f"dislike:{shown[3]}")
    assert "human" not in buttons(chat)
    await chat.press(f"dislike:{shown[4]}")
    await chat.press(f"dislike:{shown[1]}")
    assert chat.last[-1].kind == "offer" and "human" in buttons(chat)


async def test_the_customer_repeating_themselves_offers_a_person(chat: Chat) -> None:
    await chat.say("what's the weather like?")
    await chat.say("What's the weather like")
    assert "human" not in buttons(chat)
    await chat.say("what's the   weather like??")
    assert chat.last[-1].kind == "offer"


async def test_browsing_with_the_same_word_is_not_repeating(chat: Chat) -> None:
    await chat.say("running shoes")
    await chat.say("show me more")
    await chat.say("show me more")
    await chat.say("show me more")
    assert chat.products() and "offer" not in {r.kind for r in chat.last}


async def test_frustration_offers_a_person_in_both_languages(chat: Chat, app: App) -> None:
    await chat.say("this is useless")
    assert [r.kind for r in chat.last] == ["offer"] and "person" in chat.text()
    await chat.say("wtf")  # nothing else said: the offer again, not "I didn't catch that"
    assert [r.kind for r in chat.last] == ["offer"]
    assert await ticket_of(app) is None

    zh = Chat(app, user="bob")
    await zh.say("蓝牙耳机")
    await zh.say("这也太垃圾了，有没有便宜点的")
    assert zh.products() and zh.last[-1].kind == "offer" and "人工" in zh.last[-1].text
    session = (await app.store.load("test:bob", lang="en")).session
    assert "垃圾" not in session.prefs.query  # the cue is not taken for a product word


async def test_outside_business_hours_the_ticket_waits_and_the_customer_is_told_when(
        settings: Settings, app: App, demo_recommender) -> None:  # type: ignore[no-untyped-def]
    from core.app import build_app
    from core.tickets import TicketStore

    saturday = at("2024-06-01 10:00")
    office = replace(settings, handoff_hours="Mon-Fri 09:00-18:00", handoff_timezone="Asia/Shanghai")
    tickets = TicketStore(app.redis, office, clock=lambda: saturday)
    shop = build_app(office, redis=app.redis, recommender=demo_recommender, tickets=tickets)
    zh, en = Chat(shop, user="zh"), Chat(shop, user="en")
    await zh.say("转人工")
    assert "周一09:00（北京时间）" in zh.text() and "不在线" in zh.text()
    await en.say("talk to a person")
    assert "back on Monday at 09:00 (Asia/Shanghai time)" in en.text()
    ticket = await ticket_of(shop, "zh")
    assert ticket is not None and ticket.state == PENDING and "after_hours" in ticket.tags
    assert ticket.sla_deadline == at("2024-06-03 09:00") + office.handoff_sla

    tickets.clock = lambda: at("2024-06-03 10:00")  # Monday morning: agents are in
    inside = Chat(shop, user="monday")
    await inside.say("talk to a person")
    assert "away" not in inside.text() and "right here" in inside.text()
    assert "after_hours" not in (await ticket_of(shop, "monday")).tags  # type: ignore[union-attr]
