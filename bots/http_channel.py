"""``daogou run http``: a JSON-over-HTTP channel for web chat widgets, and the Chatwoot bot.

Meant to be called by the shop's own backend (the key must not reach a browser): every
``/v1/`` call carries ``Authorization: Bearer <key>``, one of ``DAOGOU_HTTP_API_KEYS``
(plain keys or ``sha256:<hex>`` of them, compared in constant time); otherwise 401.  The key
holder may speak for any ``user``: user ids are the shop's own (platform ``http``).

``POST /v1/messages``  body ``{"user": "u1", "text": "..."}`` or ``{"user": "u1", "action": "..."}``
    (optional ``message_id``: a re-sent id is answered ``{"replies": [], "duplicate": true}``;
    optional ``lang``: "zh"/"en" hint).  Answer ``{"replies": [reply...], "push": [reply...]}``:
    ``push`` holds the messages that reached the user outside their turns (an agent's answer,
    the end of a handoff) since the last time they were collected, oldest first.
``GET /v1/messages/pending?user=u1&wait=20``  collects pushes without a turn: answers at once
    when there are some, else waits up to ``wait`` seconds (at most 25; 0 by default) for one.
    ``{"push": [...]}``.  A widget long-polls this while its window is open.

Errors are JSON ``{"error": "..."}``: 400 malformed JSON or fields, 401 no or wrong key, 413
a body over ``DAOGOU_HTTP_MAX_BODY`` bytes.  ``GET /healthz`` (alive), ``GET /readyz`` (Redis
answers) need no key.  With Chatwoot configured the same server takes its Agent Bot webhooks
at ``POST /chatwoot/<secret>`` (see ``bots.chatwoot``); with ``DAOGOU_TICKET_WEBHOOK_URL`` it
also sends the signed ticket webhooks (``core.webhooks``).

Pushes: the process runs the ``http`` outbox consumer, whose delivery moves each message into
the user's mailbox (a Redis list under the user's hash tag, capped at 100, kept for the session
lifetime); collecting takes the whole mailbox at once.  Delivery into the mailbox is at least
once; a push collected by a response that never reached the widget is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.ops import ops_routes
from bots.serving import AccessLog, run_until_signalled
from core.app import App
from core.logs import text_ref, user_ref
from core.messages import Inbound
from core.outbox import Outbox, OutboxMessage
from core.settings import Settings, SettingsError

log = logging.getLogger(__name__)

PLATFORM = "http"
MAILBOX_CAP = 100
MAX_WAIT_S = 25.0
_POLL_S = 0.25
_MAX_ID = 200


class ApiKeys:
    """The accepted bearer keys, held as SHA-256 digests; ``check`` costs the same for any key."""

    def __init__(self, spec: str | None) -> None:
        self._digests: list[bytes] = []
        for item in (spec or "").replace("\n", ",").split(","):
            item = item.strip()
            if not item:
                continue
            if item.startswith("sha256:"):
                try:
                    digest = bytes.fromhex(item[7:])
                except ValueError:
                    digest = b""
                if len(digest) != 32:
                    raise SettingsError("DAOGOU_HTTP_API_KEYS: a sha256: entry must be 64 hex digits")
                self._digests.append(digest)
            else:
                self._digests.append(hashlib.sha256(item.encode()).digest())

    def __bool__(self) -> bool:
        return bool(self._digests)

    def check(self, authorization: str) -> bool:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return False
        given = hashlib.sha256(key.strip().encode()).digest()
        ok = False
        for digest in self._digests:  # no early exit: every key is compared
            ok |= hmac.compare_digest(given, digest)
        return ok


class Mailbox:
    """Per-user pushes waiting to be collected: ``<prefix>:{http:<user>}:push``."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings

    def key(self, user_id: str) -> str:
        return f"{self.settings.key_prefix}:{{{PLATFORM}:{user_id}}}:push"

    async def deliver(self, message: OutboxMessage) -> None:
        """The ``http`` outbox's deliver callback."""
        item = json.dumps(message.reply.to_dict(), ensure_ascii=False, separators=(",", ":"))
        key = self.key(message.user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, item)
            pipe.ltrim(key, -MAILBOX_CAP, -1)
            pipe.expire(key, self.settings.session_ttl)
            await pipe.execute()

    async def take(self, user_id: str) -> list[dict[str, Any]]:
        """Everything waiting for the user, oldest first, removed."""
        key = self.key(user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(key, 0, -1)
            pipe.delete(key)
            items, _ = await pipe.execute()
        out = []
        for item in items:
            with contextlib.suppress(ValueError):
                out.append(json.loads(item))
        return out

    async def wait(self, user_id: str, wait_s: float) -> list[dict[str, Any]]:
        """``take``, waiting up to ``wait_s`` for something to arrive (polls; holds no connection)."""
        deadline = time.monotonic() + wait_s
        while True:
            items = await self.take(user_id)
            if items or time.monotonic() >= deadline:
                return items
            await asyncio.sleep(min(_POLL_S, max(0.0, deadline - time.monotonic())))


class BadRequest(Exception):
    """A request body that cannot be used; the message says why (answered 400)."""


class TooLarge(Exception):
    """A request body over ``http_max_body`` (answered 413)."""


def parse_message(data: Any) -> Inbound:
    """A request body as an ``Inbound``; raises ``BadRequest`` saying what is wrong."""
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    user = _user(data.get("user"))
    text, action = data.get("text", ""), data.get("action", "")
    if not isinstance(text, str) or not isinstance(action, str):
        raise BadRequest('"text" and "action" must be strings')
    if bool(text.strip()) == bool(action.strip()):
        raise BadRequest('give exactly one of "text" and "action"')
    message_id = data.get("message_id", "")
    if isinstance(message_id, bool) or not isinstance(message_id, (str, int)) or len(str(message_id)) > _MAX_ID:
        raise BadRequest('"message_id" must be a string of at most 200 characters')
    lang = data.get("lang", "")
    if not isinstance(lang, str) or len(lang) > 16:
        raise BadRequest('"lang" must be a language code such as "zh" or "en"')
    return Inbound(platform=PLATFORM, user_id=user, chat_id=user, message_id=str(message_id),
                   text=text, action=action.strip(), lang=lang)


def _user(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadRequest('"user" must be a non-empty string')
    user = str(value).strip()
    if not user or len(user) > _MAX_ID or any(ch in "{}" or not ch.isprintable() for ch in user):
        raise BadRequest('"user" must be 1-200 printable characters without { or }')
    return user


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


def server(app: App, settings: Settings, *, chatwoot: Any | None = None) -> web.Application:
    """The aiohttp application: /v1/ when API keys are set, /chatwoot/ when ``chatwoot`` is given."""
    keys = ApiKeys(settings.http_api_keys)
    mailbox = Mailbox(app.redis, settings)
    limit = settings.http_max_body

    def authorized(request: web.Request) -> bool:
        return keys.check(request.headers.get("Authorization", ""))

    async def read_json(request: web.Request) -> Any:
        if request.content_length is not None and request.content_length > limit:
            raise TooLarge()
        try:
            raw = await request.read()  # client_max_size stops a longer chunked body
        except web.HTTPRequestEntityTooLarge:
            raise TooLarge() from None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the body is not JSON: {exc}") from None

    async def messages(request: web.Request) -> web.Response:
        if not authorized(request):
            return _error(401, "a valid API key is required: Authorization: Bearer <key>",
                          **{"WWW-Authenticate": "Bearer"})
        try:
            inbound = parse_message(await read_json(request))
        except BadRequest as exc:
            return _error(400, str(exc))
        except TooLarge:
            return _error(413, f"the body is over {limit} bytes")
        started = time.monotonic()
        outcome = await app.dialogue.handle(inbound)
        answer: dict[str, Any] = {"replies": [r.to_dict() for r in outcome.replies]}
        if outcome.duplicate:
            answer["duplicate"] = True
        fields = {"user": user_ref(inbound.user_key), "platform": PLATFORM}
        try:
            answer["push"] = await mailbox.take(inbound.user_id)
        except (RedisError, OSError) as exc:  # the turn is done; pushes wait for the next call
            log.warning("pushes of %s not collected: %s", fields["user"], exc, extra=fields)
            answer["push"] = []
        ms = round((time.monotonic() - started) * 1000, 1)
        # The dialogue logs every turn at INFO; this adds what only the channel knows.
        log.debug("%s %s: %d replies, %d pushes in %.0f ms", "action" if inbound.action else "message",
                 text_ref(inbound.action or inbound.text, log), len(outcome.replies), len(answer["push"]), ms,
                 extra={**fields, "kind": "action" if inbound.action else "text", "ms": ms,
                        "duplicate": outcome.duplicate})
        return web.json_response(answer, dumps=_dumps)

    async def pending(request: web.Request) -> web.Response:
        if not authorized(request):
            return _error(401, "a valid API key is required: Authorization: Bearer <key>",
                          **{"WWW-Authenticate": "Bearer"})
        try:
            user = _user(request.query.get("user"))
            wait = float(request.query.get("wait", "0"))
            if not 0 <= wait <= MAX_WAIT_S:
                raise ValueError
        except BadRequest as exc:
            return _error(400, str(exc))
        except ValueError:
            return _error(400, f'"wait" must be a number of seconds from 0 to {MAX_WAIT_S:g}')
        try:
            items = await mailbox.wait(user, wait)
        except (RedisError, OSError) as exc:
            return _error(503, f"storage unavailable: {exc}")
        return web.json_response({"push": items}, dumps=_dumps)

    async def chatwoot_hook(request: web.Request) -> web.Response:
        assert chatwoot is not None
        given = request.match_info.get("secret") or request.query.get("secret", "")
        if not chatwoot.secret_ok(given):
            log.warning("chatwoot webhook with a wrong secret from %s refused", request.remote)
            return _error(403, "forbidden")
        try:
            payload = await read_json(request)
        except BadRequest as exc:
            return _error(400, str(exc))
        except TooLarge:
            return _error(413, f"the body is over {limit} bytes")
        if not isinstance(payload, dict):
            return _error(400, "the body must be a JSON object")
        return web.json_response({"ok": True, "result": chatwoot.accept(payload)})

    web_app = web.Application(client_max_size=limit)
    web_app.add_routes(ops_routes(app.redis, app.settings, app.recommender))
    if keys:
        web_app.add_routes([web.post("/v1/messages", messages), web.get("/v1/messages/pending", pending)])
    if chatwoot is not None:
        web_app.add_routes([web.post("/chatwoot/{secret}", chatwoot_hook), web.post("/chatwoot", chatwoot_hook)])
    return web_app


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def check_settings(settings: Settings) -> None:
    """Refuse an unusable configuration before anything is loaded; raises ``SettingsError``."""
    keys = ApiKeys(settings.http_api_keys)  # a malformed sha256: entry stops here
    if settings.chatwoot_url:
        missing = [name for name, value in (("DAOGOU_CHATWOOT_TOKEN", settings.chatwoot_token),
                                            ("DAOGOU_CHATWOOT_WEBHOOK_SECRET", settings.chatwoot_webhook_secret))
                   if not value]
        if missing:
            raise SettingsError(f"DAOGOU_CHATWOOT_URL is set, so Chatwoot also needs {' and '.join(missing)}")
    if not keys and not settings.chatwoot_url:
        raise SettingsError("daogou run http needs DAOGOU_HTTP_API_KEYS (the /v1/ API) or DAOGOU_CHATWOOT_URL")
    if settings.ticket_webhook_url and not settings.ticket_webhook_secret:
        raise SettingsError("DAOGOU_TICKET_WEBHOOK_URL needs DAOGOU_TICKET_WEBHOOK_SECRET to sign the requests")


@dataclass
class Running:
    """A started server; ``stop()`` shuts it down in order."""

    port: int
    stop: Callable[[], Awaitable[None]]
    chatwoot: Any | None = None


async def start(settings: Settings, app: App, *, chatwoot: Any | None = None, webhook_client: Any | None = None,
                port: int | None = None) -> Running:
    """Serve on ``app`` (already started).  Chatwoot is on when DAOGOU_CHATWOOT_URL is set (or
    ``chatwoot`` is given); ticket webhooks when DAOGOU_TICKET_WEBHOOK_URL is set."""
    from bots.chatwoot import PLATFORM as CHATWOOT
    from bots.chatwoot import ChatwootBot
    from core.webhooks import TicketWebhooks

    if chatwoot is None:
        check_settings(settings)
    keys = ApiKeys(settings.http_api_keys)
    if chatwoot is None and settings.chatwoot_url:
        chatwoot = ChatwootBot.from_settings(app, settings)

    stop_loops = asyncio.Event()
    host = f"{socket.gethostname()}-{os.getpid()}"  # one consumer name per live process
    tasks: list[asyncio.Task[None]] = []
    if keys:
        mailbox = Mailbox(app.redis, settings)
        tasks.append(asyncio.create_task(Outbox(app.redis, settings, PLATFORM).run(
            mailbox.deliver, consumer=f"{PLATFORM}-{host}", stop=stop_loops)))
    if chatwoot is not None:
        tasks.append(asyncio.create_task(Outbox(app.redis, settings, CHATWOOT).run(
            chatwoot.deliver, consumer=f"{CHATWOOT}-{host}", stop=stop_loops)))
    webhooks = None
    if settings.ticket_webhook_url:
        webhooks = TicketWebhooks(app.tickets, settings, client=webhook_client)
        tasks.append(asyncio.create_task(webhooks.run(consumer=f"webhooks-{host}", stop=stop_loops)))

    runner = web.AppRunner(server(app, settings, chatwoot=chatwoot), handle_signals=False, access_log_class=AccessLog)
    await runner.setup()
    wanted = settings.http_port if port is None else port
    site = web.TCPSite(runner, settings.http_listen, wanted)
    await site.start()
    bound = _bound_port(runner, wanted)
    log.info("http channel listening on %s:%s (%s)", settings.http_listen, bound,
             ", ".join(n for n, on in (("/v1/", bool(keys)), ("/chatwoot/", chatwoot is not None),
                                       ("ticket webhooks", webhooks is not None)) if on))

    async def stop() -> None:
        await runner.shutdown()  # no new requests; those in flight finish
        stop_loops.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if chatwoot is not None:
            await chatwoot.aclose()
        if webhooks is not None:
            await webhooks.aclose()
        await runner.cleanup()

    return Running(bound, stop, chatwoot)


async def serve(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT."""
    check_settings(settings)
    return await run_until_signalled(settings, lambda app: start(settings, app))


def _bound_port(runner: web.AppRunner, wanted: int) -> int:
    for site in runner.sites:
        server_ = getattr(site, "_server", None)
        for sock in getattr(server_, "sockets", None) or []:
            return int(sock.getsockname()[1])
    return wanted
