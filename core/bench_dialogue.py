"""``daogou bench dialogue``: simulated customers talking to the dialogue manager, with figures.

N customers talk at once, T turns each, every turn waiting for the answer to the previous
one (a closed loop: no think time, so more customers trade latency for throughput).  A turn
is one of four kinds, drawn per customer from ``--mix`` with a seeded RNG: ``recommend`` (a
need built from the catalog's categories, features, brands and prices, in English or
Chinese), ``refine`` ("cheaper", "不要苹果的", or a button the bot just offered),
``details`` ("details_at:2", a card's details button, "compare 1 and 3") and ``smalltalk``
("hi", "谢谢").  Everything is real: ``DialogueManager.handle`` built by ``build_app`` with
the recommender the settings give (hybrid unless DAOGOU_RECOMMENDER says otherwise), Redis at
REDIS_URL or an embedded one.  One Python process uses one core, so the customers are split
across ``--procs`` worker processes, each with its own app, recommender and Redis pool.

Figures: turns/s overall and per kind; latency around ``handle()``; Redis round trips per
turn, counted on the client's connections (one per command, script or pipeline sent and
answered; a new connection's handshake is counted apart) and cross-checked with the server's
``INFO commandstats`` (which also counts the commands a script runs); CPU per turn of the
bench processes (getrusage) and of the Redis server (``INFO cpu``); errors by type.

    daogou bench dialogue --users 1000 --turns 10
    daogou bench dialogue --users 16 --turns 50 --mix recommend=1 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import resource
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from queue import Empty
from typing import Any

import redis as sync_redis
from redis.asyncio import Redis

from core.bench_customers import DEFAULT_MIX, KINDS, Customer, Phrasebook, parse_mix
from core.messages import Inbound
from core.redis_conn import EmbeddedRedis, connect_from
from core.settings import Settings, SettingsError


class RoundTrips:
    """Counts what a client's connections send to Redis and read back.  ``sends`` is round
    trips: one per command, script call or pipeline; ``replies`` one per answer read."""

    def __init__(self) -> None:
        self.sends = 0
        self.replies = 0
        self.connections = 0
        self.handshakes = 0  # round trips of new connections (HELLO, CLIENT SETINFO, ...)

    def snapshot(self) -> dict[str, int]:
        return dict(vars(self))


def counting_connection_class(base: type, counter: RoundTrips) -> type:
    """A subclass of a redis.asyncio connection class that counts into ``counter``."""

    class Counting(base):  # type: ignore[valid-type,misc]
        _handshaking = 0  # depth of connect_check_health calls under way on this connection

        async def _connect(self) -> None:
            counter.connections += 1
            await super()._connect()

        async def connect_check_health(self, *args: Any, **kwargs: Any) -> None:
            # Everything a new connection sends (HELLO, CLIENT SETINFO; twice on a Unix
            # socket, whose _connect runs on_connect itself) is its handshake.
            self._handshaking += 1
            try:
                await super().connect_check_health(*args, **kwargs)
            finally:
                self._handshaking -= 1

        async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            if self._handshaking:
                counter.handshakes += 1
            else:
                counter.sends += 1
            await super().send_packed_command(command, check_health)

        async def read_response(self, *args: Any, **kwargs: Any) -> Any:
            response = await super().read_response(*args, **kwargs)
            if not self._handshaking:
                counter.replies += 1
            return response

    Counting.__name__ = Counting.__qualname__ = f"Counting{base.__name__}"
    return Counting


def counting_client(settings: Settings) -> tuple[Redis, RoundTrips]:
    """The client ``build_app`` would make for ``settings``, with its connections counted.
    A Redis Cluster client has a pool per node and is not counted (its counts stay 0)."""
    client = connect_from(settings)
    counter = RoundTrips()
    pool = getattr(client, "connection_pool", None)
    if pool is not None:
        pool.connection_class = counting_connection_class(pool.connection_class, counter)
    return client, counter


# --- one worker process ---------------------------------------------------------------------


@dataclass
class _Job:
    environ: dict[str, str]
    overrides: dict[str, Any]
    users: list[int]
    turns: int
    warmup: int
    mix: dict[str, float]
    seed: int
    timeout: float


@dataclass
class _Tally:
    latency: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    with_products: Counter[str] = field(default_factory=Counter)
    recommended: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


class _Watchdog:
    """Cancels a customer whose turn runs past ``timeout`` seconds, after printing where the
    turn waits: a hung turn is a finding, and must not hang the bench."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.turns: dict[asyncio.Task[Any], tuple[float, str, Inbound]] = {}
        self.expired: set[asyncio.Task[Any]] = set()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.timeout / 4))
            now = time.perf_counter()
            for task, (started, kind, inbound) in list(self.turns.items()):
                if now - started > self.timeout and task not in self.expired:
                    print(f"daogou bench: a {kind} turn of {inbound.user_key} ({inbound.text or inbound.action!r}) "
                          f"is still running after {self.timeout:g} s; it waits at:\n{_awaiting(task)}",
                          file=sys.stderr, flush=True)
                    for other in asyncio.all_tasks():
                        if other.cancelling() and not other.done() and other not in self.expired:
                            print(f"  a task asked to cancel is still running ({other.get_name()}), at:\n"
                                  f"{_awaiting(other)}", file=sys.stderr, flush=True)
                    self.expired.add(task)
                    task.cancel()


