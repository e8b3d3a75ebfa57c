"""A stand-in for Discord's REST API and gateway, for tests that drive the real discord.py.

One aiohttp server on 127.0.0.1 serves REST under ``/api/v10`` and the gateway websocket at ``/gateway``.
Point discord.py at it before logging in. ``Route.BASE`` is a class attribute read whenever a Route is
built (webhooks and interaction callbacks use it too); a plain ``Client`` never asks REST for the gateway,
it connects to ``DiscordWebSocket.DEFAULT_GATEWAY`` (and READY's ``resume_gateway_url`` on RESUME)::

    discord.http.Route.BASE = api.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(api.gateway_url)

``AutoShardedClient`` without ``shard_count`` takes the URL and ``shards`` from ``GET /gateway/bot``.

REST: ``/users/@me``, ``/oauth2/applications/@me``, ``/gateway(/bot)``, interaction callbacks (types 1,
4-9; 204, or with ``with_response`` the callback object discord.py >= 2.5 reads; 400 40060 when
acknowledged twice; 404 10062 for unknown ids and, with ``strict_timing``, after 3 s), followups (404 10015
before the callback; the first one after a type-5 defer replaces the "thinking" message and keeps the
defer's ephemerality, as Discord does), GET/PATCH/DELETE ``/webhooks/{app}/{token}/messages/{@original|id}``,
DM channels, channel messages (+ GET/PATCH/DELETE), application commands (global and per guild; GET, PUT,
POST; names and descriptions checked). JSON or multipart (``payload_json`` + ``files[n]``) bodies; message
limits (empty 50006; content 2000, embeds, rows, custom_id 100, label 80 -> 400 50035). JSON answers carry
``Content-Type: application/json`` exactly, as discord.py compares it verbatim. Other routes: ``200 {}`` for
GET, else 204. ``fail_next`` injects faults; a 429 carries ``Via`` and rate-limit headers (discord.py
raises instead of retrying a 429 without ``Via``, taking it for a Cloudflare ban).

Gateway: HELLO, heartbeat ACK, IDENTIFY -> READY (guilds unavailable) + GUILD_CREATE per guild of the
shard; RESUME -> missed dispatches replayed + RESUMED (op 9 for unknown sessions; a client's clean close,
code 1000, ends its session); REQUEST_GUILD_MEMBERS -> one chunk; ``reconnect_clients`` sends op 7. Frames
are zlib-stream when the client asks (discord.py always does) and ``compress`` is on, else JSON text, which
discord.py reads too. Events go to every session on the guild's shard ((guild_id >> 22) % shards; DMs:
shard 0), MESSAGE_CREATE only where GUILD_MESSAGES / DIRECT_MESSAGES is in the intents; the bot's own
non-ephemeral messages are echoed as MESSAGE_CREATE, as on Discord.

Not simulated: real rate limits, permission checks, privileged intents (members, presences and
message_content are simply granted; DM content is always sent, as on Discord), MESSAGE_UPDATE/DELETE
events, threads, voice, reactions, modal data, token expiry after 15 min, attachment downloads, zstd.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import re
import secrets
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

from aiohttp import BodyPartReader, WSMsgType, web

_EPOCH_MS = 1420070400000
_PERMS = str(sum(1 << b for b in (6, 10, 11, 14, 15, 16, 18, 31)))  # view, send, embed, attach, history, app cmds
_GUILD_MESSAGES, _DIRECT_MESSAGES, _EPHEMERAL, _LOADING = 1 << 9, 1 << 12, 64, 128
_VALID_CALLBACKS = {1: {1}, 2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}
_ROUTES = [(m, re.compile(p + "$"), h) for m, p, h in (
    ("GET", r"/users/@me", "_me"), ("GET", r"/oauth2/applications/@me", "_app_info"),
    ("GET", r"/gateway(?:/bot)?", "_gateway_info"), ("POST", r"/users/@me/channels", "_open_dm"),
    ("POST", r"/interactions/(\d+)/([^/]+)/callback", "_callback"), ("POST", r"/webhooks/(\d+)/([^/]+)", "_followup"),
    ("GET|PATCH|DELETE", r"/webhooks/(\d+)/([^/]+)/messages/(@original|\d+)", "_webhook_message"),
    ("POST", r"/channels/(\d+)/messages", "_channel_message"),
    ("GET|PATCH|DELETE", r"/channels/(\d+)/messages/(\d+)", "_channel_message_edit"),
    ("GET|PUT|POST", r"/applications/(\d+)(?:/guilds/(\d+))?/commands", "_commands"))]
_NO_AUTH = ("_callback", "_followup", "_webhook_message")  # token-authenticated, no Authorization header
Reply = tuple[int, Any]
Json = dict[str, Any]


@dataclass
class Call:
    method: str
    path: str
    json: Any
    headers: dict[str, str]
    at: float
    status: int = 0
    files: list[Json] = field(default_factory=list)  # {"field", "filename", "content_type", "data": bytes}


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: Any
    times: int
    retry_after: float | None


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    zlib: Any
    queue: asyncio.Queue[Json] = field(default_factory=asyncio.Queue)
    session: _Session | None = None

    def send(self, op: int, d: Any) -> None:
        self.queue.put_nowait({"op": op, "d": d, "s": None, "t": None})


@dataclass(eq=False)
class _Session:
    id: str
    shard: tuple[int, int]
    intents: int
    conn: _Conn | None
    seq: int = 0
    history: list[Json] = field(default_factory=list)

    def dispatch(self, t: str, d: Any) -> None:
        self.seq += 1
        self.history.append(frame := {"op": 0, "t": t, "s": self.seq, "d": copy.deepcopy(d)})
        if self.conn is not None:
            self.conn.queue.put_nowait(frame)


@dataclass
class _Interaction:
    payload: Json
    at: float
    acked: bool = False
    original: int | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _error(status: int, code: int, message: str) -> Reply:
    return status, {"code": code, "message": message}


def _form_error(where: str, message: str) -> Reply:
    return 400, {"code": 50035, "message": "Invalid Form Body",
                 "errors": {where: {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": message}]}}}


def _check_message(body: Json, files: Sequence[Json], *, edit: bool = False) -> Reply | None:
    """Discord's message limits; None when the body is acceptable."""
    content, embeds, rows = body.get("content") or "", body.get("embeds") or [], body.get("components") or []
    if not edit and not (content or embeds or rows or files or body.get("poll") or body.get("sticker_ids")):
        return _error(400, 50006, "Cannot send an empty message")
    if len(content) > 2000 or len(embeds) > 10:
        return _form_error("content" if len(content) > 2000 else "embeds", "Must be 2000 / 10 or fewer in length.")
    for i, e in enumerate(embeds):
        title, text, fields = e.get("title") or "", e.get("description") or "", e.get("fields") or []
        texts = [title, text, (e.get("footer") or {}).get("text"), (e.get("author") or {}).get("name")]
        texts += [f.get(k) for f in fields for k in ("name", "value")]
        if len(title) > 256 or len(text) > 4096 or len(fields) > 25 or sum(len(t or "") for t in texts) > 6000:
            return _form_error(f"embeds.{i}", "Embed size exceeds maximum size of 6000")
    if len(rows) > (40 if int(body.get("flags") or 0) & (1 << 15) else 5):
        return _form_error("components", "Must be 5 or fewer in length.")
    for i, row in enumerate(rows):
        items = row.get("components") or []
        if row.get("type") == 1 and len(items) > 5 or any(
                len(c.get("custom_id") or "") > 100 or len(c.get("label") or "") > 80 for c in items):
            return _form_error(f"components.{i}", "At most 5 items, custom_id <= 100 and label <= 80 characters")
    return None


