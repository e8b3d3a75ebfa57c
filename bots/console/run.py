"""``daogou run agents``: serve the agent console on DAOGOU_CONSOLE_HOST:DAOGOU_CONSOLE_PORT.

It needs REDIS_URL (the tickets), DAOGOU_CONSOLE_SECRET and at least one account in
DAOGOU_AGENTS or token in DAOGOU_AGENT_TOKENS.  It loads no catalog and no model: the
console only reads and changes tickets and writes to the outbox.  Serve it behind an https
reverse proxy that sets ``X-Forwarded-Proto: https`` so the session cookie is marked Secure.
SIGTERM or SIGINT close it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

from aiohttp import web
from redis.asyncio import Redis

from bots.console.auth import Accounts
from core.logs import configure
from core.redis_conn import connect_from
from core.settings import Settings, SettingsError

log = logging.getLogger(__name__)


async def start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve ``app``; returns the runner (``await runner.cleanup()`` to stop) and the bound port."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    return runner, (sockets[0].getsockname()[1] if sockets else port)


async def serve(settings: Settings, *, redis: Redis | None = None) -> int:
    from bots.console.web import build_console

    own = redis is None
    redis = redis or connect_from(settings)
    try:
        app = build_console(settings, redis=redis)
        runner, port = await start(app, settings.console_host, settings.console_port)
        log.info("agent console on http://%s:%d", settings.console_host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()
    finally:
        if own:
            await redis.aclose()
    return 0


def main() -> int:
    """The ``daogou run agents`` command."""
    try:
        settings = Settings.from_env(dict(os.environ))
        if not settings.redis_url:
            raise SettingsError("REDIS_URL is not set: the console works on the tickets the bots keep in Redis")
        if not settings.console_secret:
            raise SettingsError("DAOGOU_CONSOLE_SECRET is not set: the console signs its session cookies with it "
                                "(any long random text, the same on every replica)")
        accounts = Accounts.from_settings(settings)
        if not accounts.names:
            raise SettingsError("no agents: set DAOGOU_AGENTS (daogou agents hash-password) "
                                "or DAOGOU_AGENT_TOKENS (daogou agents new-token NAME)")
    except SettingsError as exc:
        print(f"daogou: {exc}", file=sys.stderr)
        return 2
    configure(settings)
    return asyncio.run(serve(settings))
