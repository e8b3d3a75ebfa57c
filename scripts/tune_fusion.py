"""Compare fusion methods and dense weights of the hybrid ranker on a BEIR-style dev set.

    .venv/bin/python scripts/tune_fusion.py ../shared/datasets/homedepot-dev [--cache DIR]

Query vectors are computed once in batches, so each configuration costs only ranking.
Prints one line per configuration; tune on dev only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

import numpy as np

from core.catalog import Catalog
from core.dense import BoundQuery, DenseIndex
from core.encoder import TransformerEncoder
from core.evaluate import evaluate, load_data
from core.lexical import LexicalRecommender
from core.vectors import load_or_encode


class PrecomputedRetriever:
    """A DenseRetriever whose query vectors were encoded up front."""

    def __init__(self, index: DenseIndex, vectors: dict[str, np.ndarray], encoder: TransformerEncoder) -> None:
        self.index, self.vectors, self.encoder = index, vectors, encoder

    async def query(self, text: str, lang: str) -> BoundQuery | None:
        if self.encoder.unknown_ratio(text) > 0.3:
            return None
        return BoundQuery(self.index, self.vectors[text])


async def main(folder: Path, cache: Path, weights: list[float], fusions: list[str]) -> None:
    data = load_data(folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels.tsv")
    catalog = Catalog(data.products)
    encoder = TransformerEncoder()
    loaded = load_or_encode(catalog.products, encoder, cache)
    print(f"catalog vectors: {loaded.stats}")
    texts = list(dict.fromkeys(data.queries.values()))
    matrix = np.concatenate([encoder.encode_queries(texts[i:i + 128]) for i in range(0, len(texts), 128)])
    retriever = PrecomputedRetriever(DenseIndex(loaded.vectors), dict(zip(texts, matrix)), encoder)
    ranker = LexicalRecommender(catalog, dense=retriever)
    for fusion in fusions:
        for weight in weights:
            ranker._dense_weight, ranker._fusion = weight, fusion  # same index, another blend
            report = await evaluate(ranker, data)
            print(f"{fusion:7} w={weight:.2f}  ndcg@10 {report.ndcg:.4f}  condensed {report.ndcg_condensed:.4f}  "
                  f"recall@100 {report.recall:.4f}  mrr@10 {report.mrr:.4f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("DAOGOU_VECTOR_CACHE", "/tmp/daogou-vectors")))
    parser.add_argument("--weights", default="0.3,0.4,0.5,0.6")
    parser.add_argument("--fusions", default="minmax,zscore,max,rrf")
    args = parser.parse_args()
    asyncio.run(main(args.folder, args.cache, [float(w) for w in args.weights.split(",")], args.fusions.split(",")))
