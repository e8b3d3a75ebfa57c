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
from aiohttp.abc import AbstractAccessLogger

from core.app import App, build_app
from core.settings import Settings

log = logging.getLogger(__name__)
_QUIET = frozenset({"/healthz", "/readyz"})  # probed every few seconds: DEBUG, not INFO


class AccessLog(AbstractAccessLogger):
    """aiohttp's access log without the parts of a URL that may name a user or hold a secret.

    Logs the matched route's template (``/chatwoot/{secret}``, never the secret itself, and no
    query string, where ``?user=`` would name a customer), the status and the time taken, as
    ``method``, ``path``, ``status`` and ``ms`` fields.  Pass it as ``access_log_class``.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        try:
            resource = request.match_info.route.resource
            path = resource.canonical if resource is not None else "(no route)"
            level = logging.DEBUG if path in _QUIET else logging.INFO
            ms = round(time * 1000, 1)
            self.logger.log(level, "%s %s %s %.0f ms", request.method, path, response.status, ms,
                            extra={"method": request.method, "path": path, "status": response.status, "ms": ms})
        except Exception:  # noqa: BLE001 - a log line must not fail a request
            self.logger.exception("access log line failed")


class Stoppable(Protocol):
    stop: Callable[[], Awaitable[None]]


async def run_until_signalled(settings: Settings, start: Callable[[App], Awaitable[Any]]) -> int:
    """Start the adapter with ``start(app)`` (it returns something with ``stop()``), serve
    until SIGTERM or SIGINT, then stop it and the app; 0 when all went well.

    An adapter without a web server of its own (its ``port`` is 0) gets the ops server:
    ``/healthz``, ``/readyz`` and ``/metrics`` on ``DAOGOU_OPS_LISTEN:DAOGOU_OPS_PORT``.
    """
    from core.ops import ops_routes, serve_ops

    app = build_app(settings)
    await app.start()
    ops = None
    try:
        running: Stoppable = await start(app)
        if not getattr(running, "port", 0):
            ops = await serve_ops(settings, ops_routes(app.redis, settings, app.recommender),
                                  access_log_class=AccessLog)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await stopping.wait()
        log.info("stopping: finishing the work in flight (pid %s)", os.getpid())
        await running.stop()
    finally:
        if ops is not None:
            await ops.cleanup()
        await app.stop()
    return 0
