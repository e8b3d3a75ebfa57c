"""Tamper-evident button payloads that fit Telegram's 64-byte ``callback_data``.

A button's payload comes back from the platform as text the client could have changed, and a
forwarded or old message carries buttons of another user or of last month's catalog.  Each
payload therefore carries a MAC that binds its action to one platform, one user and its issue
time:

    <format><issued>.<mac><body>

    format  "1": body is the action itself (printable ASCII that fits)
            "2": body is a 22-character reference to the action, kept in Redis under
                 ``<prefix>:button:<reference>`` for ``button_ttl`` (longer or non-ASCII actions)
    issued  issue time, whole seconds since the epoch in base 36
    mac     the first 16 characters (96 bits) of url-safe base64 HMAC-SHA256 over
            format, platform, user, issued and body

The key is ``button_secret``, or else derived from the bot token, so every replica that shares
the token accepts every other replica's buttons without another secret to distribute.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable

from redis.asyncio import Redis

from core.settings import Settings

MAX_BYTES = 64  # Telegram's callback_data limit; Discord's custom_id allows 100
FUTURE_SKEW_S = 300  # replicas' clocks may disagree; more than this is not a clock
INLINE = "1"
REFERENCE = "2"
_MAC_CHARS = 16
_REF_CHARS = 22
_PAYLOAD = re.compile(r"([12])([0-9a-z]{1,8})\.([A-Za-z0-9_-]{16})(.*)", re.DOTALL)
_REF = re.compile(r"[A-Za-z0-9_-]{22}")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")


class ButtonError(Exception):
    """A button payload that must not be acted on; adapters answer with a fresh menu."""


class ForgedButton(ButtonError):
    """Not a payload this bot issued to this user on this platform (changed, foreign, garbage)."""


class StaleButton(ButtonError):
    """A genuine payload that is too old (or from the future), or whose stored action expired."""


class ButtonSigner:
    """Packs actions into button payloads and checks them when pressed; one per adapter."""

    def __init__(
        self, redis: Redis, settings: Settings, *, platform: str, fallback_key: str | None,
        now: Callable[[], float] = time.time,
    ) -> None:
        if settings.button_secret:
            key = settings.button_secret.encode()
        elif fallback_key:
            key = hmac.new(fallback_key.encode(), b"daogou buttons", hashlib.sha256).digest()
        else:
            raise ValueError("signing buttons needs DAOGOU_BUTTON_SECRET or a bot token")
        self.redis = redis
        self.settings = settings
        self.platform = platform
        self._key = key
        self._now = now

    def _ref_key(self, ref: str) -> str:
        return f"{self.settings.key_prefix}:button:{ref}"

    def _mac(self, fmt: str, user_id: str, issued: str, body: str) -> str:
        # JSON keeps the fields apart whatever characters an id holds.
        message = json.dumps([fmt, self.platform, user_id, issued, body]).encode()
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest())[:_MAC_CHARS]

    def _reference(self, action: str) -> str:
        # Keyed, so a reference cannot be forged or looked up without the key; "ref" keeps it apart from MACs.
        return _b64(hmac.new(self._key, b"ref\0" + _utf8(action), hashlib.sha256).digest())[:_REF_CHARS]

    async def pack(self, user_id: str, action: str) -> str:
        """The payload of a button that sends ``action`` for ``user_id``; ASCII, at most 64 bytes.

        Writes to Redis only when the action needs a reference.
        """
        issued = _base36(int(self._now()))
        head = len(INLINE) + len(issued) + 1 + _MAC_CHARS
        if _PRINTABLE.fullmatch(action) and head + len(action) <= MAX_BYTES:
            fmt, body = INLINE, action
        else:
            fmt, body = REFERENCE, self._reference(action)
            # Outlives every payload that names it: the payload expires button_ttl after issue.
            await self.redis.set(self._ref_key(body), _utf8(action), ex=self.settings.button_ttl + FUTURE_SKEW_S)
        return f"{fmt}{issued}.{self._mac(fmt, user_id, issued, body)}{body}"

    async def unpack(self, user_id: str, data: str) -> str:
        """The action of a pressed button's payload, checked against ``user_id``.

        Raises ForgedButton or StaleButton for any payload that must not be acted on, and
        nothing else for any input; only a Redis outage (for a referenced action) escapes.
        """
        if not isinstance(data, str) or len(data) > MAX_BYTES or not data.isascii():
            raise ForgedButton("not a button payload")
        match = _PAYLOAD.fullmatch(data)
        if not match:
            raise ForgedButton("not a button payload")
        fmt, issued, mac, body = match.groups()
        if not hmac.compare_digest(mac, self._mac(fmt, user_id, issued, body)):
            raise ForgedButton("bad signature")
        age = self._now() - int(issued, 36)
        if age > self.settings.button_ttl:
            raise StaleButton("expired")
        if age < -FUTURE_SKEW_S:
            raise StaleButton("issued in the future")
        if fmt == INLINE:
            return body
        if not _REF.fullmatch(body):
            raise ForgedButton("bad reference")
        stored = await self.redis.get(self._ref_key(body))
        if stored is None:
            raise StaleButton("action expired")
        try:
            action = stored.decode("utf-8", "surrogatepass") if isinstance(stored, bytes) else str(stored)
        except UnicodeDecodeError:
            raise ForgedButton("stored action is not text") from None
        if not hmac.compare_digest(self._reference(action), body):
            raise ForgedButton("stored action does not match its reference")
        return action


def _utf8(text: str) -> bytes:
    # Lenient with lone surrogates, so that no action string can make pack() fail.
    return text.encode("utf-8", "surrogatepass")


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out
