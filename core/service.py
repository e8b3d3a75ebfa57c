"""The recommender as its own HTTP service: ``daogou serve recommender``.

One process holds the catalog, the indexes and the encoder; any number of bot processes
call it through ``core.remote.RemoteRecommender``.  Requests run concurrently on the
event loop: the recommender offloads heavy work to threads and micro-batches concurrent
queries itself, so this module only translates HTTP to ``Recommender.search`` and back.

Endpoints:

- ``POST /v1/recommend``: a JSON ``SearchRequest`` (tuples and frozensets as lists;
  absent fields take their defaults; unknown fields are ignored) ->
  ``{"hits": [{"product": {...}, "score": x, "matched_terms": [...],
  "matched_features": [...], "model": "..."}], "took_ms": x}``.  A malformed request gets 400
  ``{"error": "..."}`` naming the field; a body over ``max_body`` bytes 413; more than
  ``max_in_flight`` searches at once 503 (the client then answers from its fallback).
- ``GET /healthz``: 200 ``{"status": "ok", "products": n, "pid": p}`` while the process
  serves (``pid`` tells ``--workers`` processes apart).
- ``GET /readyz``: 200 once started, 503 while shutting down (take it out of rotation).
- ``GET /metrics``: Prometheus text format, from a registry of this app's own, plus the
  process's model counters (``core.metrics.MODEL_METRICS``: hot reloads, registry version).

The wire codec lives in ``core.wire``, shared with the client.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from core.logs import configure, text_ref
from core.metrics import MODEL_METRICS
from core.recommender import Recommender, SearchRequest
from core.wire import (
    RECOMMEND_PATH,
    RequestError,
    decode_json,
    hit_to_dict,
    parse_request,
)

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024  # a request is a few hundred bytes; exclusions of a long session a few KiB
MAX_IN_FLIGHT = 512
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

RecommenderFactory = Callable[[Any], Recommender | Awaitable[Recommender]]


@dataclass
class _State:
    """Per-app state: the recommender, its metrics (a registry of this app's own, so two
    apps in one process, as in tests, never share counters) and the in-flight count."""

    recommender: Recommender
    max_in_flight: int
    max_body: int
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    in_flight: int = 0
    ready: bool = False

    def __post_init__(self) -> None:
        self.requests = Counter(
            "daogou_recommender_http_requests", "HTTP requests answered, by route and status",
            ["route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "daogou_recommend_latency_seconds", "Time to answer a valid recommend request",
            buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.in_flight_gauge = Gauge(
            "daogou_recommend_in_flight", "Recommend requests being answered now", registry=self.registry,
        )
        self.catalog_size = Gauge(
            "daogou_catalog_products", "Products in the catalog served", registry=self.registry,
        )
        self.catalog_size.set_function(lambda: len(self.recommender.catalog))


_STATE = web.AppKey("daogou_recommender_state", _State)


def make_app(
    recommender: Recommender, *, max_body: int = MAX_BODY, max_in_flight: int = MAX_IN_FLIGHT
) -> web.Application:
    """The service around ``recommender`` (which must be safe to call concurrently).

    ``run`` serves it; tests serve it on port 0 with ``aiohttp.test_utils.TestServer``.
    """
    app = web.Application(client_max_size=max_body, middlewares=[_count_requests])
    app[_STATE] = _State(recommender, max_in_flight, max_body)
    app.router.add_post(RECOMMEND_PATH, _recommend)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    app.on_startup.append(_mark_ready)
    app.on_shutdown.append(_mark_stopping)
    return app


async def _mark_ready(app: web.Application) -> None:
    app[_STATE].ready = True


async def _mark_stopping(app: web.Application) -> None:
    app[_STATE].ready = False


@web.middleware
async def _count_requests(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"  # bounded label values
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[_STATE].requests.labels(route, str(status)).inc()


async def _recommend(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"the body is larger than {state.max_body} bytes")
    try:
        search = parse_request(decode_json(body))
    except RequestError as exc:
        return _error(400, str(exc))
    if state.in_flight >= state.max_in_flight:
        # Shed load rather than queue without bound: the client answers from its fallback.
        return _error(503, "overloaded; try again shortly", headers={"Retry-After": "1"})
    state.in_flight += 1
    state.in_flight_gauge.inc()
    started = time.perf_counter()
    try:
        hits = await state.recommender.search(search)
    except Exception:
        log.exception("recommend failed for %r", replace(search, text=text_ref(search.text, log)))
        return _error(500, "the recommender failed on this request")
    finally:
        state.in_flight -= 1
        state.in_flight_gauge.dec()
    took = time.perf_counter() - started
    state.latency.observe(took)
    return web.json_response({"hits": [hit_to_dict(h) for h in hits], "took_ms": round(took * 1000, 3)})


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "products": len(request.app[_STATE].recommender.catalog),
                              "pid": os.getpid()})


async def _readyz(request: web.Request) -> web.Response:
    if request.app[_STATE].ready:
        return web.json_response({"status": "ready"})
    return web.json_response({"status": "stopping"}, status=503)


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[_STATE].registry) + generate_latest(REGISTRY.restricted_registry(MODEL_METRICS))
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _error(status: int, message: str, *, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


# -- the command ------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``daogou serve recommender``; the CLI mounts them and calls ``run``."""
    parser.add_argument("--host", help=f"address to listen on (default: DAOGOU_SERVICE_HOST or {DEFAULT_HOST})")
    parser.add_argument(
        "--port", type=int,
        help=f"port to listen on, 0 for any free one (default: DAOGOU_SERVICE_PORT or {DEFAULT_PORT})",
    )
    parser.add_argument("--catalog", help="catalog directory or JSONL file (default: DAOGOU_CATALOG or the demo)")
    parser.add_argument(
        "--max-in-flight", type=int, default=MAX_IN_FLIGHT,
        help=f"searches at once before answering 503 (default: {MAX_IN_FLIGHT})",
    )
    parser.add_argument(
        "--access-log", action="store_true", help="log every request (off by default: it costs at high rates)"
    )
    parser.add_argument(
        "--workers", type=int, default=1,
        help="processes sharing the port (SO_REUSEPORT); one per core uses them all (default: 1)",
    )
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # set for extra workers


