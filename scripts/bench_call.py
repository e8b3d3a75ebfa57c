"""Latency of one full recommend call on a real catalog, next to the encoder's forward pass.

    .venv/bin/python scripts/bench_call.py ../shared/datasets/homedepot-dev [--queries 500]

Builds the recommender that ships (hybrid unless DAOGOU_RECOMMENDER says otherwise; catalog
vectors from DAOGOU_VECTOR_CACHE) over a BEIR corpus, warms it, then times, one query at a
time on a warm process: the encoder's forward pass alone (fp32 and int8-quantized), and a
whole ``search`` as the dialogue makes it (5 results, filters, diversity) and as
``daogou eval`` makes it (100 deep, no diversity).  Queries are the set's own texts, each
used once, so no query-vector cache helps.  Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.app import build_ranker
from core.catalog import Catalog
from core.encoder import TransformerEncoder
from core.evaluate import load_data
from core.recommender import SearchRequest
from core.settings import Settings


def quantiles(samples: list[float]) -> str:
    ms = np.array(samples) * 1000
    return f"p50 {np.percentile(ms, 50):6.2f} ms  p99 {np.percentile(ms, 99):6.2f} ms  mean {ms.mean():6.2f} ms"


async def main(folder: Path, count: int) -> None:
    data = load_data(folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels.tsv")
    texts = list(dict.fromkeys(data.queries.values()))
    settings = Settings.from_env(dict(os.environ))
    catalog = Catalog(data.products)
    print(f"catalog {len(catalog.products)} products, {settings.recommender} ranker, "
          f"torch threads {settings.encoder_threads or 'default'}")
    ranker = build_ranker(settings, catalog, settings.recommender)
    threads = settings.encoder_threads or None
    for label, quantize in (("encoder fp32", False), ("encoder int8", True)):
        encoder = TransformerEncoder(quantize=quantize, threads=threads)
        encoder.encode_queries(texts[:20])
        times = []
        for text in texts[200:200 + count]:
            start = time.perf_counter()
            encoder.encode_queries([text])
            times.append(time.perf_counter() - start)
        print(f"{label:28} {quantiles(times)}")
    for label, limit, diverse, offset in (("call: 5 results, diverse", 5, True, 1000),
                                          ("call: 100 deep, as eval", 100, False, 2000)):
        await ranker.search(SearchRequest(text=texts[0], limit=limit, diverse=diverse))
        times = []
        for text in texts[offset:offset + count]:
            start = time.perf_counter()
            await ranker.search(SearchRequest(text=text, limit=limit, diverse=diverse))
            times.append(time.perf_counter() - start)
        print(f"{label:28} {quantiles(times)}")
    close = getattr(ranker, "stop", None)
    if close:
        await close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.folder, args.queries))
