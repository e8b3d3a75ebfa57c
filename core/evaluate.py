"""``daogou eval``: retrieval quality and latency of a recommender on BEIR-style data.

The data (see ARCHITECTURE.md) is ``corpus.jsonl`` (``id``, ``title``, optional ``text``),
``queries.jsonl`` (``qid``, ``text``) and ``qrels.tsv`` (a header row, then ``query-id``,
``corpus-id``, ``score``).  Corpus rows become products (price 0, the title, the text as
description); each judged query is one ``SearchRequest(text=..., limit=100,
diverse=False, in_stock_only=False)`` awaited on the recommender, timed around the await.

Metrics, averaged over queries:

- Gain.  Graded labels (any score other than 0 or 1, as Home Depot's 1..3 averages of
  raters) earn ``score - 1``, so "irrelevant" (1) earns nothing; binary labels earn the
  label itself.  Gains are linear, discounts ``1 / log2(rank + 1)``.
- nDCG@10: unjudged documents earn 0; the ideal ranking is the query's judged documents by
  gain.  ``ndcg@10_condensed`` first removes unjudged documents from the ranking (Sakai's
  condensed list), which shows what the ranking of judged documents is worth when most
  retrieved documents were never judged.  Queries whose judged documents all earn 0
  cannot be scored and are left out (``ndcg_queries`` counts the rest).
- Recall@100 and MRR@10 count a document relevant when its score reaches the relevant
  threshold (``--relevant-threshold``; 2.5 on graded labels, 1 on binary ones); queries
  without a relevant document are left out of both (``recall_queries`` counts the rest).
- Latency: p50 and p99 of the awaited ``search`` calls, in milliseconds, after one
  untimed warm-up search.

Instead of the three files, ``--data DIR`` evaluates on a training set's validation queries
(``core.model_compare.training_set_data``).  ``bots/cli.py`` mounts :func:`add_arguments` and
:func:`run` as ``daogou eval`` and passes ``build`` for the modes that need the dense side;
with ``--candidate`` it runs ``core.model_compare.run_eval`` instead (two models side by side).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import functools
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from core.catalog import Catalog, Product
from core.recommender import Recommender, SearchRequest

__all__ = [
    "MODES", "BuildRecommender", "EvalData", "EvalReport", "add_arguments", "add_data_arguments",
    "data_from_args", "evaluate", "load_data", "mrr_at", "ndcg_at", "recall_at", "run",
]

MODES = ("lexical", "hybrid", "dense")
# How deep each query is ranked.  Recall counts the first 100; condensed nDCG drops the
# unjudged documents from the ranking and needs the judged ones that rank below 100 too,
# or a judged document the system ranks 150th would count as never found.
SEARCH_LIMIT = 1000
GRADED_THRESHOLD = 2.5
BINARY_THRESHOLD = 1.0

BuildRecommender = Callable[[Catalog, str], Recommender]
"""Builds the recommender to evaluate from the corpus's catalog and the ``--mode``."""


class EvalError(ValueError):
    """Evaluation data that cannot be used, with the file and why."""


# -- metrics ------------------------------------------------------------------------------

def ndcg_at(
    ranking: Sequence[str], gains: Mapping[str, float], k: int = 10, *, condensed: bool = False
) -> float | None:
    """nDCG@k of ``ranking`` (document ids, best first) against the judged ``gains``.

    Unjudged documents earn 0, or with ``condensed`` are removed before cutting at ``k``.
    None when no judged document earns anything (the ideal DCG is 0).
    """
    ideal = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    if not ideal:
        return None
    if condensed:
        ranking = [doc for doc in ranking if doc in gains]
    dcg = sum(gains.get(doc, 0.0) / math.log2(rank + 2) for rank, doc in enumerate(ranking[:k]))
    idcg = sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))
    return dcg / idcg


def recall_at(ranking: Sequence[str], relevant: set[str] | frozenset[str], k: int = 100
              ) -> float | None:
    """Share of the ``relevant`` documents among the first ``k``; None without any."""
    if not relevant:
        return None
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at(ranking: Sequence[str], relevant: set[str] | frozenset[str], k: int = 10
           ) -> float | None:
    """1 / rank of the first relevant document within the first ``k`` (0 if none there);
    None without any relevant document."""
    if not relevant:
        return None
    for rank, doc in enumerate(ranking[:k], 1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), interpolating linearly between order statistics."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


