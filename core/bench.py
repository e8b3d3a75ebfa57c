"""``daogou bench recommender``: encoder and dense-index figures, printed as they come.

Real: the encoder (the bundled MiniLM unless --encoder), its passage throughput and
single-query latency, and the query vectors (generated shopping queries, or --queries-file,
encoded).  Real catalog vectors: --real generated titles, encoded, or the product vectors of
a vector cache (--seed-vectors).  Synthetic: every catalog vector beyond those.  Each
mixes two real vectors, adds a third one's deviation from the mean (so the noise has the
shape of real embeddings) and a little isotropic noise, and is re-normalized: clusters
around real products, as variants and near-duplicates make in a real catalog.  Encoding
1M titles on 2 cores would take hours.  Latency is printed as wall time and as the
searching thread's CPU time, which is what a machine nobody else is using would show.

    daogou bench recommender --sizes 10k,100k,1M
    daogou bench recommender --seed-vectors /tmp/daogou-vectors/<fingerprint>/vectors.npz \
        --queries-file queries.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from core.dense import AnnParams, DenseIndex

if TYPE_CHECKING:
    from core.encoder import AsyncEncoder, TransformerEncoder

_NOUNS = [
    ("Electronics > Headphones", ["Earbuds", "Over-Ear Headphones", "Sport Earphones", "Gaming Headset"]),
    ("Electronics > Speakers", ["Bluetooth Speaker", "Soundbar", "Smart Speaker"]),
    ("Electronics > Phones", ["Smartphone", "Phone Case", "USB-C Charger", "Power Bank"]),
    ("Electronics > Wearables", ["Smart Watch", "Fitness Tracker"]),
    ("Sports > Shoes", ["Running Shoes", "Trail Shoes", "Basketball Shoes", "Hiking Boots"]),
    ("Sports > Apparel", ["Training T-Shirt", "Rain Jacket", "Yoga Pants", "Down Jacket"]),
    ("Bags", ["Laptop Backpack", "Carry-On Suitcase", "Tote Bag"]),
    ("Home > Kitchen", ["Vacuum Bottle", "Rice Cooker", "Electric Kettle", "Air Fryer", "Chef Knife"]),
    ("Home > Appliances", ["Robot Vacuum", "Air Purifier", "Dehumidifier", "Desk Fan"]),
    ("Home > Tools", ["Cordless Drill", "Angle Bracket", "LED Ceiling Light", "Shower Faucet"]),
    ("Beauty", ["Moisturizing Cream", "Sunscreen SPF 50", "Hair Dryer", "Electric Toothbrush"]),
    ("Toys", ["Building Blocks Set", "Remote Control Car", "Plush Toy"]),
]
_ADJ = ["Wireless", "Waterproof", "Lightweight", "Portable", "Noise Cancelling", "Smart", "Quiet", "Durable",
        "Breathable", "Kids", "Fast Charging", "Stainless Steel", "Compact", "Foldable", "Cordless"]
_BRANDS = ["Sony", "Huawei", "Xiaomi", "Bose", "Nike", "Adidas", "Midea", "Philips", "Anker", "Thermos",
           "Samsung", "DeWalt", "Lego", "Olay", "Decathlon", "Apple"]
_COLOURS = ["Black", "White", "Blue", "Red", "Grey", "Green"]
_QUERY_TAILS = ["", "", " for running", " for kids", " under 300", " for travel", " cheap", " best rated",
                " for the office", " gift"]


def generated_titles(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        _, nouns = rng.choice(_NOUNS)
        adj = rng.sample(_ADJ, 2)
        out.append(f"{rng.choice(_BRANDS)} {rng.choice(['Pro', 'Max', 'Lite', 'Air', 'Go'])} {rng.randint(1, 9)} "
                   f"{adj[0]} {adj[1]} {rng.choice(nouns)} ({rng.choice(_COLOURS)})")
    return out


def generated_queries(n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        _, nouns = rng.choice(_NOUNS)
        noun = rng.choice(nouns).lower()
        roll = rng.random()
        if roll < 0.4:
            out.append(f"{rng.choice(_ADJ).lower()} {noun}{rng.choice(_QUERY_TAILS)}")
        elif roll < 0.7:
            out.append(f"{rng.choice(_BRANDS).lower()} {noun}")
        else:
            out.append(f"i need a {rng.choice(_ADJ).lower()} {noun}{rng.choice(_QUERY_TAILS)}")
    return out


def synthesize(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors clustered around ``real`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    mean = real.mean(axis=0)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        a, b, c = (rng.integers(0, len(real), m) for _ in range(3))
        w = rng.uniform(0.7, 1.0, (m, 1)).astype(np.float32)
        v = w * real[a] + (1 - w) * real[b] + 0.25 * (real[c] - mean)
        v += 0.02 * rng.standard_normal(v.shape, dtype=np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[start:start + m] = v
    return out


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="10k,100k,1M", help="catalog sizes, comma-separated (default 10k,100k,1M)")
    parser.add_argument("--encoder", help="encoder directory (default: the bundled MiniLM)")
    parser.add_argument("--real", type=int, default=3000, help="generated titles encoded for real (default 3000)")
    parser.add_argument("--seed-vectors", help="a vector cache file (vectors.npz from core.vectors) whose "
                        "real product vectors seed the catalog instead of generated titles")
    parser.add_argument("--queries-file", help="query texts, one a line (or JSONL with a 'text' field), "
                        "instead of generated queries")
    parser.add_argument("--queries", type=int, default=300, help="queries timed per index (default 300)")
    parser.add_argument("--encoder-queries", type=int, default=100,
                        help="queries timed per encoder setting (default 100)")
    parser.add_argument("--batch", type=int, default=32, help="batch size for throughput (default 32)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--faiss-threads", type=int, default=1, help="faiss OpenMP threads (default 1)")
    parser.add_argument("--ann-threshold", type=int, default=20_000,
                        help="catalogs larger than this use the approximate index (default 20000)")
    parser.add_argument("--nlist", type=int, default=None, help="inverted lists (default: about sqrt(n))")
    parser.add_argument("--probe", type=float, default=AnnParams.probe,
                        help=f"fraction of lists searched (default {AnnParams.probe})")
    parser.add_argument("--nprobe", type=int, default=None, help="lists searched (overrides --probe)")
    parser.add_argument("--shortlist", type=int, default=AnnParams.shortlist,
                        help=f"candidates re-scored in float16 (default {AnnParams.shortlist})")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import psutil
    import torch

    from core.encoder import AsyncEncoder, TransformerEncoder

    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load}; torch {torch.__version__}")
    started = time.perf_counter()
    encoder = TransformerEncoder(args.encoder, threads=args.threads)
    print(f"encoder [real]: {encoder.model_dir.parent.name}/{encoder.model_dir.name} dim {encoder.dim}, {torch.get_num_threads()} torch threads, "
          f"loaded in {time.perf_counter() - started:.1f} s")

    titles = generated_titles(args.real)
    started = time.perf_counter()
    real = encoder.encode_passages(titles)
    seconds = time.perf_counter() - started
    print(f"encoder [real]: {len(titles)} generated titles in {seconds:.1f} s = {len(titles) / seconds:.0f} passages/s")
    if args.seed_vectors:
        with np.load(args.seed_vectors) as data:
            real = np.asarray(data["vectors"], dtype=np.float32)
        print(f"catalog seeds [real]: {len(real):,} product vectors from {args.seed_vectors}")

    query_texts = (_read_queries(args.queries_file, max(args.queries, args.batch)) if args.queries_file
                   else generated_queries(max(args.queries, args.batch)))
    queries = encoder.encode_queries(query_texts)
    int8 = TransformerEncoder(args.encoder, quantize=True)
    agreement = float((int8.encode_queries(query_texts) * queries).sum(axis=1).mean())
    threads = torch.get_num_threads()
    for count in sorted({1, threads}):
        torch.set_num_threads(count)
        for name, model in (("fp32", encoder), ("int8", int8)):
            times = _timed_encode(model, query_texts[:args.encoder_queries])
            print(f"encoder [real]: single query, {name}, {count} torch thread(s): {_ms(times)}", flush=True)
    torch.set_num_threads(threads)
    print(f"encoder [real]: int8 query vectors agree with fp32 at cosine {agreement:.3f} on average")
    started = time.perf_counter()
    for start in range(0, len(query_texts), args.batch):
        encoder.encode_queries(query_texts[start:start + args.batch])
    print(f"encoder [real]: batches of {args.batch}: {len(query_texts) / (time.perf_counter() - started):.0f} queries/s")
    _concurrent(AsyncEncoder(encoder, max_batch=args.batch), query_texts[:128])

    ann = AnnParams(nlist=args.nlist, probe=args.probe, nprobe=args.nprobe, shortlist=args.shortlist)
    process = psutil.Process()
    for size in sizes:
        print(f"\n== {size:,} products: {min(size, len(real)):,} real product vectors, "
              f"{max(0, size - len(real)):,} synthetic; {len(queries)} real query vectors", flush=True)
        started = time.perf_counter()
        vectors = real[:size] if size <= len(real) else np.vstack([real, synthesize(real, size - len(real))])
        print(f"  vectors: {vectors.nbytes / 2**20:,.0f} MB float32, made in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        truth = _exact_top(vectors, queries, 10)
        print(f"  ground truth (exact, queries in batches of 64): {time.perf_counter() - started:.1f} s", flush=True)
        for approximate in (False, True):
            rss = process.memory_info().rss
            index = DenseIndex(vectors, ann_threshold=0 if approximate else size, ann=ann,
                               threads=args.faiss_threads)
            grown = (process.memory_info().rss - rss) / 2**20
            default = " [default at this size]" if (size > args.ann_threshold) == approximate else ""
            print(f"  {index.kind}{default}: built in {index.build_seconds:.1f} s; index holds "
                  f"{index.nbytes / 2**20:,.0f} MB, RSS +{grown:,.0f} MB", flush=True)
            # Exact search of a large catalog takes ~0.1 s a query: time fewer of them.
            count = args.queries if approximate or size <= 200_000 else min(args.queries, 40)
            wall, cpu = _timed(index, queries[:count])
            print(f"    single query top-10: {_ms(wall)}; CPU {_ms(cpu)} ({count} queries)")
            started = time.perf_counter()
            done = 0
            while done < len(queries) and time.perf_counter() - started < 5:
                index.search_batch(queries[done:done + args.batch], 10)
                done += args.batch
            print(f"    batches of {args.batch}: "
                  f"{min(done, len(queries)) / (time.perf_counter() - started):,.0f} queries/s")
            if approximate:
                found, _ = index.search_batch(queries, 10)
                recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
                print(f"    recall@10 against exact search: {recall:.3f}", flush=True)
            del index
        del vectors
    return 0


def _read_queries(path: str, count: int) -> list[str]:
    import json

    texts = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                texts.append(str(json.loads(line)["text"]) if line.startswith("{") else line)
            if len(texts) == count:
                break
    return texts


def _exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    out = []
    for start in range(0, len(queries), 64):
        scores = queries[start:start + 64] @ vectors.T
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        out.append(part)
    return np.vstack(out)


def _timed(index: DenseIndex, queries: np.ndarray) -> tuple[list[float], list[float]]:
    """Wall and this thread's CPU seconds per query: on a shared machine the CPU time is the
    figure a dedicated one would show."""
    for q in queries[:5]:
        index.search(q, 10)
    wall, cpu = [], []
    for q in queries:
        t, c = time.perf_counter(), time.thread_time()
        index.search(q, 10)
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - t)
    return wall, cpu


def _timed_encode(encoder: TransformerEncoder, texts: list[str]) -> list[float]:
    for text in texts[:5]:
        encoder.encode_queries([text])
    times = []
    for text in texts:
        t = time.perf_counter()
        encoder.encode_queries([text])
        times.append(time.perf_counter() - t)
    return times


def _ms(seconds: Sequence[float]) -> str:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms"


def _concurrent(encoder: AsyncEncoder, texts: list[str]) -> None:
    async def burst() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(encoder.encode_query(t) for t in texts))
        return time.perf_counter() - started

    seconds = asyncio.run(burst())
    print(f"encoder [real]: {len(texts)} concurrent encode_query calls via AsyncEncoder: "
          f"{len(texts) / seconds:.0f} queries/s in {encoder.stats.passes} passes")
    encoder.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="daogou bench recommender", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
