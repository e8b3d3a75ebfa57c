"""Encode a JSONL corpus of products ({"id", "title", ...} per line) into the vector cache.

    .venv/bin/python scripts/encode_corpus.py /work/shared/datasets/homedepot-dev/corpus.jsonl /tmp/daogou-vectors

Rows without a price get 0.  Uses the bundled MiniLM unless --encoder names another
directory.  A second run finds everything cached and encodes nothing.  Prints figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time

from core.catalog import Catalog, Product
from core.encoder import TransformerEncoder
from core.vectors import load_or_encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", help="JSONL file, one product per line")
    parser.add_argument("cache_dir", help="vector cache directory, e.g. /tmp/daogou-vectors")
    parser.add_argument("--encoder", help="encoder directory (default: the bundled MiniLM)")
    parser.add_argument("--passage-prefix", default="")
    parser.add_argument("--max-length", type=int, default=128, help="passage max length in tokens")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    t = time.perf_counter()
    products = []
    with open(args.corpus, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                row.setdefault("price", 0)
                products.append(Product.from_dict(row))
    catalog = Catalog(products)
    print(f"corpus: {len(catalog)} products read in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    encoder = TransformerEncoder(
        args.encoder, passage_prefix=args.passage_prefix, passage_max_length=args.max_length, threads=args.threads
    )
    print(f"encoder: {encoder.model_dir} (dim {encoder.dim}, fingerprint {encoder.fingerprint}) "
          f"loaded in {time.perf_counter() - t:.1f} s")
    vectors, stats = load_or_encode(catalog.products, encoder, args.cache_dir, batch_size=args.batch_size)
    rate = f", {stats.encoded / stats.seconds:.0f} passages/s" if stats.encoded else ""
    print(f"vectors: {vectors.shape} float32; {stats.reused} reused, {stats.encoded} encoded, "
          f"{stats.dropped} dropped in {stats.seconds:.1f} s{rate}; cache {stats.path}")


if __name__ == "__main__":
    main()
