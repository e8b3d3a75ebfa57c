"""Index build time, memory and search latency of the lexical recommender.

    .venv/bin/python scripts/bench_lexical.py [--products 50000] [--queries 1000]
        [--beir DIR] [--hybrid] [--simple N]

Runs on the demo catalog (when core/data/demo/products.jsonl exists), on a synthetic
bilingual catalog of ``--products`` products (0 skips it), on the titles of a BEIR-style
corpus with its own queries (``--beir``, e.g. /work/shared/datasets/homedepot-dev), and on
``--simple`` N one-line products (build time and memory of a large catalog).  ``--hybrid``
also times the fusion path with a stand-in dense side (random unit vectors, exact
search): the ranker's share of a hybrid search, without the encoder.

Latencies are per ``search_sync`` call: wall clock and this thread's CPU time (the CPU
figure is the one to trust on a busy machine).  Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.catalog import DEMO_CATALOG, Catalog, Product, load_catalog
from core.lexical import LexicalRecommender
from core.recommender import SearchRequest
from core.textproc import tokenize

# (category, category_zh, English noun, Chinese noun, brands)
_KINDS = [
    ("Electronics > Headphones", "电子产品 > 耳机", "Earbuds", "蓝牙耳机", ["Sony", "Huawei", "Xiaomi", "Bose", "JBL"]),
    ("Electronics > Headphones", "电子产品 > 耳机", "Over-Ear Headphones", "头戴式耳机", ["Sony", "Bose", "Sennheiser"]),
    ("Electronics > Speakers", "电子产品 > 音箱", "Bluetooth Speaker", "蓝牙音箱", ["JBL", "Bose", "Xiaomi"]),
    ("Electronics > Phones", "电子产品 > 手机", "Smartphone", "智能手机", ["Apple", "Huawei", "Xiaomi", "Samsung", "OPPO"]),
    ("Electronics > Wearables", "电子产品 > 穿戴", "Smart Watch", "智能手表", ["Huawei", "Apple", "Garmin", "Amazfit"]),
    ("Sports > Shoes", "运动 > 鞋", "Running Shoes", "跑步鞋", ["Nike", "Adidas", "Li-Ning", "Anta", "Asics"]),
    ("Sports > Apparel", "运动 > 服装", "Training T-Shirt", "运动T恤", ["Nike", "Adidas", "Under Armour", "Decathlon"]),
    ("Bags > Backpacks", "箱包 > 背包", "Laptop Backpack", "双肩电脑包", ["Samsonite", "Xiaomi", "The North Face"]),
    ("Home > Kitchen", "家居 > 厨房", "Vacuum Bottle", "保温杯", ["Thermos", "Zojirushi", "Lock&Lock"]),
    ("Home > Appliances", "家居 > 电器", "Rice Cooker", "电饭煲", ["Midea", "Supor", "Joyoung", "Panasonic"]),
    ("Beauty > Skincare", "美妆 > 护肤", "Moisturizing Cream", "保湿面霜", ["Olay", "Lancome", "Shiseido"]),
    ("Toys > Building", "玩具 > 积木", "Building Blocks Set", "积木套装", ["Lego"]),
]
_ADJ = [
    ("Wireless", "无线"), ("Waterproof", "防水"), ("Lightweight", "轻便"), ("Portable", "便携"),
    ("Noise Cancelling", "降噪"), ("Smart", "智能"), ("Quiet", "静音"), ("Durable", "耐用"),
    ("Breathable", "透气"), ("Kids", "儿童"), ("Fast Charging", "快充"), ("Eco", "环保"),
]
_COLOURS = [("Black", "黑色"), ("White", "白色"), ("Blue", "蓝色"), ("Red", "红色"), ("Grey", "灰色")]
_SERIES = ["Pro", "Max", "Lite", "Air", "Plus", "Ultra", "Neo", "Go", "Mini", "Sport"]

_QUERIES = [
    "蓝牙耳机", "我想买一款防水的蓝牙耳机", "降噪耳机", "跑鞋", "轻便跑步鞋", "保温杯", "电饭煲 智能",
    "儿童积木", "双肩包", "智能手表 长续航", "wireless earbuds", "noise cancelling headphones",
    "running shoes", "waterproof speaker", "smart watch", "laptop backpack", "rice cooker",
    "vacuum bottle 500ml", "moisturizing cream", "sony", "华为手机", "xiaomi pro", "lego",
    "breathable t-shirt", "quiet", "portable bluetooth speaker",
]


def synthetic_catalog(n: int, seed: int = 7) -> Catalog:
    rng = random.Random(seed)
    products = []
    for k in range(n):
        category, category_zh, noun, noun_zh, brands = rng.choice(_KINDS)
        brand = rng.choice(brands)
        series = f"{rng.choice(_SERIES)} {rng.randint(1, 9)}"
        adjs = rng.sample(_ADJ, 2)
        colour, colour_zh = rng.choice(_COLOURS)
        code = f"{brand[:2].upper()}-{rng.randint(100, 9999)}"
        products.append(Product.from_dict({
            "id": f"p{k:06d}",
            "title": f"{brand} {series} {adjs[0][0]} {noun} {code} ({colour})",
            "title_zh": f"{brand} {series} {adjs[0][1]}{noun_zh} {code} {colour_zh}",
            "brand": brand, "category": category, "category_zh": category_zh,
            "description": f"{adjs[1][0]} {noun.lower()} with a {rng.randint(1, 3)}-year warranty.",
            "description_zh": f"{adjs[1][1]}，{noun_zh}，质保{rng.randint(1, 3)}年。",
            "price": round(rng.uniform(29, 4999), 2),
            "stock": 0 if rng.random() < 0.1 else rng.randint(1, 100),
        }))
    return Catalog(products)


def requests_for(catalog: Catalog, count: int, seed: int = 11) -> list[SearchRequest]:
    rng = random.Random(seed)
    categories = sorted(catalog.categories) or [""]
    ids = [p.id for p in catalog.products]
    out = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.6:
            out.append(SearchRequest(text=rng.choice(_QUERIES), price_max=rng.choice([None, 500, 1500])))
        elif roll < 0.75:
            out.append(SearchRequest(category=rng.choice(categories).split(" > ")[0]))
        elif roll < 0.85:
            out.append(SearchRequest(similar_to=rng.choice(ids)))
        else:
            out.append(SearchRequest(
                text=rng.choice(_QUERIES), features=("waterproof",),
                liked=(rng.choice(ids),), disliked=(rng.choice(ids),), exclude_brands=("Sony",),
            ))
    return out


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class RandomDense:
    """A stand-in dense side: a random unit vector per product.  ``query`` computes every
    similarity up front (outside the timed search), as an encoder plus index would before
    the ranker runs; ``top_k`` then only selects."""

    def __init__(self, n: int, dim: int = 384, seed: int = 5) -> None:
        rng = np.random.default_rng(seed)
        vectors = rng.standard_normal((n, dim), dtype=np.float32)
        self.vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    async def query(self, text: str, lang: str) -> RandomQuery:
        # Near one product, so some similarities are high.
        rng = np.random.default_rng(abs(hash(text)))
        target = self.vectors[rng.integers(len(self.vectors))]
        q = target + 0.05 * rng.standard_normal(target.shape[0], dtype=np.float32)
        return RandomQuery(self.vectors @ (q / np.linalg.norm(q)))


class RandomQuery:
    def __init__(self, sims: np.ndarray) -> None:
        self.sims = sims

    def top_k(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self.sims))
        best = np.argpartition(-self.sims, k - 1)[:k]
        best = best[np.argsort(-self.sims[best])]
        return best.astype(np.int64), self.sims[best]

    def scores_for(self, positions: np.ndarray) -> np.ndarray:
        return self.sims[positions]


def timed(recommender: LexicalRecommender, requests: Sequence[SearchRequest],
          dense: RandomDense | None = None) -> tuple[list[float], list[float], int]:
    """Wall and CPU milliseconds per search, and how many found nothing."""
    wall, cpu, empty = [], [], 0
    for request in requests:
        dq = asyncio.run(dense.query(request.text, request.lang)) if dense and request.text else None
        t, c = time.perf_counter(), time.thread_time()
        hits = recommender.search_sync(request, dq)
        cpu.append((time.thread_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
        empty += not hits
    return wall, cpu, empty


def report(name: str, wall: list[float], cpu: list[float], empty: int) -> None:
    print(
        f"  {name}: {len(wall)} searches: wall p50 {statistics.median(wall):.2f} ms, "
        f"p99 {_pct(wall, 0.99):.2f} ms | cpu p50 {statistics.median(cpu):.2f} ms, "
        f"p99 {_pct(cpu, 0.99):.2f} ms, max {max(cpu):.2f} ms; {empty} empty"
    )


def build(name: str, catalog: Catalog, **kw: object) -> LexicalRecommender:
    t, c = time.perf_counter(), time.process_time()
    recommender = LexicalRecommender(catalog, **kw)  # type: ignore[arg-type]
    m = recommender.index.matrix
    print(
        f"{name}: {len(catalog)} products, build {time.perf_counter() - t:.2f} s wall, "
        f"{time.process_time() - c:.2f} s cpu; index {m.shape[0]} terms, {m.nnz} postings, "
        f"{(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes) / 1e6:.0f} MB; "
        f"peak RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    return recommender


def bench(name: str, catalog: Catalog, queries: int, hybrid: bool) -> None:
    recommender = build(name, catalog)
    requests = requests_for(catalog, queries)
    report("mixed requests", *timed(recommender, requests))
    if hybrid:
        dense = RandomDense(len(catalog))
        report("mixed requests, hybrid", *timed(recommender, requests, dense))

    async def concurrent() -> float:
        t = time.perf_counter()
        await asyncio.gather(*(recommender.search(r) for r in requests[:200]))
        return time.perf_counter() - t

    print(f"  200 concurrent searches via search(): {asyncio.run(concurrent()) * 1000:.0f} ms total")


def bench_beir(root: Path, queries: int, hybrid: bool) -> None:
    t = time.perf_counter()
    with (root / "corpus.jsonl").open(encoding="utf-8") as fh:
        catalog = Catalog(
            Product(id=row["id"], title=row["title"], price=0.0) for row in map(json.loads, fh)
        )
    with (root / "queries.jsonl").open(encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh if line.strip()][:queries]
    print(f"{root.name}: read {len(catalog)} titles in {time.perf_counter() - t:.1f} s")
    recommender = build(root.name, catalog)
    chat = [SearchRequest(text=q) for q in texts]
    evaluation = [SearchRequest(text=q, limit=100, diverse=False, in_stock_only=False) for q in texts]
    report("chat (limit 5, diverse)", *timed(recommender, chat))
    report("eval (limit 100, diverse=False)", *timed(recommender, evaluation))
    if hybrid:
        dense = RandomDense(len(catalog))
        report("chat, hybrid", *timed(recommender, chat, dense))
        report("eval, hybrid", *timed(recommender, evaluation, dense))


def simple_catalog(n: int, seed: int = 1) -> Catalog:
    rng = random.Random(seed)
    nouns = ["drill", "saw", "hammer", "faucet", "sink", "toilet", "lamp", "bulb", "fan", "heater", "door", "window", "tile", "paint", "brush", "ladder", "hose", "valve", "pipe", "shelf", "cabinet", "rug", "mirror", "lock", "hinge"]
    adjs = ["cordless", "brushless", "white", "black", "stainless", "brass", "led", "outdoor", "indoor", "compact", "heavy-duty", "portable", "smart", "quiet", "waterproof"]
    brands = [f"Brand{i}" for i in range(500)]
    categories = [f"Dept{i} > Aisle{j}" for i in range(20) for j in range(10)]
    return Catalog(
        Product(
            id=f"p{i}", price=float(rng.randint(1, 2000)), brand=(brand := rng.choice(brands)),
            title=f"{brand} {rng.choice(adjs)} {rng.choice(adjs)} {rng.choice(nouns)} "
            f"{rng.randint(1, 999)}-{rng.choice('ABCDEFGH')}{rng.randint(10, 99)}",
            category=rng.choice(categories), stock=rng.choice([0, 1, 1, 1, 1]),
        )
        for i in range(n)
    )


def bench_simple(n: int, queries: int) -> None:
    t = time.perf_counter()
    catalog = simple_catalog(n)
    print(f"simple: made {n} products in {time.perf_counter() - t:.1f} s, peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    recommender = build("simple", catalog)
    rng = random.Random(2)
    words = [p.title.split()[1:4] for p in rng.sample(catalog.products, min(queries, n))]
    texts = [" ".join(w[1:]) for w in words]
    report("two-word queries", *timed(recommender, [SearchRequest(text=q) for q in texts]))
    categories = sorted(catalog.categories)
    report("with budget and category", *timed(recommender, [
        SearchRequest(text=q, price_max=500, category=rng.choice(categories)) for q in texts
    ]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--beir", type=Path, help="a BEIR-style directory (corpus.jsonl, queries.jsonl)")
    parser.add_argument("--hybrid", action="store_true", help="also time fusion with a stand-in dense side")
    parser.add_argument("--simple", type=int, default=0, metavar="N", help="also build N one-line products")
    args = parser.parse_args()
    t = time.perf_counter()
    tokenize("预热 jieba")
    print(f"jieba dictionary load: {time.perf_counter() - t:.2f} s (once per process)")
    if (DEMO_CATALOG / "products.jsonl").exists():
        bench("demo", load_catalog(), args.queries, args.hybrid)
    else:
        print("demo: no core/data/demo/products.jsonl yet, skipped")
    if args.beir:
        bench_beir(args.beir, args.queries, args.hybrid)
    if args.products:
        t = time.perf_counter()
        catalog = synthetic_catalog(args.products)
        print(f"synthetic: generated and parsed {len(catalog)} products in {time.perf_counter() - t:.1f} s")
        bench("synthetic", catalog, args.queries, args.hybrid)
    if args.simple:
        bench_simple(args.simple, args.queries)


if __name__ == "__main__":
    main()
