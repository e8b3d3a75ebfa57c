"""Quick nDCG@10 of lexical retrieval on the Home Depot dev set (context, not a gate).

    .venv/bin/python scripts/eval_bm25_quick.py [--data /work/shared/datasets/homedepot-dev]
        [--k1 1.2] [--b 0.75] [--no-recommender] [--queries N]

The set is product titles (corpus.jsonl: id, title), customer queries (queries.jsonl:
qid, text) and graded judgements (qrels.tsv: query-id, corpus-id, score 1..3, averaged
over raters).  Gain is ``score - 1``, so "irrelevant" (1) earns nothing.  Prints nDCG@10
for the bare BM25 index over titles and, unless ``--no-recommender``, for the full
``LexicalRecommender`` (diversity and the rest), which ranks differently on purpose.
A proper ``daogou eval`` comes later; this only prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import time
from collections import defaultdict
from pathlib import Path

from core.catalog import Catalog, Product
from core.lexical import BM25Index, LexicalRecommender
from core.recommender import SearchRequest
from core.textproc import tokenize

DEFAULT_DATA = Path("/work/shared/datasets/homedepot-dev")


def ndcg_at(ranked: list[str], gains: dict[str, float], k: int = 10) -> float:
    dcg = sum(gains.get(doc, 0.0) / math.log2(r + 2) for r, doc in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(r + 2) for r, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--k1", type=float, default=1.2)
    parser.add_argument("--b", type=float, default=0.75)
    parser.add_argument("--queries", type=int, default=0, help="only the first N (0: all)")
    parser.add_argument("--no-recommender", action="store_true")
    args = parser.parse_args()

    with (args.data / "corpus.jsonl").open(encoding="utf-8") as fh:
        corpus = [json.loads(line) for line in fh if line.strip()]
    with (args.data / "queries.jsonl").open(encoding="utf-8") as fh:
        queries = {q["qid"]: q["text"] for q in map(json.loads, fh) if q}
    qrels: dict[str, dict[str, float]] = defaultdict(dict)
    with (args.data / "qrels.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels[row["query-id"]][row["corpus-id"]] = float(row["score"]) - 1.0
    judged = [qid for qid in queries if qid in qrels and any(qrels[qid].values())]
    if args.queries:
        judged = judged[: args.queries]
    print(f"{len(corpus)} documents, {len(judged)} judged queries with some relevant document")

    t = time.perf_counter()
    index = BM25Index(((d["id"], {"title": d["title"]}) for d in corpus), k1=args.k1, b=args.b)
    print(f"BM25 index over titles: built in {time.perf_counter() - t:.1f} s")
    ids = index.doc_ids
    scores = []
    for qid in judged:
        hits = index.scores_by_index(tokenize(queries[qid]))
        top = sorted(hits, key=lambda i: (-hits[i], i))[:10]
        scores.append(ndcg_at([ids[i] for i in top], qrels[qid]))
    print(f"BM25 (k1={args.k1}, b={args.b}): nDCG@10 = {sum(scores) / len(scores):.4f}")

    if args.no_recommender:
        return
    t = time.perf_counter()
    catalog = Catalog(Product(id=d["id"], title=d["title"], price=1.0) for d in corpus)
    recommender = LexicalRecommender(catalog, k1=args.k1, b=args.b)
    print(f"LexicalRecommender: built in {time.perf_counter() - t:.1f} s")

    async def run() -> list[float]:
        out = []
        for qid in judged:
            hits = await recommender.search(SearchRequest(text=queries[qid], limit=10))
            out.append(ndcg_at([h.product.id for h in hits], qrels[qid]))
        return out

    t = time.perf_counter()
    rec_scores = asyncio.run(run())
    elapsed = time.perf_counter() - t
    print(
        f"LexicalRecommender (limit 10): nDCG@10 = {sum(rec_scores) / len(rec_scores):.4f} "
        f"({elapsed / len(judged) * 1000:.1f} ms per query)"
    )


if __name__ == "__main__":
    main()