async def _converse(app: Any, customer: Customer, kinds: list[str], tally: _Tally | None, watch: _Watchdog) -> None:
    me = asyncio.current_task()
    assert me is not None
    for kind in kinds:
        inbound = customer.inbound(kind)
        started = time.perf_counter()
        watch.turns[me] = (started, kind, inbound)
        try:
            outcome = await app.dialogue.handle(inbound)
        except asyncio.CancelledError:
            if me not in watch.expired:
                raise
            me.uncancel()
            if tally is not None:
                tally.latency[kind].append(time.perf_counter() - started)
                tally.errors["turn timed out (this customer stopped)"] += 1
            return
        except Exception as exc:  # noqa: BLE001 - handle() must not raise; count it and go on
            if tally is not None:
                tally.latency[kind].append(time.perf_counter() - started)
                tally.errors[f"exception {type(exc).__name__}"] += 1
            continue
        finally:
            watch.turns.pop(me, None)
        elapsed = time.perf_counter() - started
        replies = outcome.replies
        customer.observe(replies)
        if me in watch.expired:  # handle() swallowed the cancellation and finished late
            watch.expired.discard(me)
            me.uncancel()
            if tally is not None:
                tally.errors["turn ran past --turn-timeout and ignored its cancellation"] += 1
        if tally is None:
            continue
        tally.latency[kind].append(elapsed)
        if outcome.duplicate:
            tally.errors["duplicate"] += 1
        for reply in replies:
            if reply.kind == "error":
                tally.errors[f"reply error: {reply.text[:60]}"] += 1
        if any(r.products for r in replies):
            tally.with_products[kind] += 1
        if any(r.kind == "results" and r.products for r in replies):
            tally.recommended[kind] += 1


