"""What every long-running adapter process shares: health routes, and running until a signal.

``run_until_signalled`` builds the app, starts the adapter on it, waits for SIGTERM or
SIGINT and stops in order (the adapter first, so the work in flight finishes while Redis
and the recommender are still there).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.app import App, build_app
from core.settings import Settings

log = logging.getLogger(__name__)


class Stoppable(Protocol):
    stop: Callable[[], Awaitable[None]]


def health_routes(redis: Redis) -> list[web.RouteDef]:
    """``GET /healthz`` (the process answers) and ``GET /readyz`` (and so does Redis)."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(request: web.Request) -> web.Response:
        try:
            await redis.ping()
        except (RedisError, OSError) as exc:
            return web.json_response({"ok": False, "redis": str(exc)}, status=503)
        return web.json_response({"ok": True})

    return [web.get("/healthz", healthz), web.get("/readyz", readyz)]


async def run_until_signalled(settings: Settings, start: Callable[[App], Awaitable[Any]]) -> int:
    """Start the adapter with ``start(app)`` (it returns something with ``stop()``), serve
    until SIGTERM or SIGINT, then stop it and the app; 0 when all went well."""
    app = build_app(settings)
    await app.start()
    try:
        running: Stoppable = await start(app)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await stopping.wait()
        log.info("stopping: finishing the work in flight (pid %s)", os.getpid())
        await running.stop()
    finally:
        await app.stop()
    return 0
