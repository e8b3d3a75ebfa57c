"""``daogou run discord`` as an operator runs it: a real process against the Discord stand-in,
an outbox DM queued by another process, and SIGTERM in the middle of a command."""

from __future__ import annotations

import asyncio
import signal
import uuid

import httpx
import pytest

from tests.discord_standin import DiscordStandIn
from tests.redis_servers import free_port
from tests.test_telegram_process import _daogou
from tests.test_terminal import VECTORS

pytestmark = pytest.mark.slow
GUILD, CHANNEL, ALICE = 700000000000000101, 700000000000000111, 800000000000000101


def _env(api: DiscordStandIn, redis_url: str) -> dict[str, str]:
    import os

    environ = {k: v for k, v in os.environ.items() if not k.startswith("DAOGOU_") and k != "REDIS_URL"}
    environ.update(REDIS_URL=redis_url, DAOGOU_KEY_PREFIX=f"test-{uuid.uuid4().hex[:10]}",
                   DAOGOU_VECTOR_CACHE=str(VECTORS), DAOGOU_DISCORD_TOKEN="dc-process-token",
                   DAOGOU_DISCORD_API_URL=api.api_url, DAOGOU_DISCORD_GATEWAY_URL=api.gateway_url,
                   DAOGOU_OUTBOX_RETRY_MS="500", DAOGOU_OPS_LISTEN="127.0.0.1", DAOGOU_OPS_PORT=str(free_port()))
    return environ


async def test_run_discord_process_serves_delivers_and_stops_cleanly(redis_url: str) -> None:
    async with DiscordStandIn() as api:
        api.add_guild(GUILD, channel_ids=(CHANNEL,))
        env = _env(api, redis_url)
        bot = await _daogou(env, "run", "discord")
        try:
            await api.wait_ready(timeout=90)  # the encoder and catalog load first
            await asyncio.sleep(2.5)  # discord.py's wait for more servers before it is ready
            ops = f"http://127.0.0.1:{env['DAOGOU_OPS_PORT']}"  # the gateway needs no server: the ops one
            async with httpx.AsyncClient() as client:
                assert (await client.get(ops + "/healthz")).status_code == 200
                assert (await client.get(ops + "/readyz")).status_code == 200
                assert "daogou_outbox_lag" in (await client.get(ops + "/metrics")).text

            sender = await _daogou(env, "outbox", "send", "--platform", "discord", "--user", str(ALICE),
                                   "--text", "Agent Li: your order ships today")
            assert await sender.wait() == 0
            await api.wait_for("POST", r"/channels/\d+/messages", timeout=10,
                               predicate=lambda c: "ships today" in str(c.json.get("content")))

            ix = await api.slash("shop", {"query": "waterproof running earbuds", "max_price": 500.0},
                                 user_id=ALICE, guild_id=GUILD, channel_id=CHANNEL)
            await api.wait_for("POST", f"/interactions/{ix['id']}/")  # deferred: the turn is in flight
            bot.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(bot.wait(), 30)
            stderr = (await bot.stderr.read()).decode() if bot.stderr else ""
            assert code == 0, stderr
            followups = [c for c in api.responses(ix) if "/webhooks/" in c.path and c.status < 300]
            assert followups and followups[0].json.get("embeds"), stderr
            assert "dc-process-token" not in stderr
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
