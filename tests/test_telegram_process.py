"""``daogou run telegram`` as an operator runs it: a real process against the Bot API stand-in,
a proactive message queued by another process, and SIGTERM in the middle of a turn."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.telegram_standin import BotApiStandIn
from tests.redis_servers import free_port
from tests.test_terminal import ROOT, VECTORS

pytestmark = pytest.mark.slow
ALICE = 2001


def _env(api: BotApiStandIn, redis_url: str, prefix: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DAOGOU_") and k != "REDIS_URL"}
    environ.update(REDIS_URL=redis_url, DAOGOU_KEY_PREFIX=prefix, DAOGOU_VECTOR_CACHE=str(VECTORS),
                   DAOGOU_TELEGRAM_TOKEN="99:process-test", DAOGOU_TELEGRAM_API_URL=f"{api.url}/bot",
                   DAOGOU_OUTBOX_RETRY_MS="500", DAOGOU_OPS_LISTEN="127.0.0.1", DAOGOU_OPS_PORT=str(free_port()))
    return environ


async def _daogou(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.cli", *args, cwd=Path(ROOT), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def test_run_telegram_process_serves_delivers_and_stops_cleanly(redis_url: str) -> None:
    async with BotApiStandIn() as api:
        env = _env(api, redis_url, f"test-{uuid.uuid4().hex[:10]}")
        bot = await _daogou(env, "run", "telegram")
        try:
            await api.wait_for("getUpdates", timeout=90)  # the encoder and catalog load first
            api.feed(api.text_message(ALICE, "/start"))
            (hello,) = await api.wait_for("sendMessage", predicate=lambda c: c.params.get("chat_id") == ALICE)
            assert "shopping guide" in hello.params["text"]
            # Polling mode has no web server of its own: the ops server answers probes and scrapes.
            ops = f"http://127.0.0.1:{env['DAOGOU_OPS_PORT']}"
            async with httpx.AsyncClient() as client:
                assert (await client.get(ops + "/healthz")).status_code == 200
                assert (await client.get(ops + "/readyz")).json() == {"ok": True, "redis": "ok",
                                                                      "recommender": "in process"}
                page = (await client.get(ops + "/metrics")).text
            assert 'daogou_turns_total{intent="greet",platform="telegram"} 1.0' in page

            sender = await _daogou(env, "outbox", "send", "--platform", "telegram", "--user", str(ALICE),
                                   "--kind", "agent", "--text", "Agent Li: your order ships today")
            assert await sender.wait() == 0
            await api.wait_for("sendMessage", predicate=lambda c: "ships today" in str(c.params.get("text")),
                               timeout=10)

            # SIGTERM while a turn is in flight: the reply still goes out, then the process exits 0.
            api.feed(api.text_message(ALICE, "waterproof running earbuds under 500"))
            # The second typing action (the first was /start's): this turn is under way.
            await api.wait_for("sendChatAction", count=2, predicate=lambda c: c.params.get("chat_id") == ALICE)
            bot.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(bot.wait(), 30)
            stderr = (await bot.stderr.read()).decode() if bot.stderr else ""
            assert code == 0, stderr
            photos = [c for c in api.calls_of("sendPhoto") if c.params.get("chat_id") == ALICE]
            assert len(photos) >= 3
            assert "99:process-test" not in stderr  # the token is never logged
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()


async def test_run_telegram_without_a_token_says_what_to_do(redis_url: str) -> None:
    async with BotApiStandIn() as api:
        env = _env(api, redis_url, "unused")
        del env["DAOGOU_TELEGRAM_TOKEN"]
        proc = await _daogou(env, "run", "telegram")
        _, err = await proc.communicate()
        assert proc.returncode == 2 and b"@BotFather" in err
        env = _env(api, redis_url, "unused")
        env["DAOGOU_TELEGRAM_WEBHOOK_SECRET"] = "has spaces!"
        proc = await _daogou(env, "run", "telegram", "--webhook")
        _, err = await proc.communicate()
        assert proc.returncode == 2 and b"DAOGOU_TELEGRAM_WEBHOOK_SECRET" in err and b"has spaces" not in err
