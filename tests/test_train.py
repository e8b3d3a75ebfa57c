"""``daogou train encoder`` on a tiny BERT and a toy task it can learn: queries name a colour
by a synonym ("crimson shoes") and the product by the plain word ("red shoes").  The base
model (random weights) cannot know the synonyms; training teaches them, and the validation
queries are colour/item pairs never seen in training."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.train import TrainSettings, evaluate_dense, load_training_set, mine_negatives, train_encoder
from core.train_loop import contrastive_loss
from tests.test_encoder import make_tiny_bert as make_encoder_bert

COLOURS = {"red": "crimson", "blue": "navy", "green": "emerald", "black": "ebony", "white": "ivory"}
ITEMS = ["shoes", "kettle", "cooker", "earbuds", "jacket", "lamp"]
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *COLOURS, *COLOURS.values(), *ITEMS]


def make_tiny_bert(path: Path) -> Path:
    """A 2-layer BERT with random weights over the toy vocabulary."""
    return make_encoder_bert(path, WORDS)


def make_training_set(path: Path) -> Path:
    """30 products (colour x item); train on 25 synonym queries, validate on the other 5."""
    path.mkdir(parents=True, exist_ok=True)
    products = [{"id": f"p-{c}-{i}", "text": f"{c} {i}"} for c in COLOURS for i in ITEMS]
    train, valid = [], []
    for k, (colour, synonym) in enumerate(COLOURS.items()):
        for j, item in enumerate(ITEMS):
            row = {"qid": f"q-{synonym}-{item}", "query": f"{synonym} {item}", "positive": f"p-{colour}-{item}",
                   "grade": 1.0 if j % 2 else 0.75, "negatives": [f"p-{colour}-{ITEMS[(j + 1) % len(ITEMS)]}"]}
            (valid if j == k else train).append(row)
    files = {"products.jsonl": products, "train.jsonl": train, "valid.jsonl": valid}
    for name, rows in files.items():
        (path / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    sha = {name: hashlib.sha256((path / name).read_bytes()).hexdigest() for name in files}
    (path / "manifest.json").write_text(json.dumps({"sha256": sha}), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny")), make_training_set(tmp_path_factory.mktemp("set"))


def settings(dirs: tuple[Path, Path], out: Path, **extra: Any) -> TrainSettings:
    base, data = dirs
    values: dict[str, Any] = {"data": data, "out": out, "base": base, "epochs": 6, "batch_size": 8, "lr": 3e-3,
                              "hard_negatives": 2, "seed": 0, "device": "cpu", "checkpoint_every": 4,
                              "progress": False, "eval_each_epoch": True}
    values.update(extra)
    return TrainSettings(**values)


def weights(model_dir: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


@pytest.fixture(scope="module")
def trained(dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield train_encoder(settings(dirs, tmp_path_factory.mktemp("models")))


def test_training_lowers_the_loss_and_raises_valid_ndcg(trained: Path) -> None:
    record = json.loads((trained / "training.json").read_text())
    assert np.mean(record["last_losses"][-3:]) < 0.7 * np.mean(record["first_losses"][:3])
    base, tuned = record["validation"]["base"], record["validation"]["fine_tuned"]
    assert base["queries"] == tuned["queries"] == 5
    assert tuned["ndcg@10"] > base["ndcg@10"] + 0.1
    assert tuned["recall@100"] == 1.0  # 30 products: every one is in the top 100
    # What the report draws: every step's loss, validation after each epoch, each query.
    assert len(record["losses"]) == record["steps"] == sum(e["steps"] for e in record["epochs"])
    assert [v["epoch"] for v in record["epoch_validation"]] == [1, 2, 3, 4, 5, 6]
    # It ends on the best epoch's weights (the last one, or an earlier one if later ones overfit).
    best = max(record["epoch_validation"], key=lambda v: (v["ndcg@10"], -v["epoch"]))
    assert record["kept_epoch"] == best["epoch"] and tuned["ndcg@10"] == best["ndcg@10"]
    assert set(record["per_query"]["base"]) == set(record["per_query"]["fine_tuned"]) == set(record["queries"])
    per_query = [v for v in record["per_query"]["fine_tuned"].values() if v is not None]
    assert np.mean(per_query) == pytest.approx(tuned["ndcg@10"], abs=1e-3)
    assert "## Validation" in (trained / "report.md").read_text() and (trained / "loss.png").stat().st_size > 0


def test_output_loads_as_the_recommender_encoder_and_records_the_run(trained: Path, dirs: tuple[Path, Path]
                                                                    ) -> None:
    from core.encoder import TransformerEncoder

    assert trained.parent.name.startswith("models")
    stamp, day_time, run_hash = trained.name.rsplit("-", 3)[1:]
    assert len(stamp) == 8 and len(day_time) == 6 and len(run_hash) == 8
    encoder = TransformerEncoder(trained)
    vectors = encoder.encode_queries(["crimson shoes"])
    assert vectors.shape == (1, 32)
    record = json.loads((trained / "training.json").read_text())
    manifest = json.loads((dirs[1] / "manifest.json").read_text())
    assert record["data_hash"] == hashlib.sha256(json.dumps(manifest["sha256"], sort_keys=True).encode()).hexdigest()
    for key in ("settings", "base_model", "train_loss", "steps", "examples_per_s", "seconds_per_epoch",
                "device", "torch", "epochs", "validation"):
        assert record[key] not in (None, [], {}), key
    assert record["settings"]["lr"] == 3e-3 and record["settings"]["hard_negatives"] == 2
    assert record["steps"] == 6 * 4 and len(record["train_loss"]) == 6
    assert all(e["seconds"] > 0 and e["examples_per_s"] > 0 for e in record["epochs"])
    assert len(list((trained.parent / "checkpoints").iterdir())) == 1


def test_a_fixed_seed_reproduces_the_weights(trained: Path, dirs: tuple[Path, Path], tmp_path: Path) -> None:
    again = train_encoder(settings(dirs, tmp_path))
    first, second = weights(trained), weights(again)
    assert first.keys() == second.keys()
    assert all(first[k].equal(second[k]) for k in first)
    other = weights(train_encoder(settings(dirs, tmp_path / "seed1", seed=1, epochs=1)))
    assert not all(first[k].equal(other[k]) for k in first)


def test_resume_ends_where_an_uninterrupted_run_ends(trained: Path, dirs: tuple[Path, Path], tmp_path: Path
                                                   ) -> None:
    import torch

    # 24 steps in all; stop after 7 (mid-epoch, between checkpoints), then resume.
    cut = train_encoder(settings(dirs, tmp_path, max_steps=7))
    assert json.loads((cut / "training.json").read_text())["steps"] == 7
    resumed = train_encoder(settings(dirs, tmp_path, resume=True))
    record = json.loads((resumed / "training.json").read_text())
    assert record["resumed_from"] == 7 and record["steps"] == 24
    full, again = weights(trained), weights(resumed)
    assert all(torch.allclose(full[k], again[k], atol=1e-6) for k in full)


def test_mined_negatives_come_from_bm25_and_the_model_and_are_never_positives(dirs: tuple[Path, Path]) -> None:
    from core.encoder import TransformerEncoder

    data = load_training_set(dirs[1])
    # A second positive for one query: neither may come back as its negative.
    assert data.train[0]["qid"] == "q-crimson-kettle"
    extra = dict(data.train[0], positive="p-blue-kettle", grade=0.5)  # BM25 ranks it high
    data = type(data)(data.product_ids, data.texts, (*data.train, extra), data.valid, data.data_hash)
    encoder = TransformerEncoder(dirs[0])
    mined = mine_negatives(data, encoder.encode_queries([r["query"] for r in data.train]),
                           encoder.encode_passages(list(data.texts)), depth=5)
    positives: dict[str, set[str]] = {}
    for row in data.train:
        positives.setdefault(row["qid"], set()).add(row["positive"])
    assert len(mined) == len(data.train)
    for row, lists in zip(data.train, mined):
        assert len(lists["model"]) == 5
        for source in lists.values():
            assert not positives[row["qid"]] & set(source)
    # BM25 finds the products sharing the query's item word (the synonym is unknown to it).
    for row, lists in zip(data.train, mined):
        item = row["query"].split()[1]
        assert set(lists["bm25"]) == {f"p-{c}-{item}" for c in COLOURS} - positives[row["qid"]]
    for lists in (mined[0], mined[-1]):
        assert "p-blue-kettle" not in lists["bm25"] + lists["model"] + lists["given"]
        assert "p-black-kettle" in lists["bm25"]


def test_loss_masks_other_positives_of_the_same_query() -> None:
    import torch

    q = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=1)
    p = torch.nn.functional.normalize(torch.tensor([[1.0, 0.1], [0.9, 0.2], [0.0, 1.0]]), dim=1)
    target = torch.tensor([0, 2])
    unmasked = torch.zeros(2, 3, dtype=torch.bool)
    masked = unmasked.clone()
    masked[0, 1] = True  # passage 1 is another positive of query 0
    weights = torch.ones(2)
    assert contrastive_loss(q, p, target, masked, weights, 0.05) < contrastive_loss(q, p, target, unmasked,
                                                                                    weights, 0.05)
    # Weights select and scale the terms: query 0 alone is its own cross-entropy.
    one = contrastive_loss(q, p, target, unmasked, torch.tensor([0.5, 0.0]), 0.05)
    alone = torch.nn.functional.cross_entropy((q[:1] @ p.T) / 0.05, target[:1])
    assert torch.allclose(one, alone)


def test_evaluate_dense_ranks_every_product(dirs: tuple[Path, Path]) -> None:
    from core.encoder import TransformerEncoder

    data = load_training_set(dirs[1])
    figures = evaluate_dense(TransformerEncoder(dirs[0]), data)
    assert figures["queries"] == 5 and 0 <= figures["ndcg@10"] <= 1 and figures["recall@100"] == 1.0


def test_cli_trains_and_prints_the_model(dirs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from bots.cli import main

    base, data = dirs
    monkeypatch.setenv("DAOGOU_MODELS_DIR", str(tmp_path))  # where the model goes without --out
    code = main(["train", "encoder", "--data", str(data), "--base", str(base),
                 "--epochs", "1", "--batch-size", "8", "--max-steps", "2", "--device", "cpu", "--no-progress"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["steps"] == 2 and Path(printed["model"]).parent == tmp_path
    assert (Path(printed["model"]) / "training.json").exists()
    assert main(["train", "encoder", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path),
                 "--base", str(base), "--no-progress"]) == 2
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("products.jsonl", "valid.jsonl"):
        (broken / name).write_bytes((data / name).read_bytes())
    (broken / "train.jsonl").write_text('{"qid": "q"}\n{not json\n', encoding="utf-8")
    capsys.readouterr()
    assert main(["train", "encoder", "--data", str(broken), "--base", str(base), "--no-progress"]) == 2
    assert "train.jsonl:2: not JSON" in capsys.readouterr().err


def test_keep_best_restores_an_earlier_better_epoch(tmp_path: Path) -> None:
    import torch

    from core.train import _keep_best

    model = torch.nn.Linear(3, 2)
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    torch.save(model.state_dict(), tmp_path / "best.pt")
    with torch.no_grad():
        model.weight.add_(1.0)  # a later, worse epoch
    later = model.weight.clone()
    assert _keep_best(model, [{"epoch": 1, "ndcg@10": 0.5}, {"epoch": 2, "ndcg@10": 0.4}],
                      tmp_path / "best.pt", "cpu") == 1
    assert torch.equal(model.weight, saved["weight"])
    with torch.no_grad():
        model.weight.copy_(later)
    assert _keep_best(model, [{"epoch": 1, "ndcg@10": 0.4}, {"epoch": 2, "ndcg@10": 0.5}],
                      tmp_path / "best.pt", "cpu") == 2
    assert torch.equal(model.weight, later)  # the last epoch was the best: nothing loaded
    assert _keep_best(model, [], tmp_path / "best.pt", "cpu") is None


def test_grade_order_makes_a_querys_weaker_positives_negatives_of_its_stronger_ones() -> None:
    from core.train import TrainingSet, build_examples
    from core.train_loop import Example, same_query_mask

    rows = ({"qid": "q", "query": "drill", "positive": "a", "grade": 1.0, "negatives": []},
            {"qid": "q", "query": "drill", "positive": "b", "grade": 0.5, "negatives": []},
            {"qid": "q", "query": "drill", "positive": "c", "grade": 0.25, "negatives": []})
    data = TrainingSet(product_ids=("a", "b", "c", "x"), texts=("", "", "", ""), train=rows, valid=(), data_hash="")
    mined = [{"given": [], "bm25": ["x"], "model": []}] * 3
    plain = build_examples(data, mined, 2)
    ordered = build_examples(data, mined, 2, grade_order=True)
    assert [e.negatives for e in plain] == [(3,), (3,), (3,)]
    assert [e.negatives for e in ordered] == [(2, 1, 3), (2, 3), (3,)]  # least relevant first
    batch = [Example("q", "drill", 0, 1.0, ()), Example("q", "drill", 1, 0.5, ()), Example("r", "saw", 3, 1.0, ())]
    products = [0, 1, 3]
    assert same_query_mask(batch, products, False) == [[True, True, False], [True, True, False],
                                                       [False, False, True]]
    # The 1.0 positive no longer shields the 0.5 one; the 0.5 one still does not push the 1.0 away.
    assert same_query_mask(batch, products, True) == [[True, False, False], [True, True, False],
                                                      [False, False, True]]