# -- data ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class EvalData:
    """A BEIR-style dataset: products, judged queries in file order, and their labels."""

    products: tuple[Product, ...]
    queries: dict[str, str]  # qid -> text, only queries that have judgements
    qrels: dict[str, dict[str, float]]  # qid -> corpus id -> score as labelled

    @functools.cached_property
    def graded(self) -> bool:
        """Whether any label is other than 0 or 1."""
        return any(s not in (0.0, 1.0) for labels in self.qrels.values() for s in labels.values())

    def gains(self, qid: str) -> dict[str, float]:
        """Each judged document's gain: ``score - 1`` for graded labels, else the label."""
        labels = self.qrels.get(qid, {})
        if self.graded:
            return {doc: max(score - 1.0, 0.0) for doc, score in labels.items()}
        return {doc: max(score, 0.0) for doc, score in labels.items()}


def load_data(corpus: Path, queries: Path, qrels: Path, *, limit: int | None = None) -> EvalData:
    """Read the three files; ``limit`` keeps the first judged queries.  Raises EvalError."""
    products = []
    for lineno, row in jsonl_rows(corpus, EvalError):
        pid, title = str(row.get("id") or row.get("_id") or "").strip(), str(row.get("title") or "")
        text = str(row.get("text") or "")
        if not pid:
            raise EvalError(f"{corpus}:{lineno}: a row without an id")
        # A document without a title is still a document: its text stands in.
        products.append(Product(id=pid, title=title.strip() or text.strip()[:200] or pid,
                                price=0.0, description=text))
    labels: dict[str, dict[str, float]] = {}
    try:
        with qrels.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t")
            header = next(reader, None)
            if header is None:
                raise EvalError(f"{qrels}: empty")
            columns = [h.strip() for h in header]
            try:
                q_col, d_col, s_col = (columns.index(c) for c in ("query-id", "corpus-id", "score"))
            except ValueError:
                raise EvalError(f"{qrels}: the header must name query-id, corpus-id and score, "
                                f"got {header}") from None
            for lineno, fields in enumerate(reader, 2):
                if not fields or not "".join(fields).strip():
                    continue
                try:
                    score = float(fields[s_col])
                    labels.setdefault(fields[q_col].strip(), {})[fields[d_col].strip()] = score
                except (IndexError, ValueError):
                    raise EvalError(f"{qrels}:{lineno}: cannot read {fields}") from None
    except OSError as exc:
        raise EvalError(f"{qrels}: {exc.strerror or exc}") from None
    texts: dict[str, str] = {}
    for lineno, row in jsonl_rows(queries, EvalError):
        qid = str(row.get("qid") or row.get("_id") or row.get("id") or "").strip()
        if not qid:
            raise EvalError(f"{queries}:{lineno}: a row without a qid")
        if qid in labels and qid not in texts:
            texts[qid] = str(row.get("text") or "")
    if limit is not None:
        texts = dict(list(texts.items())[: max(limit, 0)])
    return EvalData(tuple(products), texts, {qid: labels[qid] for qid in texts})


def json_file(path: Path, error: type[ValueError] = ValueError) -> Any:
    """The parsed JSON file at ``path``.  A missing file raises FileNotFoundError (callers
    decide what absence means); an unreadable or invalid one raises ``error`` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def jsonl_rows(path: Path, error: type[ValueError] = ValueError) -> Iterable[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line of a JSON-lines file; anything else
    (unreadable file, a line that is not a JSON object) raises ``error`` naming the line."""
    try:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise error(f"{path}:{lineno}: not JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise error(f"{path}:{lineno}: expected a JSON object")
                yield lineno, row
    except OSError as exc:
        raise error(f"{path}: {exc.strerror or exc}") from None


# -- running ------------------------------------------------------------------------------

@dataclass
class EvalReport:
    """What one evaluation measured; :meth:`as_json` is the ``--json`` contract."""

    queries: int
    ndcg: float
    ndcg_condensed: float
    recall: float
    mrr: float
    latency_p50_ms: float
    latency_p99_ms: float
    ndcg_queries: int
    recall_queries: int
    relevant_threshold: float
    graded: bool
    latencies_ms: list[float] = field(default_factory=list)  # per query, in order
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "queries": self.queries,
            "ndcg@10": _round(self.ndcg),
            "ndcg@10_condensed": _round(self.ndcg_condensed),
            "recall@100": _round(self.recall),
            "mrr@10": _round(self.mrr),
            "latency_ms": {"p50": _round(self.latency_p50_ms), "p99": _round(self.latency_p99_ms)},
            "ndcg_queries": self.ndcg_queries,
            "recall_queries": self.recall_queries,
            "relevant_threshold": self.relevant_threshold,
            "gain": "score - 1" if self.graded else "score",
            **self.extra,
        }