def _awaiting(task: asyncio.Future[Any]) -> str:
    """Where a stuck task waits: its chain of awaits, outermost first (Task.print_stack
    shows only the outermost frame of a suspended coroutine)."""
    lines = []
    awaited: Any = getattr(task, "get_coro", lambda: None)()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            lines.append(f"  {awaited!r}")
            break
        lines.append(f"  {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return "\n".join(lines)


async def _open_connections(client: Redis, count: int) -> None:
    """Open the connections the run will use, one after another (a burst of hundreds of
    connects times out), as a process that has been serving a while has them."""
    pool = getattr(client, "connection_pool", None)
    if pool is None:
        return
    held = []
    try:
        for _ in range(count):
            held.append(await pool.get_connection())
    finally:
        for connection in held:
            await pool.release(connection)


async def _work(job: _Job, ready: Callable[[], None]) -> dict[str, Any]:
    from core.app import build_app

    settings = replace(Settings.from_env(job.environ), **job.overrides)
    client, counter = counting_client(settings)
    app = build_app(settings, redis=client)
    await app.start()
    watch = _Watchdog(job.timeout)
    watchdog = asyncio.create_task(watch.run())
    try:
        book = Phrasebook(app.recommender.catalog)
        if job.warmup:
            warm = [Customer(f"warm-{os.getpid()}-{i}", random.Random(f"warm:{job.seed}:{i}"), book)
                    for i in range(min(8, job.warmup))]
            per = -(-job.warmup // len(warm))
            await asyncio.gather(*(_converse(app, c, c.plan(job.mix, per), None, watch) for c in warm))
        await _open_connections(client, min(len(job.users), settings.redis_pool))
        customers = [Customer(f"u{i}", random.Random(f"{job.seed}:{i}"), book) for i in job.users]
        plans = [c.plan(job.mix, job.turns) for c in customers]
        await asyncio.to_thread(ready)  # every process loaded and warm; the parent reads INFO
        tally = _Tally()
        cache = _query_cache(app.recommender)
        rounds, usage = counter.snapshot(), resource.getrusage(resource.RUSAGE_SELF)
        started = time.monotonic()
        await asyncio.gather(*(_converse(app, c, p, tally, watch) for c, p in zip(customers, plans)))
        ended = time.monotonic()
        after, usage_after = counter.snapshot(), resource.getrusage(resource.RUSAGE_SELF)
        cache_after = _query_cache(app.recommender)
    finally:
        watchdog.cancel()
        await app.stop()
    return {
        "started": started, "ended": ended,
        "cpu_s": (usage_after.ru_utime - usage.ru_utime) + (usage_after.ru_stime - usage.ru_stime),
        "rounds": {k: after[k] - rounds[k] for k in after},
        "latency": tally.latency, "with_products": dict(tally.with_products),
        "recommended": dict(tally.recommended), "errors": dict(tally.errors),
        "recommender": _describe(app.recommender), "catalog_size": len(app.recommender.catalog),
        "query_cache": {k: cache_after[k] - cache[k] for k in cache},
    }


def _query_cache(recommender: Any) -> dict[str, int]:
    """Query vectors encoded and taken from the encoder's cache so far (0s without one)."""
    stats = getattr(getattr(getattr(recommender, "_dense", None), "encoder", None), "stats", None)
    return {"encoded": getattr(stats, "encoded", 0), "cached": getattr(stats, "cache_hits", 0)}


def _describe(recommender: Any) -> str:
    dense = getattr(recommender, "_dense", None)
    return type(recommender).__name__ + (f" + {type(dense).__name__}" if dense is not None else "")


def _process_main(job: _Job, barrier: Any, results: Any) -> None:
    """A worker process: wait at the barrier twice (ready; go) around the parent's INFO read."""
    def ready() -> None:
        barrier.wait()
        barrier.wait()

    try:
        results.put(asyncio.run(_work(job, ready)))
    except BaseException:  # noqa: BLE001 - the parent reports it
        barrier.abort()
        results.put({"failed": traceback.format_exc()})


# --- the parent: start workers, read the server, aggregate ---------------------------------


def _server_stats(url: str) -> dict[str, Any]:
    """The server's command counts and CPU seconds (one server: REDIS_URL in single mode)."""
    client = sync_redis.Redis.from_url(url)
    try:
        commands = client.info("commandstats")
        cpu = client.info("cpu")
    finally:
        client.close()
    return {"commands": {k.removeprefix("cmdstat_"): v["calls"] for k, v in commands.items()},
            "cpu_s": float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])}


