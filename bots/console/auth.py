"""Who may use the agent console: accounts, signed sessions, CSRF tokens, API tokens, throttling.

Accounts come from ``DAOGOU_AGENTS``: ``name:argon2-hash`` pairs separated by commas or
new lines (an argon2 hash has commas of its own; a pair starts where ``name:`` follows a
separator).  API tokens come from ``DAOGOU_AGENT_TOKENS``: ``name:sha256-hex`` pairs, the
same way; only the hash of a token is ever stored.  ``daogou agents hash-password`` and
``daogou agents new-token NAME`` make both (``add_arguments``/``run`` below).

A console session is a Redis record ``<prefix>:console:session:<sid>`` (agent, CSRF token)
with the session's lifetime; the cookie names it and carries an HMAC of the id and expiry
made with ``DAOGOU_CONSOLE_SECRET``, so a forged or edited cookie is refused without a Redis
read and signing out (deleting the record) ends the session on every replica.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import getpass
import hashlib
import hmac
import json
import re
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from redis.asyncio import Redis

from core.settings import Settings, SettingsError

NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_SPLIT = re.compile(r"[,\s]+(?=[A-Za-z0-9_.@-]{1,64}:)")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Verified when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_PASSWORD = "daogou-console-no-such-agent"


def _pairs(text: str | None, variable: str, check: Callable[[str], bool], expects: str) -> dict[str, str]:
    """``name:value`` pairs; errors name the variable and the agent, never the value."""
    found: dict[str, str] = {}
    for item in _SPLIT.split((text or "").strip()):
        item = item.strip().strip(",")
        if not item:
            continue
        name, sep, value = item.partition(":")
        if not sep or not NAME.fullmatch(name):
            raise SettingsError(f"{variable} must be name:{expects} pairs (names of A-Z a-z 0-9 _ . @ -)")
        if not check(value.strip()):
            raise SettingsError(f"{variable}: the entry of {name!r} is not {expects}")
        if name in found:
            raise SettingsError(f"{variable}: {name!r} is given twice")
        found[name] = value.strip()
    return found


def _is_argon2(value: str) -> bool:
    return value.startswith("$argon2")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Accounts:
    """Agents' password hashes and API token hashes; ``repr`` shows names only."""

    passwords: Mapping[str, str] = field(default_factory=dict, repr=False)
    tokens: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Accounts:
        return cls(
            _pairs(settings.agents, "DAOGOU_AGENTS", _is_argon2, "argon2-hash"),
            _pairs(settings.agent_tokens, "DAOGOU_AGENT_TOKENS", lambda v: bool(_SHA256.fullmatch(v)),
                   "sha256-hex"),
        )

    @property
    def names(self) -> list[str]:
        return sorted(set(self.passwords) | set(self.tokens))

    def __repr__(self) -> str:
        return f"Accounts(agents={sorted(self.passwords)}, tokens={sorted(self.tokens)})"

    async def verify_password(self, name: str, password: str) -> bool:
        """Whether ``password`` is ``name``'s; argon2 runs in a thread (it is slow on purpose)."""
        from argon2 import PasswordHasher
        from argon2.exceptions import InvalidHashError, VerificationError

        stored = self.passwords.get(name)
        hasher = PasswordHasher()

        def verify() -> bool:
            try:
                return hasher.verify(stored or _dummy_hash(), password) and stored is not None
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(verify)

    def agent_for_token(self, token: str) -> str | None:
        """The agent whose API token this is, compared in constant time against every hash."""
        if not token:
            return None
        digest = hash_token(token)
        found = None
        for name, stored in self.tokens.items():
            if hmac.compare_digest(digest, stored):
                found = name
        return found


_dummy: list[str] = []


def _dummy_hash() -> str:
    if not _dummy:
        from argon2 import PasswordHasher

        _dummy.append(PasswordHasher().hash(_DUMMY_PASSWORD))
    return _dummy[0]


@dataclass(frozen=True)
class Session:
    id: str
    agent: str
    csrf: str
    expires: float


class Sessions:
    """Signed, expiring console sessions kept in Redis."""

    def __init__(self, redis: Redis, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        if not settings.console_secret:
            raise SettingsError("DAOGOU_CONSOLE_SECRET is not set: the console signs its session cookies with it")
        self.redis = redis
        self.settings = settings
        self.clock = clock
        self._key = hashlib.sha256(b"daogou-console-session:" + settings.console_secret.encode()).digest()

    def _record(self, sid: str) -> str:
        return f"{self.settings.key_prefix}:console:session:{sid}"

    def _sign(self, text: str) -> str:
        mac = hmac.new(self._key, text.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    async def create(self, agent: str) -> tuple[str, Session]:
        """A new session for ``agent``: ``(cookie value, session)``."""
        ttl = self.settings.console_session_ttl
        session = Session(secrets.token_urlsafe(18), agent, secrets.token_urlsafe(24), int(self.clock()) + ttl)
        await self.redis.set(self._record(session.id), json.dumps({"agent": agent, "csrf": session.csrf}), ex=ttl)
        body = f"{session.id}.{int(session.expires)}"
        return f"{body}.{self._sign(body)}", session

    async def load(self, cookie: str | None) -> Session | None:
        """The live session the cookie names, or None (forged, expired, signed out)."""
        sid, exp = self._check(cookie)
        if not sid:
            return None
        raw = await self.redis.get(self._record(sid))
        if raw is None:
            return None
        data = json.loads(raw)
        return Session(sid, data["agent"], data["csrf"], exp)

    async def end(self, cookie: str | None) -> None:
        sid, _ = self._check(cookie)
        if sid:
            await self.redis.delete(self._record(sid))

    def _check(self, cookie: str | None) -> tuple[str, float]:
        parts = (cookie or "").split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return "", 0.0
        sid, exp, sig = parts
        if not hmac.compare_digest(sig, self._sign(f"{sid}.{exp}")) or int(exp) <= self.clock():
            return "", 0.0
        return sid, float(exp)


class LoginThrottle:
    """At most ``console_login_attempts`` failed sign-ins per address per minute (shared in Redis)."""

    def __init__(self, redis: Redis, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.settings = settings
        self.clock = clock

    def _key(self, address: str) -> str:
        return f"{self.settings.key_prefix}:console:login:{address}:{int(self.clock() // 60)}"

    async def blocked(self, address: str) -> bool:
        count = await self.redis.get(self._key(address))
        return int(count or 0) >= self.settings.console_login_attempts

    async def failed(self, address: str) -> None:
        key = self._key(address)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            await pipe.execute()


# -- daogou agents ... -------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="agents_command", required=True)
    commands.add_parser("hash-password", help="read a password on stdin, print its argon2 hash for DAOGOU_AGENTS")
    token = commands.add_parser("new-token", help="print a new API token for an agent and its DAOGOU_AGENT_TOKENS entry")
    token.add_argument("name", help="the agent's name")


def run(args: argparse.Namespace) -> int:
    if args.agents_command == "new-token":
        if not NAME.fullmatch(args.name):
            print("daogou: an agent's name is 1-64 of A-Z a-z 0-9 _ . @ -", file=sys.stderr)
            return 2
        token = secrets.token_urlsafe(32)
        print(f"token (give it to {args.name}; it is not stored anywhere): {token}")
        print(f"add to DAOGOU_AGENT_TOKENS (comma-separated): {args.name}:{hash_token(token)}")
        return 0
    from argon2 import PasswordHasher

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("daogou: the passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        print("daogou: a password needs at least 8 characters", file=sys.stderr)
        return 1
    print(PasswordHasher().hash(password))
    return 0
