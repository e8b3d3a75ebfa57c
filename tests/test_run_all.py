"""``daogou run all`` as a shop on one server runs it: one process, every configured part."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import uuid

import httpx
import pytest

from tests.discord_standin import DiscordStandIn
from tests.redis_servers import free_port
from tests.telegram_standin import BotApiStandIn
from tests.test_telegram_process import _daogou
from tests.test_terminal import VECTORS

pytestmark = pytest.mark.slow
ALICE = 3001
GUILD, CHANNEL = 700000000000000201, 700000000000000211
API_KEY = "run-all-test-key"
AGENT_TOKEN = "run-all-agent-token"


def _env(telegram: BotApiStandIn, discord: DiscordStandIn, redis_url: str) -> dict[str, str]:
    import os

    environ = {k: v for k, v in os.environ.items() if not k.startswith("DAOGOU_") and k != "REDIS_URL"}
    environ.update(
        REDIS_URL=redis_url, DAOGOU_KEY_PREFIX=f"test-{uuid.uuid4().hex[:10]}", DAOGOU_VECTOR_CACHE=str(VECTORS),
        DAOGOU_TELEGRAM_TOKEN="98:run-all", DAOGOU_TELEGRAM_API_URL=f"{telegram.url}/bot",
        DAOGOU_DISCORD_TOKEN="dc-run-all", DAOGOU_DISCORD_API_URL=discord.api_url,
        DAOGOU_DISCORD_GATEWAY_URL=discord.gateway_url,
        DAOGOU_HTTP_API_KEYS=API_KEY, DAOGOU_HTTP_LISTEN="127.0.0.1", DAOGOU_HTTP_PORT=str(free_port()),
        DAOGOU_CONSOLE_SECRET="run-all-console-secret-" + "x" * 20, DAOGOU_CONSOLE_PORT=str(free_port()),
        DAOGOU_AGENT_TOKENS=f"ann:{hashlib.sha256(AGENT_TOKEN.encode()).hexdigest()}",
        DAOGOU_SCHEDULER_LISTEN="127.0.0.1", DAOGOU_SCHEDULER_PORT=str(free_port()),
        DAOGOU_OPS_LISTEN="127.0.0.1", DAOGOU_OPS_PORT=str(free_port()),
    )
    return environ


async def test_run_all_serves_every_configured_part_in_one_process(redis_url: str) -> None:
    async with BotApiStandIn() as telegram, DiscordStandIn() as discord:
        discord.add_guild(GUILD, channel_ids=(CHANNEL,))
        env = _env(telegram, discord, redis_url)
        proc = await _daogou(env, "run", "all")
        ops = f"http://127.0.0.1:{env['DAOGOU_OPS_PORT']}"
        try:
            await telegram.wait_for("getUpdates", timeout=90)  # the encoder and catalog load first
            await discord.wait_ready(timeout=60)
            async with httpx.AsyncClient(timeout=10) as client:
                for _ in range(200):  # the ops server starts once every part is up
                    try:
                        if (await client.get(ops + "/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)

                telegram.feed(telegram.text_message(ALICE, "/start"))
                await telegram.wait_for("sendMessage", predicate=lambda c: c.params.get("chat_id") == ALICE)

                web = f"http://127.0.0.1:{env['DAOGOU_HTTP_PORT']}"
                answer = await client.post(web + "/v1/messages", json={"user": "web-1", "text": "wireless earbuds"},
                                           headers={"Authorization": f"Bearer {API_KEY}"})
                assert answer.status_code == 200 and answer.json()["replies"]

                console = f"http://127.0.0.1:{env['DAOGOU_CONSOLE_PORT']}"
                queue = await client.get(console + "/api/tickets", headers={"Authorization": f"Bearer {AGENT_TOKEN}"})
                assert queue.status_code == 200

                health = await client.get(f"http://127.0.0.1:{env['DAOGOU_SCHEDULER_PORT']}/healthz")
                assert health.status_code == 200 and set(health.json()["jobs"]) >= {"sla_unclaimed", "sweep"}

                page = (await client.get(ops + "/metrics")).text
                assert 'daogou_turns_total{intent="greet",platform="telegram"} 1.0' in page
                assert 'daogou_turns_total{intent="search",platform="http"} 1.0' in page

            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 30)
            stderr = (await proc.stderr.read()).decode() if proc.stderr else ""
            assert code == 0, stderr[-3000:]
            for part in ("telegram started", "discord started", "http started", "console started",
                         "scheduler started", "daogou is running"):
                assert part in stderr, part
            assert "98:run-all" not in stderr and "dc-run-all" not in stderr
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_run_all_without_redis_says_what_to_do() -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("DAOGOU_") and k != "REDIS_URL"}
    proc = await _daogou(env, "run", "all")
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"REDIS_URL" in err
