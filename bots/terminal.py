"""The terminal channel: a readable chat for people, and ``--jsonl`` for scripts.

JSON-lines contract (ARCHITECTURE.md): each input line is ``{"user": ..., "text": ...}`` or
``{"user": ..., "action": ...}`` (optional ``message_id`` and ``lang``); each is answered by
exactly one line ``{"replies": [...]}``, flushed at once.  A line that cannot be used is
answered ``{"replies": [], "error": "..."}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import IO, Any

from core.dialogue import DialogueManager
from core.messages import Inbound, Reply
from core.wording import price

PLATFORM = "terminal"


async def run_jsonl(dialogue: DialogueManager, *, user: str, stdin: IO[str], stdout: IO[str]) -> None:
    while True:
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            return
        if not line.strip():
            continue
        stdout.write(json.dumps(await _jsonl_turn(dialogue, line, user), ensure_ascii=False) + "\n")
        stdout.flush()


async def _jsonl_turn(dialogue: DialogueManager, line: str, default_user: str) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError as exc:
        return {"replies": [], "error": f"not JSON: {exc}"}
    if not isinstance(message, dict):
        return {"replies": [], "error": "each line must be a JSON object"}
    user = message.get("user", default_user)
    text, action = message.get("text", ""), message.get("action", "")
    if not isinstance(user, (str, int)) or not str(user).strip() or len(str(user)) > 200:
        return {"replies": [], "error": "\"user\" must be a non-empty string"}
    if not isinstance(text, str) or not isinstance(action, str):
        return {"replies": [], "error": "\"text\" and \"action\" must be strings"}
    inbound = Inbound(
        platform=PLATFORM, user_id=str(user), chat_id=str(user),
        message_id=str(message.get("message_id") or ""), text=text, action=action,
        lang=str(message.get("lang") or ""),
    )
    outcome = await dialogue.handle(inbound)
    answer: dict[str, Any] = {"replies": [r.to_dict() for r in outcome.replies]}
    if outcome.duplicate:
        answer["duplicate"] = True
    return answer


async def run_interactive(dialogue: DialogueManager, *, user: str, stdout: IO[str] = sys.stdout) -> None:
    stdout.write("daogou shopping guide — type what you want (中文或English). "
                 "!action presses a button, /quit leaves.\n\n")
    while True:
        try:
            line = await asyncio.to_thread(input, "you> ")
        except (EOFError, KeyboardInterrupt):
            stdout.write("\n")
            return
        if line.strip() in ("/quit", "/exit"):
            return
        if not line.strip():
            continue
        action = line.strip()[1:] if line.strip().startswith("!") else ""
        inbound = Inbound(platform=PLATFORM, user_id=user, chat_id=user,
                          text="" if action else line, action=action)
        outcome = await dialogue.handle(inbound)
        for reply in outcome.replies:
            stdout.write(render(reply) + "\n")
        stdout.flush()


def render(reply: Reply) -> str:
    """A reply as plain text for a terminal: cards numbered, buttons as !actions."""
    lines = ["daogou> " + reply.text.replace("\n", "\n        ")]
    for card in reply.products:
        if reply.kind == "details":
            break  # the details text already says everything
        head = f"  [{card.position}] " if card.position else "  • "
        lines.append(f"{head}{card.title} — {price(card.price, card.currency)}  ({card.brand or '—'})")
        if card.reason:
            lines.append(f"      {card.reason}")
        if card.url:
            lines.append(f"      {card.url}")
    if reply.products and reply.kind == "results":
        first = reply.products[0].id
        zh = any("\u4e00" <= ch <= "\u9fff" for ch in reply.text)
        hint = (f"（可以说\u201c第一个详细说说\u201d\u201c对比一下1和2\u201d，或按 !details:{first}）" if zh
                else f"(say \"tell me more about 1\" or \"compare 1 and 2\", or press !details:{first})")
        lines.append("      " + hint)
    if reply.buttons:
        lines.append("  buttons: " + "  ".join(f"[{b.label} → !{b.action}]" for b in reply.buttons))
    return "\n".join(lines)
