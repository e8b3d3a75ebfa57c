"""Two encoders, one yardstick: ``daogou eval --candidate`` and ``daogou model promote``.

``compare`` evaluates the serving model and a candidate (``core.evaluate.evaluate``) on the
same data, with the same recommender mode (hybrid by default; "lexical" has no encoder to
compare) and one shared BM25 index, and reports both and the candidate's relative change:
``(candidate - serving) / serving`` for nDCG@10 (plain and condensed), Recall@100, MRR@10 and
the p50/p99 latencies (a positive latency delta is slower).

The data is BEIR files (``--corpus/--queries/--qrels``) or a training set directory
(``--data``, see ``training_set_data``); without either, the validation set the candidate was
trained with (``training.json``'s ``data``).  Catalog vectors of evaluation data are cached
under ``DAOGOU_VECTOR_CACHE/eval``, apart from the shop catalog's, which they would evict.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from core.catalog import Catalog, Product
from core.evaluate import EvalData, EvalError, EvalReport, evaluate, jsonl_rows
from core.models import model_name, training_record
from core.settings import Settings

METRICS = ("ndcg@10", "ndcg@10_condensed", "recall@100", "mrr@10")
LATENCIES = ("p50", "p99")


def training_set_data(folder: Path, *, limit: int | None = None) -> EvalData:
    """A training set (``core.training_data``) as evaluation data: the products of
    ``products.jsonl`` (the text as title, the way the encoder read it in training) and the
    queries of ``valid.jsonl``, in file order (``limit``: the first ones).

    Each positive of grade g in (0, 1] is labelled ``1 + 2g`` and each listed negative 1, so
    that ``EvalData``'s graded gains (``score - 1``) are ``2g`` and 0: nDCG weighs positives by
    their grade, as ``daogou train encoder``'s validation does, and the relevance threshold of
    graded labels (2.5) counts grades from 0.75 on, its ``RELEVANT_GRADE``.
    """
    products = []
    for lineno, row in jsonl_rows(folder / "products.jsonl", EvalError):
        pid, text = str(row.get("id") or "").strip(), str(row.get("text") or "").strip()
        if not pid:
            raise EvalError(f"{folder / 'products.jsonl'}:{lineno}: a row without an id")
        products.append(Product(id=pid, title=text or pid, price=0.0))
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, float]] = {}
    valid = folder / "valid.jsonl"
    for lineno, row in jsonl_rows(valid, EvalError):
        qid, query, positive = str(row.get("qid") or ""), str(row.get("query") or ""), str(row.get("positive") or "")
        grade = row.get("grade", 1.0)
        if not qid or not query or not positive or isinstance(grade, bool) or not isinstance(grade, (int, float)):
            raise EvalError(f"{valid}:{lineno}: expected qid, query, positive and a numeric grade")
        if qid not in queries and limit is not None and len(queries) >= limit:
            continue
        queries.setdefault(qid, query)
        labels = qrels.setdefault(qid, {})
        labels[positive] = max(labels.get(positive, 0.0), 1.0 + 2.0 * min(max(float(grade), 0.0), 1.0))
        for negative in row.get("negatives") or ():
            labels.setdefault(str(negative), 1.0)
    return EvalData(tuple(products), queries, qrels)


def trained_on(model_dir: Path) -> Path | None:
    """The training set a model was trained on (its training.json's ``data``), if still there."""
    data = training_record(model_dir).get("data")
    if isinstance(data, str) and data and (Path(data) / "valid.jsonl").is_file():
        return Path(data)
    return None


@dataclass
class Comparison:
    """Two evaluations on the same data; ``as_json`` is ``daogou eval --candidate --json``."""

    mode: str
    serving_model: str
    candidate_model: str
    serving: EvalReport
    candidate: EvalReport
    documents: int

    def value(self, report: EvalReport, metric: str) -> float:
        figure = report.as_json()[metric]
        return float(figure) if figure is not None else math.nan

    def deltas(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for metric in METRICS:
            out[metric] = _relative(self.value(self.serving, metric), self.value(self.candidate, metric))
        for q in LATENCIES:
            out[f"latency_{q}"] = _relative(getattr(self.serving, f"latency_{q}_ms"),
                                            getattr(self.candidate, f"latency_{q}_ms"))
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "documents": self.documents, "queries": self.serving.queries,
            "serving": {"model": self.serving_model, **self.serving.as_json()},
            "candidate": {"model": self.candidate_model, **self.candidate.as_json()},
            "delta": self.deltas(),
        }

    def table(self) -> str:
        deltas = self.deltas()
        rows = [("", "serving", "candidate", "change"),
                ("model", self.serving_model, self.candidate_model, ""),
                ("mode", self.mode, self.mode, ""),
                ("queries", str(self.serving.queries), str(self.candidate.queries), "")]
        for metric in METRICS:
            rows.append((metric, f"{self.value(self.serving, metric):.4f}",
                         f"{self.value(self.candidate, metric):.4f}", _percent(deltas[metric])))
        for q in LATENCIES:
            rows.append((f"latency {q} ms", f"{getattr(self.serving, f'latency_{q}_ms'):.2f}",
                         f"{getattr(self.candidate, f'latency_{q}_ms'):.2f}", _percent(deltas[f"latency_{q}"])))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        return "\n".join("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                                   for i, cell in enumerate(row)).rstrip() for row in rows)


def _relative(before: float, after: float) -> float | None:
    if math.isnan(before) or math.isnan(after) or before == 0:
        return None
    return round((after - before) / before, 4)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1%}"


def compare(settings: Settings, data: EvalData, serving: Path | None, candidate: Path | None, *,
            mode: str = "hybrid", relevant_threshold: float | None = None,
            serving_name: str | None = None, candidate_name: str | None = None) -> Comparison:
    """Evaluate ``serving`` then ``candidate`` (encoder directories; None: DAOGOU_ENCODER) on
    ``data`` in ``mode``, one model in memory at a time.  Raises EvalError for a mode without
    an encoder; whatever loading a model raises otherwise."""
    if mode not in ("hybrid", "dense"):
        raise EvalError(f"--mode {mode} ranks without an encoder: there is nothing to compare (use hybrid or dense)")
    from core.app import lexical_base
    from core.dense_setup import retriever_for, vector_cache_dir

    catalog = Catalog(data.products)
    base = lexical_base(settings, catalog, mode)
    cache = vector_cache_dir(settings) / "eval"
    reports = []
    for model_dir in (serving, candidate):
        retriever = retriever_for(settings, catalog, model_dir, cache_dir=cache)
        try:
            reports.append(asyncio.run(evaluate(base.with_dense(retriever), data,
                                                relevant_threshold=relevant_threshold)))
        finally:
            retriever.encoder.close()  # type: ignore[attr-defined]
    return Comparison(mode, serving_name or _name(serving), candidate_name or _name(candidate),
                      reports[0], reports[1], len(catalog))


def _name(model_dir: Path | None) -> str:
    return model_dir.name if model_dir is not None else model_name("")


def run_eval(args: Any, settings: Settings, *, out: TextIO | None = None) -> int:
    """``daogou eval --candidate DIR``: the serving model against DIR, side by side."""
    from core.evaluate import data_from_args
    from core.models import ModelRegistry, RegistryError

    out = out or sys.stdout
    candidate = Path(args.candidate).expanduser()
    registry = ModelRegistry(settings.models_dir)
    if not (candidate / "config.json").is_file() and len(candidate.parts) == 1:
        candidate = registry.root / candidate  # a model's name inside DAOGOU_MODELS_DIR, as promote takes
    try:
        if not (candidate / "config.json").is_file():
            raise EvalError(f"--candidate {candidate}: not an encoder directory (no config.json)")
        serving_ref = registry.read().serving_ref
        data = data_from_args(args, trained_on(candidate))
        started = time.perf_counter()
        result = compare(settings, data, registry.resolve(serving_ref), candidate, mode=args.mode,
                         relevant_threshold=args.relevant_threshold, serving_name=model_name(serving_ref))
    except (EvalError, RegistryError) as exc:
        print(f"daogou eval: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**result.as_json(), "seconds": round(time.perf_counter() - started, 2)}), file=out, flush=True)
    else:
        print(result.table(), file=out, flush=True)
    return 0
