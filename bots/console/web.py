"""The agent console's web pages: sign-in, the live queue, a ticket, and the event stream.

Pages are rendered on the server (jinja2, autoescaped); a little script follows ``GET
/events`` (server-sent ticket events) and swaps in freshly rendered parts of the page, so the
queue and a ticket's messages update without a reload.  Every form carries the session's
CSRF token and every POST without the right one is refused with 403.  ``/api/`` is the
same actions for programs, with bearer tokens (``bots.console.api``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from redis.asyncio import Redis

from bots.console.actions import ActionError, act, canned_replies
from bots.console.auth import NAME, Accounts, LoginThrottle, Session, Sessions
from bots.console.feed import TicketFeed
from core.ops import ops_routes
from core.agents import AgentDesk
from core.settings import Settings
from core.tickets import ASSIGNED, Ticket, TicketStore

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
SESSION_COOKIE = "daogou_console"
LOGIN_COOKIE = "daogou_login"
STATIC = {"console.js": "text/javascript", "console.css": "text/css"}
HEARTBEAT_S = 15.0
MAX_FORM = 64 * 1024
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@dataclass
class Console:
    """Everything the handlers share; built once by ``build_console``."""

    settings: Settings
    redis: Redis
    tickets: TicketStore
    desk: AgentDesk
    accounts: Accounts
    sessions: Sessions
    throttle: LoginThrottle
    feed: TicketFeed
    templates: jinja2.Environment
    clock: Callable[[], float]

    def render(self, name: str, *, status: int = 200, **context: Any) -> web.Response:
        for key, default in (("now", self.clock()), ("ticket", None), ("agent", None), ("error", "")):
            context.setdefault(key, default)
        html = self.templates.get_template(name).render(**context)
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


CONSOLE = web.AppKey("console", Console)


def build_console(settings: Settings, *, redis: Redis, tickets: TicketStore | None = None,
                  desk: AgentDesk | None = None, clock: Callable[[], float] = time.time) -> web.Application:
    """The console's aiohttp application.  Raises ``SettingsError`` without DAOGOU_CONSOLE_SECRET
    or with malformed DAOGOU_AGENTS / DAOGOU_AGENT_TOKENS.  The caller owns ``redis``."""
    from bots.console import api

    tickets = tickets or TicketStore(redis, settings)
    console = Console(
        settings=settings, redis=redis, tickets=tickets, desk=desk or AgentDesk(tickets, redis, settings),
        accounts=Accounts.from_settings(settings), sessions=Sessions(redis, settings, clock=clock),
        throttle=LoginThrottle(redis, settings, clock=clock), feed=TicketFeed(tickets),
        templates=_templates(), clock=clock,
    )
    app = web.Application(client_max_size=MAX_FORM)
    app[CONSOLE] = console
    app.on_response_prepare.append(_headers)
    app.on_shutdown.append(_shutdown)
    app.add_routes([
        web.get("/", queue_page), web.get("/part/queue", queue_part),
        web.get("/login", login_page), web.post("/login", login), web.post("/logout", logout),
        web.get("/tickets/{id}", ticket_page), web.get("/tickets/{id}/part/{part}", ticket_part),
        web.post("/tickets/{id}/{action}", ticket_action),
        web.get("/events", events), web.get("/static/{name}", static),
        *ops_routes(redis, settings),
    ])
    api.add_routes(app)
    return app


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=jinja2.select_autoescape(default=True), undefined=jinja2.ChainableUndefined)  # summaries vary
    env.filters["age"] = _age
    env.filters["clock"] = lambda ts: time.strftime("%H:%M:%S", time.localtime(float(ts or 0)))
    env.filters["price"] = lambda value: "" if value is None else f"{float(value):,.2f}".rstrip("0").rstrip(".")
    return env


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy", _CSP)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


async def _shutdown(app: web.Application) -> None:
    await app[CONSOLE].feed.close()


def _secure(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _client_address(request: web.Request, proxy_hops: int) -> str:
    """Who is signing in, for the sign-in throttle.  Behind ``proxy_hops`` reverse proxies (an
    Ingress: 1) every request comes from the proxy, so the client is the address the outermost
    of ours appended to X-Forwarded-For; entries further left are the client's to forge."""
    if proxy_hops > 0:
        hops = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if len(hops) >= proxy_hops:
            return hops[-proxy_hops][:64]
    return request.remote or "unknown"


async def _session(request: web.Request) -> Session:
    """The signed-in agent's session, or a redirect to the sign-in page."""
    console = request.app[CONSOLE]
    session = await console.sessions.load(request.cookies.get(SESSION_COOKIE))
    if session is None or session.agent not in console.accounts.passwords:
        raise web.HTTPSeeOther("/login")
    return session


async def _form(request: web.Request, expected: str) -> dict[str, str]:
    """The posted form, after its CSRF token was checked (403 without the right one)."""
    data = await request.post()
    given = str(data.get("csrf") or request.headers.get("X-CSRF-Token") or "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise web.HTTPForbidden(text="missing or wrong CSRF token; reload the page and try again")
    return {key: str(value) for key, value in data.items() if isinstance(value, str)}


# -- sign-in ---------------------------------------------------------------------------------

async def login_page(request: web.Request, *, status: int = 200, error: str = "") -> web.Response:
    console = request.app[CONSOLE]
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = console.render("login.html", status=status, csrf=token, error=error, agent=None)
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, path="/login", httponly=True, samesite="Strict",
                        secure=_secure(request))
    return response


