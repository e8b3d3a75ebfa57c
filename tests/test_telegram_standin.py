"""The Bot API stand-in, driven by the real python-telegram-bot library (no daogou code)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Update
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram_standin import BotApiStandIn

TOKEN = "123456:TEST-token"
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Add to cart", callback_data="buy:1")]])


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB's timedelta periods: since v22.2 building a ``RetryAfter`` (any 429) or reading
    ``Voice.duration`` warns PTBDeprecationWarning unless PTB_TIMEDELTA is set, and warnings are errors here."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
async def api() -> AsyncIterator[BotApiStandIn]:
    async with BotApiStandIn() as standin:
        yield standin


def make_bot(api: BotApiStandIn) -> Bot:
    return Bot(TOKEN, base_url=f"{api.url}/bot", base_file_url=f"{api.url}/file/bot")


@contextlib.asynccontextmanager
async def polling(
    api: BotApiStandIn, *handlers: BaseHandler[Any, Any, Any], rate_limiter: AIORateLimiter | None = None
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """An Application long-polling the stand-in (timeout=1), stopped and shut down on exit."""
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = ApplicationBuilder()
    builder = builder.token(TOKEN).base_url(f"{api.url}/bot").base_file_url(f"{api.url}/file/bot")
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)
    app = builder.build()
    app.add_handlers(list(handlers))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"welcome {' '.join(context.args or [])}", reply_markup=KEYBOARD)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


async def test_start_command_and_echo_over_long_polling(api: BotApiStandIn) -> None:
    async with polling(api, CommandHandler("start", start), MessageHandler(filters.TEXT & ~filters.COMMAND, echo)):
        api.feed(api.text_message(42, "/start hello"))
        api.feed(api.text_message(42, "how much is the kettle?"))
        first, second = await api.wait_for("sendMessage", count=2)
    assert (first.params["chat_id"], first.params["text"]) == (42, "welcome hello")
    assert first.params["reply_markup"] == KEYBOARD.to_dict()
    assert (second.params["chat_id"], second.params["text"]) == (42, "echo: how much is the kettle?")
    assert {call.token for call in api.calls} == {TOKEN}
    assert [c.method for c in api.calls[:2]] == ["getMe", "deleteWebhook"]
    poll = api.calls_of("getUpdates")[0].params
    assert poll["offset"] == 0 and poll["timeout"] == 1  # decoded from the form to ints
    # user messages took ids 1 and 2 in the private chat, the bot's replies 3 and 4
    assert sorted(mid for chat, mid in api.messages if chat == 42) == [1, 2, 3, 4]
    assert api.pending == []  # confirmed by the cleanup getUpdates when the updater stopped


async def test_inline_keyboard_arrives_decoded_and_edits_behave_like_telegram(api: BotApiStandIn) -> None:
    async with make_bot(api) as bot:
        sent = await bot.send_message(7, "Kettle, 199 yuan", reply_markup=KEYBOARD)
        assert api.calls_of("sendMessage")[0].params["reply_markup"] == {
            "inline_keyboard": [[{"text": "Add to cart", "callback_data": "buy:1"}]]}
        assert sent.reply_markup == KEYBOARD and sent.from_user is not None and sent.from_user.is_bot
        edited = await bot.edit_message_text("Kettle, 179 yuan", chat_id=7, message_id=sent.message_id,
                                             reply_markup=KEYBOARD)
        assert isinstance(edited, type(sent)) and edited.text == "Kettle, 179 yuan" and edited.edit_date
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text("Kettle, 179 yuan", chat_id=7, message_id=sent.message_id,
                                        reply_markup=KEYBOARD)
        stripped = await bot.edit_message_reply_markup(chat_id=7, message_id=sent.message_id)
        assert not isinstance(stripped, bool) and stripped.reply_markup is None
        assert await bot.send_chat_action(7, "typing") is True
        assert await bot.delete_message(7, sent.message_id) is True


async def test_429_is_retried_by_aio_rate_limiter(api: BotApiStandIn) -> None:
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    async with polling(api, MessageHandler(filters.TEXT, echo), rate_limiter=AIORateLimiter(max_retries=2)):
        api.feed(api.text_message(42, "hello"))
        [ok] = await api.wait_for("sendMessage", failed=False)
    attempts = api.calls_of("sendMessage")
    assert len(attempts) == 2 and ok is attempts[1]
    assert (attempts[0].failed, attempts[0].error_code) == (True, 429)
    assert attempts[1].at - attempts[0].at >= 1.0  # slept retry_after (+0.1 s) before retrying
    assert ok.params == attempts[0].params


async def test_callback_query_is_answered(api: BotApiStandIn) -> None:
    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("Added to cart")
        await update.callback_query.edit_message_text("In your cart: kettle")

    async with polling(api, CommandHandler("start", start), CallbackQueryHandler(on_button)):
        api.feed(api.text_message(42, "/start"))
        [shown] = await api.wait_for("sendMessage")
        press = api.callback_query(42, "buy:1")
        api.feed(press)
        [answer] = await api.wait_for("answerCallbackQuery")
        [edit] = await api.wait_for("editMessageText")
    assert answer.params == {"callback_query_id": press["callback_query"]["id"], "text": "Added to cart"}
    message = press["callback_query"]["message"]
    assert message["text"] == shown.params["text"] and message["reply_markup"] == KEYBOARD.to_dict()
    assert (edit.params["chat_id"], edit.params["message_id"]) == (42, message["message_id"])
    assert api.messages[(42, message["message_id"])]["text"] == "In your cart: kettle"


async def test_restarted_application_gets_only_unconfirmed_updates(api: BotApiStandIn) -> None:
    seen: list[list[str]] = [[], []]

    def recorder(index: int) -> MessageHandler[Any, None]:
        async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.message is not None and update.message.text is not None
            seen[index].append(update.message.text)
            await update.message.reply_text("ok")
        return MessageHandler(filters.TEXT, record)

    async with polling(api, recorder(0)):
        api.feed(api.text_message(42, "first"))
        await api.wait_for("sendMessage")
    api.feed(api.text_message(42, "second"))  # arrives while no bot is polling
    async with polling(api, recorder(1)):
        await api.wait_for("sendMessage", count=2)
        await asyncio.sleep(0.2)
    assert seen == [["first"], ["second"]]


async def test_api_errors_and_dropped_connections_reach_ptb(api: BotApiStandIn) -> None:
    api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    api.fail_next("sendMessage", 400, "Bad Request: chat not found")
    api.fail_next("sendMessage", 502, "Bad Gateway")
    api.drop_connection_next("sendMessage")
    async with make_bot(api) as bot:
        with pytest.raises(Forbidden, match="blocked by the user"):
            await bot.send_message(42, "hi")
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(42, "hi")
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(42, "hi")
        with pytest.raises(NetworkError):
            await bot.send_message(42, "hi")
        assert (await bot.send_message(42, "hi")).text == "hi"
    assert [c.error_code for c in api.calls_of("sendMessage", failed=True)] == [403, 400, 502, None]
    assert len(api.calls_of("sendmessage")) == 5


async def test_uploads_media_groups_files_and_commands(api: BotApiStandIn) -> None:
    async with make_bot(api) as bot:
        photo = await bot.send_photo(42, b"\x89PNG fake", caption="The kettle", reply_markup=KEYBOARD)
        call = api.calls_of("sendPhoto")[0]
        assert call.files["photo"].data == b"\x89PNG fake" and call.params["caption"] == "The kettle"
        assert photo.caption == "The kettle" and photo.photo[-1].width == 800
        album = await bot.send_media_group(42, [InputMediaPhoto(b"one", caption="a"), InputMediaPhoto(b"two")])
        assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id
        media = api.calls_of("sendMediaGroup")[0].params["media"]
        assert [m["type"] for m in media] == ["photo", "photo"] and media[0]["media"].startswith("attach://")
        file = await bot.get_file(album[1].photo[-1].file_id)
        assert bytes(await file.download_as_bytearray()) == b"two"
        await bot.set_my_commands([("start", "Start shopping")])
        await bot.set_my_commands([("start", "开始购物")], language_code="zh")
        assert [c.description for c in await bot.get_my_commands()] == ["Start shopping"]
        assert [c.description for c in await bot.get_my_commands(language_code="zh")] == ["开始购物"]
        me = await bot.get_me()
        assert me.username == "daogou_test_bot" and me.supports_inline_queries and me.can_join_groups


async def test_get_updates_offsets_and_long_poll_wakeup(api: BotApiStandIn) -> None:
    async with make_bot(api) as bot:
        ids = [api.feed(api.text_message(42, text)) for text in ("a", "b", "c")]
        assert [u.update_id for u in await bot.get_updates()] == ids  # nothing confirmed yet
        assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]  # confirms ids[0]
        assert [u["update_id"] for u in api.pending] == ids[1:]
        assert [u.update_id for u in await bot.get_updates(offset=-1)] == ids[2:]
        loop = asyncio.get_running_loop()
        began = loop.time()
        poll = asyncio.create_task(bot.get_updates(offset=ids[2] + 1, timeout=5))
        await asyncio.sleep(0.1)
        late = api.feed(api.text_message(42, "d"))
        assert [u.update_id for u in await poll] == [late]
        assert loop.time() - began < 1.0
        assert [u.update_id for u in await bot.get_updates(offset=late + 1, timeout=0)] == []
        json_body = {"chat_id": 9, "text": "7"}  # other clients may send JSON bodies
        async with aiohttp.ClientSession() as session, session.post(
                f"{api.url}/botOTHER:token/SENDMESSAGE", json=json_body) as resp:
            assert (await resp.json())["result"]["text"] == "7"
        assert (api.calls[-1].token, api.calls_of("sendMessage")[0].params) == ("OTHER:token", json_body)
        waiting = asyncio.create_task(bot.get_updates(offset=late + 1, timeout=30))
        await asyncio.sleep(0.1)
        began = loop.time()
        await api.stop()  # a pending long poll is answered at once, not after 30 s
        assert await waiting == () and loop.time() - began < 1.0


async def test_webhook_delivery_with_secret(api: BotApiStandIn) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    got: list[str] = []

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        got.append(update.message.text)

    app = ApplicationBuilder().token(TOKEN).base_url(f"{api.url}/bot").build()
    app.add_handler(MessageHandler(filters.TEXT, record))
    hook = f"http://127.0.0.1:{port}/hook"
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_webhook("127.0.0.1", port, url_path="hook", webhook_url=hook, secret_token="s3cret")
        try:
            [set_hook] = api.calls_of("setWebhook")
            assert set_hook.params["url"] == hook and set_hook.params["secret_token"] == "s3cret"
            with pytest.raises(Conflict, match="webhook is active"):
                await app.bot.get_updates()
            assert (await api.post_webhook(hook, api.text_message(42, "via hook"), secret="s3cret"))[0] == 200
            assert (await api.post_webhook(hook, api.text_message(42, "intruder"), secret="wrong"))[0] == 403
            for _ in range(50):
                if got:
                    break
                await asyncio.sleep(0.02)
        finally:
            await app.updater.stop()
            await app.stop()
    assert got == ["via hook"]
    async with make_bot(api) as bot:
        assert (await bot.get_webhook_info()).url == hook


def test_update_builders_parse_as_ptb_updates() -> None:
    api = BotApiStandIn()
    bot = Bot(TOKEN)

    def parse(update: dict[str, Any]) -> Update:
        api.feed(update)  # assigns the update_id
        return Update.de_json(update, bot)

    group = parse(api.text_message(5, "🛒 @daogou_test_bot cheaper?", chat_type="supergroup", username="amy"))
    assert group.effective_chat is not None and group.effective_chat.type == "supergroup"
    assert group.effective_chat.id < 0 and str(group.effective_chat.id).startswith("-100")
    assert group.message is not None and group.message.parse_entities() == {
        group.message.entities[0]: "@daogou_test_bot"}
    command = parse(api.text_message(5, "/start@daogou_test_bot x", chat_type="group"))
    assert command.message is not None and command.message.chat.id == -5
    assert command.message.entities[0].type == "bot_command" and command.message.entities[0].length == 22
    reply = parse(api.text_message(5, "yes", reply_to_bot=True))
    assert reply.message is not None and reply.message.reply_to_message is not None
    assert reply.message.reply_to_message.from_user is not None and reply.message.reply_to_message.from_user.is_bot
    assert parse(api.photo_message(5, caption="this one")).message.photo[-1].width == 800  # type: ignore[union-attr]
    assert parse(api.sticker_message(5)).message.sticker.emoji == "👍"  # type: ignore[union-attr]
    assert parse(api.voice_message(5, duration=4)).message.voice.duration.seconds == 4  # type: ignore[union-attr]
    assert parse(api.location_message(5)).message.location.latitude == 31.2304  # type: ignore[union-attr]
    doc = parse(api.document_message(5, file_name="wishlist.txt", mime_type="text/plain")).message
    assert doc is not None and doc.document is not None and doc.document.file_name == "wishlist.txt"
    first = api.text_message(5, "red kettle")["message"]
    edited = parse(api.edited_message(5, first["message_id"], "blue kettle")).edited_message
    assert edited is not None and edited.text == "blue kettle" and edited.message_id == first["message_id"]
    inline = parse(api.inline_query(5, "kettle", offset="10")).inline_query
    assert inline is not None and (inline.query, inline.offset) == ("kettle", "10")
    press = parse(api.callback_query(5, "buy:2")).callback_query
    assert press is not None and press.data == "buy:2" and press.message is not None
