"""Index build time and search latency of the lexical recommender.

    .venv/bin/python scripts/bench_lexical.py [--products 50000] [--queries 1000]

Runs on the demo catalog (when core/data/demo/products.jsonl exists) and on a synthetic
bilingual catalog of ``--products`` products.  Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Sequence

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


def bench(name: str, catalog: Catalog, queries: int) -> None:
    t0 = time.perf_counter()
    recommender = LexicalRecommender(catalog)
    build = time.perf_counter() - t0
    requests = requests_for(catalog, queries)
    times = []
    empty = 0
    for request in requests:
        t = time.perf_counter()
        hits = recommender.search_sync(request)
        times.append((time.perf_counter() - t) * 1000)
        empty += not hits
    print(
        f"{name}: {len(catalog)} products, build {build:.2f} s; "
        f"{queries} searches: p50 {statistics.median(times):.2f} ms, "
        f"p99 {_pct(times, 0.99):.2f} ms, max {max(times):.2f} ms; {empty} empty"
    )

    async def concurrent() -> float:
        t = time.perf_counter()
        await asyncio.gather(*(recommender.search(r) for r in requests[:200]))
        return time.perf_counter() - t

    print(f"{name}: 200 concurrent searches via search(): {asyncio.run(concurrent()) * 1000:.0f} ms total")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    t = time.perf_counter()
    tokenize("预热 jieba")
    print(f"jieba dictionary load: {time.perf_counter() - t:.2f} s (once per process)")
    if (DEMO_CATALOG / "products.jsonl").exists():
        bench("demo", load_catalog(), args.queries)
    else:
        print("demo: no core/data/demo/products.jsonl yet, skipped")
    t = time.perf_counter()
    catalog = synthetic_catalog(args.products)
    print(f"synthetic: generated and parsed {len(catalog)} products in {time.perf_counter() - t:.1f} s")
    bench("synthetic", catalog, args.queries)


if __name__ == "__main__":
    main()