async def evaluate(
    recommender: Recommender, data: EvalData, *, relevant_threshold: float | None = None
) -> EvalReport:
    """Search every query of ``data`` in turn and score the rankings."""
    threshold = relevant_threshold if relevant_threshold is not None else (
        GRADED_THRESHOLD if data.graded else BINARY_THRESHOLD
    )
    requests = {
        qid: SearchRequest(text=text, limit=SEARCH_LIMIT, diverse=False, in_stock_only=False)
        for qid, text in data.queries.items()
    }
    if requests:
        await recommender.search(next(iter(requests.values())))  # warm-up, untimed
    ndcg: list[float] = []
    condensed: list[float] = []
    recall: list[float] = []
    mrr: list[float] = []
    latency: list[float] = []
    for qid, request in requests.items():
        start = time.perf_counter()
        hits = await recommender.search(request)
        latency.append((time.perf_counter() - start) * 1000)
        ranking = [h.product.id for h in hits]
        gains = data.gains(qid)
        relevant = {doc for doc, score in data.qrels[qid].items() if score >= threshold}
        for values, value in (
            (ndcg, ndcg_at(ranking, gains)),
            (condensed, ndcg_at(ranking, gains, condensed=True)),
            (recall, recall_at(ranking, relevant)),
            (mrr, mrr_at(ranking, relevant)),
        ):
            if value is not None:
                values.append(value)
    return EvalReport(
        queries=len(requests), ndcg=_mean(ndcg), ndcg_condensed=_mean(condensed),
        recall=_mean(recall), mrr=_mean(mrr), latency_p50_ms=percentile(latency, 50),
        latency_p99_ms=percentile(latency, 99), ndcg_queries=len(ndcg),
        recall_queries=len(recall), relevant_threshold=threshold, graded=data.graded,
        latencies_ms=latency,
    )


def default_build(catalog: Catalog, mode: str) -> Recommender:
    """The lexical recommender; other modes need a factory from the caller."""
    if mode != "lexical":
        raise EvalError(f"--mode {mode} needs the dense side, which this command was not given")
    from core.lexical import LexicalRecommender

    return LexicalRecommender(catalog)


def add_arguments(parser: argparse.ArgumentParser, *, default_mode: str = "lexical") -> None:
    """Options of ``daogou eval``; bots/cli.py mounts them on its subcommand with the mode
    that ships as the default."""
    add_data_arguments(parser, default_mode=default_mode)
    parser.add_argument("--candidate", type=Path, metavar="MODEL_DIR",
                        help="compare this encoder directory with the serving model (DAOGOU_MODELS_DIR's "
                        "registry, else DAOGOU_ENCODER) side by side; without data options, on the validation "
                        "set its training.json names")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def add_data_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *,
                       default_mode: str = "lexical") -> None:
    """The data and mode options, shared with ``daogou model promote``."""
    parser.add_argument("--corpus", type=Path, help="corpus.jsonl (id, title, text)")
    parser.add_argument("--queries", type=Path, help="queries.jsonl (qid, text)")
    parser.add_argument("--qrels", type=Path, help="qrels.tsv with a header row: query-id, corpus-id, score")
    parser.add_argument("--data", type=Path, metavar="DIR",
                        help="instead of the three files: a training set directory (daogou data export/import); "
                        "its valid.jsonl queries over its products.jsonl, graded by the examples' grades")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N judged queries")
    parser.add_argument("--relevant-threshold", type=float, metavar="S",
                        help=f"a label counts relevant for recall and MRR from this score on "
                        f"(default: {GRADED_THRESHOLD:g} on graded labels, {BINARY_THRESHOLD:g} "
                        "on binary ones)")
    parser.add_argument("--mode", choices=MODES, default=default_mode,
                        help=f"which retrieval to evaluate (default: {default_mode})")


