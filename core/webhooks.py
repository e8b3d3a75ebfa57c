"""Outgoing ticket webhooks: every ticket event, signed, POSTed to ``DAOGOU_TICKET_WEBHOOK_URL``.

A CRM, a help desk or a pager can follow the handoff without polling.  Events are read from
``TicketStore.events_key`` (the stream live consoles follow) through the consumer group
``webhooks``, so any number of replicas share the work and each event is sent by one of them;
the consoles' plain ``XREAD`` is unaffected.  The group starts at the end of the stream the
first time it is created: history is not replayed to a new receiver.

Each request::

    POST <url>
    Content-Type: application/json
    X-Daogou-Event: created | changed | message | rated
    X-Daogou-Delivery: <event id>            the same on every retry: deduplicate by it
    X-Daogou-Timestamp: <unix seconds>
    X-Daogou-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

    {"id": "<event id>", "type": "changed", "event": {...stream fields...}, "ticket": {...} | null}

``event`` is the stream entry as written at the change; ``ticket`` is the ticket as it is when
the request is sent (after a retry it may already be newer than the event), without messages.

The timestamp is inside the MAC, so a receiver that refuses timestamps older than a few
minutes (``verify`` does, 300 s by default) cannot be fed a replayed request.  A 2xx answer
is success.  Network errors, timeouts, 408, 429 and 5xx are retried with exponential backoff
up to ``ticket_webhook_attempts`` tries; any other answer (a 401 for a bad signature, a 404)
cannot improve by retrying.  Either way a failed event is parked in the dead-letter stream
``<prefix>:tickets:webhooks:dead`` (fields of the event + reason, attempts, id) and
acknowledged.  Delivery is at least once: a replica that dies mid-delivery leaves the event
pending; it resumes it on restart, or another replica claims it after ``claim_idle_ms``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

import httpx
from redis.exceptions import RedisError, ResponseError

from core.settings import Settings
from core.tickets import TicketStore

log = logging.getLogger(__name__)

GROUP = "webhooks"
SIGNATURE_HEADER = "X-Daogou-Signature"
TIMESTAMP_HEADER = "X-Daogou-Timestamp"
EVENT_HEADER = "X-Daogou-Event"
DELIVERY_HEADER = "X-Daogou-Delivery"
_RETRYABLE = frozenset({408, 425, 429})
_BATCH = 20


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``: ``sha256=<hex>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, body: bytes, timestamp: str, signature: str, *, tolerance_s: float = 300,
           now: float | None = None) -> bool:
    """For receivers: whether ``signature`` is ours over ``body`` and ``timestamp`` is recent."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), (signature or "").encode())


