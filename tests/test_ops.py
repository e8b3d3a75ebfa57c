"""/healthz, /readyz and /metrics as every long-running process serves them (core.ops, core.metrics)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import httpx
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from core import metrics
from core.app import App
from core.lexical import LexicalRecommender
from core.messages import Inbound, Reply
from core.ops import ops_routes, serve_ops
from core.outbox import Outbox
from core.redis_conn import connect
from core.remote import RemoteRecommender
from core.service import make_app
from core.settings import Settings
from tests.conftest import Chat


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, handoff_hours="always")


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[list[web.RouteDef]], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def start(routes: list[web.RouteDef]) -> str:
        server = web.Application()
        server.add_routes(routes)
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a /metrics page: (name, labels) -> value."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(page: dict, name: str, **labels: str) -> float:
    return page.get((name, frozenset(labels.items())), 0.0)


async def scrape(url: str) -> dict:
    async with httpx.AsyncClient() as client:
        response = await client.get(url + "/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_health_and_readiness_with_redis_up(serve, app: App) -> None:
    url = await serve(ops_routes(app.redis, app.settings, app.recommender))
    async with httpx.AsyncClient() as client:
        health = await client.get(url + "/healthz")
        ready = await client.get(url + "/readyz")
    assert health.status_code == 200 and health.json()["ok"] is True
    assert ready.status_code == 200 and ready.json() == {"ok": True, "redis": "ok", "recommender": "in process"}


async def test_readiness_fails_naming_redis_when_it_is_away(serve, settings: Settings) -> None:
    away = connect("redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        url = await serve(ops_routes(away, settings))
        async with httpx.AsyncClient() as client:
            health = await client.get(url + "/healthz")
            ready = await client.get(url + "/readyz")
            page = await client.get(url + "/metrics")  # a scrape still answers, with what it knows
    finally:
        await away.aclose()
    assert health.status_code == 200  # alive: restarting would not bring Redis back
    assert ready.status_code == 503 and ready.json()["ok"] is False and ready.json()["redis"] != "ok"
    assert page.status_code == 200 and "daogou_turns_total" in page.text


async def test_readiness_follows_the_shared_recommender_service(serve, app: App, demo_catalog) -> None:
    service = web.AppRunner(make_app(LexicalRecommender(demo_catalog)), access_log=None)
    await service.setup()
    await web.TCPSite(service, "127.0.0.1", 0).start()
    host, port = service.addresses[0][:2]
    remote = RemoteRecommender(f"http://{host}:{port}", demo_catalog, LexicalRecommender(demo_catalog))
    await remote.start()
    try:
        url = await serve(ops_routes(app.redis, app.settings, remote))
        async with httpx.AsyncClient() as client:
            up = await client.get(url + "/readyz")
            await service.cleanup()  # the service goes away
            down = await client.get(url + "/readyz")
    finally:
        await remote.stop()
        await service.cleanup()
    assert up.status_code == 200 and up.json()["recommender"] == "ok"
    # Still ready: the bots answer from the local fallback; the body and the gauge say so.
    assert down.status_code == 200 and down.json()["redis"] == "ok"
    assert down.json()["recommender"].startswith("fallback")
    assert metrics.RECOMMENDER_UP._value.get() == 0


async def test_turns_and_latencies_are_counted_by_platform_and_intent(serve, app: App) -> None:
    url = await serve(ops_routes(app.redis, app.settings, app.recommender))
    before = await scrape(url)
    chat = Chat(app, platform="metricstest")
    await chat.say("hi")
    await chat.say("wireless earbuds under 500")
    await chat.press("cheaper")
    await chat.say("tell me more about 1")
    await app.dialogue.handle(Inbound(platform="metricstest", user_id="alice", text="thanks", message_id="m1-dup"))
    await app.dialogue.handle(Inbound(platform="metricstest", user_id="alice", text="thanks", message_id="m1-dup"))
    after = await scrape(url)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("daogou_turns_total", platform="metricstest", intent="greet") == 1
    assert grew("daogou_turns_total", platform="metricstest", intent="search") == 1
    assert grew("daogou_turns_total", platform="metricstest", intent="refine") == 1
    assert grew("daogou_turns_total", platform="metricstest", intent="details") == 1
    assert grew("daogou_turns_total", platform="metricstest", intent="thanks") == 1
    assert grew("daogou_turns_total", platform="metricstest", intent="duplicate") == 1
    assert grew("daogou_turn_seconds_count", platform="metricstest") == 6
    assert grew("daogou_turn_seconds_sum", platform="metricstest") > 0
    assert grew("daogou_recommend_seconds_count") >= 2  # the search and "cheaper"


async def test_a_redis_outage_counts_as_an_error(app: App, demo_recommender) -> None:
    from core.app import build_app

    broken = build_app(replace(app.settings, redis_url="redis://127.0.0.1:1/0"), recommender=demo_recommender)
    await broken.start()
    before = metrics.ERRORS.labels("redis")._value.get()
    try:
        out = await broken.dialogue.handle(Inbound(platform="metricstest", user_id="bob", text="hi"))
    finally:
        await broken.stop()
    assert out.replies[0].kind == "error"
    assert metrics.ERRORS.labels("redis")._value.get() == before + 1


async def test_handoff_queue_depth_and_wait_come_from_redis(serve, app: App) -> None:
    url = await serve(ops_routes(app.redis, app.settings, app.recommender))
    for user in ("carol", "dave"):
        await Chat(app, user=user, platform="metricstest").say("talk to a person")
    await asyncio.sleep(0.05)
    page = await scrape(url)
    queues = {dict(labels)["queue"]: v for (name, labels), v in page.items()
              if name == "daogou_handoff_queue_depth"}
    assert sum(queues.values()) == 2
    queue = next(q for q, v in queues.items() if v)
    assert value(page, "daogou_handoff_oldest_wait_seconds", queue=queue) > 0

    waited = metrics.HANDOFF_WAIT.collect()[0]
    count_before = next(s.value for s in waited.samples if s.name.endswith("_count"))
    ticket = (await app.tickets.queue(queue=queue))[0]
    await app.tickets.assign(ticket.id, "agent-ann")
    page = await scrape(url)
    assert value(page, "daogou_handoff_queue_depth", queue=queue) == 1
    assert value(page, "daogou_handoff_wait_seconds_count") == count_before + 1


async def test_outbox_lag_and_dead_letters_come_from_redis(serve, app: App) -> None:
    url = await serve(ops_routes(app.redis, app.settings, app.recommender))
    settings = replace(app.settings, outbox_attempts=1)
    outbox = Outbox(app.redis, settings, "metricsbox")
    for n in range(3):
        await outbox.put(f"user{n}", f"user{n}", Reply(f"hello {n}"))
    page = await scrape(url)
    assert value(page, "daogou_outbox_lag", platform="metricsbox") == 3
    assert 0 < value(page, "daogou_outbox_oldest_seconds", platform="metricsbox") < 60
    assert value(page, "daogou_outbox_dead_letters", platform="metricsbox") == 0

    delivered: list[str] = []

    async def deliver(message) -> None:  # type: ignore[no-untyped-def]
        if message.user_id == "user2":
            raise RuntimeError("platform down")
        delivered.append(message.user_id)

    stop = asyncio.Event()
    task = asyncio.create_task(outbox.run(deliver, consumer="metrics-test", stop=stop))
    deadline = time.monotonic() + 10
    while value(page, "daogou_outbox_dead_letters", platform="metricsbox") < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        page = await scrape(url)
    stop.set()
    await task
    assert sorted(delivered) == ["user0", "user1"]
    assert value(page, "daogou_outbox_lag", platform="metricsbox") == 0
    assert value(page, "daogou_outbox_dead_letters", platform="metricsbox") == 1
    assert value(page, "daogou_outbox_delivered_total", platform="metricsbox", result="delivered") == 2
    assert value(page, "daogou_outbox_delivered_total", platform="metricsbox", result="dead") == 1


async def test_the_ops_server_listens_where_the_settings_say(settings: Settings, app: App) -> None:
    runner = await serve_ops(replace(settings, ops_listen="127.0.0.1", ops_port=0),
                             ops_routes(app.redis, app.settings))
    try:
        host, port = runner.addresses[0][:2]
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://{host}:{port}/healthz")).status_code == 200
            assert (await client.get(f"http://{host}:{port}/readyz")).status_code == 200
    finally:
        await runner.cleanup()