def _percentiles(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {}
    ordered = sorted(seconds)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": round(ordered[-1] * 1000, 2)}


def _run_workers(jobs: list[_Job], url: str) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    if len(jobs) == 1:  # in this process: simpler to profile, no start-up of another interpreter
        box: dict[str, Any] = {}
        result = asyncio.run(_work(jobs[0], lambda: box.update(before=_server_stats(url))))
        return [result], box["before"], _server_stats(url)
    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    barrier = context.Barrier(len(jobs) + 1)
    queue = context.Queue()
    workers = [context.Process(target=_process_main, args=(job, barrier, queue), daemon=True) for job in jobs]
    for worker in workers:
        worker.start()
    results: list[dict[str, Any]] = []
    try:
        try:
            barrier.wait(timeout=900)  # loading a model in every process takes a while on 2 cores
            before = _server_stats(url)
            barrier.wait(timeout=60)
        except threading.BrokenBarrierError:
            raise RuntimeError("a worker failed before the run:\n" + _failure(queue)) from None
        while len(results) < len(jobs):
            try:
                result = queue.get(timeout=5)
            except Empty:
                if any(w.exitcode not in (None, 0) for w in workers) and queue.empty():
                    raise RuntimeError("a worker process died without a result") from None
                continue
            if "failed" in result:
                raise RuntimeError("a worker failed:\n" + result["failed"])
            results.append(result)
        after = _server_stats(url)
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
    return results, before, after


def _failure(queue: Any) -> str:
    try:
        return str(queue.get(timeout=10).get("failed", "no reason given"))
    except Empty:
        return "no reason given"


def measure(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, Any]:
    """Run the bench; return its figures (what ``--json`` prints)."""
    environ = dict(environ)
    base = Settings.from_env(environ)
    mix = parse_mix(args.mix)
    procs = max(1, min(args.procs or os.cpu_count() or 1, args.users))
    overrides: dict[str, Any] = {"key_prefix": f"{base.key_prefix}-bench-{uuid.uuid4().hex[:8]}"}
    if args.catalog:
        overrides["catalog"] = args.catalog
    if args.recommender_url:
        overrides["recommender_url"] = args.recommender_url
    load = os.getloadavg()
    embedded = None if base.redis_url else EmbeddedRedis().start()
    url = base.redis_url or embedded.url  # type: ignore[union-attr]
    overrides["redis_url"] = url
    try:
        jobs = [_Job(environ, overrides, list(range(k, args.users, procs)), args.turns, args.warmup, mix, args.seed,
                     args.turn_timeout)
                for k in range(procs)]
        results, before, after = _run_workers(jobs, url)
        if embedded is None:
            _delete_keys(url, overrides["key_prefix"])
    finally:
        if embedded is not None:
            embedded.close()
    return _aggregate(args, mix, procs, results, before, after, load, base, url, embedded is not None)


def _delete_keys(url: str, prefix: str) -> None:
    client = sync_redis.Redis.from_url(url)
    try:
        batch = []
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            batch.append(key)
            if len(batch) == 500:
                client.unlink(*batch)
                batch = []
        if batch:
            client.unlink(*batch)
    finally:
        client.close()


def _aggregate(args: argparse.Namespace, mix: dict[str, float], procs: int, results: list[dict[str, Any]],
               before: dict[str, Any], after: dict[str, Any], load: tuple[float, ...], base: Settings,
               url: str, embedded: bool) -> dict[str, Any]:
    seconds = max(r["ended"] for r in results) - min(r["started"] for r in results)
    latency: dict[str, list[float]] = {k: [] for k in KINDS}
    errors: Counter[str] = Counter()
    with_products: Counter[str] = Counter()
    recommended: Counter[str] = Counter()
    rounds: Counter[str] = Counter()
    cache: Counter[str] = Counter()
    for r in results:
        cache.update(r["query_cache"])
        for kind, values in r["latency"].items():
            latency[kind].extend(values)
        errors.update(r["errors"])
        with_products.update(r["with_products"])
        recommended.update(r["recommended"])
        rounds.update(r["rounds"])
    turns = sum(len(v) for v in latency.values())
    per_turn = 1 / turns if turns else 0.0
    commands = {name: calls - before["commands"].get(name, 0) for name, calls in after["commands"].items()}
    commands["info"] = commands.get("info", 0) - 3  # the bench's own INFO reads between the two snapshots
    commands = {k: v for k, v in commands.items() if v > 0}
    kinds = {
        kind: {"turns": len(latency[kind]), "turns_per_s": round(len(latency[kind]) / seconds, 1),
               "with_products": with_products[kind], "recommended": recommended[kind],
               "latency_ms": _percentiles(latency[kind])}
        for kind in KINDS if latency[kind]
    }
    return {
        "users": args.users, "turns_per_user": args.turns, "warmup_per_process": args.warmup, "procs": procs,
        "seed": args.seed, "mix": {k: round(v, 3) for k, v in mix.items() if v},
        "recommender": (f"remote {args.recommender_url or base.recommender_url}"
                        if args.recommender_url or base.recommender_url else base.recommender),
        "recommender_class": results[0]["recommender"],
        "catalog": args.catalog or base.catalog or "demo", "catalog_size": results[0]["catalog_size"],
        "redis": "embedded" if embedded else url.split("@")[-1],
        "machine": {"cpus": os.cpu_count(), "load_average_before": [round(x, 2) for x in load]},
        "turns": turns, "seconds": round(seconds, 3), "turns_per_s": round(turns / seconds, 1) if seconds else 0.0,
        "with_products": sum(with_products.values()), "recommended": sum(recommended.values()),
        "latency_ms": _percentiles([x for v in latency.values() for x in v]),
        "kinds": kinds,
        "redis_round_trips": {
            "per_turn": round(rounds["sends"] * per_turn, 2), "replies_per_turn": round(rounds["replies"] * per_turn, 2),
            "total": rounds["sends"], "connections_opened": rounds["connections"],
            "handshake_round_trips": rounds["handshakes"],
        },
        "redis_commands": {
            "per_turn": round(sum(commands.values()) * per_turn, 2),
            "by_command_per_turn": {k: round(v * per_turn, 3) for k, v in sorted(commands.items(), key=lambda x: -x[1])},
        },
        "cpu_ms_per_turn": {"bench": round(sum(r["cpu_s"] for r in results) * 1000 * per_turn, 3),
                            "redis": round((after["cpu_s"] - before["cpu_s"]) * 1000 * per_turn, 3)},
        "query_vectors": dict(cache),
        "errors": dict(errors.most_common()), "error_count": sum(errors.values()),
    }


def report(figures: dict[str, Any]) -> str:
    f = figures
    mix = " ".join(f"{k}={v:g}" for k, v in f["mix"].items())
    lines = [
        (f"daogou bench dialogue: {f['users']} users x {f['turns_per_user']} turns, {f['procs']} process(es), "
         f"seed {f['seed']}, mix {mix}"),
        (f"recommender {f['recommender']} ({f['recommender_class']}), catalog {f['catalog']} "
         f"({f['catalog_size']} products), redis {f['redis']}"),
        (f"machine: {f['machine']['cpus']} CPUs, load average before the run "
         f"{' '.join(str(x) for x in f['machine']['load_average_before'])}"),
        (f"{f['turns']} turns in {f['seconds']:.2f} s = {f['turns_per_s']:.1f} turns/s; "
         f"{f['recommended']} answered with a result list, {f['with_products']} showed products"),
        (f"{'kind':10} {'turns':>6} {'turns/s':>8} {'results':>8} {'products':>8} "
         f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"),
    ]
    rows = [*f["kinds"].items(), ("all", {"turns": f["turns"], "turns_per_s": f["turns_per_s"],
                                          "recommended": f["recommended"], "with_products": f["with_products"],
                                          "latency_ms": f["latency_ms"]})]
    for kind, k in rows:
        ms = k["latency_ms"]
        lines.append(f"{kind:10} {k['turns']:>6} {k['turns_per_s']:>8.1f} {k['recommended']:>8} "
                     f"{k['with_products']:>8} {ms['p50']:>8.1f} {ms['p95']:>8.1f} {ms['p99']:>8.1f} {ms['max']:>8.1f}")
    rt, rc = f["redis_round_trips"], f["redis_commands"]
    top = ", ".join(f"{k} {v:g}" for k, v in list(rc["by_command_per_turn"].items())[:10])
    lines += [
        (f"redis round trips/turn: {rt['per_turn']:.2f} ({rt['replies_per_turn']:.2f} replies/turn; "
         f"{rt['connections_opened']} connections opened, their {rt['handshake_round_trips']} handshake "
         f"round trips not counted)"),
        f"redis commands/turn (INFO commandstats, script bodies included): {rc['per_turn']:.2f}: {top}",
        (f"query vectors: {f['query_vectors'].get('encoded', 0)} encoded, "
         f"{f['query_vectors'].get('cached', 0)} from the cache (DAOGOU_QUERY_CACHE)"),
        (f"cpu ms/turn: bench processes {f['cpu_ms_per_turn']['bench']:.2f}, "
         f"redis server {f['cpu_ms_per_turn']['redis']:.2f}"),
        f"errors: {f['error_count']}" + "".join(f"\n  {n:6} {name}" for name, n in f["errors"].items()),
    ]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, default=100, help="customers talking at once (default 100)")
    parser.add_argument("--turns", type=int, default=10, help="turns per customer (default 10)")
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"kinds of turn and their weights (default {DEFAULT_MIX}); "
                        "kinds not named are not sent, e.g. smalltalk=1")
    parser.add_argument("--procs", type=int, default=None, help="worker processes (default: the CPU count)")
    parser.add_argument("--catalog", help="catalog directory or JSONL file (default: DAOGOU_CATALOG or the demo)")
    parser.add_argument("--recommender-url", help="the shared recommender service (default: in-process)")
    parser.add_argument("--warmup", type=int, default=40, help="turns per process before measuring (default 40)")
    parser.add_argument("--turn-timeout", type=float, default=60.0,
                        help="a turn still running after this many seconds is an error; its customer stops "
                        "(default 60)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the customers' choices (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")


def run(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    import logging

    if args.users < 1 or args.turns < 1 or args.warmup < 0:
        print("daogou: --users and --turns must be at least 1, --warmup at least 0", file=sys.stderr)
        return 2
    environ = os.environ if environ is None else environ
    try:
        parse_mix(args.mix)
        Settings.from_env(environ)
    except (SettingsError, ValueError) as exc:
        print(f"daogou: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    figures = measure(args, environ)
    print(json.dumps(figures, ensure_ascii=False) if args.json else report(figures), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="daogou bench dialogue", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
