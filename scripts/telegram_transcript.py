"""Print the Bot API calls of one full Telegram conversation, as the stand-in recorded them.

    .venv/bin/python scripts/telegram_transcript.py [--lexical]

Runs the real adapter (python-telegram-bot, long polling) against ``tests/telegram_standin.py``
on 127.0.0.1, with the demo catalog and Redis at REDIS_URL (or an embedded one).  A customer
starts the bot, asks in Chinese, presses "cheaper", opens a card's details, compares two
products and asks for a person; every call the bot made is printed in order.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from transcript_app import transcript_app

from bots.telegram.run import start
from tests.telegram_standin import BotApiStandIn, Call

USER = 424242


def show(call: Call) -> str:
    p = call.params
    text = str(p.get("text") or p.get("caption") or "").replace("\n", " ⏎ ")
    parts = [call.method]
    if "chat_id" in p:
        parts.append(f"chat={p['chat_id']}")
    if "photo" in p:
        parts.append(f"photo={p['photo']}")
    if text:
        parts.append(repr(text[:150] + ("…" if len(text) > 150 else "")))
    markup = p.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if rows:
        parts.append("buttons=" + " | ".join(
            ", ".join(f"{b['text']}[{len(b['callback_data'])}B]" if "callback_data" in b else f"{b['text']}→url"
                      for b in row) for row in rows))
    for key in ("action", "callback_query_id", "commands", "language_code"):
        if key in p:
            value = p[key] if key != "commands" else [c["command"] for c in p[key]]
            parts.append(f"{key}={value}")
    if call.failed:
        parts.append(f"FAILED {call.error_code}")
    return "  ".join(parts)


async def main(lexical: bool) -> None:
    async with transcript_app(f"telegram:{USER}", lexical=lexical) as app:
        settings = app.settings
        async with BotApiStandIn() as api:
            bot_settings = replace(settings, telegram_token="123:transcript", telegram_api_url=f"{api.url}/bot")
            running = await start(bot_settings, app, poll_timeout=1)
            try:
                await converse(api)
            finally:
                await running.stop()
            for call in api.calls:
                if call.method != "getUpdates":
                    print(show(call))


async def converse(api: BotApiStandIn) -> None:
    async def say(text: str) -> None:
        print(f"\n>>> customer: {text}", file=sys.stderr)
        api.calls.append(Call("── customer says", {"text": text}, "", 0.0))
        api.feed(api.text_message(USER, text, language_code="zh-hans"))
        await settle(api)

    async def press(label: str) -> None:
        data = find(api, label)
        api.calls.append(Call("── customer presses", {"text": label}, "", 0.0))
        api.feed(api.callback_query(USER, data))
        await settle(api)

    await say("/start")
    await say("我想买一款适合运动的蓝牙耳机，500元以内")
    await press("便宜点")
    await press("详情")
    await say("对比一下1和2")
    await say("/human")


def find(api: BotApiStandIn, label: str) -> str:
    for call in reversed(api.calls):
        markup = call.params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []) if isinstance(markup, dict) else []:
            for b in row:
                if b["text"] == label and "callback_data" in b:
                    return str(b["callback_data"])
    raise LookupError(label)


async def settle(api: BotApiStandIn, quiet: float = 0.5) -> None:
    count = -1
    while True:
        working = len([c for c in api.calls if c.method != "getUpdates"])
        if working == count:
            return
        count = working
        await asyncio.sleep(quiet)



if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lexical", action="store_true", help="BM25 only (skips loading the encoder)")
    asyncio.run(main(parser.parse_args().lexical))
