"""``daogou data import``: public relevance data as a training set (core/training_data.py).

- ``--format beir``: ``corpus.jsonl`` (``id``, ``title``, optional ``text``; product text =
  title + " " + text), ``queries.jsonl`` (``qid``, ``text``), ``qrels.tsv`` (a header row
  naming ``query-id``, ``corpus-id``, ``score``).  Grades follow ``daogou eval``'s gains:
  on graded labels (any score other than 0 or 1, such as Home Depot's 1..3 rater means) the
  gain is ``score - 1``, else the score; ``grade = gain / the largest gain in the file``.
  A row whose gain is 0 (Home Depot's 1 = irrelevant, or a 0 label) is a hard negative.
  Qrels rows whose query has no text in ``queries.jsonl`` count as ``unknown_query``.
- ``--format pairs``: a TSV ``query<TAB>product_id[<TAB>grade]`` (no header; a first line
  whose third column is not a number, or that says ``query``, is skipped as a header) or
  JSONL ``{"query", "product", "grade"}``.  A missing grade is 1; grades are divided by the
  largest one when it is above 1; 0 is a negative.  Product texts come from ``--corpus``
  (as above) or the catalog (``core.vectors.passage_text``).

A BEIR import also writes ``valid_queries.jsonl`` and ``valid_qrels.tsv``: the validation
queries with their original ids and labels, for ``daogou eval`` on unseen queries.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.evaluate import jsonl_rows
from core.settings import Settings
from core.training_data import Candidate, DataError, TrainingSet, build, is_valid


def corpus_texts(path: Path) -> dict[str, str]:
    """Product id -> ``title + " " + text`` of a BEIR ``corpus.jsonl``."""
    texts = {}
    for lineno, row in jsonl_rows(path, DataError):
        pid = str(row.get("id") or row.get("_id") or "").strip()
        if not pid:
            raise DataError(f"{path}:{lineno}: a row without an id")
        texts[pid] = " ".join(part for part in (str(row.get("title") or "").strip(),
                                                str(row.get("text") or "").strip()) if part)
    return texts


def catalog_texts(settings: Settings) -> dict[str, str]:
    """Product id -> the text the encoder sees, for the settings' catalog."""
    from core.catalog import CatalogError, load_catalog
    from core.vectors import passage_text

    try:
        catalog = load_catalog(settings.catalog, currency=settings.currency)
    except CatalogError as exc:
        raise DataError(f"cannot load the catalog: {exc}") from None
    return {p.id: passage_text(p) for p in catalog.products}


def beir_candidates(queries: Path, qrels: Path, dropped: Counter[str]) -> list[Candidate]:
    """Labelled rows of a BEIR qrels file, graded as the module docstring says."""
    texts: dict[str, str] = {}
    for lineno, row in jsonl_rows(queries, DataError):
        qid = str(row.get("qid") or row.get("_id") or row.get("id") or "").strip()
        if not qid:
            raise DataError(f"{queries}:{lineno}: a row without a qid")
        texts.setdefault(qid, str(row.get("text") or ""))
    rows = list(_qrels(qrels))
    scores = [score for _, _, score in rows]
    graded = any(s not in (0.0, 1.0) for s in scores)
    gains = [max(s - 1.0, 0.0) if graded else max(s, 0.0) for s in scores]
    top = max(gains, default=0.0) or 1.0
    candidates = []
    for (qid, pid, _), gain in zip(rows, gains):
        if qid not in texts:
            dropped["unknown_query"] += 1
            continue
        candidates.append(Candidate(texts[qid], pid, gain / top))
    return candidates


