"""A stand-in for Telegram's Bot API server, for tests that drive the real python-telegram-bot.

``async with BotApiStandIn() as api:`` serves on 127.0.0.1; point PTB at it with ``ApplicationBuilder()
.token(T).base_url(f"{api.url}/bot").base_file_url(f"{api.url}/file/bot")``.

Simulates ``/bot<token>/<method>`` (any token, method names in any case; form, multipart or JSON
bodies, form values JSON-decoded except the strings in ``_STRING_FIELDS``, each call kept as a
:class:`Call`): getMe; getUpdates long polling that wakes on ``feed``, with offset confirmation,
limit, allowed_updates, 409 while a webhook is set or when a newer poll supersedes one; webhook
set/delete/info; send{Message,Photo,Document,Video,Audio,Voice,Sticker,Animation,VideoNote,Location}
and sendMediaGroup (Messages whose ids count per chat, shared with fed user messages; only inline
keyboards echoed, as Telegram does); editMessage{Text,Caption,ReplyMarkup} incl. 400 "message is
not modified"; getFile and downloads; set/get/deleteMyCommands per scope and language.  Any other
method answers true (sendChatAction, answerCallbackQuery, answerInlineQuery, deleteMessage, ...).
Faults: ``fail_next`` (API errors, 429 with retry_after) and ``drop_connection_next``.

Not simulated: parse_mode (text echoed as sent), real flood limits, pushing fed updates to a webhook
(use ``post_webhook``), update expiry, channels, results of getChat/getChatMember & co (they answer
true, which PTB cannot parse), payments, business and forum features.  PTB >= 22.2 warns
(PTBDeprecationWarning) on every 429 unless PTB_TIMEDELTA=1; with warnings as errors, set it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

import aiohttp
from aiohttp import web

# Kept as sent; every other form value is JSON-decoded when it parses as something but a string.
_STRING_FIELDS = frozenset(("text", "caption", "query", "data", "callback_query_id", "inline_query_id", "file_id",
                            "inline_message_id", "business_connection_id", "message_effect_id", "next_offset",
                            "switch_pm_parameter", "switch_pm_text", "language_code", "parse_mode", "action", "url",
                            "secret_token", "ip_address", "description", "short_description", "name", "title",
                            "emoji", "payload", "currency", "start_parameter", "phone_number", "custom_emoji_id"))
_EXTRA: dict[str, dict[str, Any]] = {  # what each kind of file object needs besides its ids and size
    "photo": {}, "sticker": {"type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False},
    "video": {"width": 640, "height": 360, "duration": 3}, "animation": {"width": 320, "height": 240, "duration": 2},
    "video_note": {"length": 240, "duration": 3}, "audio": {"duration": 3, "mime_type": "audio/mpeg"},
    "voice": {"duration": 2, "mime_type": "audio/ogg"},
    "document": {"file_name": "file.pdf", "mime_type": "application/pdf"},
}
_SEND_MEDIA = {f"send{kind.replace('_', '')}": kind for kind in _EXTRA}
_COMMAND = re.compile(r"^/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?")
_MENTION = re.compile(r"(?:(?<=\s)|^)@[A-Za-z0-9_]{3,32}")


@dataclass
class UploadedFile:
    name: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class Call:
    """One request the bot made; ``at`` is ``time.monotonic()`` when it arrived."""

    method: str
    params: dict[str, Any]
    token: str
    at: float
    files: dict[str, UploadedFile] = field(default_factory=dict)
    failed: bool = False
    error_code: int | None = None  # None with failed=True: the connection was dropped


class _ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _decode(key: str, value: Any) -> Any:
    if key not in _STRING_FIELDS and isinstance(value, str):
        with contextlib.suppress(ValueError):
            decoded = json.loads(value)
            return value if isinstance(decoded, str) else decoded
    return value


class BotApiStandIn:
    def __init__(self, *, bot_id: int = 7000000001, username: str = "daogou_test_bot",
                 first_name: str = "Daogou Test") -> None:
        self.bot_user: dict[str, Any] = {"id": bot_id, "is_bot": True, "first_name": first_name, "username": username}
        self.calls: list[Call] = []
        self.pending: list[dict[str, Any]] = []  # fed updates not yet confirmed by an offset
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}  # (chat id, message id) -> Message
        self.chats: dict[int, dict[str, Any]] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (scope JSON, language) -> commands
        self.webhook: dict[str, Any] = {"url": ""}
        self.files: dict[str, bytes] = {}  # file_id -> content, for getFile downloads
        self._faults: dict[str, list[_ApiError | None]] = {}  # None: drop the connection
        self._message_ids: dict[int, int] = {}
        self._update_seq = 100000000
        self._seq = itertools.count(1)
        self._poll_gen = 0
        self._closing = False
        self._event = asyncio.Event()  # pulsed on every call and every fed update
        self._runner: web.AppRunner | None = None
        self._port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        self._closing = False
        app = web.Application(client_max_size=50 * 1024 * 1024)  # Telegram's upload limit
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._closing = True  # long polls still waiting answer [] now
        self._pulse()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _pulse(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def _changed(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), max(timeout, 0))

    def calls_of(self, method: str, *, failed: bool | None = None) -> list[Call]:
        """Calls of ``method`` (any case); ``failed`` None: all, False: answered ok, True: errors."""
        name = method.lower()
        return [c for c in self.calls if c.method.lower() == name and (failed is None or c.failed == failed)]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0,
                       predicate: Callable[[Call], bool] | None = None, *, failed: bool | None = None) -> list[Call]:
        """Wait until ``count`` matching calls were recorded; return the first ``count`` of them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [c for c in self.calls_of(method, failed=failed) if predicate is None or predicate(c)]
            if len(found) >= count:
                return found[:count]
            if loop.time() >= deadline:
                seen = [(c.method, c.error_code) if c.failed else c.method for c in self.calls]
                raise AssertionError(f"waited {timeout}s for {count} {method} call(s), got {len(found)}; calls: {seen}")
            await self._changed(deadline - loop.time())

    def fail_next(self, method: str, error_code: int, description: str, *,
                  retry_after: int | None = None, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with this error (and HTTP status)."""
        self._faults.setdefault(method.lower(), []).extend(
            _ApiError(error_code, description, retry_after) for _ in range(times))

    def drop_connection_next(self, method: str, times: int = 1) -> None:
        """Close the connection of the next ``times`` calls without answering (PTB: NetworkError)."""
        self._faults.setdefault(method.lower(), []).extend([None] * times)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params: dict[str, Any] = {k: _decode(k, v) for k, v in request.query.items()}
        files: dict[str, UploadedFile] = {}
        if request.content_type == "application/json" and request.can_read_body:
            params.update(await request.json())
        elif request.can_read_body:
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    files[key] = UploadedFile(key, value.filename, value.content_type, value.file.read())
                    params.setdefault(key, files[key])
                else:
                    params[key] = _decode(key, value)
        call = Call(method, params, request.match_info["token"], time.monotonic(), files)
        self.calls.append(call)
        self._pulse()
        faults = self._faults.get(method.lower())
        fault = faults.pop(0) if faults else False
        if fault is None and request.transport is not None:
            call.failed = True
            request.transport.abort()
            return web.Response()
        try:
            if isinstance(fault, _ApiError):
                raise fault
            result = await self._dispatch(method.lower(), params, files)
        except _ApiError as err:
            call.failed, call.error_code = True, err.code
            body: dict[str, Any] = {"ok": False, "error_code": err.code, "description": err.description}
            if err.retry_after is not None:
                body["parameters"] = {"retry_after": err.retry_after}
            return web.json_response(body, status=err.code)
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["path"].rsplit("/", 1)[-1])
        return web.Response(body=data) if data is not None else web.json_response({"ok": False}, status=404)

    async def _dispatch(self, name: str, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        if name == "getme":
            return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": True, "can_connect_to_business": False, "has_main_web_app": False}
        if name == "getupdates":
            return await self._get_updates(p)
        if name in ("setwebhook", "deletewebhook"):
            self.webhook = {"url": p.get("url", "") if name == "setwebhook" else "",
                            "secret_token": p.get("secret_token"), "allowed_updates": p.get("allowed_updates")}
            if p.get("drop_pending_updates"):
                self.pending.clear()
            self._pulse()
            return True
        if name == "getwebhookinfo":
            return {"url": self.webhook["url"], "has_custom_certificate": False,
                    "pending_update_count": len(self.pending)}
        if name in ("setmycommands", "getmycommands", "deletemycommands"):
            key = (json.dumps(p.get("scope") or {"type": "default"}, sort_keys=True), p.get("language_code", ""))
            if name == "getmycommands":
                return self.commands.get(key, [])
            self.commands[key] = list(p.get("commands") or [])
            return True
        if name == "sendmessage":
            if not str(p.get("text", "")).strip():
                raise _ApiError(400, "Bad Request: message text is empty")
            return self._send(p, text=p["text"], entities=p.get("entities"))
        if name in _SEND_MEDIA:
            kind = _SEND_MEDIA[name]
            return self._send(p, caption=p.get("caption"), caption_entities=p.get("caption_entities"),
                              **{kind: self._file(kind, files.get(kind))})
        if name == "sendlocation":
            return self._send(p, location={"latitude": p.get("latitude"), "longitude": p.get("longitude")})
        if name == "sendmediagroup":
            group_id = str(13000000000000000 + next(self._seq))
            return [self._send(p, media_group_id=group_id, caption=item.get("caption"),
                               **{item["type"]: self._file(item["type"], files.get(
                                   str(item.get("media", "")).removeprefix("attach://")))})
                    for item in p.get("media") or []]
        if name in ("editmessagetext", "editmessagecaption", "editmessagereplymarkup"):
            return self._edit(name, p)
        if name == "deletemessage":
            self.messages.pop((p.get("chat_id"), p.get("message_id")), None)  # type: ignore[arg-type]
            return True
        if name == "getfile":
            if (data := self.files.get(file_id := str(p.get("file_id")))) is None:
                raise _ApiError(400, "Bad Request: invalid file_id")
            return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data),
                    "file_path": f"f/{file_id}"}
        return True

    async def _get_updates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook["url"]:
            raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                 "use deleteWebhook to delete the webhook first")
        self._poll_gen = gen = self._poll_gen + 1
        offset, limit = int(p.get("offset") or 0), min(max(int(p.get("limit") or 100), 1), 100)
        allowed = p.get("allowed_updates") or None
        if offset > 0:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        elif offset < 0:
            self.pending = self.pending[offset:]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(p.get("timeout") or 0)
        while True:
            ready = [u for u in self.pending if not allowed or next(k for k in u if k != "update_id") in allowed]
            if ready or self._closing:
                return ready[:limit]
            if gen != self._poll_gen:
                raise _ApiError(409, "Conflict: terminated by other getUpdates request; "
                                     "make sure that only one bot instance is running")
            if loop.time() >= deadline:
                return []
            await self._changed(deadline - loop.time())

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        if not isinstance(chat_id, int):  # missing, or an @channelusername
            raise _ApiError(400, "Bad Request: chat not found" if chat_id else "Bad Request: chat_id is empty")
        if chat_id not in self.chats:
            if chat_id > 0:
                chat = {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
            else:
                kind = "supergroup" if str(chat_id).startswith("-100") else "group"
                chat = {"id": chat_id, "type": kind, "title": f"Group {chat_id}"}
            self.chats[chat_id] = chat
        return self.chats[chat_id]

    def _next_message_id(self, chat_id: int, explicit: int | None = None) -> int:
        current = self._message_ids.get(chat_id, 0)
        self._message_ids[chat_id] = max(current, explicit) if explicit else current + 1
        return explicit or self._message_ids[chat_id]

    def _file(self, kind: str, upload: UploadedFile | None = None, **extra: Any) -> Any:
        """A file object (a list of PhotoSize for photos) whose bytes ``getFile`` can download."""
        n = next(self._seq)
        file_id, data = f"{kind}-{n}", upload.data if upload else b"stand-in file"
        self.files[file_id] = self.files[f"{file_id}-s"] = data
        base = {"file_id": file_id, "file_unique_id": f"u{kind}{n}", "file_size": len(data)}
        if kind == "photo":
            return [{**base, "file_id": f"{file_id}-s", "width": 90, "height": 90},
                    {**base, "width": 800, "height": 800}]
        if kind == "document" and upload and upload.filename:
            extra.setdefault("file_name", upload.filename)
        return {**base, **_EXTRA[kind], **extra}

    def _send(self, p: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat = self._chat(p.get("chat_id"))
        msg: dict[str, Any] = {"message_id": self._next_message_id(chat["id"]), "from": self.bot_user,
                               "chat": chat, "date": int(time.time())}
        msg.update({k: v for k, v in content.items() if v is not None})
        if isinstance(markup := p.get("reply_markup"), dict) and "inline_keyboard" in markup:
            msg["reply_markup"] = markup
        if original := self.messages.get((chat["id"], int((p.get("reply_parameters") or {}).get("message_id", 0)))):
            msg["reply_to_message"] = {k: v for k, v in original.items() if k != "reply_to_message"}
        self.messages[(chat["id"], msg["message_id"])] = msg
        return msg

    def _edit(self, name: str, p: dict[str, Any]) -> Any:
        if p.get("inline_message_id"):
            return True
        key: tuple[int, int] = (self._chat(p.get("chat_id"))["id"], p.get("message_id") or 0)
        if (old := self.messages.get(key)) is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        new = {k: v for k, v in copy.deepcopy(old).items() if k not in ("reply_markup", "edit_date")}
        if name == "editmessagetext":
            new.update(text=p.get("text"), entities=p.get("entities"))
        elif name == "editmessagecaption":
            new["caption"] = p.get("caption")
        if isinstance(markup := p.get("reply_markup"), dict) and markup.get("inline_keyboard"):
            new["reply_markup"] = markup
        new = {k: v for k, v in new.items() if v is not None}
        if new == {k: v for k, v in old.items() if k != "edit_date"}:
            raise _ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                 "markup are exactly the same as a current content and reply markup of the message")
        self.messages[key] = new = {**new, "edit_date": int(time.time())}
        return new

    def feed(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; assigns ``update_id`` when missing and returns it."""
        self._stamp(update)
        self.pending.append(update)
        self._pulse()
        return int(update["update_id"])

    def _stamp(self, update: dict[str, Any]) -> None:
        if "update_id" not in update:
            update["update_id"] = self._update_seq + 1
        self._update_seq = max(self._update_seq, update["update_id"])

    def user(self, user_id: int, *, language_code: str = "en", username: str | None = None) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", "language_code": language_code,
                **({"username": username} if username else {})}

    def last_bot_message(self, chat_id: int) -> dict[str, Any] | None:
        mine = [m for (c, _), m in self.messages.items() if c == chat_id and m["from"]["id"] == self.bot_user["id"]]
        return max(mine, key=lambda m: m["message_id"]) if mine else None

    def _incoming(self, user_id: int, *, chat_id: int | None = None, chat_type: str = "private",
                  language_code: str = "en", username: str | None = None, message_id: int | None = None,
                  reply_to_bot: bool = False, **content: Any) -> dict[str, Any]:
        """A user's message.  Private chat id == user id; groups default to -user_id, supergroups
        to -100...user_id.  ``reply_to_bot`` replies to the bot's last message there (made up if none)."""
        sender = self.user(user_id, language_code=language_code, username=username)
        if chat_type == "private":
            chat = {"id": chat_id or user_id, "type": "private", "first_name": sender["first_name"],
                    **({"username": username} if username else {})}
        else:
            cid = chat_id or (-(10**12 + user_id) if chat_type == "supergroup" else -user_id)
            chat = {"id": cid, "type": chat_type, "title": f"Group {cid}"}
        self.chats[chat["id"]] = chat
        if reply_to_bot:
            earlier = self.last_bot_message(chat["id"]) or self._send({"chat_id": chat["id"]}, text="(earlier)")
            content["reply_to_message"] = {k: v for k, v in earlier.items() if k != "reply_to_message"}
        msg = {"message_id": self._next_message_id(chat["id"], message_id), "from": sender, "chat": chat,
               "date": int(time.time()), **{k: v for k, v in content.items() if v is not None}}
        self.messages[(chat["id"], msg["message_id"])] = msg
        return msg

    def text_message(self, user_id: int, text: str, *, chat_id: int | None = None, chat_type: str = "private",
                     language_code: str = "en", username: str | None = None,
                     entities: list[dict[str, Any]] | None = None, reply_to_bot: bool = False,
                     message_id: int | None = None) -> dict[str, Any]:
        """``{"message": ...}``; without ``entities``, a leading /command and @mentions get entities."""
        if entities is None:
            entities = [{"type": "bot_command", "offset": 0, "length": _utf16_len(m.group())}
                        for m in [_COMMAND.match(text)] if m]
            entities += [{"type": "mention", "offset": _utf16_len(text[:m.start()]), "length": _utf16_len(m.group())}
                         for m in _MENTION.finditer(text)]
        return {"message": self._incoming(user_id, chat_id=chat_id, chat_type=chat_type, language_code=language_code,
                                          username=username, message_id=message_id, reply_to_bot=reply_to_bot,
                                          text=text, entities=entities or None)}

    # The builders below take the keywords of _incoming: chat_id, chat_type, language_code, username, ...
    def photo_message(self, user_id: int, caption: str | None = None, **kw: Any) -> dict[str, Any]:
        return {"message": self._incoming(user_id, photo=self._file("photo"), caption=caption, **kw)}

    def sticker_message(self, user_id: int, emoji: str = "👍", **kw: Any) -> dict[str, Any]:
        return {"message": self._incoming(user_id, sticker=self._file("sticker", emoji=emoji), **kw)}

    def voice_message(self, user_id: int, duration: int = 2, **kw: Any) -> dict[str, Any]:
        return {"message": self._incoming(user_id, voice=self._file("voice", duration=duration), **kw)}

    def location_message(self, user_id: int, latitude: float = 31.2304, longitude: float = 121.4737,
                         **kw: Any) -> dict[str, Any]:
        return {"message": self._incoming(user_id, location={"latitude": latitude, "longitude": longitude}, **kw)}

    def document_message(self, user_id: int, file_name: str = "list.pdf", mime_type: str = "application/pdf",
                         caption: str | None = None, data: bytes = b"%PDF-1.4", **kw: Any) -> dict[str, Any]:
        doc = self._file("document", UploadedFile("document", file_name, mime_type, data), mime_type=mime_type)
        return {"message": self._incoming(user_id, document=doc, caption=caption, **kw)}

    def edited_message(self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None) -> dict[str, Any]:
        original = self.messages.get((chat_id or user_id, message_id)) or self.text_message(
            user_id, text, chat_id=chat_id, message_id=message_id)["message"]
        self.messages[(original["chat"]["id"], message_id)] = msg = {**copy.deepcopy(original), "text": text,
                                                                      "edit_date": int(time.time())}
        return {"edited_message": msg}

    def callback_query(self, user_id: int, data: str, *, message: dict[str, Any] | None = None,
                       chat_id: int | None = None) -> dict[str, Any]:
        """A button press on ``message`` (default: the bot's last message in the chat, or a made-up one)."""
        chat = chat_id or user_id
        message = message or self.last_bot_message(chat) or self._send(
            {"chat_id": chat, "reply_markup": {"inline_keyboard": [[{"text": "Go", "callback_data": data}]]}},
            text="Pick one")
        return {"callback_query": {"id": str(4000000000000000000 + next(self._seq)), "from": self.user(user_id),
                                   "chat_instance": str(-8000000000000000000 - message["chat"]["id"]),
                                   "message": message, "data": data}}

    def inline_query(self, user_id: int, query: str, offset: str = "") -> dict[str, Any]:
        return {"inline_query": {"id": str(5000000000000000000 + next(self._seq)), "from": self.user(user_id),
                                 "query": query, "offset": offset, "chat_type": "sender"}}

    async def post_webhook(self, url: str, update: dict[str, Any], secret: str | None = None) -> tuple[int, str]:
        """POST ``update`` to a bot's webhook as Telegram does; returns (HTTP status, body)."""
        self._stamp(update)
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        async with aiohttp.ClientSession() as session, session.post(url, json=update, headers=headers) as resp:
            return resp.status, await resp.text()
