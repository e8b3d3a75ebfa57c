"""Turn latency and throughput of the dialogue manager against a real Redis.

    .venv/bin/python scripts/bench_dialogue.py [--users 50] [--turns 10]

Each simulated user holds a short conversation (search, refine, details, compare); all
users run at once.  Uses REDIS_URL when set, otherwise a private redis-server.  Prints
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid

from core.app import build_app
from core.catalog import load_catalog
from core.lexical import LexicalRecommender
from core.messages import Inbound
from core.redis_conn import EmbeddedRedis
from core.settings import Settings

SCRIPT = ["我想买一款适合运动的蓝牙耳机，500元以内", "便宜点", "不要索尼的", "对比一下1和2",
          "waterproof running earbuds under 300", "cheaper", "tell me more about 2", "more like the first one",
          "running shoes", "only Nike"]


async def main(users: int, turns: int) -> None:
    embedded = None if os.environ.get("REDIS_URL") else EmbeddedRedis().start()
    url = os.environ.get("REDIS_URL") or embedded.url  # type: ignore[union-attr]
    settings = Settings(redis_url=url, key_prefix=f"bench-{uuid.uuid4().hex[:8]}")
    app = build_app(settings, recommender=LexicalRecommender(load_catalog()))
    latencies: list[float] = []

    async def user(n: int) -> None:
        for t in range(turns):
            inbound = Inbound(platform="bench", user_id=str(n), message_id=f"{n}-{t}", text=SCRIPT[t % len(SCRIPT)])
            start = time.perf_counter()
            await app.dialogue.handle(inbound)
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    await asyncio.gather(*(user(n) for n in range(users)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    print(f"{users} users x {turns} turns = {len(latencies)} turns in {elapsed:.2f} s "
          f"({len(latencies) / elapsed:.0f} turns/s)")
    print(f"turn latency p50 {latencies[len(latencies) // 2] * 1e3:.1f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1e3:.1f} ms")
    await app.stop()
    if embedded:
        embedded.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.users, args.turns))
