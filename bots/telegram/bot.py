"""Telegram updates in, Telegram messages out.

``TelegramBot`` installs its handlers on a python-telegram-bot ``Application``.  Text and
commands become an ``Inbound`` for the dialogue manager; its replies are rendered by
``bots.telegram.render`` and sent with signed buttons (``core.buttons``), so a forged,
foreign or stale payload changes nothing.  Sending retries network errors with backoff
(429s are ``AIORateLimiter``'s), marks a user who blocked the bot as unreachable, and falls
back to text when Telegram cannot fetch a product photo.  The same sending path delivers
outbox messages (an agent's answer, an alert) for ``bots.telegram.run``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from redis.exceptions import RedisError
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatType, MessageEntityType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bots.links import web_url
from bots.telegram.render import TEXT_LIMIT, Outgoing, card_html, cut, render
from core import metrics
from core.app import App
from core.buttons import ButtonSigner, ForgedButton, StaleButton
from core.logs import user_ref
from core.messages import Button, Inbound, Reply
from core.outbox import Outbox, OutboxMessage, Undeliverable
from core.preview import preview
from core.wording import price, t

log = logging.getLogger(__name__)

PLATFORM = "telegram"
SEND_ATTEMPTS = 4  # network errors: tries per message, waiting 0.5, 1, 2 s between
TYPING_EVERY = 4.0  # Telegram shows "typing…" for 5 s after each chat action
_CJK = re.compile(r"[\u3400-\u9fff]")
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what a t.me/<bot>?start= payload may hold
_COMMANDS = {"help": "help", "reset": "reset", "human": "human", "forget": "forget"}
COMMANDS = {
    "en": [("start", "Start over with a greeting"), ("help", "What I can do"), ("reset", "Forget this search"),
           ("human", "Talk to a person"), ("lang", "中文 / English"), ("forget", "Delete my data")],
    "zh": [("start", "开始"), ("help", "使用说明"), ("reset", "重新开始"), ("human", "转人工客服"),
           ("lang", "中文 / English"), ("forget", "删除我的数据")],
}

T = TypeVar("T")


class PerUserOrder(BaseUpdateProcessor):
    """Updates of different users run concurrently; one user's run one at a time, in the
    order they arrived (asyncio locks wake waiters first come, first served).  The dialogue
    manager's Redis turn queue orders them across processes; this keeps one process from
    racing its own updates into that queue."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        user = update.effective_user.id if isinstance(update, Update) and update.effective_user else None
        if user is None:
            await coroutine
            return
        lock, users = self._locks.get(user, (asyncio.Lock(), 0))
        self._locks[user] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._locks[user]
            if users == 1:
                del self._locks[user]
            else:
                self._locks[user] = (lock, users - 1)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def category_payload(category: str) -> str:
    """The deep-link payload (t.me/<bot>?start=...) that opens ``category``."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(category.encode()).digest()).decode()
    return "c_" + digest[:12]


class TelegramBot:
    def __init__(self, app: App, application: Application, *, signer: ButtonSigner, outbox: Outbox) -> None:
        self.app = app
        self.application = application
        self.signer = signer
        self.outbox = outbox
        self.categories = {category_payload(c): c for c in app.recommender.catalog.categories}
        application.add_handler(CallbackQueryHandler(self.on_callback))
        application.add_handler(InlineQueryHandler(self.on_inline))
        application.add_handler(MessageHandler(filters.UpdateType.EDITED, self.on_edited))
        application.add_handler(MessageHandler(filters.UpdateType.MESSAGE, self.on_message))
        application.add_error_handler(self.on_error)

    @property
    def bot(self) -> Any:
        return self.application.bot

    async def register_commands(self) -> None:
        """The command menu, in English by default and in Chinese for Chinese clients."""
        for lang, commands in COMMANDS.items():
            await self.bot.set_my_commands([BotCommand(c, d) for c, d in commands],
                                           language_code="zh" if lang == "zh" else None)

    # -- incoming ------------------------------------------------------------------------

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg, user, chat = update.message, update.effective_user, update.effective_chat
        if msg is None or user is None or chat is None or user.is_bot:
            return
        private = chat.type == ChatType.PRIVATE
        text = self._addressed_text(msg, private)
        if text is None:
            return  # a group message not meant for the bot
        lang = _lang(user.language_code)
        if msg.text is None and not (msg.caption and not private):
            await self._send_text(chat.id, user.id, t("media", lang), reply_to=None if private else msg.message_id)
            return
        message_id = f"{chat.id}:{msg.message_id}"
        await self._reachable(user.id)
        if text.startswith("/"):
            await self._command(update, text, message_id)
            return
        await self._turn(update, Inbound(PLATFORM, str(user.id), str(chat.id), message_id, text=text,
                                         lang=user.language_code or ""))

    async def on_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg, user, chat = update.edited_message, update.effective_user, update.effective_chat
        if msg is None or user is None or chat is None or chat.type != ChatType.PRIVATE:
            return
        await self._send_text(chat.id, user.id, t("edited", _lang(user.language_code)))

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        user = query.from_user
        lang = _lang(user.language_code)
        try:
            action = await self.signer.unpack(str(user.id), query.data or "")
        except StaleButton:
            await self._answer(query, t("button_stale", lang))
            return
        except ForgedButton:
            ref = user_ref(user.id, PLATFORM)
            log.warning("forged or foreign button from telegram user %s ignored", ref,
                        extra={"user": ref, "platform": PLATFORM})
            await self._answer(query, t("button_forged", lang))
            return
        except RedisError:
            await self._answer(query, t("unavailable", lang))
            return
        await self._answer(query, None)  # first: a button must never spin
        chat_id = query.message.chat.id if query.message else user.id
        await self._turn(update, Inbound(PLATFORM, str(user.id), str(chat_id), f"cb:{query.id}", action=action,
                                         lang=user.language_code or ""))

    async def on_inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.inline_query
        if query is None:
            return
        lang = _lang(query.from_user.language_code)
        cards = await preview(self.app.recommender, query.query, lang_hint=lang) if query.query.strip() else []
        results = []
        for card in cards:
            lang_card = "zh" if _CJK.search(card.title) else lang
            url = web_url(card.url)
            results.append(InlineQueryResultArticle(
                id=hashlib.sha256(card.id.encode()).hexdigest()[:32],
                title=cut(card.title, 120),
                description=cut(" · ".join(p for p in (price(card.price, card.currency), card.brand, card.reason) if p),
                                200),
                input_message_content=InputTextMessageContent(
                    card_html(card, lang_card, limit=TEXT_LIMIT), parse_mode=ParseMode.HTML),
                thumbnail_url=web_url(card.image_url) or None,
                reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton(t("view_product", lang), url=url)]])
                if url else None,
            ))
        await self._call(query.from_user.id, lambda: query.answer(results, cache_time=60, is_personal=False))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update failed: %s", context.error, exc_info=context.error)
        metrics.error("handler")

    # -- the dialogue ------------------------------------------------------------------------

    async def _command(self, update: Update, text: str, message_id: str) -> None:
        user, chat = update.effective_user, update.effective_chat
        assert user is not None and chat is not None
        name, _, arg = text[1:].partition(" ")
        name, _, target = name.partition("@")
        if target and target.lower() != (self.bot.username or "").lower():
            return  # addressed to another bot in a group
        name, arg = name.lower(), arg.strip()
        inbound = Inbound(PLATFORM, str(user.id), str(chat.id), message_id, lang=user.language_code or "")
        if name == "start":
            await self._start(update, inbound, arg)
        elif name == "lang" and arg.lower() in ("zh", "en", "中文", "english"):
            code = "zh" if arg.lower() in ("zh", "中文") else "en"
            await self._turn(update, _with(inbound, action=f"lang:{code}"))
        elif name == "lang":
            buttons = (Button("中文", "lang:zh"), Button("English", "lang:en"))
            await self._send(chat.id, user.id, [Reply(t("choose_lang", _lang(user.language_code)), buttons=buttons)])
        elif name in _COMMANDS:
            await self._turn(update, _with(inbound, action=_COMMANDS[name]))
        else:
            await self._turn(update, _with(inbound, text=text))

    async def _start(self, update: Update, inbound: Inbound, payload: str) -> None:
        """``/start`` greets; a deep-link payload ``c_...`` opens a category, any other is a
        campaign tag, recorded as an event."""
        category = self.categories.get(payload)
        if payload and not category and _PAYLOAD.fullmatch(payload):
            with contextlib.suppress(RedisError):
                await self.app.store.append_events(inbound.user_key, [
                    {"type": "campaign", "data": {"payload": payload, "platform": PLATFORM}}])
        await self._turn(update, _with(inbound, action="start"))
        if category:
            await self._turn(update, _with(inbound, action=f"category:{category}",
                                           message_id=f"{inbound.message_id}:category"))

    async def _turn(self, update: Update, inbound: Inbound) -> None:
        chat = update.effective_chat
        chat_id = chat.id if chat else int(inbound.chat_id)
        async with self._typing(chat_id):
            outcome = await self.app.dialogue.handle(inbound)
        reply_to = update.message.message_id if update.message and chat and chat.type != ChatType.PRIVATE else None
        await self._send(chat_id, int(inbound.user_id), outcome.replies, reply_to=reply_to)

    def _addressed_text(self, msg: Message, private: bool) -> str | None:
        """The text meant for the bot, without its @mention; None for group chatter."""
        text = msg.text or msg.caption or ""
        if private:
            return text
        username = (self.bot.username or "").lower()
        if text.startswith("/"):
            return text
        entities = msg.parse_entities() if msg.text else msg.parse_caption_entities()
        mention = next((s for e, s in entities.items()
                        if e.type == MessageEntityType.MENTION and s[1:].lower() == username), None)
        if mention:
            return " ".join(text.replace(mention, " ").split())
        replied = msg.reply_to_message
        if replied and replied.from_user and replied.from_user.id == self.bot.id:
            return text
        return None

    # -- outgoing --------------------------------------------------------------------------

    async def deliver(self, message: OutboxMessage) -> None:
        """Send one outbox message; ``Undeliverable`` when the user blocked the bot."""
        await self._send(int(message.chat_id or message.user_id), int(message.user_id), [message.reply],
                         raise_blocked=True)

    async def _send(self, chat_id: int, user_id: int, replies: list[Reply], *, reply_to: int | None = None,
                    raise_blocked: bool = False) -> None:
        lang = "zh" if any(_CJK.search(r.text) for r in replies) else "en"
        try:
            for reply in replies:
                for out in render(reply, lang):
                    await self._send_one(chat_id, user_id, out, reply_to)
                    reply_to = None  # only the first message quotes the customer's
        except Undeliverable:
            if raise_blocked:
                raise
        except RedisError as exc:
            ref = user_ref(user_id, PLATFORM)
            log.error("cannot sign buttons for telegram user %s: %s", ref, exc,
                      extra={"user": ref, "platform": PLATFORM})
            if raise_blocked:
                raise

    async def _send_one(self, chat_id: int, user_id: int, out: Outgoing, reply_to: int | None) -> None:
        markup = await self._markup(user_id, out.rows)
        common: dict[str, Any] = {"chat_id": chat_id, "parse_mode": ParseMode.HTML, "reply_markup": markup}
        if reply_to:
            common["reply_to_message_id"] = reply_to
        if out.photo:
            try:
                await self._call(user_id, lambda: self.bot.send_photo(photo=out.photo, caption=out.html, **common))
                return
            except BadRequest as exc:  # Telegram could not fetch or use the image
                log.info("photo %s refused (%s); sending text", out.photo, exc.message)
            await self._call(user_id, lambda: self.bot.send_message(text=out.fallback or out.html, **common))
            return
        await self._call(user_id, lambda: self.bot.send_message(text=out.html, **common))

    async def _send_text(self, chat_id: int, user_id: int, text: str, *, reply_to: int | None = None) -> None:
        await self._send(chat_id, user_id, [Reply(text, kind="notice")], reply_to=reply_to)

    async def _markup(self, user_id: int, rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
        keyboard = []
        for row in rows:
            line = []
            for button in row:
                label = cut(button.label, 64)
                if button.action.startswith("url:"):
                    line.append(InlineKeyboardButton(label, url=button.action[4:]))
                    continue
                try:
                    data = await self.signer.pack(str(user_id), button.action)
                except RedisError as exc:  # a long action needs Redis; the message still goes out
                    log.warning("button %r left out: %s", button.action, exc)
                    continue
                line.append(InlineKeyboardButton(label, callback_data=data))
            if line:
                keyboard.append(line)
        return InlineKeyboardMarkup(keyboard) if keyboard else None

    async def _call(self, user_id: int, send: Callable[[], Awaitable[T]]) -> T:
        """One Bot API call: network errors retried with backoff, a blocked user marked."""
        for attempt in range(SEND_ATTEMPTS):
            try:
                return await send()
            except Forbidden as exc:
                ref = user_ref(user_id, PLATFORM)
                log.info("telegram user %s is unreachable: %s", ref, exc.message,
                         extra={"user": ref, "platform": PLATFORM})
                with contextlib.suppress(RedisError):
                    await self.outbox.mark_unreachable(str(user_id))
                raise Undeliverable(exc.message) from exc
            except BadRequest:
                raise
            except RetryAfter as exc:  # the rate limiter gave up; wait as told, once more
                if attempt == SEND_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(_seconds(exc.retry_after))
            except NetworkError as exc:
                metrics.error("send")
                if attempt == SEND_ATTEMPTS - 1:
                    raise
                log.warning("telegram network error (%s); retrying", exc.message)
                await asyncio.sleep(0.5 * 2 ** attempt)
        raise AssertionError("unreachable")

    async def _answer(self, query: Any, text: str | None) -> None:
        try:
            await query.answer(text)
        except TelegramError as exc:  # too old to answer, or the network: nothing to undo
            log.info("callback query %s not answered: %s", query.id, exc)

    async def _reachable(self, user_id: int) -> None:
        with contextlib.suppress(RedisError):
            await self.outbox.mark_reachable(str(user_id))

    @contextlib.asynccontextmanager
    async def _typing(self, chat_id: int) -> AsyncIterator[None]:
        async def keep_typing() -> None:
            while True:
                with contextlib.suppress(TelegramError):
                    await self.bot.send_chat_action(chat_id, ChatAction.TYPING)
                await asyncio.sleep(TYPING_EVERY)

        task = asyncio.create_task(keep_typing())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _with(inbound: Inbound, **changes: str) -> Inbound:
    return replace(inbound, **changes)


def _lang(code: str | None) -> str:
    return "zh" if (code or "").lower().startswith("zh") else "en"


def _seconds(retry_after: Any) -> float:
    return retry_after.total_seconds() if hasattr(retry_after, "total_seconds") else float(retry_after)
