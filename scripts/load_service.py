"""Load on the recommender service: calls/s and latency from many concurrent clients.

    .venv/bin/python scripts/load_service.py [--catalog PATH | --corpus corpus.jsonl]
        [--queries queries.jsonl] [--url http://127.0.0.1:8765]
        [--concurrency 16] [--duration 10] [--max-calls 100000] [--rate R]

Without ``--url`` it starts ``python -m core.service`` on 127.0.0.1 (a port of its own)
with the catalog given (default: the demo), waits until it listens, and stops it with
SIGTERM at the end.  ``--corpus`` serves a BEIR corpus (``id``, ``title``) as products
of price 0, for measuring only.  Queries are a bilingual shopping mix with filters,
exclusions, likes and "more like this"; ``--queries`` (BEIR ``queries.jsonl``) supplies
the texts instead.

Closed loop by default: ``--concurrency`` clients each send the next call as soon as the
last is answered, which finds the throughput at that concurrency.  ``--rate R`` sends R
calls/s whatever the answers do (open loop, at most ``--concurrency`` in flight; a call
that finds them all busy is counted as shed), which shows the latency at a given load.
All calls share one aiohttp client session, as a bot process's ``RemoteRecommender`` does.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.catalog import load_catalog  # noqa: E402
from core.recommender import SearchRequest  # noqa: E402
from core.wire import request_to_dict  # noqa: E402

MAX_DURATION = 600.0
MAX_CONCURRENCY = 1000
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

_TEXTS = [
    "蓝牙耳机", "我想买一款防水的蓝牙耳机", "降噪耳机", "跑鞋", "轻便跑步鞋", "保温杯", "智能电饭煲",
    "儿童积木", "双肩包", "智能手表 长续航", "适合运动的耳机", "送女朋友的礼物", "wireless earbuds",
    "noise cancelling headphones", "running shoes", "waterproof speaker", "smart watch",
    "laptop backpack", "rice cooker", "vacuum bottle 500ml", "moisturizing cream", "sony",
    "华为手机", "xiaomi", "lego", "breathable t-shirt", "quiet", "portable bluetooth speaker",
    "cheap earbuds for the gym", "headphones for kids",
]


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)  # seconds, successful calls
    server_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    shed: int = 0
    empty: int = 0

    def count(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


def make_requests(
    texts: Sequence[str], ids: Sequence[str], categories: Sequence[str], count: int, seed: int = 11
) -> list[SearchRequest]:
    """A shopping mix: plain searches, budgets, brands left out, category browsing, "more
    like this", and searches late in a session (likes, dislikes, products already shown)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        roll = rng.random()
        text = rng.choice(texts)
        lang = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"
        if roll < 0.45 or not ids:
            out.append(SearchRequest(text=text, lang=lang))
        elif roll < 0.65:
            out.append(SearchRequest(text=text, lang=lang, price_max=rng.choice([100.0, 300.0, 500.0, 1500.0])))
        elif roll < 0.72 and categories:
            out.append(SearchRequest(category=rng.choice(categories), price_max=rng.choice([None, 500.0])))
        elif roll < 0.82:
            shown = frozenset(rng.sample(ids, min(3, len(ids))))
            out.append(SearchRequest(similar_to=rng.choice(ids), exclude_ids=shown))
        else:
            shown = frozenset(rng.sample(ids, min(10, len(ids))))
            out.append(SearchRequest(
                text=text, lang=lang, exclude_brands=("Sony",), exclude_ids=shown,
                liked=(rng.choice(ids),), disliked=(rng.choice(ids),),
            ))
    return out


async def _call(client: aiohttp.ClientSession, body: dict, results: Results) -> None:
    started = time.perf_counter()
    try:
        async with client.post("/v1/recommend", json=body) as response:
            status = response.status
            data = await response.json() if status == 200 else None
    except (aiohttp.ClientError, TimeoutError) as exc:
        results.count(type(exc).__name__)
        return
    results.count(str(status))
    if data is not None:
        results.latencies.append(time.perf_counter() - started)
        results.server_ms.append(data["took_ms"])
        results.empty += not data["hits"]


async def load(
    url: str, bodies: Sequence[dict], *, concurrency: int, duration: float, max_calls: int, rate: float | None
) -> tuple[Results, float]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30.0, sock_connect=5.0)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as client:
        # Warm up: open the connections and let the service settle.
        await asyncio.gather(*(_call(client, bodies[i % len(bodies)], Results()) for i in range(concurrency * 2)))
        results = Results()
        sent = 0
        started = time.perf_counter()
        deadline = started + duration

        def next_body() -> dict | None:
            nonlocal sent
            if sent >= max_calls or time.perf_counter() >= deadline:
                return None
            sent += 1
            return bodies[sent % len(bodies)]

        if rate is None:
            async def worker() -> None:
                while (body := next_body()) is not None:
                    await _call(client, body, results)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        else:
            in_flight: set[asyncio.Task[None]] = set()
            gap = 1.0 / rate
            tick = started
            while (body := next_body()) is not None:
                if len(in_flight) >= concurrency:
                    results.shed += 1
                else:
                    task = asyncio.create_task(_call(client, body, results))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                tick += gap
                await asyncio.sleep(max(0.0, tick - time.perf_counter()))
            await asyncio.gather(*in_flight)
        return results, time.perf_counter() - started


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _corpus_catalog(corpus: Path, directory: Path) -> Path:
    """The corpus's titles as products of price 0, in a JSONL file the service can load."""
    out = directory / "products.jsonl"
    with corpus.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        for line in src:
            if line.strip():
                row = json.loads(line)
                dst.write(json.dumps({"id": row["id"], "title": row["title"], "price": 0}) + "\n")
    return out