def pair_candidates(path: Path) -> list[Candidate]:
    """Labelled rows of a pairs file (TSV or JSONL, by the first non-blank character)."""
    try:
        head = path.read_text(encoding="utf-8").lstrip()[:1]
    except OSError as exc:
        raise DataError(f"{path}: {exc.strerror or exc}") from None
    raw: list[tuple[str, str, float]] = []
    if head == "{":
        for lineno, row in jsonl_rows(path, DataError):
            try:
                raw.append((str(row["query"]), str(row.get("product") or row.get("product_id") or ""),
                            float(row.get("grade", 1.0))))
            except (KeyError, TypeError, ValueError):
                raise DataError(f"{path}:{lineno}: expected {{query, product, grade}}") from None
    else:
        with path.open(encoding="utf-8", newline="") as fh:
            for lineno, fields in enumerate(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
                if not fields or not "".join(fields).strip():
                    continue
                if len(fields) < 2:
                    raise DataError(f"{path}:{lineno}: expected query<TAB>product_id[<TAB>grade]")
                try:
                    grade = float(fields[2]) if len(fields) > 2 and fields[2].strip() else 1.0
                except ValueError:
                    if lineno == 1:
                        continue  # a header row
                    raise DataError(f"{path}:{lineno}: the grade {fields[2]!r} is not a number") from None
                if lineno == 1 and fields[0].strip().lower() == "query":
                    continue
                raw.append((fields[0], fields[1], grade))
    top = max((g for _, _, g in raw), default=1.0)
    scale = max(1.0, top)
    return [Candidate(q, p, max(g, 0.0) / scale) for q, p, g in raw]


def run_import(args: argparse.Namespace, settings: Settings) -> TrainingSet:
    """``daogou data import`` with parsed arguments (see core/training_data.add_arguments)."""
    dropped: Counter[str] = Counter()
    if args.format == "beir":
        missing = [name for name in ("corpus", "queries", "qrels") if getattr(args, name) is None]
        if missing:
            raise DataError("--format beir needs " + ", ".join(f"--{m}" for m in missing))
        texts = corpus_texts(args.corpus)
        candidates = beir_candidates(args.queries, args.qrels, dropped)
        source: dict[str, Any] = {"kind": "beir", "corpus": str(args.corpus), "queries": str(args.queries),
                                  "qrels": str(args.qrels), "rows": len(candidates) + sum(dropped.values()),
                                  "grades": "gain / max gain; gain = score - 1 on graded labels, else score; "
                                            "gain 0 = hard negative"}
    else:
        if args.pairs is None:
            raise DataError("--format pairs needs --pairs")
        texts = corpus_texts(args.corpus) if args.corpus else catalog_texts(settings)
        candidates = pair_candidates(args.pairs)
        source = {"kind": "pairs", "pairs": str(args.pairs),
                  "products": str(args.corpus) if args.corpus else (settings.catalog or "demo catalog"),
                  "rows": len(candidates), "grades": "grade / max grade when above 1, missing = 1; 0 = negative"}
    result = build(candidates, texts, args.out, source=source, seed=args.seed,
                   valid_fraction=args.valid_fraction, dropped=dropped)
    if args.format == "beir":
        write_valid_qrels(args.queries, args.qrels, args.out, seed=args.seed, valid_fraction=args.valid_fraction)
    return result


def write_valid_qrels(queries: Path, qrels: Path, out: Path, *, seed: int, valid_fraction: float) -> int:
    """``valid_queries.jsonl`` and ``valid_qrels.tsv`` beside the set: the validation queries with
    their original ids and labels, so ``daogou eval --corpus <the corpus> --queries
    out/valid_queries.jsonl --qrels out/valid_qrels.tsv`` measures queries training never saw.
    Returns how many queries.  Not part of the data hash: derived, for evaluation only."""
    held: dict[str, dict[str, str]] = {}
    for _, row in jsonl_rows(queries, DataError):
        qid = str(row.get("qid") or row.get("_id") or row.get("id") or "").strip()
        text = str(row.get("text") or "")
        if qid and is_valid(text, seed=seed, valid_fraction=valid_fraction):
            held.setdefault(qid, {"qid": qid, "text": text})
    labelled = [(q, d, s) for q, d, s in _qrels(qrels) if q in held]
    with (out / "valid_qrels.tsv").open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        fh.writelines(f"{q}\t{d}\t{s:g}\n" for q, d, s in labelled)
    judged = {q for q, _, _ in labelled}
    with (out / "valid_queries.jsonl").open("w", encoding="utf-8", newline="\n") as fh:
        fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for qid, row in held.items() if qid in judged)
    return len(judged)


def _qrels(path: Path) -> Iterator[tuple[str, str, float]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t")
            header = [h.strip() for h in next(reader, [])]
            try:
                q_col, d_col, s_col = (header.index(c) for c in ("query-id", "corpus-id", "score"))
            except ValueError:
                raise DataError(f"{path}: the header must name query-id, corpus-id and score, got {header}") from None
            for lineno, fields in enumerate(reader, 2):
                if not fields or not "".join(fields).strip():
                    continue
                try:
                    yield fields[q_col].strip(), fields[d_col].strip(), float(fields[s_col])
                except (IndexError, ValueError):
                    raise DataError(f"{path}:{lineno}: cannot read {fields}") from None
    except OSError as exc:
        raise DataError(f"{path}: {exc.strerror or exc}") from None
