"""The agent console over HTTP: sign-in, CSRF, live events, forms and the JSON API, on real Redis."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from bots.console.auth import Accounts, hash_token
from bots.console.web import build_console
from core.app import App
from core.outbox import Outbox
from core.settings import Settings, SettingsError
from core.tickets import Ticket

PASSWORDS = {"li": "li-secret-pass-1", "wang": "wang-secret-pass-2"}
TOKENS = {"li": secrets.token_urlsafe(32), "wang": secrets.token_urlsafe(32)}
SECRET = "console-test-secret-" + secrets.token_hex(8)
# Cheap parameters: the tests verify many passwords; production hashes use the library's defaults.
HASHES = {name: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(pw) for name, pw in PASSWORDS.items()}


def console_settings(settings: Settings, **changes: object) -> Settings:
    values: dict[str, object] = {
        "console_secret": SECRET,
        "agents": ",".join(f"{name}:{hashed}" for name, hashed in HASHES.items()),  # hashes have commas of their own
        "agent_tokens": "\n".join(f"{name}:{hash_token(token)}" for name, token in TOKENS.items()),
    }
    return replace(settings, **{**values, **changes})  # type: ignore[arg-type]


Clients = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def clients(app: App, settings: Settings) -> AsyncIterator[Clients]:
    """``await clients()``: a browser-like client (own cookie jar) of one console server."""
    server = TestServer(build_console(console_settings(settings), redis=app.redis, tickets=app.tickets,
                                      desk=app.agents))
    made: list[TestClient] = []

    async def make() -> TestClient:
        client = TestClient(server)
        await client.start_server()
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()
    await server.close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


async def sign_in(client: TestClient, name: str, password: str | None = None) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    page = await client.get("/login")
    response = await client.post("/login", data={"csrf": csrf_of(await page.text()), "name": name,
                                                 "password": password or PASSWORDS[name]}, allow_redirects=False)
    assert response.status == 303, await response.text()
    queue = await client.get("/")
    assert queue.status == 200
    return csrf_of(await queue.text())


async def open_ticket(app: App, user: str = "u1", **fields: object) -> Ticket:
    values: dict[str, object] = {"platform": "telegram", "user_id": user, "reason": "customer_request", "lang": "zh",
                                 "summary": {"budget": {"min": None, "max": 500.0, "currency": "CNY"}}}
    values.update(fields)
    ticket, created = await app.tickets.open(**values)  # type: ignore[arg-type]
    assert created
    return ticket


async def outbox_texts(app: App, settings: Settings, platform: str = "telegram") -> list[str]:
    outbox = Outbox(app.redis, settings, platform)
    entries = await app.redis.xrange(outbox.stream)
    return [json.loads(fields[b"reply"])["text"] for _, fields in entries]


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


# -- accounts ----------------------------------------------------------------------------------

def test_accounts_parse_argon2_hashes_with_commas_and_hide_them(settings: Settings) -> None:
    accounts = Accounts.from_settings(console_settings(settings))
    assert accounts.names == ["li", "wang"]
    assert accounts.passwords["li"] == HASHES["li"]
    assert HASHES["li"] not in repr(accounts) and hash_token(TOKENS["li"]) not in repr(accounts)
    assert accounts.agent_for_token(TOKENS["wang"]) == "wang"
    assert accounts.agent_for_token("nope") is None and accounts.agent_for_token("") is None
    with pytest.raises(SettingsError) as caught:
        Accounts.from_settings(replace(settings, agents="li:plaintext-password"))
    assert "plaintext-password" not in str(caught.value)
    assert "plaintext" not in repr(console_settings(settings, agents="li:plaintext"))


# -- sign-in, sessions, CSRF -------------------------------------------------------------------

async def test_sign_in_with_a_good_password_and_not_with_a_bad_one(clients: Clients) -> None:
    client = await clients()
    assert (await client.get("/", allow_redirects=False)).headers["Location"] == "/login"
    page = await client.get("/login")
    csrf = csrf_of(await page.text())
    bad = await client.post("/login", data={"csrf": csrf, "name": "li", "password": "wrong-password"},
                            allow_redirects=False)
    assert bad.status == 401 and "Wrong name or password" in await bad.text()
    unknown = await client.post("/login", data={"csrf": csrf, "name": "nobody", "password": PASSWORDS["li"]},
                                allow_redirects=False)
    assert unknown.status == 401
    assert (await client.get("/", allow_redirects=False)).status == 303

    good = await client.post("/login", data={"csrf": csrf, "name": "li", "password": PASSWORDS["li"]},
                             allow_redirects=False)
    assert good.status == 303
    cookie = good.cookies["daogou_console"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and int(cookie["max-age"]) > 0
    home = await client.get("/")
    assert home.status == 200 and "li" in await home.text()


async def test_a_forged_cookie_and_a_signed_out_session_are_refused(clients: Clients) -> None:
    client = await clients()
    csrf = await sign_in(client, "li")
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))["daogou_console"].value
    sid, exp, sig = cookie.split(".")
    forged = await clients()
    forged.session.cookie_jar.update_cookies({"daogou_console": f"{sid}.{int(exp) + 999}.{sig}"})
    assert (await forged.get("/", allow_redirects=False)).status == 303

    out = await client.post("/logout", data={"csrf": csrf}, allow_redirects=False)
    assert out.status == 303
    replay = await clients()
    replay.session.cookie_jar.update_cookies({"daogou_console": cookie})  # the old cookie, after sign-out
    assert (await replay.get("/", allow_redirects=False)).status == 303


async def test_posts_without_the_csrf_token_are_refused(app: App, clients: Clients) -> None:
    ticket = await open_ticket(app)
    client = await clients()
    csrf = await sign_in(client, "li")
    assert (await client.post(f"/tickets/{ticket.id}/claim", data={})).status == 403
    assert (await client.post(f"/tickets/{ticket.id}/claim", data={"csrf": csrf[:-2] + "xx"})).status == 403
    assert (await client.post("/logout", data={})).status == 403
    fresh = await clients()
    assert (await fresh.post("/login", data={"name": "li", "password": PASSWORDS["li"]})).status == 403
    assert (await app.tickets.get(ticket.id)).state == "pending"


async def test_failed_sign_ins_are_throttled(clients: Clients) -> None:
    client = await clients()
    csrf = csrf_of(await (await client.get("/login")).text())
    for _ in range(5):
        response = await client.post("/login", data={"csrf": csrf, "name": "li", "password": "guess"})
        assert response.status == 401
    blocked = await client.post("/login", data={"csrf": csrf, "name": "li", "password": PASSWORDS["li"]},
                                allow_redirects=False)
    assert blocked.status == 429


async def test_behind_a_proxy_the_throttle_tells_clients_apart(app: App, settings: Settings) -> None:
    # Behind an Ingress every request comes from the proxy: one agent's typos must not lock out the
    # others, and a client cannot dodge the limit by writing its own X-Forwarded-For.
    server = TestServer(build_console(console_settings(settings, console_proxy_hops=1), redis=app.redis,
                                      tickets=app.tickets, desk=app.agents))
    client = TestClient(server)
    await client.start_server()
    try:
        csrf = csrf_of(await (await client.get("/login")).text())

        async def attempt(forwarded: str, password: str = "guess") -> int:
            response = await client.post("/login", data={"csrf": csrf, "name": "li", "password": password},
                                         headers={"X-Forwarded-For": forwarded}, allow_redirects=False)
            return response.status

        for n in range(5):
            assert await attempt(f"{n}.6.6.6, 10.0.0.7") == 401  # the left part is the client's to forge
        assert await attempt("9.9.9.9, 10.0.0.7", PASSWORDS["li"]) == 429
        assert await attempt("10.0.0.8", PASSWORDS["li"]) == 303  # another agent signs in
    finally:
        await client.close()


# -- pages and forms ---------------------------------------------------------------------------

async def test_the_ticket_page_shows_what_the_bot_learned(app: App, clients: Clients, chat) -> None:
    await chat.say("我想买蓝牙耳机，500元以内")
    shown = chat.products()
    await chat.say("转人工")
    ticket = await app.tickets.open_ticket_of("test", "alice")
    assert ticket is not None
    client = await clients()
    await sign_in(client, "li")
    queue = await (await client.get("/")).text()
    assert f"/tickets/{ticket.id}" in queue and "customer_request" in queue
    page = await (await client.get(f"/tickets/{ticket.id}")).text()
    assert "我想买蓝牙耳机" in page and "500" in page and "CNY" in page
    assert shown and all(p.title in page for p in shown)
    assert all(f"{p.price:g}" in page for p in shown)
    assert "您好，我是人工客服" not in page  # no reply box before a claim


async def test_claim_reply_and_resolve_through_the_forms(app: App, settings: Settings, clients: Clients) -> None:
    ticket = await open_ticket(app)
    client = await clients()
    csrf = await sign_in(client, "li")
    claimed = await client.post(f"/tickets/{ticket.id}/claim", data={"csrf": csrf}, allow_redirects=False)
    assert claimed.status == 303 and claimed.headers["Location"] == f"/tickets/{ticket.id}"
    page = await (await client.get(f"/tickets/{ticket.id}")).text()
    assert "您好，我是人工客服" in page  # the canned replies in the ticket's language

    replied = await client.post(f"/tickets/{ticket.id}/reply", data={"csrf": csrf, "text": "这款有货，今天发"},
                                allow_redirects=False)
    assert replied.status == 303
    stored = await app.tickets.get(ticket.id)
    assert stored.state == "assigned" and stored.assignee == "li"
    assert [(m.sender, m.text, m.actor) for m in stored.messages] == [("agent", "这款有货，今天发", "li")]
    assert any("这款有货，今天发" in text for text in await outbox_texts(app, settings))

    await app.tickets.append_message(ticket.id, "customer", "好的谢谢")
    part = await (await client.get(f"/tickets/{ticket.id}/part/messages")).text()
    assert "好的谢谢" in part and "这款有货，今天发" in part

    resolved = await client.post(f"/tickets/{ticket.id}/resolve", data={"csrf": csrf, "note": "done"},
                                 allow_redirects=False)
    assert resolved.status == 303 and resolved.headers["Location"] == "/"
    assert (await app.tickets.get(ticket.id)).state == "resolved"
    assert len(await outbox_texts(app, settings)) == 3  # joined, the reply, back-to-the-bot with rating


async def test_only_the_assignee_may_act_on_an_assigned_ticket(app: App, clients: Clients) -> None:
    ticket = await open_ticket(app)
    li, wang = await clients(), await clients()
    li_csrf, wang_csrf = await sign_in(li, "li"), await sign_in(wang, "wang")
    assert (await li.post(f"/tickets/{ticket.id}/claim", data={"csrf": li_csrf})).status == 200
    taken = await wang.post(f"/tickets/{ticket.id}/claim", data={"csrf": wang_csrf})
    assert taken.status == 409
    for action, data in (("reply", {"text": "hi"}), ("resolve", {}), ("transfer", {"to_agent": "wang"})):
        response = await wang.post(f"/tickets/{ticket.id}/{action}", data={"csrf": wang_csrf, **data})
        assert response.status == 403, action
    stored = await app.tickets.get(ticket.id)
    assert stored.state == "assigned" and stored.assignee == "li" and stored.messages == []

    moved = await li.post(f"/tickets/{ticket.id}/transfer", data={"csrf": li_csrf, "to_agent": "wang"},
                          allow_redirects=False)
    assert moved.status == 303 and (await app.tickets.get(ticket.id)).assignee == "wang"
    assert (await li.post(f"/tickets/{ticket.id}/reply", data={"csrf": li_csrf, "text": "x"})).status == 403


# -- live events -------------------------------------------------------------------------------

async def test_events_stream_a_new_ticket_to_a_signed_in_page(app: App, clients: Clients) -> None:
    anonymous = await clients()
    assert (await anonymous.get("/events")).status == 401
    client = await clients()
    await sign_in(client, "li")
    response = await client.get("/events")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    assert (await asyncio.wait_for(response.content.readline(), 5)).startswith(b"retry:")
    ticket = await open_ticket(app, user="live-1")

    async def next_data() -> dict[str, str]:
        while True:
            line = await response.content.readline()
            if line.startswith(b"data: "):
                return json.loads(line[6:])

    event = await asyncio.wait_for(next_data(), 5)
    assert event["type"] == "created" and event["ticket"] == ticket.id and event["state"] == "pending"
    await app.tickets.append_message(ticket.id, "customer", "还在吗")
    event = await asyncio.wait_for(next_data(), 5)
    assert event["type"] == "message" and event["text"] == "还在吗"
    response.close()


# -- the API -----------------------------------------------------------------------------------

async def test_api_needs_a_valid_token(app: App, clients: Clients) -> None:
    ticket = await open_ticket(app)
    client = await clients()
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKENS['li']}"}):
        listed = await client.get("/api/tickets", headers=headers)
        assert listed.status == 401 and "WWW-Authenticate" in listed.headers
        claim = await client.post(f"/api/tickets/{ticket.id}/claim", headers=headers)
        assert claim.status == 401
    await sign_in(client, "li")  # a console session is no API credential
    assert (await client.get("/api/tickets")).status == 401
    assert (await app.tickets.get(ticket.id)).state == "pending"


async def test_api_claim_reply_transfer_resolve(app: App, settings: Settings, clients: Clients) -> None:
    first = await open_ticket(app, user="a1", priority=0)
    urgent = await open_ticket(app, user="a2", priority=2, queue="complaints")
    client = await clients()
    listed = await (await client.get("/api/tickets?state=pending", headers=bearer("li"))).json()
    assert [t["id"] for t in listed["tickets"]] == [urgent.id, first.id]

    claimed = await client.post(f"/api/tickets/{first.id}/claim", headers=bearer("li"))
    assert claimed.status == 200 and (await claimed.json())["assignee"] == "li"
    again = await client.post(f"/api/tickets/{first.id}/claim", headers=bearer("wang"))
    assert again.status == 409
    theirs = await client.post(f"/api/tickets/{first.id}/reply", json={"text": "hi"}, headers=bearer("wang"))
    assert theirs.status == 403 and "error" in await theirs.json()
    not_claimed = await client.post(f"/api/tickets/{urgent.id}/reply", json={"text": "hi"}, headers=bearer("li"))
    assert not_claimed.status == 409
    empty = await client.post(f"/api/tickets/{first.id}/reply", json={"text": "  "}, headers=bearer("li"))
    assert empty.status == 400
    assert (await client.post("/api/tickets/nope/claim", headers=bearer("li"))).status == 404

    replied = await client.post(f"/api/tickets/{first.id}/reply", json={"text": "Hello from li"},
                                headers=bearer("li"))
    assert replied.status == 200
    assert any("Hello from li" in text for text in await outbox_texts(app, settings))
    detail = await (await client.get(f"/api/tickets/{first.id}", headers=bearer("wang"))).json()
    assert detail["messages"][-1]["text"] == "Hello from li" and detail["summary"]["budget"]["max"] == 500.0

    unknown = await client.post(f"/api/tickets/{first.id}/transfer", json={"to_agent": "zhao"}, headers=bearer("li"))
    assert unknown.status == 400
    moved = await client.post(f"/api/tickets/{first.id}/transfer", json={"to_agent": "wang"}, headers=bearer("li"))
    assert moved.status == 200 and (await moved.json())["assignee"] == "wang"
    assert (await client.post(f"/api/tickets/{first.id}/resolve", headers=bearer("li"))).status == 403
    done = await client.post(f"/api/tickets/{first.id}/resolve", json={"note": "ok"}, headers=bearer("wang"))
    assert done.status == 200 and (await done.json())["state"] == "resolved"
    assert (await client.post(f"/api/tickets/{first.id}/resolve", headers=bearer("wang"))).status == 409

    assert (await client.post(f"/api/tickets/{urgent.id}/claim", headers=bearer("li"))).status == 200
    back = await client.post(f"/api/tickets/{urgent.id}/transfer", json={"to_queue": "after_sales"},
                             headers=bearer("li"))
    assert back.status == 200 and (await back.json())["queue"] == "after_sales"
    back_json = await (await client.get("/api/tickets?queue=after_sales&state=pending", headers=bearer("wang"))).json()
    assert [t["id"] for t in back_json["tickets"]] == [urgent.id]
    bad = await client.post(f"/api/tickets/{urgent.id}/claim", data=b"{not json", headers=bearer("li"))
    assert bad.status == 400


async def test_openapi_describes_the_api(clients: Clients) -> None:
    client = await clients()
    document = await (await client.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    assert {"/api/tickets", "/api/tickets/{id}"} <= set(document["paths"])
    for action in ("claim", "reply", "transfer", "resolve"):
        responses = document["paths"][f"/api/tickets/{{id}}/{action}"]["post"]["responses"]
        assert {"200", "401", "403", "404", "409"} <= set(responses)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_health_and_readiness(clients: Clients) -> None:
    client = await clients()
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["ok"] is True


async def test_no_response_leaks_a_hash_a_token_or_the_secret(app: App, clients: Clients) -> None:
    ticket = await open_ticket(app)
    client = await clients()
    csrf = await sign_in(client, "li")
    secrets_ = [SECRET, *PASSWORDS.values(), *TOKENS.values(), *HASHES.values(),
                *(hash_token(t) for t in TOKENS.values())]
    secrets_ += [h.rsplit("$", 1)[-1] for h in HASHES.values()]  # the digest part alone
    responses = [
        await client.get("/"), await client.get("/part/queue"), await client.get(f"/tickets/{ticket.id}"),
        await client.get(f"/tickets/{ticket.id}/part/status"), await client.get("/login"),
        await client.get("/api/openapi.json"), await client.get("/api/tickets", headers=bearer("li")),
        await client.get(f"/api/tickets/{ticket.id}", headers=bearer("li")),
        await client.post(f"/api/tickets/{ticket.id}/claim", headers=bearer("li")),
        await client.post(f"/tickets/{ticket.id}/reply", data={"csrf": csrf, "text": "hi"}),
        await client.get("/api/tickets", headers={"Authorization": f"Bearer {TOKENS['li']}x"}),
        await client.get("/healthz"), await client.get("/readyz"),
    ]
    for response in responses:
        seen = (await response.text()) + json.dumps(dict(response.headers))
        for secret in secrets_:
            assert secret not in seen, response.url


async def test_cli_makes_a_password_hash_and_a_token(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from bots.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert main(["agents", "hash-password"]) == 0
    hashed = capsys.readouterr().out.strip()
    assert hashed.startswith("$argon2id$") and PasswordHasher().verify(hashed, "a-long-password")

    assert main(["agents", "new-token", "li"]) == 0
    out = capsys.readouterr().out
    token = re.search(r"it is not stored anywhere\): (\S+)", out).group(1)  # type: ignore[union-attr]
    assert f"li:{hash_token(token)}" in out
