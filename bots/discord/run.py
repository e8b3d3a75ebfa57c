"""``daogou run discord`` and ``daogou discord sync``.

discord.py reads Discord's REST base from ``discord.http.Route.BASE`` and the gateway from
``DiscordWebSocket.DEFAULT_GATEWAY`` (a sharded client asks ``GET /gateway/bot``, whose
answer is replaced by DAOGOU_DISCORD_GATEWAY_URL), so both settings are applied before a
client is made.  Commands are registered only by ``daogou discord sync``: syncing is
rate-limited, so it is not done on every start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord
import yarl
from discord.gateway import DiscordWebSocket

from bots.discord.bot import PLATFORM, DiscordBot, Translator
from bots.serving import run_until_signalled
from core.app import App
from core.buttons import ButtonSigner
from core.outbox import Outbox
from core.settings import Settings, SettingsError

log = logging.getLogger(__name__)

DRAIN_S = 10.0  # how long a stopping bot waits for the turns in flight


def point_at(settings: Settings) -> None:
    """Aim discord.py at DAOGOU_DISCORD_API_URL and DAOGOU_DISCORD_GATEWAY_URL."""
    discord.http.Route.BASE = settings.discord_api_url.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def build(settings: Settings, app: App, *, guild_ready_timeout: float = 2.0) -> DiscordBot:
    if not settings.discord_token:
        raise SettingsError("DAOGOU_DISCORD_TOKEN is not set: create an application at "
                            "https://discord.com/developers/applications and copy its bot token")
    point_at(settings)
    signer = ButtonSigner(app.redis, settings, platform=PLATFORM, fallback_key=settings.discord_token)
    bot = DiscordBot(app, signer=signer, outbox=Outbox(app.redis, settings, PLATFORM),
                     sharded=settings.discord_sharding == "auto", ephemeral=settings.discord_ephemeral,
                     guild_ready_timeout=guild_ready_timeout)
    if settings.discord_sharding == "auto":
        _pin_gateway(bot.client, settings.discord_gateway_url)
    return bot


def _pin_gateway(client: discord.Client, url: str) -> None:
    """A sharded client takes the gateway from ``GET /gateway/bot``; keep its shard count,
    use the configured address."""
    fetch = client.http.get_bot_gateway

    async def get_bot_gateway() -> Any:
        shards, _, limits = await fetch()
        return shards, url, limits

    client.http.get_bot_gateway = get_bot_gateway  # type: ignore[method-assign]


@dataclass
class Running:
    bot: DiscordBot
    stop: Callable[[], Awaitable[None]]


async def start(settings: Settings, app: App, *, ready_timeout: float = 60.0,
                guild_ready_timeout: float = 2.0) -> Running:
    """Log in, connect to the gateway and start the outbox consumer; ``app`` is started.
    ``guild_ready_timeout``: discord.py's wait for more servers after the last one arrived."""
    bot = build(settings, app, guild_ready_timeout=guild_ready_timeout)
    client = bot.client
    await bot.tree.set_translator(Translator())
    await client.login(settings.discord_token or "")
    gateway = asyncio.create_task(client.connect(reconnect=True))
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait({gateway, ready}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        await client.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await gateway
        raise RuntimeError("the Discord gateway did not become ready")
    outbox_stop = asyncio.Event()
    consumer = f"{PLATFORM}-{socket.gethostname()}-{os.getpid()}"
    outbox = asyncio.create_task(bot.outbox.run(bot.deliver, consumer=consumer, stop=outbox_stop))
    log.info("discord: connected as %s", client.user)

    async def stop() -> None:
        outbox_stop.set()
        await outbox
        await bot.drain(DRAIN_S)
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await gateway

    return Running(bot, stop)


async def serve(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT, then finish the turns in flight and close."""
    return await run_until_signalled(settings, lambda app: start(settings, app))


async def sync(settings: Settings, app: App, guild: int | None) -> list[str]:
    """Register the slash commands (in one guild at once, or globally, which Discord
    propagates within the hour); returns their names."""
    bot = build(settings, app)
    await bot.tree.set_translator(Translator())
    try:
        await bot.client.login(settings.discord_token or "")
        if guild is not None:
            target = discord.Object(id=guild)
            bot.tree.copy_global_to(guild=target)
            synced = await bot.tree.sync(guild=target)
        else:
            synced = await bot.tree.sync()
        return [command.name for command in synced]
    finally:
        await bot.client.close()