def _start_service(catalog: Path | None, workers: int = 1) -> tuple[subprocess.Popen[str], str]:
    port = 0
    if workers > 1:  # workers share one fixed port
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    command = [sys.executable, "-m", "core.service", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers)]
    if catalog is not None:
        command += ["--catalog", str(catalog)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()  # blocks until the service listens (index build included)
    except BaseException:
        _stop_service(proc)
        raise
    if not line.startswith("listening on "):
        _stop_service(proc)
        raise SystemExit(f"the service did not start (exit {proc.returncode})")
    return proc, line.split()[-1]


def _stop_service(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            print(f"service stopped: exit {proc.wait(timeout=30)}")
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            print("service killed: it did not stop within 30 s of SIGTERM")
    if proc.stdout is not None:
        proc.stdout.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--catalog", type=Path, help="catalog directory or JSONL file (default: the demo)")
    source.add_argument("--corpus", type=Path, help="BEIR corpus.jsonl, served as products of price 0")
    parser.add_argument("--queries", type=Path, help="BEIR queries.jsonl whose texts to search for")
    parser.add_argument("--url", help="a running service on 127.0.0.1 (default: start one)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load (at most 600)")
    parser.add_argument("--max-calls", type=int, default=100_000)
    parser.add_argument("--rate", type=float, help="open loop: calls per second")
    parser.add_argument("--workers", type=int, default=1, help="service processes to start (default 1)")
    args = parser.parse_args(argv)
    if not 1 <= args.concurrency <= MAX_CONCURRENCY or not 0 < args.duration <= MAX_DURATION or args.max_calls < 1:
        parser.error(f"--concurrency 1..{MAX_CONCURRENCY}, --duration 0..{MAX_DURATION:.0f} s, --max-calls >= 1")
    if args.url and urlsplit(args.url).hostname not in _LOCAL_HOSTS:
        parser.error("--url must be on 127.0.0.1")

    with tempfile.TemporaryDirectory() as tmp:
        catalog_path = _corpus_catalog(args.corpus, Path(tmp)) if args.corpus else args.catalog
        t0 = time.perf_counter()
        if args.corpus:  # ids are all the mix needs; loading 50,000 products here would double the wait
            with args.corpus.open(encoding="utf-8") as fh:
                ids = [json.loads(line)["id"] for line in fh if line.strip()]
            categories: list[str] = []
        else:
            catalog = load_catalog(catalog_path)
            ids = [p.id for p in catalog.products]
            categories = sorted({c.split(" > ")[0] for c in catalog.categories})
            del catalog
        texts = _TEXTS
        if args.queries:
            with args.queries.open(encoding="utf-8") as fh:
                texts = [json.loads(line)["text"] for line in fh if line.strip()]
        bodies = [request_to_dict(r) for r in make_requests(texts, ids, categories, 5000)]
        took = time.perf_counter() - t0
        print(f"catalog: {len(ids)} products ({args.corpus or catalog_path or 'demo'}), read in {took:.1f} s")

        proc = None
        url = args.url
        try:
            if url is None:
                t0 = time.perf_counter()
                proc, url = _start_service(catalog_path, args.workers)
                print(f"service: {url}, ready in {time.perf_counter() - t0:.1f} s (pid {proc.pid})")
            cpu = _cpu_times(proc.pid if proc else None)
            results, elapsed = asyncio.run(load(
                url, bodies, concurrency=args.concurrency, duration=args.duration,
                max_calls=args.max_calls, rate=args.rate,
            ))
            cpu_used = {k: v_after - cpu[k] for k, v_after in _cpu_times(proc.pid if proc else None).items()}
        finally:
            if proc is not None:
                _stop_service(proc)

    done = len(results.latencies)
    lat_ms = [x * 1000 for x in results.latencies]
    mode = f"open loop at {args.rate:g}/s" if args.rate else "closed loop"
    print(f"load: {mode}, {args.concurrency} concurrent, {elapsed:.1f} s; statuses {results.statuses}"
          + (f"; shed {results.shed}" if results.shed else ""))
    print(f"throughput: {done / elapsed:.1f} calls/s ({done} answered, {results.empty} empty)")
    print(f"latency at the client: p50 {_pct(lat_ms, 0.5):.1f} ms, p90 {_pct(lat_ms, 0.9):.1f} ms, "
          f"p99 {_pct(lat_ms, 0.99):.1f} ms, max {max(lat_ms, default=float('nan')):.1f} ms")
    print(f"time in search (took_ms): p50 {_pct(results.server_ms, 0.5):.1f} ms, "
          f"p99 {_pct(results.server_ms, 0.99):.1f} ms")
    print("cpu per answered call: " + ", ".join(f"{k} {v * 1000 / max(done, 1):.2f} ms" for k, v in cpu_used.items())
          + f" ({sum(cpu_used.values()):.1f} of {elapsed * (os.cpu_count() or 1):.1f} cpu-seconds; "
          + f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0


def _cpu_times(service_pid: int | None) -> dict[str, float]:
    """CPU seconds used so far by this load generator and by the service it started (its
    extra workers included)."""
    times = os.times()
    out = {"load generator": times.user + times.system}
    if service_pid is not None:
        try:
            import psutil

            service = psutil.Process(service_pid)
            out["service"] = sum(t.user + t.system for t in
                                 [service.cpu_times(), *(child.cpu_times() for child in service.children())])
        except Exception:  # noqa: BLE001 - figures only; psutil missing or the process gone
            pass
    return out


if __name__ == "__main__":
    sys.exit(main())