def run(args: argparse.Namespace, *, build: BuildRecommender | None = None,
        out: TextIO | None = None) -> int:
    """Load, build, search, print; 0 on success, 2 when the data or mode cannot be used.

    ``build(catalog, mode)`` makes the recommender (default: the lexical one, which only
    serves ``--mode lexical``).  Errors go to stderr; with ``--json`` stdout carries
    exactly one JSON object.
    """
    out = out or sys.stdout
    try:
        start = time.perf_counter()
        data = data_from_args(args)
        catalog = Catalog(data.products)
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        recommender = (build or default_build)(catalog, args.mode)
        built = time.perf_counter() - start
    except EvalError as exc:
        print(f"daogou eval: {exc}", file=sys.stderr)
        return 2
    report = asyncio.run(_started(recommender, data, args.relevant_threshold))
    report.extra.update(mode=args.mode, documents=len(catalog), load_s=round(loaded, 2),
                        index_build_s=round(built, 2))
    if args.json:
        print(json.dumps(report.as_json()), file=out, flush=True)
    else:
        print(_table(report), file=out, flush=True)
    return 0


def data_from_args(args: argparse.Namespace, default_data: Path | None = None) -> EvalData:
    """The evaluation data the options name: the three BEIR files, or ``--data`` (a training
    set directory), or else ``default_data``.  Raises EvalError, also when no query is judged."""
    files = (args.corpus, args.queries, args.qrels)
    folder = getattr(args, "data", None)
    if any(f is not None for f in files):
        if any(f is None for f in files):
            raise EvalError("give all three of --corpus, --queries and --qrels")
        if folder is not None:
            raise EvalError("give either --data or --corpus/--queries/--qrels, not both")
        data = load_data(args.corpus, args.queries, args.qrels, limit=args.limit)
        if not data.queries:
            raise EvalError(f"{args.queries}: no query has a judgement in {args.qrels}")
        return data
    folder = folder or default_data
    if folder is None:
        raise EvalError("give --corpus, --queries and --qrels (BEIR files), or --data (a training set directory)")
    from core.model_compare import training_set_data

    data = training_set_data(Path(folder), limit=args.limit)
    if not data.queries:
        raise EvalError(f"{folder}: valid.jsonl has no example to evaluate")
    return data


async def _started(recommender: Recommender, data: EvalData, threshold: float | None) -> EvalReport:
    """``evaluate`` between the recommender's own ``start()`` and ``stop()``, where it has
    them (a remote client, a dense side with a thread pool)."""
    start, stop = getattr(recommender, "start", None), getattr(recommender, "stop", None)
    if start is not None:
        await start()
    try:
        return await evaluate(recommender, data, relevant_threshold=threshold)
    finally:
        if stop is not None:
            await stop()


def _table(report: EvalReport) -> str:
    rows = [
        ("mode", str(report.extra.get("mode", ""))),
        ("documents", str(report.extra.get("documents", ""))),
        ("queries", str(report.queries)),
        ("nDCG@10", f"{report.ndcg:.4f}  ({report.ndcg_queries} queries with a gain)"),
        ("nDCG@10 condensed", f"{report.ndcg_condensed:.4f}"),
        ("Recall@100", (f"{report.recall:.4f}  ({report.recall_queries} queries with a document "
                        f"scored >= {report.relevant_threshold:g})")),
        ("MRR@10", f"{report.mrr:.4f}"),
        ("latency p50 / p99", f"{report.latency_p50_ms:.2f} / {report.latency_p99_ms:.2f} ms"),
        ("gain", "score - 1 (graded labels)" if report.graded else "score (binary labels)"),
        ("load / index build", (f"{report.extra.get('load_s', 0):.2f} / "
                                f"{report.extra.get('index_build_s', 0):.2f} s")),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)
