"""``daogou eval``: the metrics on hand-computed examples, and whole runs on tiny datasets.

Every dataset is written to tmp_path, so nothing here needs /work/shared.
"""

from __future__ import annotations

import argparse
import io
import json
from math import log2
from pathlib import Path

import pytest

from core import evaluate
from core.catalog import Catalog
from core.evaluate import EvalData, load_data, mrr_at, ndcg_at, percentile, recall_at
from core.lexical import LexicalRecommender
from core.recommender import Hit, Recommender, SearchRequest

# -- metrics ------------------------------------------------------------------------------

def test_ndcg_of_a_perfect_and_of_a_reversed_ranking() -> None:
    gains = {"a": 2.0, "b": 1.0, "c": 0.0}
    assert ndcg_at(["a", "b", "c"], gains) == pytest.approx(1.0)
    # Reversed: DCG = 0/1 + 1/log2(3) + 2/log2(4); IDCG = 2/1 + 1/log2(3).
    expected = (1 / log2(3) + 2 / 2) / (2 + 1 / log2(3))
    assert ndcg_at(["c", "b", "a"], gains) == pytest.approx(expected)
    assert ndcg_at(["x"], {"c": 0.0}) is None  # nothing to gain: not scored


def test_ndcg_cuts_at_k_and_ideal_uses_every_judged_document() -> None:
    gains = {"a": 1.0, "b": 1.0}
    # Only "a" within the first 2; the ideal has both.
    assert ndcg_at(["a", "x", "b"], gains, k=2) == pytest.approx(1 / (1 + 1 / log2(3)))


def test_condensed_ndcg_drops_unjudged_documents() -> None:
    gains = {"a": 2.0, "b": 0.0}
    ranking = ["u1", "u2", "a", "b"]  # two documents nobody judged come first
    standard = ndcg_at(ranking, gains)
    condensed = ndcg_at(ranking, gains, condensed=True)
    assert standard == pytest.approx((2 / log2(4)) / 2)  # "a" at rank 3
    assert condensed == pytest.approx(1.0)  # "a" first once the unjudged are gone
    # A judged irrelevant document stays in the condensed list and still costs.
    assert ndcg_at(["b", "u1", "a"], gains, condensed=True) == pytest.approx(1 / log2(3))


def test_graded_labels_gain_score_minus_one_binary_labels_their_score() -> None:
    graded = EvalData((), {"q": "x"}, {"q": {"a": 3.0, "b": 2.33, "c": 1.0}})
    assert graded.graded
    assert graded.gains("q") == pytest.approx({"a": 2.0, "b": 1.33, "c": 0.0})
    binary = EvalData((), {"q": "x"}, {"q": {"a": 1.0, "b": 0.0}})
    assert not binary.graded
    assert binary.gains("q") == {"a": 1.0, "b": 0.0}
    # Ranking the "irrelevant" (1.0) document first earns nothing under graded gain.
    assert ndcg_at(["c", "a"], graded.gains("q")) == pytest.approx(
        (2 / log2(3)) / (2 + 1.33 / log2(3)))


def test_recall_and_mrr_count_only_documents_reaching_the_threshold() -> None:
    labels = {"a": 3.0, "b": 2.67, "c": 2.33, "d": 1.0}
    relevant = {doc for doc, s in labels.items() if s >= 2.5}
    assert relevant == {"a", "b"}
    assert recall_at(["c", "b", "d"], relevant) == 0.5
    assert recall_at(["x"] * 100 + ["a"], relevant) == 0.0  # past 100
    assert recall_at(["a"], set()) is None
    assert mrr_at(["c", "d", "b", "a"], relevant) == pytest.approx(1 / 3)
    assert mrr_at(["x"] * 10 + ["a"], relevant) == 0.0  # past 10
    assert mrr_at(["a"], set()) is None


def test_percentile_interpolates() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(map(float, range(101))), 99) == 99.0
    assert percentile([7.0], 99) == 7.0


# -- whole runs on a tiny dataset ---------------------------------------------------------

CORPUS = [
    {"id": "d1", "title": "Cordless Drill 20V", "text": "Brushless cordless drill with battery"},
    {"id": "d2", "title": "Hammer Drill Corded"},
    {"id": "d3", "title": "Garden Hose 50 ft", "text": "Kink free garden hose"},
    {"id": "d4", "title": "Hose Nozzle"},
    {"id": "d5", "title": "LED Light Bulb 60W"},
    {"id": "d6", "title": "Paint Brush Set"},
]
QUERIES = [
    {"qid": "q1", "text": "cordless drill"},
    {"qid": "q2", "text": "garden hose"},
    {"qid": "q3", "text": "light bulb"},
    {"qid": "q4", "text": "nothing judged"},  # no qrels: not evaluated
]
QRELS = [("q1", "d1", 3.0), ("q1", "d2", 2.0), ("q2", "d3", 3.0), ("q2", "d4", 2.33),
         ("q3", "d5", 2.0), ("q3", "d6", 1.0)]


def write_dataset(root: Path, qrels: list[tuple[str, str, float]] = QRELS) -> argparse.Namespace:
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in CORPUS))
    (root / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in QUERIES))
    (root / "qrels.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in qrels)
    )
    return parse(["--corpus", str(root / "corpus.jsonl"), "--queries", str(root / "queries.jsonl"),
                  "--qrels", str(root / "qrels.tsv"), "--json"])


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    evaluate.add_arguments(parser)
    return parser.parse_args(argv)


