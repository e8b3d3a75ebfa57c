"""Training sets for the recommender's encoder: one on-disk format, cleaning, a split by query.

``daogou data export`` (core/training_export.py: the event stream) and ``daogou data import``
(core/training_import.py: BEIR-style or plain pair files) both hand a list of
:class:`Candidate` rows and the product texts to :func:`build`, which cleans, splits and
writes a training-set directory; ``daogou train encoder`` reads it.

The directory:

    products.jsonl   {"id", "text"} for every product of the catalog (or corpus), by id: the
                     whole set a model must rank, so mining and validation rank it all
    train.jsonl      one example a line: {"qid", "query", "positive", "grade", "negatives"}
    valid.jsonl      the same, for queries held out for validation
    manifest.json    source, created, counts, dropped rows by reason, split rule and seed,
                     sha256 of the three files above and ``data_hash``: sha256 of that
                     ``sha256`` object as JSON with sorted keys

- ``qid`` is a hash of the normalised query text (never a user id), ``query`` the query text
  with its whitespace collapsed, ``positive`` a product id, ``grade`` in (0, 1] (1 = the
  best label the source gives; see each source for its scale), ``negatives`` product ids
  shown for the same query and rejected (or labelled irrelevant), the same list on every
  example of a query; may be empty: the trainer mines more.
- Cleaning drops, and counts by reason: ``query_too_short`` / ``query_too_long`` (under
  :data:`MIN_QUERY_CHARS` or over :data:`MAX_QUERY_CHARS` characters), ``unknown_product``
  (not in the catalog or corpus), ``empty_product_text``, ``duplicate`` (the same query,
  product and polarity again; a positive keeps its highest grade), ``label_conflict`` (a
  query–product pair both positive and negative: the negative goes) and
  ``negative_without_positive`` (a query with negatives only has nothing to train on).
- Split: a query goes to validation when ``sha256(seed:normalised query)`` read as a fraction
  of 2**64 falls under the valid fraction.  No query is in both files, and adding rows never
  moves a query from one side to the other.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = "daogou-training/1"
FILES = ("products.jsonl", "train.jsonl", "valid.jsonl")
MIN_QUERY_CHARS = 2
MAX_QUERY_CHARS = 300
DROP_REASONS = ("query_too_short", "query_too_long", "unknown_product", "empty_product_text",
                "duplicate", "label_conflict", "negative_without_positive")
SPLIT_RULE = ("valid when int(sha256(f'{seed}:{normalised query}')[:16], 16) / 2**64 < valid_fraction; "
              "normalised = whitespace collapsed, case folded")


class DataError(ValueError):
    """An input file that cannot be read, with where and why."""


@dataclass(frozen=True)
class Candidate:
    """One labelled query–product row before cleaning: ``grade`` > 0 is a positive, 0 a negative."""

    query: str
    product: str
    grade: float


@dataclass
class TrainingSet:
    """What :func:`build` wrote: the manifest as saved and the directory."""

    out: Path
    manifest: dict[str, Any]
    dropped: Counter[str] = field(default_factory=Counter)


def normalise(query: str) -> str:
    """The key a query is deduplicated, hashed and split by: whitespace collapsed, case folded."""
    return " ".join(query.split()).casefold()


def query_id(query: str) -> str:
    """The ``qid`` of a query: the same for the same normalised text in every export."""
    return hashlib.sha256(normalise(query).encode("utf-8")).hexdigest()[:16]


def is_valid(query: str, *, seed: int, valid_fraction: float) -> bool:
    digest = hashlib.sha256(f"{seed}:{normalise(query)}".encode()).hexdigest()
    return int(digest[:16], 16) / 2**64 < valid_fraction


def clean(candidates: Iterable[Candidate], texts: Mapping[str, str],
          dropped: Counter[str] | None = None) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Examples (without qid's split) from labelled rows, and the rows dropped by reason.

    ``texts`` maps every known product id to its text.  Examples come sorted by qid, then
    product id, so the same rows always give the same files.
    """
    dropped = Counter() if dropped is None else dropped
    shown: dict[str, str] = {}  # normalised query -> the text written (its first spelling)
    positives: dict[tuple[str, str], float] = {}
    negatives: set[tuple[str, str]] = set()
    for row in candidates:
        text = " ".join(row.query.split())
        if len(text) < MIN_QUERY_CHARS:
            dropped["query_too_short"] += 1
            continue
        if len(text) > MAX_QUERY_CHARS:
            dropped["query_too_long"] += 1
            continue
        product = str(row.product).strip()
        if product not in texts:
            dropped["unknown_product"] += 1
            continue
        if not texts[product].strip():
            dropped["empty_product_text"] += 1
            continue
        key = (normalise(text), product)
        shown.setdefault(key[0], text)
        if row.grade > 0:
            if key in positives:
                dropped["duplicate"] += 1
            positives[key] = max(positives.get(key, 0.0), min(float(row.grade), 1.0))
        elif key in negatives:
            dropped["duplicate"] += 1
        else:
            negatives.add(key)
    conflicts = negatives & positives.keys()
    dropped["label_conflict"] += len(conflicts)
    negatives -= conflicts
    rejected: dict[str, list[str]] = {}
    for query, product in negatives:
        rejected.setdefault(query, []).append(product)
    examples = []
    for (query, product), grade in positives.items():
        examples.append({"qid": query_id(query), "query": shown[query], "positive": product,
                         "grade": round(grade, 6), "negatives": sorted(rejected.get(query, []))})
    with_positive = {query for query, _ in positives}
    dropped["negative_without_positive"] += sum(len(v) for q, v in rejected.items() if q not in with_positive)
    examples.sort(key=lambda e: (e["qid"], e["positive"]))
    return examples, Counter({k: v for k, v in dropped.items() if v})


