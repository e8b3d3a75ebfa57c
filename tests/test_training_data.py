"""Training sets: export from a real event stream, import of BEIR and pair files, cleaning, split."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import Chat

from bots import cli
from core.app import App
from core.catalog import DEMO_CATALOG, Catalog
from core.settings import Settings
from core.training_data import FILES, Candidate, build, is_valid, load_examples, query_id
from core.training_export import export_from, read_events

ALICE, BOB = "cust-4417aa", "cust-9c21bb"


def read_set(out: Path) -> tuple[list[dict], dict]:
    examples = load_examples(out / "train.jsonl") + load_examples(out / "valid.jsonl")
    return examples, json.loads((out / "manifest.json").read_text(encoding="utf-8"))


async def converse(app: App) -> tuple[list[str], list[str]]:
    """Alice: a search, details of the third, likes it, dislikes the fourth; a second search,
    likes the first.  Bob: the same first search, likes the first product Alice skipped."""
    alice = Chat(app, user=ALICE)
    await alice.say("bluetooth speaker")
    speakers = [p.id for p in alice.products()]
    await alice.press(f"details:{speakers[2]}")
    await alice.press(f"like:{speakers[2]}")
    await alice.press(f"dislike:{speakers[3]}")
    await alice.say("rice cooker")
    cookers = [p.id for p in alice.products()]
    await alice.press(f"like:{cookers[0]}")
    bob = Chat(app, user=BOB)
    await bob.say("bluetooth speaker")
    assert [p.id for p in bob.products()] == speakers
    await bob.press(f"like:{speakers[0]}")
    return speakers, cookers


async def test_export_from_scripted_conversations(app: App, settings: Settings, demo_catalog: Catalog,
                                                  tmp_path: Path) -> None:
    speakers, cookers = await converse(app)
    events = await read_events(app.redis, f"{settings.key_prefix}:events")
    assert {e.type for e in events} >= {"query", "shown", "clicked", "liked", "disliked"}
    queries = [e.data["text"] for e in events if e.type == "query"]
    speaker_query, cooker_query = queries[0], queries[1]

    result = await export_from(app.redis, settings, tmp_path / "set", valid_fraction=0.0)
    examples, manifest = read_set(tmp_path / "set")
    pairs = {(e["query"], e["positive"]): e for e in examples}
    assert set(pairs) == {(speaker_query, speakers[2]), (speaker_query, speakers[0]), (cooker_query, cookers[0])}
    # Liked after asking details: the higher grade wins.
    assert pairs[speaker_query, speakers[2]]["grade"] == 1.0
    # Skipped above the product acted on (the second) and disliked (the fourth); the first, skipped
    # by Alice but liked by Bob, is a label conflict: the negative goes.
    assert pairs[speaker_query, speakers[2]]["negatives"] == sorted([speakers[1], speakers[3]])
    assert pairs[speaker_query, speakers[0]]["negatives"] == sorted([speakers[1], speakers[3]])
    assert pairs[cooker_query, cookers[0]]["negatives"] == []
    assert all(e["qid"] == query_id(e["query"]) for e in examples)
    assert manifest["dropped"]["label_conflict"] == 1
    # Alice's like repeats the positive of her details click and its two skip negatives.
    assert manifest["dropped"]["duplicate"] == 3
    assert manifest["counts"] | {"queries": None} == {"products": len(demo_catalog), "labelled_products": 5,
                                                      "train": 3, "valid": 0, "queries": None,
                                                      "negatives": {"train": 2, "valid": 0}}
    assert manifest["source"]["events"]["liked"] == 3
    for name in FILES:
        assert manifest["sha256"][name] == hashlib.sha256((tmp_path / "set" / name).read_bytes()).hexdigest()
    assert result.manifest == manifest
    assert manifest["data_hash"] == hashlib.sha256(json.dumps(manifest["sha256"], sort_keys=True).encode()).hexdigest()

    products = {row["id"]: row["text"] for row in load_examples(tmp_path / "set" / "products.jsonl")}
    from core.vectors import passage_text

    # The whole catalog: what a model must rank, so mining and validation rank all of it.
    assert products == {p.id: passage_text(p) for p in demo_catalog.products}
    stream_users = {e.user for e in events}
    for name in (*FILES, "manifest.json"):
        text = (tmp_path / "set" / name).read_text(encoding="utf-8")
        for user in (ALICE, BOB, *stream_users):
            assert user not in text


async def test_export_counts_events_without_query_and_unknown_products(app: App, settings: Settings,
                                                                       tmp_path: Path) -> None:
    alice = Chat(app, user=ALICE)
    await alice.say("bluetooth speaker")
    shown = [p.id for p in alice.products()]
    await alice.press(f"like:{shown[1]}")
    await app.store.append_events(ALICE, [{"type": "liked", "data": {"product": "never-shown"}}])
    texts = {pid: "some text" for pid in shown[1:]}  # the first product left the catalog
    await export_from(app.redis, settings, tmp_path / "set", texts=texts)
    examples, manifest = read_set(tmp_path / "set")
    assert [(e["positive"], e["negatives"]) for e in examples] == [(shown[1], [])]
    assert manifest["dropped"]["no_query_text"] == 1
    assert manifest["dropped"]["unknown_product"] == 1


async def test_export_command(app: App, settings: Settings, redis_url: str, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    await converse(app)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DAOGOU_KEY_PREFIX", settings.key_prefix)
    monkeypatch.delenv("DAOGOU_CATALOG", raising=False)
    # main() runs its own event loop: run it off this test's loop.
    import asyncio

    code = await asyncio.to_thread(cli.main, ["data", "export", "--out", str(tmp_path / "set"), "--seed", "3"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "label_conflict 1" in printed and "duplicate 3" in printed
    examples, manifest = read_set(tmp_path / "set")
    assert len(examples) == 3 and manifest["split"]["seed"] == 3
    future = await asyncio.to_thread(cli.main, ["data", "export", "--out", str(tmp_path / "none"),
                                                "--since", "2999-01-01T00:00:00Z"])
    assert future == 0 and read_set(tmp_path / "none")[0] == []


def write_beir(root: Path) -> Path:
    corpus = [{"id": "p1", "title": "Cordless drill", "text": "18V, two batteries"},
              {"id": "p2", "title": "Hammer drill"}, {"id": "p3", "title": "Claw hammer"},
              {"id": "p4", "title": "", "text": ""}, {"id": "p5", "title": "Drill bits"}]
    queries = [{"qid": "q1", "text": "cordless  drill"}, {"qid": "q2", "text": "Cordless Drill"},
               {"qid": "q3", "text": "hammer"}, {"qid": "q4", "text": "x" * 301}, {"qid": "q5", "text": "a"},
               {"qid": "q6", "text": "nails"}]
    qrels = [("q1", "p1", 3.0), ("q1", "p2", 2.0), ("q1", "p5", 1.0),  # 1 = irrelevant: a negative
             ("q2", "p1", 2.5),  # the same query again (case, spaces): a duplicate, the higher grade kept
             ("q2", "p2", 1.0),  # p2 is positive for this query above: a label conflict
             ("q3", "p3", 3.0), ("q3", "p4", 3.0),  # p4 has no text
             ("q3", "p9", 2.0),  # not in the corpus
             ("q4", "p1", 3.0), ("q5", "p1", 3.0),  # too long, too short
             ("q6", "p3", 1.0),  # only a negative
             ("q7", "p1", 3.0)]  # no such query
    root.mkdir()
    (root / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus), encoding="utf-8")
    (root / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries), encoding="utf-8")
    (root / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in qrels),
                                    encoding="utf-8")
    return root


def beir_args(root: Path, out: Path, *extra: str) -> list[str]:
    return ["data", "import", "--format", "beir", "--corpus", str(root / "corpus.jsonl"),
            "--queries", str(root / "queries.jsonl"), "--qrels", str(root / "qrels.tsv"), "--out", str(out), *extra]


def test_import_beir_cleans_and_counts_every_drop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_beir(tmp_path / "beir")
    assert cli.main(beir_args(root, tmp_path / "set", "--valid-fraction", "0")) == 0
    printed = capsys.readouterr().out
    examples, manifest = read_set(tmp_path / "set")
    assert {(e["query"], e["positive"], e["grade"], tuple(e["negatives"])) for e in examples} == {
        ("cordless drill", "p1", 1.0, ("p5",)), ("cordless drill", "p2", 0.5, ("p5",)), ("hammer", "p3", 1.0, ())}
    assert manifest["dropped"] == {"query_too_short": 1, "query_too_long": 1, "unknown_product": 1,
                                   "empty_product_text": 1, "duplicate": 1, "label_conflict": 1,
                                   "negative_without_positive": 1, "unknown_query": 1}
    assert manifest["source"]["rows"] == 12
    kept = sum(1 for _ in examples) + sum(manifest["dropped"].values()) + 1  # + the one negative kept (p5)
    assert kept == 12
    for reason, count in manifest["dropped"].items():
        assert f"{reason} {count}" in printed
    # Everything in validation: the held-out queries keep their ids and original labels for `daogou eval`.
    assert (tmp_path / "set" / "valid_qrels.tsv").read_text(encoding="utf-8") == "query-id\tcorpus-id\tscore\n"
    assert cli.main(beir_args(root, tmp_path / "held", "--valid-fraction", "0.99")) == 0
    qrels = (tmp_path / "held" / "valid_qrels.tsv").read_text(encoding="utf-8").splitlines()
    assert qrels[:3] == ["query-id\tcorpus-id\tscore", "q1\tp1\t3", "q1\tp2\t2"] and len(qrels) == 12
    held = load_examples(tmp_path / "held" / "valid_queries.jsonl")
    assert [q["qid"] for q in held] == ["q1", "q2", "q3", "q4", "q5", "q6"]
    products = {row["id"]: row["text"] for row in load_examples(tmp_path / "set" / "products.jsonl")}
    assert products == {"p1": "Cordless drill 18V, two batteries", "p2": "Hammer drill", "p3": "Claw hammer",
                        "p5": "Drill bits"}


def test_split_by_query_is_deterministic_and_stable(tmp_path: Path) -> None:
    texts = {f"p{i}": f"product {i}" for i in range(5)}
    rows = [Candidate(f"query number {q}", f"p{(q + k) % 5}", 1.0) for q in range(200) for k in range(2)]
    first = build(rows, texts, tmp_path / "a", source={"kind": "test"}, seed=7, valid_fraction=0.2)
    again = build(rows, texts, tmp_path / "b", source={"kind": "test"}, seed=7, valid_fraction=0.2)
    train, valid = load_examples(tmp_path / "a" / "train.jsonl"), load_examples(tmp_path / "a" / "valid.jsonl")
    assert not {e["qid"] for e in train} & {e["qid"] for e in valid}
    assert 20 < first.manifest["counts"]["queries"]["valid"] < 60
    assert first.manifest["sha256"] == again.manifest["sha256"]
    assert first.manifest["data_hash"] == again.manifest["data_hash"]
    # More rows never move a query across: every old valid query is still valid.
    more = rows + [Candidate(f"new query {q}", "p1", 1.0) for q in range(100)]
    build(more, texts, tmp_path / "c", source={"kind": "test"}, seed=7, valid_fraction=0.2)
    grown = {e["qid"] for e in load_examples(tmp_path / "c" / "valid.jsonl")}
    assert {e["qid"] for e in valid} <= grown
    assert all(is_valid(e["query"], seed=7, valid_fraction=0.2) for e in valid)
    other = build(rows, texts, tmp_path / "d", source={"kind": "test"}, seed=8, valid_fraction=0.2)
    assert other.manifest["sha256"]["valid.jsonl"] != first.manifest["sha256"]["valid.jsonl"]


def test_import_pairs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_beir(tmp_path / "beir")
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("query\tproduct\tgrade\ncordless drill\tp1\t4\ncordless drill\tp2\t2\n"
                   "cordless drill\tp3\t0\nhammer\tp3\nhammer\tp3\nhammer\tnope\n", encoding="utf-8")
    assert cli.main(["data", "import", "--format", "pairs", "--pairs", str(tsv), "--corpus",
                     str(root / "corpus.jsonl"), "--out", str(tmp_path / "set"), "--valid-fraction", "0"]) == 0
    examples, manifest = read_set(tmp_path / "set")
    assert {(e["query"], e["positive"], e["grade"], tuple(e["negatives"])) for e in examples} == {
        ("cordless drill", "p1", 1.0, ("p3",)), ("cordless drill", "p2", 0.5, ("p3",)), ("hammer", "p3", 0.25, ())}
    assert manifest["dropped"]["duplicate"] == 1 and manifest["dropped"]["unknown_product"] == 1

    jsonl = tmp_path / "pairs.jsonl"
    demo_id = json.loads((DEMO_CATALOG / "products.jsonl").read_text(encoding="utf-8").splitlines()[0])["id"]
    monkeypatch.delenv("DAOGOU_CATALOG", raising=False)
    jsonl.write_text(json.dumps({"query": "耳机", "product": demo_id}) + "\n", encoding="utf-8")
    assert cli.main(["data", "import", "--format", "pairs", "--pairs", str(jsonl),
                     "--out", str(tmp_path / "demo")]) == 0
    examples, _ = read_set(tmp_path / "demo")
    assert [(e["query"], e["positive"], e["grade"]) for e in examples] == [("耳机", demo_id, 1.0)]


def test_import_refuses_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["data", "import", "--format", "beir", "--out", str(tmp_path / "x")]) == 2
    assert "--corpus" in capsys.readouterr().err
    root = write_beir(tmp_path / "beir")
    (root / "qrels.tsv").write_text("a\tb\n", encoding="utf-8")
    assert cli.main(beir_args(root, tmp_path / "set")) == 2
    assert "query-id" in capsys.readouterr().err
