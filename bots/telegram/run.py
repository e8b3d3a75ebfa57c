"""``daogou run telegram``: the bot in long-polling or webhook mode, with the outbox beside it.

Polling suits one process.  Webhook mode suits several replicas behind a load balancer:
each serves ``POST <webhook path>`` (Telegram's secret-token header checked, anything else
403), ``GET /healthz`` (alive) and ``GET /readyz`` (Redis answers).  SIGTERM or SIGINT stop
intake first, let in-flight updates and the outbox message in hand finish, then close.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from core.ops import ops_routes
from bots.serving import AccessLog, run_until_signalled
from bots.telegram.bot import PLATFORM, PerUserOrder, TelegramBot
from core.app import App
from core.buttons import ButtonSigner
from core.outbox import Outbox
from core.settings import Settings, SettingsError

log = logging.getLogger(__name__)

MAX_CONCURRENT_UPDATES = 256
MAX_UPDATE_BYTES = 1 << 20  # Telegram's updates are a few kB; refuse anything absurd
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def build_application(settings: Settings) -> Application:
    """A python-telegram-bot Application pointed at DAOGOU_TELEGRAM_API_URL, rate-limited,
    processing different users' updates concurrently."""
    if not settings.telegram_token:
        raise SettingsError("DAOGOU_TELEGRAM_TOKEN is not set: create a bot with @BotFather and set its token")
    base = settings.telegram_api_url
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_token)
        .base_url(base)
        .base_file_url(base[:-3] + "file/bot" if base.endswith("/bot") else base)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(PerUserOrder(MAX_CONCURRENT_UPDATES))
        .connection_pool_size(64)
        .connect_timeout(10).read_timeout(15).write_timeout(15).pool_timeout(10)
    )
    if settings.telegram_mode == "webhook":
        builder = builder.updater(None)
    return builder.build()


def webhook_path(settings: Settings) -> str:
    path = urlsplit(settings.telegram_webhook_url or "").path
    return path if path and path != "/" else "/telegram"


def webhook_server(application: Application, app: App, *, secret: str, path: str) -> web.Application:
    """The aiohttp app Telegram posts to; every accepted update joins PTB's queue."""
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            log.warning("webhook call without the right secret from %s refused", request.remote)
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        try:
            data = json.loads(await request.read())
            update = Update.de_json(data, application.bot)
        except Exception as exc:  # noqa: BLE001 - de_json raises whatever the malformed part provokes
            log.warning("webhook body is not a Telegram update: %s", exc)
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        await application.update_queue.put(update)
        return web.json_response({"ok": True})

    server = web.Application(client_max_size=MAX_UPDATE_BYTES)
    server.add_routes([web.post(path, receive), *ops_routes(app.redis, app.settings, app.recommender)])
    return server


@dataclass
class Running:
    """A started bot; ``stop()`` shuts it down in order."""

    bot: TelegramBot
    application: Application
    stop: Callable[[], Awaitable[None]]
    port: int = 0  # the webhook server's port, once bound


async def start(settings: Settings, app: App, *, webhook: bool | None = None, poll_timeout: int = 30) -> Running:
    """Start the bot on ``app`` (already started); ``webhook`` overrides DAOGOU_TELEGRAM_MODE.
    ``poll_timeout`` is getUpdates' long-poll wait, in seconds."""
    if webhook is None:
        webhook = settings.telegram_mode == "webhook"
    if webhook and not settings.telegram_webhook_secret:
        raise SettingsError("webhook mode needs DAOGOU_TELEGRAM_WEBHOOK_SECRET (1-256 of A-Z a-z 0-9 _ -)")
    if webhook and not settings.telegram_webhook_url:
        raise SettingsError("webhook mode needs DAOGOU_TELEGRAM_WEBHOOK_URL, the public https:// address")
    application = build_application(settings if not webhook else _mode(settings, "webhook"))
    signer = ButtonSigner(app.redis, settings, platform=PLATFORM, fallback_key=settings.telegram_token)
    outbox = Outbox(app.redis, settings, PLATFORM)
    bot = TelegramBot(app, application, signer=signer, outbox=outbox)
    await application.initialize()  # getMe: a wrong token stops here with InvalidToken
    try:
        await bot.register_commands()
    except Exception as exc:  # noqa: BLE001 - the menu is a nicety; never a reason not to serve
        log.warning("could not register the command menu: %s", exc)
    await application.start()
    runner: web.AppRunner | None = None
    port = 0
    if webhook:
        path = webhook_path(settings)
        runner = web.AppRunner(webhook_server(application, app, secret=settings.telegram_webhook_secret or "",
                                              path=path), handle_signals=False, access_log_class=AccessLog)
        await runner.setup()
        site = web.TCPSite(runner, settings.telegram_listen, settings.telegram_port)
        await site.start()
        port = _bound_port(runner, settings.telegram_port)
        await application.bot.set_webhook(settings.telegram_webhook_url or "", allowed_updates=Update.ALL_TYPES,
                                          secret_token=settings.telegram_webhook_secret)
        log.info("telegram webhook mode: listening on %s:%s%s", settings.telegram_listen, port, path)
    else:
        assert application.updater is not None  # start_polling deletes any webhook first
        await application.updater.start_polling(allowed_updates=Update.ALL_TYPES, timeout=poll_timeout)
        log.info("telegram polling mode: @%s", application.bot.username)
    outbox_stop = asyncio.Event()
    consumer = f"{PLATFORM}-{socket.gethostname()}-{os.getpid()}"  # unique per live process
    outbox_task = asyncio.create_task(outbox.run(bot.deliver, consumer=consumer, stop=outbox_stop))

    async def stop() -> None:
        if runner is not None:
            await runner.shutdown()  # no new updates in; those queued still run
        elif application.updater is not None and application.updater.running:
            await application.updater.stop()
        outbox_stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await outbox_task
        await application.stop()  # waits for the updates in flight
        await application.shutdown()
        if runner is not None:
            await runner.cleanup()

    return Running(bot, application, stop, port)


async def serve(settings: Settings, *, webhook: bool | None = None) -> int:
    """Run until SIGTERM or SIGINT."""
    return await run_until_signalled(settings, lambda app: start(settings, app, webhook=webhook))


def _mode(settings: Settings, mode: str) -> Settings:
    return replace(settings, telegram_mode=mode)


def _bound_port(runner: web.AppRunner, wanted: int) -> int:
    for site in runner.sites:
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        for sock in sockets:
            return int(sock.getsockname()[1])
    return wanted
