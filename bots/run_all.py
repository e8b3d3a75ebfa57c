"""``daogou run all``: everything a shop needs, in one process, for one small server.

One app (one Redis pool, one recommender loaded once) serves every adapter that has its
credentials set — Telegram (``DAOGOU_TELEGRAM_TOKEN``), Discord (``DAOGOU_DISCORD_TOKEN``),
the HTTP channel (``DAOGOU_HTTP_API_KEYS`` or ``DAOGOU_CHATWOOT_URL``) — plus the agent
console (when ``DAOGOU_CONSOLE_SECRET`` and an account are set) and the scheduler.  The ops
server answers ``/healthz``, ``/readyz`` and ``/metrics`` for all of them on
``DAOGOU_OPS_LISTEN:DAOGOU_OPS_PORT``.

SIGTERM or SIGINT stop the intake of every adapter, let the turns in flight finish, then
close the app.  A part that fails to start stops the whole process with a clear message:
a half-running shop is worse than one that says what is wrong.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass

from core.app import App, build_app
from core.settings import Settings, SettingsError

log = logging.getLogger(__name__)

Stop = Callable[[], Awaitable[object]]


def plan(settings: Settings) -> list[str]:
    """The parts ``settings`` turn on, in start order; raises SettingsError for a half-set part."""
    from bots.console.auth import Accounts
    from bots.http_channel import check_settings

    parts = [name for name, on in (("telegram", bool(settings.telegram_token)),
                                   ("discord", bool(settings.discord_token))) if on]
    if settings.http_api_keys or settings.chatwoot_url:
        check_settings(settings)
        parts.append("http")
    if settings.console_secret and Accounts.from_settings(settings).names:
        parts.append("console")
    parts.append("scheduler")
    return parts


@dataclass
class Part:
    stop: Stop
    where: str  # for the log: where it can be reached
    task: asyncio.Task[int] | None = None  # a part that runs as a task: its end before SIGTERM is a failure


async def _start(part: str, settings: Settings, app: App, stop: asyncio.Event) -> Part:
    """Start one part."""
    if part == "telegram":
        from bots.telegram import run as telegram

        running = await telegram.start(settings, app)
        return Part(running.stop, f"webhook on port {running.port}" if running.port else "polling")
    if part == "discord":
        from bots.discord import run as discord

        return Part((await discord.start(settings, app)).stop, "gateway")
    if part == "http":
        from bots import http_channel

        running = await http_channel.start(settings, app)
        return Part(running.stop, f"port {running.port}")
    if part == "console":
        from bots.console.run import start
        from bots.console.web import build_console

        runner, port = await start(build_console(settings, redis=app.redis), settings.console_host,
                                   settings.console_port)
        return Part(runner.cleanup, f"http://{settings.console_host}:{port}")
    if part == "scheduler":
        from core import scheduler

        # It stops when ``stop`` is set (its own signal handlers set the same event).
        task = asyncio.create_task(scheduler.serve(settings, stop=stop, redis=app.redis))
        return Part(lambda: task, f"health on port {settings.scheduler_port}", task)
    raise ValueError(part)


async def serve(settings: Settings) -> int:
    from bots.serving import AccessLog
    from core.ops import ops_routes, serve_ops

    parts = plan(settings)
    if not {"telegram", "discord", "http"} & set(parts):
        log.warning("no chat channel is configured: set DAOGOU_TELEGRAM_TOKEN, DAOGOU_DISCORD_TOKEN or "
                    "DAOGOU_HTTP_API_KEYS (daogou chat talks to the bot in this terminal)")
    if "console" not in parts:
        log.warning("the agent console is off: set DAOGOU_CONSOLE_SECRET and DAOGOU_AGENTS "
                    "(daogou agents hash-password) to answer customers who ask for a person")
    app = build_app(settings)
    await app.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started: list[tuple[str, Part]] = []
    code = 0
    ops = None
    try:
        for part in parts:
            running = await _start(part, settings, app, stop)
            started.append((part, running))
            log.info("%s started (%s)", part, running.where, extra={"part": part})
        ops = await serve_ops(settings, ops_routes(app.redis, settings, app.recommender), access_log_class=AccessLog)
        log.info("daogou is running: %s (pid %s)", ", ".join(parts), os.getpid())
        tasks = {p.task for _, p in started if p.task is not None}
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({stopping, *tasks}, return_when=asyncio.FIRST_COMPLETED)
        if stopping not in done:  # a part ended on its own: it failed
            stopping.cancel()
            ended = done.pop()
            ended.result()  # raises what ended it
            raise RuntimeError("a part stopped on its own")
        log.info("stopping: finishing the work in flight")
    except Exception as exc:
        log.error("could not start: %s", exc, exc_info=not isinstance(exc, SettingsError))
        code = 1
        stop.set()  # the scheduler, if it runs, stops too
    finally:
        for part, running in reversed(started):
            try:
                await running.stop()
            except Exception:  # one part failing to stop must not keep the others running
                log.exception("%s did not stop cleanly", part)
                code = code or 1
        if ops is not None:
            await ops.cleanup()
        with suppress(Exception):
            await app.stop()
    return code


def main() -> int:
    """The ``daogou run all`` command."""
    from core.logs import configure

    try:
        settings = Settings.from_env(dict(os.environ))
        if not settings.redis_url:
            raise SettingsError("REDIS_URL is not set: sessions, tickets and the outbox live in Redis "
                                "(on one machine: apt install redis-server, then REDIS_URL=redis://127.0.0.1:6379/0)")
        plan(settings)
    except SettingsError as exc:
        print(f"daogou: {exc}", file=sys.stderr)
        return 2
    configure(settings)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return asyncio.run(serve(settings))