class DiscordStandIn:
    """Serves REST and the gateway; see the module docstring. Use ``async with`` or start()/stop()."""

    def __init__(self, *, application_id: int = 900000000000000001, bot_id: int = 900000000000000002,
                 bot_name: str = "daogou-test", shards: int = 1, token: str | None = None,
                 strict_timing: bool = False, compress: bool = True) -> None:
        self.application_id, self.bot_id, self.bot_name = application_id, bot_id, bot_name
        self.shards, self.token, self.strict_timing, self.compress = shards, token, strict_timing, compress
        self.calls: list[Call] = []
        self.messages: list[Json] = []  # snapshots of every message the bot created and of every edit, in order
        self.commands: dict[int | None, list[Json]] = {}
        self.identifies: list[Json] = []  # IDENTIFY payloads (token, intents, shard, properties, ...)
        self._faults: list[_Fault] = []
        self._guilds: dict[int, Json] = {}
        self._channels: dict[int, int | None] = {}  # channel id -> guild id (None: a DM)
        self._dms: dict[int, int] = {}  # user id -> DM channel id
        self._store: dict[int, Json] = {}  # message id -> current state
        self._interactions: dict[str, _Interaction] = {}  # by token
        self._sessions: dict[str, _Session] = {}
        self._conns: list[_Conn] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._auth = f"Bot {token}"
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", r"/api/v{version:\d+}/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for conn in list(self._conns):  # 1001: a client still running reconnects (and fails) until it is closed
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"stand-in stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- inspection and faults ---------------------------------------------------------------------
    def calls_to(self, method: str, pattern: str) -> list[Call]:
        return [c for c in self.calls if method in ("*", c.method) and re.search(pattern, c.path)]

    async def wait_for(self, method: str, pattern: str, count: int = 1, timeout: float = 5.0,
                       predicate: Callable[[Call], bool] | None = None) -> list[Call]:
        """The first ``count`` answered calls matching (earlier ones included: narrow with ``predicate``)."""
        def found() -> list[Call]:
            return [c for c in self.calls_to(method, pattern) if c.status and (predicate is None or predicate(c))]
        deadline = time.monotonic() + timeout
        while len(found()) < count:
            if time.monotonic() > deadline:
                seen = "\n".join(f"  {c.method} {c.path} -> {c.status}" for c in self.calls) or "  (none)"
                raise AssertionError(f"{count} x {method} {pattern!r} not seen within {timeout}s; calls:\n{seen}")
            await asyncio.sleep(0.01)
        return found()[:count]

    async def wait_ready(self, timeout: float = 10, *, sessions: int = 1) -> None:
        """Until ``sessions`` clients have IDENTIFYed and got READY and their GUILD_CREATEs."""
        deadline = time.monotonic() + timeout
        while sum(s.conn is not None for s in self._sessions.values()) < sessions:
            if time.monotonic() > deadline:
                raise AssertionError(f"{sessions} READY session(s) not there in {timeout}s: {self.identifies}")
            await asyncio.sleep(0.01)

    def responses(self, interaction: Json) -> list[Call]:
        return [c for c in self.calls if f"/{interaction['token']}" in c.path]

    def fail_next(self, method: str, pattern: str, status: int, *, body: Any = None, times: int = 1,
                  retry_after: float | None = None) -> None:
        """The next ``times`` calls whose path matches ``pattern`` fail (``method`` may be "*")."""
        self._faults.append(_Fault(method, re.compile(pattern), status, body, times, retry_after))

    def _fault(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        for f in self._faults:
            if f.times > 0 and f.method in ("*", call.method) and f.pattern.search(call.path):
                f.times -= 1
                if f.status == 429:
                    wait = 0.25 if f.retry_after is None else f.retry_after
                    return 429, f.body or {"message": "You are being rate limited.", "retry_after": wait,
                                           "global": False}, {
                        "Retry-After": str(max(1, int(wait + 0.999))), "X-RateLimit-Limit": "5",
                        "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": str(wait),
                        "X-RateLimit-Reset": str(time.time() + wait), "X-RateLimit-Bucket": "stand-in",
                        "X-RateLimit-Scope": "user", "Via": "1.1 google"}
                known = {404: (10062, "Unknown interaction"), 403: (50013, "Missing Permissions"),
                         401: (0, "401: Unauthorized")}
                default = _error(f.status, *known.get(f.status, (0, f"{f.status}: stand-in fault")))[1]
                return f.status, f.body or default, {}
        return 0, None, {}

    # -- world -------------------------------------------------------------------------------------
    def _snowflake(self) -> int:
        return ((int(time.time() * 1000) - _EPOCH_MS) << 22) | (next(self._ids) & 0x3FFFFF)

    def _bot_user(self) -> Json:
        return {"id": str(self.bot_id), "username": self.bot_name, "discriminator": "0", "global_name": None,
                "avatar": None, "bot": True, "verified": True, "mfa_enabled": False, "flags": 0, "public_flags": 0}

    @staticmethod
    def _user(user_id: int) -> Json:
        return {"id": str(user_id), "username": f"user{user_id}", "discriminator": "0",
                "global_name": f"User {user_id % 10000}", "avatar": None, "public_flags": 0}

    @staticmethod
    def _member(user: Json, **extra: Any) -> Json:
        return {"user": user, "roles": [], "nick": None, "avatar": None, "joined_at": _now(), "premium_since": None,
                "deaf": False, "mute": False, "flags": 0, "pending": False, "communication_disabled_until": None,
                **extra}

    def _role(self, role_id: int, name: str, position: int, **extra: Any) -> Json:
        return {"id": str(role_id), "name": name, "permissions": _PERMS, "position": position, "color": 0,
                "hoist": False, "managed": False, "mentionable": False, "icon": None, "unicode_emoji": None,
                "flags": 0, **extra}

    def _channel(self, channel_id: int) -> Json:
        guild_id = self._channels.get(channel_id)
        if guild_id is None:
            user = next((u for u, c in self._dms.items() if c == channel_id), 0)
            return {"id": str(channel_id), "type": 1, "last_message_id": None, "flags": 0,
                    "recipients": [self._user(user)]}
        pos = [c for c, g in self._channels.items() if g == guild_id].index(channel_id)
        return {"id": str(channel_id), "type": 0, "guild_id": str(guild_id), "name": f"shop-{pos}", "position": pos,
                "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
                "rate_limit_per_user": 0, "last_message_id": None, "flags": 0}

    def _dm_channel(self, user_id: int) -> int:
        if user_id not in self._dms:
            self._dms[user_id] = cid = self._snowflake()
            self._channels[cid] = None
        return self._dms[user_id]

    def add_guild(self, guild_id: int, name: str = "Shop", channel_ids: tuple[int, ...] = ()) -> Json:
        """Adds (or replaces) a guild the bot is in, with text channels ``channel_ids`` (default: guild_id + 1);
        sessions on its shard get GUILD_CREATE (a new guild: discord.py's ``guild_join``)."""
        channel_ids, new = channel_ids or (guild_id + 1,), guild_id not in self._guilds
        for cid in channel_ids:
            self._channels[cid] = guild_id
        self._guilds[guild_id] = g = {
            "id": str(guild_id), "name": name, "icon": None, "splash": None, "discovery_splash": None, "banner": None,
            "owner_id": "1", "afk_channel_id": None, "afk_timeout": 300, "verification_level": 0, "mfa_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "nsfw_level": 0, "features": [],
            "emojis": [], "stickers": [], "application_id": None, "description": None, "rules_channel_id": None,
            "system_channel_id": str(channel_ids[0]), "system_channel_flags": 0, "public_updates_channel_id": None,
            "vanity_url_code": None, "premium_tier": 0, "premium_subscription_count": 0, "preferred_locale": "en-US",
            "premium_progress_bar_enabled": False, "max_members": 500000, "max_video_channel_users": 25,
            "joined_at": _now(), "large": False, "unavailable": False, "member_count": 2, "lazy": True,
            "voice_states": [], "threads": [], "presences": [], "stage_instances": [], "guild_scheduled_events": [],
            "soundboard_sounds": [], "channels": [self._channel(cid) for cid in channel_ids],
            "roles": [self._role(guild_id, "@everyone", 0),
                      self._role(guild_id + 2, self.bot_name, 1, managed=True, tags={"bot_id": str(self.bot_id)})],
            "members": [self._member(self._bot_user(), roles=[str(guild_id + 2)])]}
        for s in self._targets(guild_id):
            s.dispatch("GUILD_CREATE", {k: v for k, v in g.items() if k != "unavailable" or not new})
        return g

    def _targets(self, guild_id: int | None, intent: int = 0) -> list[_Session]:
        return [s for s in self._sessions.values()
                if ((guild_id or 0) >> 22) % s.shard[1] == s.shard[0] and (not intent or s.intents & intent)]

    def _dispatch(self, t: str, d: Json, guild_id: int | None, intent: int = 0) -> None:
        targets = self._targets(guild_id, intent)
        if not targets and t == "INTERACTION_CREATE":
            raise AssertionError(f"no gateway session on the shard of guild {guild_id}; await wait_ready() first")
        for s in targets:
            s.dispatch(t, d)

    # -- gateway -----------------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        zipped = self.compress and request.query.get("compress") == "zlib-stream"
        conn = _Conn(ws, zlib.compressobj() if zipped else None)
        self._conns.append(conn)
        writer = asyncio.create_task(self._writer(conn))
        conn.send(10, {"heartbeat_interval": 41250, "_trace": ["stand-in"]})
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._on_op(conn, json.loads(msg.data))
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._conns.remove(conn)
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
                if ws.close_code == 1000:  # a clean close ends the session; anything else may RESUME
                    self._sessions.pop(conn.session.id, None)
        return ws

    async def _writer(self, conn: _Conn) -> None:  # one writer per socket keeps frames (and zlib) in order
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                text = json.dumps(await conn.queue.get())
                if conn.zlib is not None:
                    await conn.ws.send_bytes(conn.zlib.compress(text.encode()) + conn.zlib.flush(zlib.Z_SYNC_FLUSH))
                else:
                    await conn.ws.send_str(text)

    def _on_op(self, conn: _Conn, msg: Json) -> None:
        op, d = msg.get("op"), msg.get("d") or {}
        if op == 1:
            conn.send(11, None)
        elif op == 2:
            if self.token is not None and d.get("token") != self.token:
                asyncio.ensure_future(conn.ws.close(code=4004, message=b"Authentication failed."))
                return
            self.identifies.append(d)
            shard = tuple(int(x) for x in d.get("shard") or (0, 1))
            conn.session = s = _Session(secrets.token_hex(16), (shard[0], shard[1]), int(d.get("intents") or 0), conn)
            self._sessions[s.id] = s
            mine = [g for gid, g in self._guilds.items() if (gid >> 22) % s.shard[1] == s.shard[0]]
            shard_key = {"shard": list(shard)} if "shard" in d else {}
            s.dispatch("READY", shard_key | {
                "v": 10, "user": self._bot_user(), "guilds": [{"id": g["id"], "unavailable": True} for g in mine],
                "session_id": s.id, "session_type": "normal", "resume_gateway_url": self.gateway_url,
                "application": {"id": str(self.application_id), "flags": 0}, "private_channels": [],
                "relationships": [], "presences": [], "guild_join_requests": [], "geo_ordered_rtc_regions": [],
                "user_settings": {}, "auth": {}, "_trace": ["stand-in"]})
            for g in mine:
                s.dispatch("GUILD_CREATE", g)
        elif op == 6:
            if (old := self._sessions.get(d.get("session_id", ""))) is None:
                conn.send(9, False)
                return
            old.conn, conn.session = conn, old
            for frame in old.history:
                if frame["s"] > (d.get("seq") or 0):
                    conn.queue.put_nowait(frame)
            old.dispatch("RESUMED", {"_trace": ["stand-in"]})
        elif op == 8 and conn.session is not None:
            guild = self._guilds.get(int(d["guild_id"])) or {"members": []}
            conn.session.dispatch("GUILD_MEMBERS_CHUNK", {"guild_id": d["guild_id"], "members": guild["members"],
                                                          "chunk_index": 0, "chunk_count": 1, "not_found": [],
                                                          "nonce": d.get("nonce")})

    async def reconnect_clients(self) -> None:
        """Sends op 7 RECONNECT to every connection; discord.py closes and RESUMEs on resume_gateway_url."""
        for conn in list(self._conns):
            conn.send(7, None)

    # -- interactions and user messages ------------------------------------------------------------
    def _new_interaction(self, itype: int, data: Json, *, user_id: int, guild_id: int | None,
                         channel_id: int | None, locale: str, message: Json | None = None) -> Json:
        user = self._user(user_id)
        p: Json = {"id": str(self._snowflake()), "application_id": str(self.application_id), "type": itype,
                   "data": data, "token": secrets.token_urlsafe(48), "version": 1, "locale": locale,
                   "app_permissions": _PERMS, "entitlements": [], "entitlement_sku_ids": [],
                   "attachment_size_limit": 10 * 1024 * 1024}
        if guild_id is not None:
            guild = self._guilds.get(guild_id) or self.add_guild(guild_id)
            channel_id = channel_id or int(guild["channels"][0]["id"])
            if channel_id not in self._channels:
                self._channels[channel_id] = guild_id
                guild["channels"].append(self._channel(channel_id))
            p.update(guild_id=str(guild_id), guild={"id": str(guild_id), "locale": "en-US", "features": []},
                     guild_locale="en-US", member=self._member(user, permissions=_PERMS), context=0,
                     authorizing_integration_owners={"0": str(guild_id)})
        else:
            channel_id = channel_id or self._dm_channel(user_id)
            self._channels.setdefault(channel_id, None)
            p.update(user=user, context=1, authorizing_integration_owners={"0": "0"})
        p.update(channel_id=str(channel_id), channel=self._channel(channel_id))
        if message is not None:
            p["message"] = message
        self._interactions[p["token"]] = _Interaction(p, time.monotonic())
        self._dispatch("INTERACTION_CREATE", p, guild_id)
        return p

    def _command_data(self, name: str, options: Any, guild_id: int | None, subcommand: str | None,
                      focused: str | None = None) -> Json:
        def typed(v: Any) -> int:
            return 5 if isinstance(v, bool) else 4 if isinstance(v, int) else 10 if isinstance(v, float) else 3
        opts = [dict(o) for o in options] if isinstance(options, list) else [
            {"name": k, **v} if isinstance(v, dict) else {"name": k, "type": typed(v), "value": v}
            for k, v in (options or {}).items()]
        for o in opts:
            if o["name"] == focused:
                o["focused"] = True
        for part in reversed((subcommand or "").split()):  # "sub" or "group sub"
            opts = [{"name": part, "type": 2 if opts and opts[0]["type"] == 1 else 1, "options": opts}]
        data: Json = {"id": str(self._snowflake()), "name": name, "type": 1, "options": opts}
        for scope in (guild_id, None) if guild_id else (None,):  # data.guild_id only for a guild command
            if cmd := next((c for c in self.commands.get(scope, []) if c["name"] == name), None):
                data.update(id=cmd["id"], **({"guild_id": str(scope)} if scope else {}))
                break
        return data

    async def slash(self, name: str, options: Json | list[Json] | None = None, *, user_id: int,
                    guild_id: int | None = None, channel_id: int | None = None, locale: str = "en-US",
                    subcommand: str | None = None) -> Json:
        """A chat-input command (type 2). ``options``: {name: value} (str 3, int 4, float 10, bool 5; a dict
        value is a full option) or a list of option dicts. ``guild_id`` None: in the user's DM with the bot."""
        data = self._command_data(name, options, guild_id, subcommand)
        return self._new_interaction(2, data, user_id=user_id, guild_id=guild_id, channel_id=channel_id, locale=locale)

    async def autocomplete(self, name: str, options: Json | list[Json], focused: str, *, user_id: int,
                           guild_id: int | None = None, channel_id: int | None = None, locale: str = "en-US",
                           subcommand: str | None = None) -> Json:
        data = self._command_data(name, options, guild_id, subcommand, focused)
        return self._new_interaction(4, data, user_id=user_id, guild_id=guild_id, channel_id=channel_id, locale=locale)

    async def component(self, custom_id: str, *, user_id: int, message: Json | None = None,
                        guild_id: int | None = None, channel_id: int | None = None, component_type: int = 2,
                        values: list[str] | None = None, locale: str = "en-US") -> Json:
        """A button press (2) or select (3, 5-8, with ``values``) on ``message`` (default: a plausible bot
        message holding that component; discord.py's DynamicItem finds its item in the message)."""
        if message is not None:
            message = self._store.get(int(message["id"]), message)
            channel_id = channel_id or int(message["channel_id"])
        else:
            if channel_id is None:
                channel_id = self._dm_channel(user_id) if guild_id is None else int(
                    (self._guilds.get(guild_id) or self.add_guild(guild_id))["channels"][0]["id"])
            item: Json = {"type": component_type, "custom_id": custom_id} | (
                {"style": 1, "label": "Press"} if component_type == 2 else
                {"options": [{"label": v, "value": v} for v in values or ["a"]]} if component_type == 3 else {})
            message = self._message({"components": [{"type": 1, "components": [item]}]}, channel_id, None)
            self._store[int(message["id"])] = message
        data: Json = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        return self._new_interaction(3, data, user_id=user_id, guild_id=guild_id, channel_id=channel_id,
                                     locale=locale, message=copy.deepcopy(message))

    async def dm_message(self, user_id: int, content: str) -> Json:
        """A user's message in their DM with the bot: MESSAGE_CREATE to sessions with DIRECT_MESSAGES."""
        msg = {"id": str(self._snowflake()), "channel_id": str(self._dm_channel(user_id)), "channel_type": 1,
               "author": self._user(user_id), "content": content, "timestamp": _now(), "edited_timestamp": None,
               "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
               "embeds": [], "components": [], "pinned": False, "type": 0, "flags": 0}
        self._dispatch("MESSAGE_CREATE", msg, None, _DIRECT_MESSAGES)
        return msg

    # -- the bot's messages ------------------------------------------------------------------------
    def _message(self, body: Json, channel_id: int, ix: _Interaction | None, files: Sequence[Json] = ()) -> Json:
        m: Json = {"id": str(self._snowflake()), "channel_id": str(channel_id), "author": self._bot_user(),
                   "type": 20 if ix and ix.payload["type"] == 2 else 0, "content": "", "embeds": [], "components": [],
                   "attachments": [], "flags": 0, "timestamp": _now(), "edited_timestamp": None, "tts": False,
                   "mention_everyone": False, "mentions": [], "mention_roles": [], "pinned": False}
        if (guild_id := self._channels.get(channel_id)) is not None:
            m["guild_id"] = str(guild_id)
        if ix is not None:
            p = ix.payload
            m.update(webhook_id=str(self.application_id), application_id=str(self.application_id),
                     interaction_metadata={"id": p["id"], "type": p["type"], "user": (p.get("member") or p)["user"],
                                           "authorizing_integration_owners": p["authorizing_integration_owners"]})
        return self._apply(m, body, files)

    def _apply(self, m: Json, body: Json, files: Sequence[Json]) -> Json:
        for key, empty in (("content", ""), ("embeds", []), ("components", [])):
            if key in body:
                m[key] = copy.deepcopy(body[key]) if body[key] is not None else empty
        if body.get("flags") is not None:  # ephemeral and loading are set by the stand-in only
            m["flags"] = (m["flags"] & (_EPHEMERAL | _LOADING)) | (int(body["flags"]) & ~(_EPHEMERAL | _LOADING))
        if "attachments" in body or files:
            keep = {str(a.get("id")) for a in body.get("attachments") or []}
            m["attachments"] = [a for a in m["attachments"] if a["id"] in keep]
            for f in files:
                aid = str(self._snowflake())
                url = f"http://127.0.0.1:{self.port}/attachments/{m['channel_id']}/{aid}/{f['filename']}"
                m["attachments"].append({"id": aid, "filename": f["filename"], "size": len(f["data"]), "url": url,
                                         "proxy_url": url, "content_type": f["content_type"]})
        ids, todo = itertools.count(1), list(m["components"])
        while todo:  # Discord numbers every component it echoes
            c = todo.pop(0)
            c.setdefault("id", next(ids))
            todo.extend(c.get("components") or [])
        return m

    def _keep(self, m: Json, *, created: bool) -> Json:
        self._store[int(m["id"])] = m
        self.messages.append(copy.deepcopy(m))
        if created and not m["flags"] & _EPHEMERAL:
            in_guild = "guild_id" in m
            self._dispatch("MESSAGE_CREATE", m, int(m["guild_id"]) if in_guild else None,
                           _GUILD_MESSAGES if in_guild else _DIRECT_MESSAGES)
        return m

    def _edit(self, m: Json, body: Json, files: Sequence[Json]) -> Json:
        was_loading = bool(m["flags"] & _LOADING)
        m = self._apply(copy.deepcopy(m), body, files)
        m["flags"] &= ~_LOADING
        if not was_loading:
            m["edited_timestamp"] = _now()
        return self._keep(m, created=was_loading)

    # -- REST --------------------------------------------------------------------------------------
    async def _rest(self, request: web.Request) -> web.Response:
        body: Any = None
        files: list[Json] = []
        if request.content_type == "multipart/form-data":
            async for part in await request.multipart():
                if not isinstance(part, BodyPartReader):
                    continue
                raw = await part.read()
                if part.name == "payload_json":
                    body = json.loads(raw)
                else:
                    kind = part.headers.get("Content-Type", "application/octet-stream")
                    files.append({"field": part.name, "filename": part.filename,
                                  "data": bytes(raw), "content_type": kind})
        elif request.can_read_body:
            body = json.loads(await request.text() or "null")
        call = Call(request.method, request.path, body, dict(request.headers), time.monotonic(), files=files)
        self.calls.append(call)
        status, payload, headers = self._fault(call)
        if not status:
            tail = "/" + request.match_info["tail"]
            status, payload = (200, {}) if request.method == "GET" else (204, None)
            for methods, pattern, handler in _ROUTES:
                if (match := pattern.match(tail)) and request.method in methods.split("|"):
                    if self.token is None or handler in _NO_AUTH or call.headers.get("Authorization") == self._auth:
                        status, payload = getattr(self, handler)(call, request.query, *match.groups())
                    else:
                        status, payload = _error(401, 0, "401: Unauthorized")
                    break
        call.status = status
        if payload is None:
            return web.Response(status=status, headers=headers)
        return web.Response(status=status, body=json.dumps(payload).encode(),
                            headers={**headers, "Content-Type": "application/json"})

    def _me(self, call: Call, query: Any) -> Reply:
        return 200, self._bot_user()

    def _app_info(self, call: Call, query: Any) -> Reply:
        return 200, {"id": str(self.application_id), "name": self.bot_name, "icon": None, "description": "",
                     "bot_public": True, "bot_require_code_grant": False, "verify_key": "0" * 64, "flags": 0,
                     "owner": self._user(1), "team": None, "bot": self._bot_user(), "summary": "",
                     "interactions_endpoint_url": None, "approximate_guild_count": len(self._guilds)}

    def _gateway_info(self, call: Call, query: Any) -> Reply:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        bot = {"shards": self.shards, "session_start_limit": limit} if call.path.endswith("/bot") else {}
        return 200, {"url": self.gateway_url, **bot}

    def _open_dm(self, call: Call, query: Any) -> Reply:
        return 200, self._channel(self._dm_channel(int(call.json["recipient_id"])))

    def _callback(self, call: Call, query: Any, iid: str, token: str) -> Reply:
        ix = self._interactions.get(token)
        if ix is None or ix.payload["id"] != iid or (self.strict_timing and time.monotonic() - ix.at > 3.0):
            return _error(404, 10062, "Unknown interaction")
        if ix.acked:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        kind, data = int(call.json.get("type", 0)), call.json.get("data") or {}
        if kind not in _VALID_CALLBACKS.get(ix.payload["type"], set()):
            return _form_error("type", f"callback type {kind} is not valid for interaction type {ix.payload['type']}")
        if kind == 4 and (bad := _check_message(data, call.files)):
            return bad
        ix.acked, msg = True, None
        if kind in (4, 5):
            msg = self._message(data if kind == 4 else {}, int(ix.payload["channel_id"]), ix, call.files)
            msg["flags"] |= (int(data.get("flags") or 0) & _EPHEMERAL) | (_LOADING if kind == 5 else 0)
            if kind == 4:
                self._keep(msg, created=True)
            self._store[int(msg["id"])], ix.original = msg, int(msg["id"])
        elif kind in (6, 7) and "message" in ix.payload:  # @original is now the message with the component
            ix.original = int(ix.payload["message"]["id"])
            if kind == 7:
                msg = self._edit(self._store.get(ix.original) or ix.payload["message"], data, call.files)
        if query.get("with_response") not in ("1", "true", "True"):
            return 204, None
        out: Json = {"interaction": {"id": ix.payload["id"], "type": ix.payload["type"],
                                     "response_message_loading": kind == 5,
                                     "response_message_ephemeral": bool(msg and msg["flags"] & _EPHEMERAL)}}
        if msg is not None:
            out["interaction"]["response_message_id"] = msg["id"]
            out["resource"] = {"type": kind, "message": msg}
        return 200, out

    def _followup(self, call: Call, query: Any, app_id: str, token: str) -> Reply:
        if (ix := self._interactions.get(token)) is None or app_id != str(self.application_id):
            return _error(401, 50027, "Invalid Webhook Token")
        if not ix.acked:
            return _error(404, 10015, "Unknown Webhook")
        body = call.json or {}
        if bad := _check_message(body, call.files):
            return bad
        original = self._store.get(ix.original or 0)
        if original is not None and original["flags"] & _LOADING:  # the first followup after a defer
            msg = self._edit(original, {k: v for k, v in body.items() if k != "flags"}, call.files)
        else:
            msg = self._message(body, int(ix.payload["channel_id"]), ix, call.files)
            msg["flags"] |= int(body.get("flags") or 0) & _EPHEMERAL
            self._keep(msg, created=True)
        return (200, msg) if query.get("wait") in ("1", "true", "True") else (204, None)

    def _webhook_message(self, call: Call, query: Any, app_id: str, token: str, which: str) -> Reply:
        if (ix := self._interactions.get(token)) is None or app_id != str(self.application_id):
            return _error(401, 50027, "Invalid Webhook Token")
        return self._existing(call, self._store.get((ix.original or 0) if which == "@original" else int(which)))

    def _channel_message(self, call: Call, query: Any, channel_id: str) -> Reply:
        if int(channel_id) not in self._channels:
            return _error(404, 10003, "Unknown Channel")
        if bad := _check_message(call.json or {}, call.files):
            return bad
        return 200, self._keep(self._message(call.json or {}, int(channel_id), None, call.files), created=True)

    def _channel_message_edit(self, call: Call, query: Any, channel_id: str, message_id: str) -> Reply:
        msg = self._store.get(int(message_id))
        return self._existing(call, msg if msg and msg["channel_id"] == channel_id else None)

    def _existing(self, call: Call, msg: Json | None) -> Reply:
        if msg is None:
            return _error(404, 10008, "Unknown Message")
        if call.method == "DELETE":
            del self._store[int(msg["id"])]
            return 204, None
        if call.method == "GET":
            return 200, msg
        body = call.json or {}
        return _check_message(body, call.files, edit=True) or (200, self._edit(msg, body, call.files))

    def _commands(self, call: Call, query: Any, app_id: str, guild: str | None) -> Reply:
        if app_id != str(self.application_id):
            return _error(403, 50001, "Missing Access")
        scope = int(guild) if guild else None
        current = self.commands.setdefault(scope, [])
        if call.method == "GET":
            return 200, current
        stored = []
        for cmd in call.json if call.method == "PUT" else [call.json]:
            name, kind = cmd.get("name") or "", cmd.get("type", 1)
            if not 1 <= len(name) <= 32 or (kind == 1 and (name != name.lower() or any(c.isspace() for c in name))):
                return _form_error("name", "Command name is invalid")
            if kind == 1 and not 1 <= len(cmd.get("description") or "") <= 100:
                return _form_error("description", "Must be between 1 and 100 in length.")
            old = next((c for c in current if c["name"] == name and c["type"] == kind), None)
            stored.append({"type": 1, "default_member_permissions": None, "nsfw": False, "options": [],
                           "name_localizations": None, "description_localizations": None, "integration_types": [0],
                           "contexts": None, **cmd, "id": old["id"] if old else str(self._snowflake()),
                           "application_id": app_id, "version": str(self._snowflake())})
            if guild:
                stored[-1]["guild_id"] = guild
        if call.method == "PUT":
            self.commands[scope] = stored
            return 200, stored
        self.commands[scope] = [c for c in current if c["id"] != stored[0]["id"]] + stored
        return 201 if len(self.commands[scope]) > len(current) else 200, stored[0]