def build(candidates: Iterable[Candidate], texts: Mapping[str, str], out: Path, *,
          source: Mapping[str, Any], seed: int = 0, valid_fraction: float = 0.1,
          dropped: Counter[str] | None = None) -> TrainingSet:
    """Clean, split and write a training-set directory at ``out`` (created; files replaced).

    ``dropped`` carries rows a source already dropped (e.g. events without a query), so the
    manifest counts every row that did not become an example.
    """
    if not 0.0 <= valid_fraction < 1.0:
        raise DataError(f"the valid fraction must be in [0, 1), got {valid_fraction}")
    examples, dropped = clean(candidates, texts, dropped)
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "valid": []}
    for example in examples:
        side = "valid" if is_valid(example["query"], seed=seed, valid_fraction=valid_fraction) else "train"
        splits[side].append(example)
    referenced = sorted({e["positive"] for e in examples} | {n for e in examples for n in e["negatives"]})
    out.mkdir(parents=True, exist_ok=True)
    _write_jsonl(out / "products.jsonl", ({"id": pid, "text": texts[pid]} for pid in sorted(texts)
                                          if texts[pid].strip()))
    for side, rows in splits.items():
        _write_jsonl(out / f"{side}.jsonl", rows)
    digests = {name: _sha256(out / name) for name in FILES}
    manifest = {
        "format": FORMAT,
        "source": dict(source),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "counts": {
            "products": sum(1 for text in texts.values() if text.strip()),
            "labelled_products": len(referenced),
            **{side: len(rows) for side, rows in splits.items()},
            "queries": {side: len({e["qid"] for e in rows}) for side, rows in splits.items()},
            # Query–negative pairs: each example of a query repeats its query's list.
            "negatives": {side: sum(len(e["negatives"]) for e in {e["qid"]: e for e in rows}.values())
                          for side, rows in splits.items()},
        },
        "dropped": {reason: dropped.get(reason, 0) for reason in DROP_REASONS}
        | {k: v for k, v in dropped.items() if k not in DROP_REASONS},
        "split": {"by": "query", "rule": SPLIT_RULE, "seed": seed, "valid_fraction": valid_fraction},
        "sha256": digests,
        # The hash core/train.py records with a model: sha256 of the ``sha256`` object as sorted JSON.
        "data_hash": hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest(),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return TrainingSet(out, manifest, dropped)


def load_examples(path: Path) -> list[dict[str, Any]]:
    """The rows of one file of a training set (``products.jsonl``, ``train.jsonl``,
    ``valid.jsonl``); DataError names the line that is not a JSON object."""
    from core.evaluate import jsonl_rows

    return [row for _, row in jsonl_rows(path, DataError)]


def summary(result: TrainingSet, seconds: float) -> str:
    """The lines the commands print: counts, every drop reason, the data hash."""
    m = result.manifest
    counts = m["counts"]
    lines = [(f"wrote {result.out}: {counts['train']} train examples ({counts['queries']['train']} queries), "
             f"{counts['valid']} valid ({counts['queries']['valid']} queries), {counts['products']} products, "
             f"{counts['negatives']['train'] + counts['negatives']['valid']} hard negatives in {seconds:.1f} s"),
             "dropped: " + ", ".join(f"{reason} {n}" for reason, n in m["dropped"].items()),
             f"data hash {m['data_hash']}"]
    return "\n".join(lines)


def _write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    tmp.replace(path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the command ----------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``daogou data export`` and ``daogou data import``; bots/cli.py mounts them."""
    commands = parser.add_subparsers(dest="data_command", required=True)
    export = commands.add_parser("export", help="training examples from the event stream (REDIS_URL)")
    export.add_argument("--since", help="only events from this ISO time on (e.g. 2026-11-01 or 2026-11-01T08:00Z)")
    importer = commands.add_parser("import", help="training examples from public relevance data")
    importer.add_argument("--format", choices=("beir", "pairs"), required=True)
    importer.add_argument("--corpus", type=Path, help="beir: corpus.jsonl (id, title, text); pairs: product texts")
    importer.add_argument("--queries", type=Path, help="beir: queries.jsonl (qid, text)")
    importer.add_argument("--qrels", type=Path, help="beir: qrels.tsv with a header: query-id, corpus-id, score")
    importer.add_argument("--pairs", type=Path,
                          help="pairs: TSV 'query<TAB>product_id[<TAB>grade]' or JSONL {query, product, grade}")
    importer.add_argument("--catalog", help="pairs: product texts from this catalog (default: DAOGOU_CATALOG "
                                            "or the demo) unless --corpus is given")
    for sub in (export, importer):
        sub.add_argument("--out", type=Path, required=True, help="the training-set directory to write")
        sub.add_argument("--valid-fraction", type=float, default=0.1, help="share of queries held out (default 0.1)")
        sub.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")


def run(args: argparse.Namespace) -> int:
    """Run ``daogou data export|import``; prints the counts and every drop reason."""
    import os
    import sys

    from core.settings import Settings, SettingsError

    started = time.perf_counter()
    try:
        environ = dict(os.environ)
        if getattr(args, "catalog", None):
            environ["DAOGOU_CATALOG"] = args.catalog
        settings = Settings.from_env(environ)
        if args.data_command == "export":
            from core import training_export

            result = training_export.export(settings, args.out, since=args.since, seed=args.seed,
                                            valid_fraction=args.valid_fraction)
        else:
            from core import training_import

            result = training_import.run_import(args, settings)
    except (DataError, SettingsError) as exc:
        print(f"daogou: {exc}", file=sys.stderr)
        return 2
    print(summary(result, time.perf_counter() - started))
    return 0
