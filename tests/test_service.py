"""The recommender service (core.service) and its client (core.remote), over real HTTP on
127.0.0.1: the client answers exactly as the in-process recommender does, and answers
from its fallback whenever the service cannot."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from core.catalog import Catalog, Product
from core.lexical import LexicalRecommender
from core.recommender import Hit, SearchRequest
from core.remote import RemoteRecommender
from core.service import make_app
from core.wire import parse_request, request_to_dict

ROOT = Path(__file__).resolve().parents[1]


def _product(pid: str, title: str, price: float, brand: str, category: str, **extra: object) -> Product:
    return Product.from_dict({"id": pid, "title": title, "price": price, "brand": brand, "category": category, **extra})


CATALOG = Catalog([
    _product("e1", "Sony WF-1000XM5 Noise Cancelling Wireless Earbuds", 1999, "Sony", "Audio > Earbuds",
             title_zh="索尼降噪蓝牙耳机", description="waterproof IPX4 earbuds"),
    _product("e2", "Huawei FreeBuds Pro 3 Wireless Earbuds", 1299, "Huawei", "Audio > Earbuds",
             title_zh="华为无线耳机"),
    _product("e3", "Xiaomi Redmi Buds 5 Bluetooth Earbuds", 199, "Xiaomi", "Audio > Earbuds",
             title_zh="小米蓝牙耳机", description="waterproof sport earbuds"),
    _product("e4", "JBL Tune Flex Waterproof Running Earbuds", 499, "JBL", "Audio > Earbuds"),
    _product("e5", "Anker Soundcore Life Earbuds", 259, "Anker", "Audio > Earbuds", stock=0),
    _product("h1", "Sony WH-1000XM5 Over-Ear Headphones", 2499, "Sony", "Audio > Headphones",
             title_zh="索尼头戴式降噪耳机"),
    _product("h2", "Bose QuietComfort Headphones", 2299, "Bose", "Audio > Headphones"),
    _product("s1", "Nike Pegasus 40 Running Shoes", 899, "Nike", "Sports > Shoes", title_zh="耐克跑步鞋"),
    _product("s2", "Li-Ning Red Rabbit Running Shoes", 399, "Li-Ning", "Sports > Shoes", title_zh="李宁跑鞋"),
    _product("s3", "Adidas Ultraboost Light Running Shoes", 1299, "Adidas", "Sports > Shoes"),
    _product("b1", "Thermos Vacuum Bottle 500ml", 159, "Thermos", "Home > Kitchen", title_zh="膳魔师保温杯"),
    _product("b2", "Xiaomi Smart Rice Cooker", 399, "Xiaomi", "Home > Kitchen", title_zh="小米智能电饭煲"),
])
LEXICAL = LexicalRecommender(CATALOG)

REQUESTS = [
    SearchRequest(text="wireless earbuds"),
    SearchRequest(text="蓝牙耳机", lang="zh"),
    SearchRequest(text="earbuds", price_max=600, limit=3),
    SearchRequest(text="earbuds", price_min=300, price_max=2000.5, brands=("Sony", "华为")),
    SearchRequest(text="wireless earbuds", exclude_brands=("索尼",), exclude_ids=frozenset({"e2"})),
    SearchRequest(similar_to="s1"),
    SearchRequest(category="Audio", features=("waterproof",), liked=("e3",), disliked=("e1",)),
    SearchRequest(text="earbuds", in_stock_only=False, diverse=False, limit=10),
]


class Stub:
    """A recommender whose search is a coroutine the test supplies; counts its calls."""

    def __init__(self, search: Callable[[SearchRequest], Awaitable[list[Hit]]]) -> None:
        self._search = search
        self.calls = 0

    @property
    def catalog(self) -> Catalog:
        return CATALOG

    async def search(self, request: SearchRequest) -> list[Hit]:
        self.calls += 1
        return await self._search(request)


class Server:
    """An app served on 127.0.0.1, port 0, the way ``daogou serve recommender`` serves it."""

    def __init__(self, app: web.Application) -> None:
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        self.url = ""

    async def start(self) -> Server:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        await self.runner.cleanup()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[web.Application], Awaitable[Server]]]:
    servers: list[Server] = []

    async def start(app: web.Application) -> Server:
        servers.append(await Server(app).start())
        return servers[-1]

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def remotes() -> AsyncIterator[Callable[..., Awaitable[RemoteRecommender]]]:
    clients: list[RemoteRecommender] = []

    async def make(url: str, **options: object) -> RemoteRecommender:
        remote = RemoteRecommender(url, CATALOG, LEXICAL, **options)  # type: ignore[arg-type]
        await remote.start()
        clients.append(remote)
        return remote

    yield make
    for remote in clients:
        await remote.stop()


@pytest.fixture
async def service(serve: Callable[[web.Application], Awaitable[Server]]) -> Server:
    return await serve(make_app(LEXICAL))


@pytest.fixture
async def http(service: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service.url, trust_env=False) as client:
        yield client


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name == "core.remote"]


# -- same answers as in process ---------------------------------------------------------


def test_wire_format_round_trips_every_field() -> None:
    request = SearchRequest(
        text="耳机", lang="zh", category="Audio", price_min=1, price_max=2.5, brands=("Sony",),
        exclude_brands=("Bose",), exclude_ids=frozenset({"a", "b"}), features=("waterproof",),
        similar_to="e1", liked=("e2",), disliked=("e3",), in_stock_only=False, limit=100, diverse=False,
    )
    assert parse_request(json.loads(json.dumps(request_to_dict(request)))) == request
    assert parse_request({}) == SearchRequest()


@pytest.mark.parametrize("request_", REQUESTS, ids=range(len(REQUESTS)))
async def test_remote_answers_as_in_process(
    request_: SearchRequest, service: Server, remotes, caplog: pytest.LogCaptureFixture
) -> None:
    remote = await remotes(service.url)
    expected = await LEXICAL.search(request_)
    assert expected, "each request should find something, or equality proves little"
    hits = await remote.search(request_)
    assert hits == expected
    assert all(hit.product is CATALOG.get(hit.product.id) for hit in hits)
    assert _warnings(caplog) == []  # answered by the service, not the fallback


async def test_fifty_concurrent_requests_run_at_once(serve, remotes, caplog: pytest.LogCaptureFixture) -> None:
    arrived = 0
    everyone = asyncio.Event()

    async def search(request: SearchRequest) -> list[Hit]:
        # Answers only once all 50 are in flight: a service that ran them one by one
        # would time out here and the client would fall back (and warn).
        nonlocal arrived
        arrived += 1
        if arrived == 50:
            everyone.set()
        async with asyncio.timeout(5):
            await everyone.wait()
        return await LEXICAL.search(request)

    server = await serve(make_app(Stub(search)))
    remote = await remotes(server.url, timeout=10.0)
    requests = [REQUESTS[i % len(REQUESTS)] for i in range(50)]
    answers = await asyncio.gather(*(remote.search(r) for r in requests))
    assert answers == [await LEXICAL.search(r) for r in requests]
    assert _warnings(caplog) == []


# -- the server's own checks ------------------------------------------------------------


@pytest.mark.parametrize(
    "body, expected",
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"\xff\xfe", "UTF-8"),
        (b"[1, 2]", "JSON object"),
        (b'{"price_max": NaN}', "NaN"),
        (b'{"limit": 0}', "limit"),
        (b'{"limit": 101}', "limit"),
        (b'{"limit": "5"}', "limit"),
        (b'{"limit": true}', "limit"),
        (b'{"limit": 2.5}', "limit"),
        (b'{"text": 5}', "text"),
        (b'{"text": "' + b"a" * 5000 + b'"}', "text"),
        (b'{"lang": ""}', "lang"),
        (b'{"brands": "Sony"}', "brands"),
        (b'{"exclude_ids": [1, 2]}', "exclude_ids"),
        (b'{"price_max": "cheap"}', "price_max"),
        (b'{"price_min": false}', "price_min"),
        (b'{"in_stock_only": "yes"}', "in_stock_only"),
        (b'{"similar_to": 7}', "similar_to"),
    ],
)
async def test_bad_requests_get_400_naming_the_problem(http: httpx.AsyncClient, body: bytes, expected: str) -> None:
    response = await http.post("/v1/recommend", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert expected in response.json()["error"]


async def test_oversized_body_is_refused(http: httpx.AsyncClient) -> None:
    body = json.dumps({"text": "earbuds", "exclude_ids": ["x" * 400] * 900}).encode()
    response = await http.post("/v1/recommend", content=body)
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]


async def test_unknown_fields_are_ignored_and_nulls_mean_defaults(http: httpx.AsyncClient) -> None:
    body = {"text": "running shoes", "colour": "red", "category": None, "price_max": None, "v": 2}
    response = await http.post("/v1/recommend", json=body)
    assert response.status_code == 200
    data = response.json()
    expected = await LEXICAL.search(SearchRequest(text="running shoes"))
    assert [h["product"]["id"] for h in data["hits"]] == [h.product.id for h in expected]
    assert data["hits"][0]["product"] == expected[0].product.to_dict()
    assert data["took_ms"] >= 0


async def test_health_readiness_and_metrics(service: Server, http: httpx.AsyncClient, serve) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok", "products": len(CATALOG), "pid": os.getpid()}
    ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert (await http.post("/v1/recommend", json={"text": "earbuds"})).status_code == 200
    assert (await http.post("/v1/recommend", json={"limit": 0})).status_code == 400
    metrics = await http.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'daogou_recommender_http_requests_total{route="/v1/recommend",status="200"} 1.0' in text
    assert 'daogou_recommender_http_requests_total{route="/v1/recommend",status="400"} 1.0' in text
    assert 'daogou_recommender_http_requests_total{route="/healthz",status="200"} 1.0' in text
    assert "daogou_recommend_latency_seconds_count 1.0" in text  # valid requests only
    assert "daogou_recommend_in_flight 0.0" in text
    assert f"daogou_catalog_products {float(len(CATALOG))}" in text
    # A second app in the same process keeps its own registry.
    other = await serve(make_app(LEXICAL))
    async with httpx.AsyncClient(trust_env=False) as client:
        fresh = (await client.get(other.url + "/metrics")).text
    assert 'route="/v1/recommend"' not in fresh


async def test_overload_is_refused_with_503(serve) -> None:
    release = asyncio.Event()

    async def search(request: SearchRequest) -> list[Hit]:
        await release.wait()
        return []

    server = await serve(make_app(Stub(search), max_in_flight=1))
    async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
        first = asyncio.create_task(client.post("/v1/recommend", json={}))
        while "daogou_recommend_in_flight 1.0" not in (await client.get("/metrics")).text:
            await asyncio.sleep(0.01)
        second = await client.post("/v1/recommend", json={})
        release.set()
        assert second.status_code == 503 and "overloaded" in second.json()["error"]
        assert (await first).status_code == 200


# -- the client's fallbacks -------------------------------------------------------------


async def test_service_down_falls_back_and_warns(serve, remotes, caplog: pytest.LogCaptureFixture) -> None:
    server = await serve(make_app(LEXICAL))
    await server.stop()  # nothing listens on its port any more
    remote = await remotes(server.url)
    request = SearchRequest(text="running shoes", price_max=1000)
    assert await remote.search(request) == await LEXICAL.search(request)
    assert any("answering from the local recommender" in w for w in _warnings(caplog))


async def test_many_failing_at_once_warn_once_each_until_the_circuit_opens(
    serve, remotes, caplog: pytest.LogCaptureFixture
) -> None:
    server = await serve(make_app(LEXICAL))
    await server.stop()
    remote = await remotes(server.url, failure_threshold=3)
    request = SearchRequest(text="earbuds")
    answers = await asyncio.gather(*(remote.search(request) for _ in range(20)))
    assert answers == [await LEXICAL.search(request)] * 20
    assert remote.circuit_open
    assert len(_warnings(caplog)) == 3  # two failures, then the opening; not twenty lines


async def test_slow_service_falls_back_within_the_timeout(serve, remotes, caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()

    async def search(request: SearchRequest) -> list[Hit]:
        await release.wait()  # far past the client's timeout; released at the end
        return []

    server = await serve(make_app(Stub(search)))
    remote = await remotes(server.url, timeout=0.3)
    request = SearchRequest(text="earbuds")
    started = time.monotonic()
    hits = await remote.search(request)
    elapsed = time.monotonic() - started
    release.set()
    assert hits == await LEXICAL.search(request)
    assert elapsed < 2.0  # the timeout (0.3 s) and the fallback, not the stub's wait
    assert any("timed out" in w for w in _warnings(caplog))


@pytest.mark.parametrize(
    "status, body",
    [
        (200, "not json"),
        (200, "[]"),
        (200, '{"hits": [{"product": {}}]}'),
        (200, '{"hits": [{"product": {"id": "e1"}, "score": "high"}]}'),
        (200, '{"hits": [{"product": {"id": "e1"}, "score": 1, "matched_terms": [3]}]}'),
        (502, '{"error": "bad gateway"}'),
    ],
)
async def test_malformed_answers_fall_back(
    status: int, body: str, serve, remotes, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, text=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/recommend", handler)
    server = await serve(app)
    remote = await remotes(server.url)
    request = SearchRequest(text="vacuum bottle")
    assert await remote.search(request) == await LEXICAL.search(request)
    assert _warnings(caplog)


async def test_circuit_breaker_skips_the_service_then_tries_again(
    serve, remotes, caplog: pytest.LogCaptureFixture
) -> None:
    healthy = False

    async def search(request: SearchRequest) -> list[Hit]:
        if not healthy:
            raise RuntimeError("index corrupted")
        return await LEXICAL.search(request)

    stub = Stub(search)
    now = [1000.0]
    server = await serve(make_app(stub))
    remote = await remotes(server.url, failure_threshold=2, cooldown=10.0, clock=lambda: now[0])
    request = SearchRequest(text="earbuds")
    expected = await LEXICAL.search(request)
    for _ in range(5):
        assert await remote.search(request) == expected
    assert stub.calls == 2  # two failures opened the circuit; three answered locally at once
    assert remote.circuit_open
    assert any("failed 2 times in a row" in w for w in _warnings(caplog))

    now[0] += 9.0
    assert await remote.search(request) == expected
    assert stub.calls == 2  # still cooling down

    now[0] += 2.0  # cool-down over: one probe at a time, the rest answer locally
    answers = await asyncio.gather(*(remote.search(request) for _ in range(5)))
    assert answers == [expected] * 5
    assert stub.calls == 3
    assert remote.circuit_open  # the probe failed: another cool-down

    healthy = True
    now[0] += 11.0
    assert await remote.search(request) == expected
    assert stub.calls == 4
    assert not remote.circuit_open
    assert await remote.search(request) == expected
    assert stub.calls == 5  # closed again: every request asks the service


async def test_hits_the_local_catalog_does_not_offer_are_dropped(
    serve, remotes, caplog: pytest.LogCaptureFixture
) -> None:
    ghost = _product("ghost", "Phantom Earbuds", 99, "Nobody", "Audio > Earbuds")
    stale = CATALOG.get("h1")  # the service's catalog has it cheaper than ours does
    assert stale is not None

    async def search(request: SearchRequest) -> list[Hit]:
        return [
            Hit(ghost, 3.0, ("earbuds",)),
            Hit(Product.from_dict({**stale.to_dict(), "price": 99}), 2.5),
            Hit(CATALOG.by_id["e3"], 2.0, ("earbuds",), ("waterproof",)),
        ]

    server = await serve(make_app(Stub(search)))
    remote = await remotes(server.url)
    hits = await remote.search(SearchRequest(text="earbuds", price_max=500))
    assert hits == [Hit(CATALOG.by_id["e3"], 2.0, ("earbuds",), ("waterproof",))]
    assert hits[0].product is CATALOG.by_id["e3"]
    assert any("dropped 2 hit(s)" in w and "ghost" in w for w in _warnings(caplog))
    assert not remote.circuit_open


async def test_search_before_start_is_a_programming_error() -> None:
    remote = RemoteRecommender("http://127.0.0.1:9", CATALOG, LEXICAL)
    with pytest.raises(RuntimeError, match="start"):
        await remote.search(SearchRequest(text="earbuds"))


# -- the command ------------------------------------------------------------------------


@pytest.mark.slow
def test_command_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    catalog = tmp_path / "products.jsonl"
    catalog.write_text("\n".join(json.dumps(p.to_dict()) for p in CATALOG.products), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAOGOU_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.service", "--host", "127.0.0.1", "--port", "0", "--catalog", str(catalog)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line + (proc.stderr.read() if proc.stderr else "")
        url = line.split()[-1]
        with httpx.Client(base_url=url, trust_env=False) as client:
            assert client.get("/healthz").json() == {"status": "ok", "products": len(CATALOG), "pid": proc.pid}
            hits = client.post("/v1/recommend", json={"text": "running shoes", "limit": 2}).json()["hits"]
            assert [h["product"]["id"] for h in hits] == [
                h.product.id for h in LEXICAL.search_sync(SearchRequest(text="running shoes", limit=2))
            ]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.slow
def test_workers_share_the_port_and_stop_together(tmp_path: Path) -> None:
    import socket

    import psutil

    catalog = tmp_path / "products.jsonl"
    catalog.write_text("\n".join(json.dumps(p.to_dict()) for p in CATALOG.products), encoding="utf-8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAOGOU_")}
    env["DAOGOU_RECOMMENDER"] = "lexical"
    assert subprocess.run([sys.executable, "-m", "core.service", "--port", "0", "--workers", "2"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60).returncode == 2  # needs a port
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.service", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
         "--catalog", str(catalog)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(f"listening on http://127.0.0.1:{port}"), line
        workers = psutil.Process(proc.pid).children()
        assert len(workers) == 1
        pids: set[int] = set()
        deadline = time.monotonic() + 30
        while len(pids) < 2 and time.monotonic() < deadline:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:  # a new connection
                try:
                    pids.add(client.get("/healthz").json()["pid"])
                except httpx.TransportError:
                    pass
        assert pids == {proc.pid, workers[0].pid}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not workers[0].is_running() or workers[0].status() == psutil.STATUS_ZOMBIE
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
