"""The terminal channel: a readable chat for people, and ``--jsonl`` for scripts.

JSON-lines contract (ARCHITECTURE.md): each input line is ``{"user": ..., "text": ...}`` or
``{"user": ..., "action": ...}`` (optional ``message_id`` and ``lang``); each is answered by
exactly one line ``{"replies": [...]}``, flushed at once.  A line that cannot be used is
answered ``{"replies": [], "error": "..."}``.

Messages that reach a user outside their turn (an agent's answer, the end of a handoff) come
from the terminal outbox as extra lines ``{"push": {...reply...}, "user": "..."}``: whenever
they arrive, and in any case before the answer to the next input line.  Every line is
written whole under one lock, so a push never lands inside an answer.  Like any adapter, a
terminal process delivers whatever the terminal outbox holds; with one shared Redis, several
terminal processes share those messages as Telegram replicas do.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from contextlib import suppress
from types import TracebackType
from typing import IO, Any, Self

from core.dialogue import DialogueManager
from core.messages import Inbound, Reply
from core.outbox import Deliver, Outbox, OutboxMessage
from core.wording import price

PLATFORM = "terminal"
_SETTLE_S = 0.5  # the longest an answer waits for queued pushes to go out first
_POLL_MS = 200


def consumer_name() -> str:
    """One outbox consumer per terminal process."""
    return f"terminal-{socket.gethostname()}-{os.getpid()}"


class Pushes:
    """Delivers the terminal outbox in the background for as long as the chat runs."""

    def __init__(self, outbox: Outbox | None, deliver: Deliver, *, consumer: str | None = None) -> None:
        self.outbox = outbox
        self.deliver = deliver
        self.consumer = consumer or consumer_name()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        if self.outbox is not None:
            self._task = asyncio.create_task(
                self.outbox.run(self.deliver, consumer=self.consumer, stop=self._stop, block_ms=_POLL_MS))
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        if kind is None:
            await self.settle()
        self._stop.set()
        if self._task is not None:
            with suppress(asyncio.CancelledError):
                await self._task

    async def settle(self, timeout: float = _SETTLE_S) -> None:
        """Wait (briefly) until the outbox holds nothing undelivered, so queued pushes come first."""
        if self.outbox is None or self._task is None:
            return
        deadline = time.monotonic() + timeout
        with suppress(Exception):  # a Redis outage delays pushes; it must not stop the chat
            while await self.outbox.pending_count() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)


async def run_jsonl(dialogue: DialogueManager, *, user: str, stdin: IO[str], stdout: IO[str],
                    outbox: Outbox | None = None) -> None:
    lock = asyncio.Lock()

    async def write(line: dict[str, Any]) -> None:
        async with lock:
            stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
            stdout.flush()

    async def push(message: OutboxMessage) -> None:
        await write({"push": message.reply.to_dict(), "user": message.user_id})

    async with Pushes(outbox, push) as pushes:
        while True:
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                return
            if not line.strip():
                continue
            await pushes.settle()
            await write(await _jsonl_turn(dialogue, line, user))


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


async def run_interactive(dialogue: DialogueManager, *, user: str, stdout: IO[str] = sys.stdout,
                          outbox: Outbox | None = None) -> None:
    stdout.write("daogou shopping guide — type what you want (中文或English). "
                 "!action presses a button, /quit leaves.\n\n")

    async def push(message: OutboxMessage) -> None:
        to = "" if message.user_id == user else f"  (to {message.user_id})"
        stdout.write("\r" + render(message.reply) + to + "\nyou> ")
        stdout.flush()

    async with Pushes(outbox, push) as pushes:
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
            await pushes.settle()
            outcome = await dialogue.handle(inbound)
            for reply in outcome.replies:
                stdout.write(render(reply) + "\n")
            stdout.flush()


def render(reply: Reply) -> str:
    """A reply as plain text for a terminal: cards numbered, buttons as !actions; a person's
    words under "agent>"."""
    head = "agent>  " if reply.kind == "agent" else "daogou> "
    lines = [head + reply.text.replace("\n", "\n        ")]
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
