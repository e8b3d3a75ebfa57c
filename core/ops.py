"""What an operator asks every long-running process: ``/healthz``, ``/readyz`` and ``/metrics``.

Processes with a web server of their own (the Telegram webhook, the HTTP channel, the agent
console, the scheduler) add ``ops_routes`` to it; the others (Discord, Telegram polling,
``daogou run all``) start ``serve_ops`` on ``DAOGOU_OPS_LISTEN:DAOGOU_OPS_PORT``.

- ``GET /healthz``: 200 while the process's event loop answers (liveness: restart if not).
- ``GET /readyz``: whether Redis answers a PING and the recommender is reachable (the shared
  service's own ``/readyz`` when ``DAOGOU_RECOMMENDER_URL`` is set), each named in the body.
  Redis away: 503, the process cannot serve.  The shared recommender away: still 200, because
  the bots answer from their local lexical fallback meanwhile; marking every bot unready would
  take them all out of the load balancer and answer nobody.  The body says "fallback" and
  ``daogou_recommender_up`` drops to 0, for an alert.
- ``GET /metrics``: Prometheus text (``core.metrics``); the handoff queue and outbox figures are
  read from Redis at each scrape.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core import metrics
from core.settings import Settings

log = logging.getLogger(__name__)

_PING_TIMEOUT_S = 2.0


def ops_routes(redis: Redis, settings: Settings, recommender: Any = None) -> list[web.RouteDef]:
    """The three routes, for a process talking to ``redis`` (and ``recommender``, if any)."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "pid": os.getpid()})

    async def readyz(request: web.Request) -> web.Response:
        checks: dict[str, str] = {}
        ok = True
        try:
            await asyncio.wait_for(redis.ping(), _PING_TIMEOUT_S)
            checks["redis"] = "ok"
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            ok, checks["redis"] = False, type(exc).__name__
        ready = getattr(recommender, "ready", None)
        if ready is not None:
            reachable, detail = await ready()
            metrics.RECOMMENDER_UP.set(1 if reachable else 0)
            checks["recommender"] = "ok" if reachable else f"fallback: the service is unreachable ({detail})"
        elif recommender is not None:
            checks["recommender"] = "in process"
        return web.json_response({"ok": ok, **checks}, status=200 if ok else 503)

    async def scrape(request: web.Request) -> web.Response:
        await metrics.refresh(redis, settings)
        ready = getattr(recommender, "ready", None)
        if ready is not None:
            metrics.RECOMMENDER_UP.set(1 if (await ready())[0] else 0)
        body, content_type = metrics.render()
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    return [web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", scrape)]


async def serve_ops(settings: Settings, routes: list[web.RouteDef], **runner_options: Any) -> web.AppRunner:
    """Serve ``routes`` on ``ops_listen:ops_port``; the caller cleans the runner up at exit."""
    server = web.Application()
    server.add_routes(routes)
    runner = web.AppRunner(server, **runner_options)
    await runner.setup()
    await web.TCPSite(runner, settings.ops_listen, settings.ops_port).start()
    port = runner.addresses[0][1] if runner.addresses else settings.ops_port
    log.info("health and metrics on http://%s:%s/metrics", settings.ops_listen, port,
             extra={"port": port})
    return runner