class TicketWebhooks:
    """The sender of one process; ``run`` it beside a server (``daogou run http`` does).

    ``client``, ``backoff_s`` and ``clock`` are for tests; the first retry waits ``backoff_s``,
    each next one twice as long, at most ``backoff_cap_s``.
    """

    def __init__(self, tickets: TicketStore, settings: Settings, *, client: httpx.AsyncClient | None = None,
                 backoff_s: float = 1.0, backoff_cap_s: float = 60.0, timeout_s: float = 10.0,
                 claim_idle_ms: int = 300_000, clock: Callable[[], float] = time.time) -> None:
        if not settings.ticket_webhook_url or not settings.ticket_webhook_secret:
            raise ValueError("ticket webhooks need DAOGOU_TICKET_WEBHOOK_URL and DAOGOU_TICKET_WEBHOOK_SECRET")
        self.tickets = tickets
        self.redis = tickets.redis
        self.settings = settings
        self.url = settings.ticket_webhook_url
        self.secret = settings.ticket_webhook_secret
        self.attempts = settings.ticket_webhook_attempts
        self.stream = tickets.events_key
        self.dead_stream = f"{settings.key_prefix}:tickets:webhooks:dead"
        self.backoff_s = backoff_s
        self.backoff_cap_s = backoff_cap_s
        self.claim_idle_ms = claim_idle_ms
        self.clock = clock
        self._own_client = client is None
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=5.0))

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()

    async def dead_letters(self, count: int = 100) -> list[dict[str, str]]:
        entries: Any = await self.redis.xrange(self.dead_stream, count=count)
        return [{"dead_id": _text(i), **{_text(k): _text(v) for k, v in f.items()}} for i, f in entries]

    # -- the loop ------------------------------------------------------------------------------

    async def run(self, *, consumer: str, stop: asyncio.Event, block_ms: int = 1000) -> None:
        """Send events until ``stop`` is set; survives Redis outages (logged, waited out)."""
        ready = resumed = False
        cursor = "0-0"
        backoff = 0.1
        while not stop.is_set():
            try:
                if not ready:
                    await self._create_group()
                    ready = True
                if not resumed:
                    await self._pending(consumer, stop, "0")
                    resumed = True
                response: Any = await self.redis.xautoclaim(self.stream, GROUP, consumer, self.claim_idle_ms,
                                                            start_id=cursor, count=_BATCH)
                cursor = _text(response[0])
                for entry_id, fields in response[1]:
                    if stop.is_set():
                        return
                    await self._handle(_text(entry_id), fields, stop)
                if not stop.is_set():
                    await self._pending(consumer, stop, ">", block_ms=block_ms)
                backoff = 0.1
            except (RedisError, OSError) as exc:
                ready = False
                log.warning("ticket webhooks: Redis error, retrying in %.1f s: %s", backoff, exc)
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, 5.0)

    async def _create_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="$", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _pending(self, consumer: str, stop: asyncio.Event, start: str, *, block_ms: int | None = None) -> None:
        """``start`` "0": this consumer's unfinished events (after a restart); ">": new ones."""
        while not stop.is_set():
            response: Any = await self.redis.xreadgroup(GROUP, consumer, {self.stream: start}, count=_BATCH,
                                                        block=block_ms)
            entries = _entries(response)
            for entry_id, fields in entries:
                if stop.is_set():
                    return  # left pending: resumed on restart or claimed by another replica
                await self._handle(_text(entry_id), fields, stop)
            if start == ">" or not entries:
                return
            start = _text(entries[-1][0])

    async def _handle(self, entry_id: str, raw: Mapping[Any, Any], stop: asyncio.Event) -> None:
        if not raw:  # trimmed away (events_maxlen) or forgotten while pending
            await self.redis.xack(self.stream, GROUP, entry_id)
            return
        fields = {_text(k): _text(v) for k, v in raw.items()}
        outcome = await self.deliver(entry_id, fields, stop)
        if outcome is None:
            return  # stopping mid-retry: stays pending
        if outcome:
            await self._bury(entry_id, fields, outcome)
        await self.redis.xack(self.stream, GROUP, entry_id)

    # -- one event -----------------------------------------------------------------------------

    async def body(self, entry_id: str, fields: dict[str, str]) -> bytes:
        ticket = None
        if fields.get("ticket"):
            found = await self.tickets.find(fields["ticket"], messages=False)
            ticket = found.to_dict() if found is not None else None
        data = {"id": entry_id, "type": fields.get("type", ""), "event": fields, "ticket": ticket}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    async def deliver(self, entry_id: str, fields: dict[str, str], stop: asyncio.Event | None = None) -> str | None:
        """POST one event with retries.  Returns "" when delivered, the reason it failed for
        good, or None when ``stop`` was set while waiting to retry."""
        body = await self.body(entry_id, fields)
        wait = self.backoff_s
        reason = ""
        for attempt in range(1, self.attempts + 1):
            timestamp = str(int(self.clock()))
            headers = {
                "Content-Type": "application/json", EVENT_HEADER: fields.get("type", ""),
                DELIVERY_HEADER: entry_id, TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self.secret or "", timestamp, body),
            }
            try:
                response = await self.client.post(self.url or "", content=body, headers=headers)
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if 200 <= response.status_code < 300:
                    return ""
                reason = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code not in _RETRYABLE:
                    log.error("ticket webhook %s refused (%s); not retried", entry_id, reason)
                    return f"{reason} (attempt {attempt})"
            log.warning("ticket webhook %s failed (attempt %d of %d): %s", entry_id, attempt, self.attempts, reason)
            if attempt == self.attempts:
                break
            if stop is None:
                await asyncio.sleep(wait)
            else:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                    return None
            wait = min(wait * 2, self.backoff_cap_s)
        log.error("ticket webhook %s dropped to dead letters after %d attempts: %s", entry_id, self.attempts, reason)
        return f"{reason} (after {self.attempts} attempts)"

    async def _bury(self, entry_id: str, fields: dict[str, str], reason: str) -> None:
        dead: dict[Any, Any] = {**fields, "reason": reason[:1000], "id": entry_id, "url": self.url or ""}
        await self.redis.xadd(self.dead_stream, dead, maxlen=self.settings.outbox_maxlen, approximate=True)


def _entries(response: Any) -> list[Any]:
    """The entries of a one-stream XREADGROUP reply, in its RESP2 (list) or RESP3 (map) shape."""
    if not response:
        return []
    if isinstance(response, Mapping):
        entries = next(iter(response.values()))
        return list(entries[0] if entries and isinstance(entries[0], list) else entries)
    return list(response[0][1])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")