def run(
    args: argparse.Namespace,
    *,
    environ: Mapping[str, str] | None = None,
    recommender_factory: RecommenderFactory | None = None,
) -> int:
    """Serve until SIGTERM or SIGINT, then finish the requests in flight and exit 0.

    ``recommender_factory(settings)`` builds the recommender (default:
    ``core.app.build_recommender``, or the lexical recommender where that does not exist).
    Prints ``listening on http://HOST:PORT`` to stdout once it accepts requests.
    """
    from core.catalog import CatalogError
    from core.settings import Settings, SettingsError

    env = dict(os.environ if environ is None else environ)
    if getattr(args, "catalog", None):
        env["DAOGOU_CATALOG"] = args.catalog
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        print(f"daogou: {exc}", file=sys.stderr)
        return 2
    configure(settings)
    host = args.host or getattr(settings, "service_host", None) or DEFAULT_HOST
    port = args.port if args.port is not None else getattr(settings, "service_port", None)
    port = DEFAULT_PORT if port is None else port
    if not 0 <= port <= 65535:
        print(f"daogou: --port must be from 0 to 65535, got {port}", file=sys.stderr)
        return 2
    workers = getattr(args, "workers", 1)
    if workers < 1 or workers > 64:
        print(f"daogou: --workers must be from 1 to 64, got {workers}", file=sys.stderr)
        return 2
    if workers > 1 and port == 0:
        print("daogou: --workers needs a fixed --port (the workers share it)", file=sys.stderr)
        return 2
    extra = _start_workers(args, host, port, workers - 1, env) if workers > 1 else []
    try:
        return asyncio.run(_serve(
            settings, host, port, recommender_factory=recommender_factory,
            max_in_flight=max(1, getattr(args, "max_in_flight", MAX_IN_FLIGHT)),
            access_log=getattr(args, "access_log", False),
            reuse_port=workers > 1 or getattr(args, "reuse_port", False),
        ))
    except CatalogError as exc:
        print(f"daogou: cannot load the catalog: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C while the recommender was still being built
        return 130
    except OSError as exc:
        print(f"daogou: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        _stop_workers(extra)


def _start_workers(args: argparse.Namespace, host: str, port: int, count: int,
                   env: Mapping[str, str]) -> list[subprocess.Popen[bytes]]:
    """Extra processes serving the same port.  One process keeps one core busy at most (its
    event loop, search and encoder threads share the GIL); the kernel spreads connections
    over every process listening with SO_REUSEPORT.  Each builds its own recommender from
    the same vector cache; each dies with this one (PR_SET_PDEATHSIG on Linux)."""
    command = [sys.executable, "-m", "core.service", "--host", host, "--port", str(port), "--reuse-port",
               "--max-in-flight", str(getattr(args, "max_in_flight", MAX_IN_FLIGHT))]
    if getattr(args, "access_log", False):
        command.append("--access-log")
    return [subprocess.Popen(command, env=dict(env), stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent)
            for _ in range(count)]


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the workers outlive a crashed parent until stopped


def _stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


async def _serve(
    settings: Any,
    host: str,
    port: int,
    *,
    recommender_factory: RecommenderFactory | None,
    max_in_flight: int,
    access_log: bool,
    reuse_port: bool = False,
) -> int:
    factory = recommender_factory or _default_factory()
    started = time.perf_counter()
    built = factory(settings)
    recommender = await built if inspect.isawaitable(built) else built
    start = getattr(recommender, "start", None)
    if start is not None:  # a model router starts watching the model registry
        await start()
    try:
        return await _serve_started(recommender, started, host, port, max_in_flight=max_in_flight,
                                    access_log=access_log, reuse_port=reuse_port)
    finally:
        stop_recommender = getattr(recommender, "stop", None)
        if stop_recommender is not None:
            await stop_recommender()


async def _serve_started(recommender: Recommender, started: float, host: str, port: int, *, max_in_flight: int,
                         access_log: bool, reuse_port: bool) -> int:
    # One search before accepting traffic, so the first customer does not pay for warm-up.
    await recommender.search(SearchRequest(text="warm up", limit=1))
    log.info("recommender ready: %d products in %.1f s", len(recommender.catalog), time.perf_counter() - started)
    # Signals stop the process outright while it builds (nothing is served yet); from here
    # on they let the requests in flight finish first.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    app = make_app(recommender, max_in_flight=max_in_flight)
    runner = web.AppRunner(app, handle_signals=False, access_log=log if access_log else None, shutdown_timeout=10.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
        await site.start()
        for address in runner.addresses:
            print(f"listening on http://{_url_host(address[0])}:{address[1]}", flush=True)
        await stop.wait()
        log.info("stopping: finishing the requests in flight")
    finally:
        await runner.cleanup()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return 0


def _default_factory() -> RecommenderFactory:
    try:
        from core.app import build_recommender  # type: ignore[attr-defined]
    except ImportError:
        return _lexical_recommender
    return build_recommender  # type: ignore[no-any-return]


def _lexical_recommender(settings: Any) -> Recommender:
    from core.catalog import load_catalog
    from core.lexical import LexicalRecommender

    return LexicalRecommender(load_catalog(settings.catalog, currency=settings.currency))


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def main(argv: list[str] | None = None) -> int:
    """``python -m core.service`` until the CLI mounts ``daogou serve recommender``."""
    parser = argparse.ArgumentParser(prog="daogou serve recommender", description="serve the recommender over HTTP")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