async def login(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    form = await _form(request, request.cookies.get(LOGIN_COOKIE, ""))
    address = _client_address(request, console.settings.console_proxy_hops)
    if await console.throttle.blocked(address):
        return await login_page(request, status=429, error="Too many attempts. Wait a minute. 尝试次数过多，请稍后再试。")
    name, password = form.get("name", "").strip(), form.get("password", "")
    if not NAME.fullmatch(name) or not password or not await console.accounts.verify_password(name, password):
        await console.throttle.failed(address)
        log.info("console: failed sign-in from %s", address)  # never the name or the password typed
        return await login_page(request, status=401, error="Wrong name or password. 用户名或密码错误。")
    cookie, _ = await console.sessions.create(name)
    log.info("console: %s signed in from %s", name, address)
    response = web.HTTPSeeOther("/")
    response.set_cookie(SESSION_COOKIE, cookie, max_age=console.settings.console_session_ttl, path="/",
                        httponly=True, samesite="Strict", secure=_secure(request))
    response.del_cookie(LOGIN_COOKIE, path="/login")
    raise response


async def logout(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    session = await _session(request)
    await _form(request, session.csrf)
    await console.sessions.end(request.cookies.get(SESSION_COOKIE))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


# -- the queue -------------------------------------------------------------------------------

async def _queue_context(console: Console, agent: str) -> dict[str, Any]:
    pending = await console.tickets.queue(200)
    assigned = [t for t in await console.tickets.open_tickets(500) if t.state == ASSIGNED]
    assigned.sort(key=lambda t: (t.assignee != agent, -t.priority, t.created_at))
    return {"pending": pending, "assigned": assigned}


async def queue_page(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    session = await _session(request)
    context = await _queue_context(console, session.agent)
    return console.render("queue.html", agent=session.agent, csrf=session.csrf, ticket=None, **context)


async def queue_part(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    session = await _session(request)
    context = await _queue_context(console, session.agent)
    return console.render("_queue.html", agent=session.agent, csrf=session.csrf, **context)


# -- a ticket --------------------------------------------------------------------------------

async def _ticket(console: Console, request: web.Request) -> Ticket:
    ticket = await console.tickets.find(request.match_info["id"])
    if ticket is None:
        raise web.HTTPNotFound(text="no such ticket")
    return ticket


def _ticket_context(console: Console, session: Session, ticket: Ticket) -> dict[str, Any]:
    queues = sorted({ticket.queue, "shopping", "after_sales", "complaints"})
    return {
        "agent": session.agent, "csrf": session.csrf, "ticket": ticket, "summary": ticket.summary,
        "mine": ticket.state == ASSIGNED and ticket.assignee == session.agent,
        "others": [name for name in console.accounts.names if name != session.agent],
        "queues": queues, "canned": canned_replies(console.settings.console_canned, ticket.lang),
    }


async def ticket_page(request: web.Request, *, status: int = 200, error: str = "") -> web.Response:
    console = request.app[CONSOLE]
    session = await _session(request)
    ticket = await _ticket(console, request)
    return console.render("ticket.html", status=status, error=error,
                          **_ticket_context(console, session, ticket))


async def ticket_part(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    session = await _session(request)
    part = request.match_info["part"]
    if part not in ("messages", "status"):
        raise web.HTTPNotFound()
    ticket = await _ticket(console, request)
    return console.render(f"_{part}.html", **_ticket_context(console, session, ticket))


async def ticket_action(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    session = await _session(request)
    form = await _form(request, session.csrf)
    ticket_id, action = request.match_info["id"], request.match_info["action"]
    try:
        ticket = await act(console.desk, console.accounts.names, session.agent, ticket_id, action, form)
    except ActionError as exc:
        if exc.status == 404:
            raise web.HTTPNotFound(text=exc.message) from None
        return await ticket_page(request, status=exc.status, error=exc.message)
    log.info("console: %s did %s on ticket %s", session.agent, action, ticket_id,
             extra={"agent": session.agent, "kind": action, "ticket": ticket_id})
    stays = ticket.state == ASSIGNED and ticket.assignee == session.agent
    raise web.HTTPSeeOther(f"/tickets/{ticket.id}" if stays else "/")


# -- live events -----------------------------------------------------------------------------

async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent ticket events (JSON of the stream's fields) for the signed-in agent's pages."""
    console = request.app[CONSOLE]
    session = await console.sessions.load(request.cookies.get(SESSION_COOKIE))
    if session is None or session.agent not in console.accounts.passwords:
        raise web.HTTPUnauthorized(text="sign in first")
    queue = await console.feed.subscribe()
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    try:
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_S)
            except TimeoutError:
                await response.write(b": ping\n\n")
                continue
            if item is None:
                break
            event_id, fields = item
            data = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
            await response.write(f"id: {event_id}\ndata: {data}\n\n".encode())
    except ConnectionResetError:
        pass  # the page went away
    finally:
        console.feed.unsubscribe(queue)
    return response


# -- plumbing --------------------------------------------------------------------------------

async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    return web.Response(body=(HERE / "static" / name).read_bytes(), content_type=STATIC[name],
                        headers={"Cache-Control": "max-age=300"})
