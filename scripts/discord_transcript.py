"""Print the REST calls of one Discord flow, /shop → a button → /compare, as the stand-in recorded them.

    .venv/bin/python scripts/discord_transcript.py [--lexical]

Runs the real adapter (discord.py over the gateway) against ``tests/discord_standin.py`` on
127.0.0.1, with the demo catalog and Redis at REDIS_URL (or an embedded one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from transcript_app import transcript_app

from bots.discord.run import start
from tests.discord_standin import Call, DiscordStandIn

GUILD, CHANNEL, USER = 700000000000000001, 700000000000000011, 800000000000000042


def show(call: Call) -> str:
    body: Any = call.json if isinstance(call.json, dict) else {}
    data = body.get("data", body)
    parts = [f"{call.method} {call.path.split('/api/v10')[-1][:60]} -> {call.status}"]
    if "type" in body:
        parts.append(f"type={body['type']}")
    if data.get("flags"):
        parts.append(f"flags={data['flags']}")
    if data.get("content"):
        parts.append(json.dumps(data["content"][:120], ensure_ascii=False))
    for embed in data.get("embeds") or []:
        fields = " ".join(f["value"] for f in embed.get("fields", []))
        parts.append(f"\n      embed {embed['title'][:50]!r} {fields}")
    for row in data.get("components") or []:
        parts.append("\n      [" + " | ".join(
            f"{b['label']} ({len(b['custom_id'])}-char id)" if "custom_id" in b else f"{b['label']} → url"
            for b in row["components"]) + "]")
    if data.get("choices"):
        parts.append(f"{len(data['choices'])} choices")
    return " ".join(parts)


async def main(lexical: bool) -> None:
    async with transcript_app(f"discord:{USER}", lexical=lexical) as app:
        settings = app.settings
        async with DiscordStandIn() as api:
            api.add_guild(GUILD, channel_ids=(CHANNEL,))
            bot_settings = replace(settings, discord_token="transcript", discord_api_url=api.api_url,
                                   discord_gateway_url=api.gateway_url)
            running = await start(bot_settings, app, guild_ready_timeout=0.05)
            mark = len(api.calls)
            try:
                await api.slash("shop", {"query": "wireless earbuds for running", "max_price": 500.0},
                                       user_id=USER, guild_id=GUILD, channel_id=CHANNEL)
                await settle(api)
                message = next(m for m in reversed(api.messages)
                               if any(b.get("label", "").endswith("More like this")
                                      for row in m.get("components") or [] for b in row["components"]))
                similar = next(b for row in message["components"] for b in row["components"]
                               if b.get("label", "").endswith("More like this"))
                await api.component(similar["custom_id"], user_id=USER, message=message, guild_id=GUILD)
                await settle(api)
                await api.slash("compare", {"a": 1, "b": 2}, user_id=USER, guild_id=GUILD, channel_id=CHANNEL)
                await settle(api)
            finally:
                await running.stop()
            for call in api.calls[mark:]:
                print(show(call))


async def settle(api: DiscordStandIn, quiet: float = 0.5) -> None:
    count = -1
    while len(api.calls) != count:
        count = len(api.calls)
        await asyncio.sleep(quiet)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lexical", action="store_true", help="BM25 only (skips loading the encoder)")
    asyncio.run(main(parser.parse_args().lexical))