def run_json(args: argparse.Namespace, **kw: object) -> dict[str, object]:
    out = io.StringIO()
    assert evaluate.run(args, out=out, **kw) == 0  # type: ignore[arg-type]
    lines = out.getvalue().splitlines()
    assert len(lines) == 1  # exactly one JSON object
    result: dict[str, object] = json.loads(lines[0])
    return result


def test_load_data_reads_products_queries_and_labels(tmp_path: Path) -> None:
    args = write_dataset(tmp_path)
    data = load_data(args.corpus, args.queries, args.qrels)
    assert [p.id for p in data.products] == [r["id"] for r in CORPUS]
    assert data.products[0].description.startswith("Brushless")
    assert data.products[1].description == "" and data.products[1].price == 0
    assert list(data.queries) == ["q1", "q2", "q3"]
    assert data.qrels["q2"] == {"d3": 3.0, "d4": 2.33}
    assert list(load_data(args.corpus, args.queries, args.qrels, limit=2).queries) == ["q1", "q2"]


def test_end_to_end_lexical_run(tmp_path: Path) -> None:
    result = run_json(write_dataset(tmp_path))
    assert set(result) >= {"queries", "ndcg@10", "ndcg@10_condensed", "recall@100", "mrr@10",
                           "latency_ms"}
    assert result["queries"] == 3 and result["mode"] == "lexical"
    # Every query's words find its best document first: perfect scores.
    assert result["ndcg@10"] == result["ndcg@10_condensed"] == 1.0
    assert result["mrr@10"] == 1.0
    # Relevant (>= 2.5) documents exist for q1 and q2 only; both are retrieved.
    assert result["recall@100"] == 1.0 and result["recall_queries"] == 2
    latency = result["latency_ms"]
    assert isinstance(latency, dict) and 0 < latency["p50"] <= latency["p99"]
    # Numbers are rounded to 4 decimals.
    assert all(len(str(v).split(".")[-1]) <= 4 for v in latency.values())


class Fixed:
    """A recommender that answers every query with the same ranking."""

    def __init__(self, catalog: Catalog, order: list[str]) -> None:
        self._catalog = catalog
        self.order = order
        self.requests: list[SearchRequest] = []
        self.lifecycle: list[str] = []

    async def start(self) -> None:
        self.lifecycle.append("start")

    async def stop(self) -> None:
        self.lifecycle.append("stop")

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    async def search(self, request: SearchRequest) -> list[Hit]:
        self.requests.append(request)
        return [Hit(self._catalog.by_id[pid], 1.0) for pid in self.order][: request.limit]


def test_run_takes_a_recommender_factory_and_asks_as_evaluation_should(tmp_path: Path) -> None:
    args = write_dataset(tmp_path)
    args.mode = "hybrid"
    built: list[Fixed] = []

    def build(catalog: Catalog, mode: str) -> Recommender:
        assert mode == "hybrid" and len(catalog) == len(CORPUS)
        built.append(Fixed(catalog, ["d6", "d5", "d4", "d3", "d2", "d1"]))
        return built[0]

    result = run_json(args, build=build)
    assert result["mode"] == "hybrid"
    request = built[0].requests[-1]
    assert (request.limit, request.diverse, request.in_stock_only) == (1000, False, False)
    assert len(built[0].requests) == 3 + 1  # one untimed warm-up
    assert built[0].lifecycle == ["start", "stop"]
    # q1: d1 (gain 2) at rank 6, d2 (gain 1) at rank 5; ideal d1, d2.
    q1 = (1 / log2(6) + 2 / log2(7)) / (2 + 1 / log2(3))
    q2 = (1.33 / log2(4) + 2 / log2(5)) / (2 + 1.33 / log2(3))
    q3 = (1 / log2(3)) / 1  # d5 (gain 1) second, behind d6 (gain 0)
    assert result["ndcg@10"] == pytest.approx((q1 + q2 + q3) / 3, abs=1e-4)
    assert result["mrr@10"] == pytest.approx((1 / 6 + 1 / 4) / 2, abs=1e-4)


def test_binary_labels_and_threshold(tmp_path: Path) -> None:
    binary = [("q1", "d1", 1), ("q1", "d2", 0), ("q2", "d3", 1), ("q3", "d6", 1)]
    args = write_dataset(tmp_path, binary)  # type: ignore[arg-type]
    result = run_json(args)
    assert result["gain"] == "score" and result["relevant_threshold"] == 1.0
    assert result["recall_queries"] == 3
    args.relevant_threshold = 2.5  # nothing reaches it: recall and MRR have no queries
    result = run_json(args)
    assert result["recall_queries"] == 0 and result["recall@100"] == 0.0


def test_text_table_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = write_dataset(tmp_path)
    args.json = False
    out = io.StringIO()
    assert evaluate.run(args, out=out) == 0
    assert "nDCG@10" in out.getvalue() and "Recall@100" in out.getvalue()
    args.qrels = tmp_path / "missing.tsv"
    assert evaluate.run(args, out=out) == 2
    assert "missing.tsv" in capsys.readouterr().err
    args = write_dataset(tmp_path)
    args.mode = "dense"  # needs a factory from the caller
    assert evaluate.run(args, out=io.StringIO()) == 2
    assert "dense" in capsys.readouterr().err


async def test_evaluate_awaits_in_a_running_loop(tmp_path: Path) -> None:
    args = write_dataset(tmp_path)
    data = load_data(args.corpus, args.queries, args.qrels)
    report = await evaluate.evaluate(LexicalRecommender(Catalog(data.products)), data)
    assert report.queries == 3 and report.ndcg == pytest.approx(1.0)
    assert len(report.latencies_ms) == 3
