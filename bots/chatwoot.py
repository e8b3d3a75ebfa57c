"""Chatwoot as the customer-service platform: daogou is the inbox's Agent Bot.

Chatwoot posts every event of an inbox with a connected Agent Bot to the bot's webhook URL;
``daogou run http`` serves it at ``POST /chatwoot/<secret>`` (or ``POST /chatwoot?secret=``).
Agent Bot webhooks carry no signature, so the URL itself is the credential: set the bot's
outgoing URL to ``https://<host>/chatwoot/<DAOGOU_CHATWOOT_WEBHOOK_SECRET>``; any other
secret gets 403 (compared in constant time).  Keep the URL out of logs that others read.

The conversation's status says who owns it:

- ``pending``: the bot.  An ``incoming`` message from the contact runs one dialogue turn
  (platform ``chatwoot``, user ``<account id>:<conversation id>``, so each conversation has
  its own session) and the replies are posted as outgoing messages through
  ``POST /api/v1/accounts/{account}/conversations/{id}/messages`` (header ``api_access_token``).
- When the turn leaves the customer with an open handoff ticket (they asked for a person,
  a routing word, a stuck bot with ``handoff_implicit=open``), the bot posts its notice and
  sets the status to ``open`` (``toggle_status``): Chatwoot's agents see it in their queue.
- ``open``: a person.  The bot ignores the conversation's messages.
- When an agent sets it back to ``pending`` (or resolves it) a ``conversation_status_changed``
  webhook arrives: the bot closes the ticket ("returned to the bot in Chatwoot") and answers
  the next message again, with the shopping session as it was.

Outgoing messages (the bot's own and agents'), private notes, and messages not sent by a
contact are ignored, so the bot never answers itself.  The webhook is answered at once and
the turn runs in the background (Chatwoot gives a webhook a few seconds); messages of one
conversation are handled one at a time, in arrival order.

Proactive messages for platform ``chatwoot`` (the outbox: SLA notices, alerts) are posted to
the conversation too.  Buttons are not rendered: the customer types instead.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from contextlib import suppress
from typing import Any

import httpx
from redis.exceptions import RedisError

from core.app import App
from core.logs import user_ref
from core.messages import Inbound, Reply
from core.outbox import OutboxMessage, Undeliverable
from core.settings import Settings, SettingsError
from core.tickets import TicketError
from core.wording import price

log = logging.getLogger(__name__)

PLATFORM = "chatwoot"
PENDING, OPEN, RESOLVED = "pending", "open", "resolved"
_STATUS_EVENTS = frozenset({"conversation_status_changed", "conversation_opened", "conversation_resolved"})
_TAKEN_BACK_NOTE = "returned to the bot in Chatwoot"
_CONVERSATION_IN_PATH = re.compile(r"/conversations/[^/]+")  # with the account: a customer's user id


class ChatwootError(Exception):
    """Chatwoot refused a call for good (a 4xx other than 408/429), or kept failing."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ChatwootClient:
    """The few Chatwoot application-API calls the bot makes, with timeouts and retries.

    Network errors, 408, 429 and 5xx are retried ``attempts`` times with doubling waits; the
    token goes in the ``api_access_token`` header and never into a log line.
    """

    def __init__(self, base_url: str, token: str, *, client: httpx.AsyncClient | None = None,
                 attempts: int = 3, backoff_s: float = 0.3, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._own = client is None
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=5.0))
        self._headers = {"api_access_token": token}

    async def aclose(self) -> None:
        if self._own:
            await self.client.aclose()

    async def send(self, account_id: str, conversation_id: str, text: str) -> None:
        await self._post(f"/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages",
                         {"content": text, "message_type": "outgoing", "private": False})

    async def set_status(self, account_id: str, conversation_id: str, status: str) -> None:
        await self._post(f"/api/v1/accounts/{account_id}/conversations/{conversation_id}/toggle_status",
                         {"status": status})

    async def _post(self, path: str, body: dict[str, Any]) -> None:
        wait = self.backoff_s
        problem = ""
        shown = _CONVERSATION_IN_PATH.sub("/conversations/{id}", path)  # what log lines and errors show
        for attempt in range(1, self.attempts + 1):
            try:
                response = await self.client.post(self.base_url + path, json=body, headers=self._headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    return
                problem = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code not in (408, 429):
                    raise ChatwootError(f"Chatwoot refused POST {shown}: {problem}", response.status_code)
            log.warning("chatwoot POST %s failed (attempt %d of %d): %s", shown, attempt, self.attempts, problem)
            if attempt < self.attempts:
                await asyncio.sleep(wait)
                wait *= 2
        raise ChatwootError(f"Chatwoot POST {shown} failed {self.attempts} times: {problem}")


def render(reply: Reply) -> str:
    """A reply as a Chatwoot text message: products as a numbered list with price, reason, link."""
    lines = [reply.text]
    if reply.kind != "details":
        for index, card in enumerate(reply.products, 1):
            lines.append(f"{card.position or index}. {card.title} — {price(card.price, card.currency)}"
                         + (f" ({card.brand})" if card.brand else ""))
            if card.reason:
                lines.append(f"   {card.reason}")
            if card.url:
                lines.append(f"   {card.url}")
    return "\n".join(line for line in lines if line)


class ChatwootBot:
    """The Agent Bot of one process: ``accept`` webhooks, ``idle`` to wait for their turns,
    ``deliver`` for the chatwoot outbox."""

    def __init__(self, app: App, settings: Settings, client: ChatwootClient) -> None:
        if not settings.chatwoot_webhook_secret:
            raise SettingsError("Chatwoot needs DAOGOU_CHATWOOT_WEBHOOK_SECRET (16-256 of A-Z a-z 0-9 _ -)")
        self.app = app
        self.settings = settings
        self.client = client
        self._secret = settings.chatwoot_webhook_secret.encode()
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # per conversation, with its user count

    @classmethod
    def from_settings(cls, app: App, settings: Settings) -> ChatwootBot:
        if not settings.chatwoot_url or not settings.chatwoot_token:
            raise SettingsError("Chatwoot needs DAOGOU_CHATWOOT_URL and DAOGOU_CHATWOOT_TOKEN (the agent bot's token)")
        return cls(app, settings, ChatwootClient(settings.chatwoot_url, settings.chatwoot_token))

    def secret_ok(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self._secret)

    # -- intake --------------------------------------------------------------------------------

    def accept(self, payload: dict[str, Any]) -> str:
        """Take one webhook payload; returns what will happen ("message", "status", or why it is
        ignored).  The work runs in the background."""
        event = payload.get("event")
        if event == "message_created":
            why = self._why_ignore(payload)
            if why:
                log.debug("chatwoot message ignored: %s", why)
                return f"ignored: {why}"
            self._spawn(self._message(payload))
            return "message"
        if event in _STATUS_EVENTS:
            if _conversation_id(payload) and self._account(payload):
                self._spawn(self._status(payload))
                return "status"
            return "ignored: no conversation"
        return f"ignored: event {event!r}"

    def _why_ignore(self, payload: dict[str, Any]) -> str:
        if payload.get("message_type") != "incoming":
            return "not incoming"
        if payload.get("private"):
            return "private note"
        sender = payload.get("sender")
        if isinstance(sender, dict) and sender.get("type") not in (None, "contact"):
            return "not from a contact"
        content = payload.get("content")
        if not isinstance(content, str) or not content.strip():
            return "no text"
        conversation = payload.get("conversation")
        if not isinstance(conversation, dict) or not _conversation_id(conversation):
            return "no conversation"
        if conversation.get("status", PENDING) != PENDING:
            return "a person has the conversation"
        if not self._account(payload):
            return "another account"
        return ""

    def _account(self, payload: dict[str, Any]) -> str:
        """The account the bot answers in: the configured one; a payload of another is not ours."""
        account = payload.get("account")
        given = str(account.get("id", "")) if isinstance(account, dict) else str(payload.get("account_id") or "")
        configured = self.settings.chatwoot_account_id
        if configured:
            return configured if not given or given == configured else ""
        return given

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until every accepted webhook has been handled (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        await self.idle()
        await self.client.aclose()

    # -- work ----------------------------------------------------------------------------------

    async def _message(self, payload: dict[str, Any]) -> None:
        account = self._account(payload)
        conversation = _conversation_id(payload["conversation"])
        user = f"{account}:{conversation}"
        fields = {"user": user_ref(user, PLATFORM), "platform": PLATFORM}
        lock, users = self._locks.setdefault(user, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                inbound = Inbound(platform=PLATFORM, user_id=user, chat_id=conversation,
                                  message_id=str(payload.get("id") or ""), text=payload["content"])
                outcome = await self.app.dialogue.handle(inbound)
                for reply in outcome.replies:
                    await self.client.send(account, conversation, render(reply))
                if not outcome.duplicate and await self.app.tickets.open_ticket_of(PLATFORM, user) is not None:
                    await self.client.set_status(account, conversation, OPEN)
                    log.info("chatwoot conversation of %s handed to the agents", fields["user"], extra=fields)
        except Exception:  # a background turn: log whatever went wrong, never kill the server
            log.exception("chatwoot conversation of %s: handling a message failed", fields["user"], extra=fields)
        finally:
            users[0] -= 1
            if not users[0]:
                self._locks.pop(user, None)

    async def _status(self, payload: dict[str, Any]) -> None:
        """An agent gave the conversation back (pending) or closed it (resolved): end the ticket."""
        status = payload.get("status")
        if status not in (PENDING, RESOLVED):
            return
        user = f"{self._account(payload)}:{_conversation_id(payload)}"
        fields = {"user": user_ref(user, PLATFORM), "platform": PLATFORM}
        try:
            ticket = await self.app.tickets.open_ticket_of(PLATFORM, user)
            if ticket is not None:
                note = _TAKEN_BACK_NOTE if status == PENDING else "resolved in Chatwoot"
                await self.app.tickets.resolve(ticket.id, actor="chatwoot", note=note)
                log.info("chatwoot conversation of %s %s: ticket %s closed", fields["user"], status, ticket.id,
                         extra={**fields, "ticket": ticket.id})
        except (TicketError, RedisError, OSError) as exc:
            log.warning("chatwoot conversation of %s: could not close its ticket: %s", fields["user"], exc,
                        extra=fields)

    async def deliver(self, message: OutboxMessage) -> None:
        """The outbox's deliver callback for platform ``chatwoot``."""
        account, _, conversation = message.user_id.partition(":")
        if not account or not conversation:
            raise Undeliverable(f"not a chatwoot user id (account:conversation): {user_ref(message.user_id, PLATFORM)}")
        try:
            await self.client.send(account, message.chat_id or conversation, render(message.reply))
        except ChatwootError as exc:
            if exc.status in (401, 403, 404, 422):
                raise Undeliverable(str(exc)) from exc
            raise


def _conversation_id(conversation: dict[str, Any]) -> str:
    """The id Chatwoot's URLs use: ``display_id`` when the payload has it, else ``id``."""
    value = conversation.get("display_id", conversation.get("id"))
    with suppress(TypeError, ValueError):
        if isinstance(value, (int, str)) and not isinstance(value, bool) and str(value).isdigit():
            return str(int(value))
    return ""
