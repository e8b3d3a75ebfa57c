"""The optimisation loop of ``daogou train encoder``: contrastive loss, mixed precision,
checkpoints and resume.

``core.train`` prepares the examples (each with its mined hard negatives) and calls
:func:`train`.  A run is reproducible: the data order of epoch ``e`` is a permutation drawn
from ``seed + e`` alone, and a checkpoint holds the model, optimizer, scheduler, grad scaler
and every RNG state, so a run stopped after N steps and resumed ends with the same weights as
one that never stopped (bit for bit on the CPU; on CUDA up to its non-deterministic kernels).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.encoder import pool

log = logging.getLogger(__name__)

CHECKPOINT_GLOB = "step-*.pt"
KEEP_CHECKPOINTS = 2  # a MiniLM checkpoint with Adam's moments is ~270 MB


@dataclass(frozen=True)
class Example:
    """One training pair with its hard negatives (product numbers) and its weight."""

    qid: str
    query: str
    positive: int
    grade: float
    negatives: tuple[int, ...]


@dataclass(frozen=True)
class LoopSettings:
    epochs: int
    batch_size: int
    lr: float
    seed: int
    temperature: float
    warmup: float
    checkpoint_every: int
    max_steps: int | None
    query_max_length: int
    passage_max_length: int
    query_prefix: str = ""
    passage_prefix: str = ""
    pooling: str = "mean"
    grade_order: bool = False  # a query's lower-graded positives are negatives of its higher-graded ones


@dataclass
class LoopResult:
    """What the loop measured, for ``training.json``."""

    step: int = 0
    epochs: list[dict[str, Any]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)  # every step's, for the report's curve
    epoch_validation: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: int | None = None

    @property
    def first_losses(self) -> list[float]:
        return self.losses[:10]

    @property
    def last_losses(self) -> list[float]:
        return self.losses[-10:]


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The example order of ``epoch``: depends on the seed and the epoch only, so a resumed
    run sees the same batches without replaying any RNG."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def contrastive_loss(
    q: Any, p: Any, positives: Any, same_query: Any, weights: Any, temperature: float
) -> Any:
    """InfoNCE over every passage of the batch, weighted by grade.

    ``q`` (B, d) and ``p`` (P, d) are unit vectors; query i's positive is passage
    ``positives[i]``; every other passage is a negative (in-batch positives of other queries
    and all mined hard negatives) except where ``same_query[i, j]`` says passage j is also
    a positive of query i, which is masked out rather than pushed away.  Each query's term
    is weighted by its grade: ``sum(w_i * loss_i) / sum(w_i)``.
    """
    import torch

    logits = (q @ p.T) / temperature
    own = torch.zeros_like(same_query)
    own[torch.arange(len(q)), positives] = True
    logits = logits.masked_fill(same_query & ~own, float("-inf"))
    losses = torch.nn.functional.cross_entropy(logits, positives, reduction="none")
    return (weights * losses).sum() / weights.sum()


def same_query_mask(batch: Sequence[Example], products: Sequence[int], grade_order: bool) -> list[list[bool]]:
    """``[i][j]``: passage j is another positive of example i's query, masked out of its
    negatives rather than pushed away; with ``grade_order`` only those graded at least as
    high, so the query's weaker products must rank below this one."""
    positives_of: dict[str, dict[int, float]] = {}
    for ex in batch:
        known = positives_of.setdefault(ex.qid, {})
        known[ex.positive] = max(known.get(ex.positive, 0.0), ex.grade)
    return [[n in positives_of[ex.qid] and (not grade_order or positives_of[ex.qid][n] >= ex.grade)
             for n in products] for ex in batch]


def checkpoints(folder: Path) -> list[Path]:
    """Checkpoint files of one run, oldest first."""
    return sorted(folder.glob(CHECKPOINT_GLOB))


def _rng_state() -> dict[str, Any]:
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def train(
    model: Any,
    tokenizer: Any,
    examples: Sequence[Example],
    passages: Sequence[str],
    settings: LoopSettings,
    *,
    device: str,
    checkpoint_dir: Path,
    resume: bool = False,
    progress: bool = True,
    on_step: Callable[[int, float], None] | None = None,
    on_epoch: Callable[[int], dict[str, Any] | None] | None = None,
    validations: list[dict[str, Any]] | None = None,
) -> LoopResult:
    """Fine-tune ``model`` in place on ``examples``; ``passages`` are the product texts by
    product number.  Checkpoints every ``checkpoint_every`` steps, at each epoch end and where
    ``max_steps`` stops the run, into ``checkpoint_dir``; with ``resume`` it starts from the
    newest one there.  The learning-rate schedule (linear warm-up, then linear decay) spans
    all epochs whatever ``max_steps`` is, so a run cut short and resumed follows the same
    schedule as an uninterrupted one.  ``on_epoch(epoch)`` runs after each complete epoch
    (a validation pass, say); what it returns is kept in ``epoch_validation`` and in the
    checkpoint; ``validations``, when given, is the list it is kept in (so ``on_epoch`` sees
    the earlier epochs', resumed ones included)."""
    import torch
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    seed_everything(settings.seed)
    model.to(device)
    model.train()
    steps_per_epoch = max(1, -(-len(examples) // settings.batch_size))
    total = steps_per_epoch * settings.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(settings.warmup * total), total)
    cuda = device.startswith("cuda")
    amp_dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if cuda else None
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype is torch.float16)
    result = LoopResult()
    if validations is not None:
        result.epoch_validation = validations
    checkpoint_dir.mkdir(parents=True, exist_ok=True)

    step = 0
    if resume:
        found = checkpoints(checkpoint_dir)
        if found:
            state = torch.load(found[-1], map_location=device, weights_only=False)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            scaler.load_state_dict(state["scaler"])
            _set_rng_state(state["rng"])
            step = int(state["step"])
            result.epochs = list(state["epochs"])
            result.losses = list(state["losses"])
            result.epoch_validation[:] = state.get("epoch_validation", [])
            result.resumed_from = step
            log.info("resuming from %s (step %d)", found[-1], step)
        else:
            log.warning("--resume: no checkpoint in %s; starting afresh", checkpoint_dir)
    else:
        # A fresh start of the same run: an older, longer run's checkpoint must not outlive
        # this one's and be what a later --resume picks.
        for old in checkpoints(checkpoint_dir):
            old.unlink()

    def save() -> None:
        path = checkpoint_dir / f"step-{step:08d}.pt"
        torch.save({
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "rng": _rng_state(),
            "step": step, "epochs": result.epochs, "losses": result.losses,
            "epoch_validation": result.epoch_validation,
        }, path)
        for old in checkpoints(checkpoint_dir)[:-KEEP_CHECKPOINTS]:
            old.unlink()

    def encode(texts: list[str], max_length: int) -> Any:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.autocast(device_type="cuda", dtype=amp_dtype, enabled=amp_dtype is not None):
            hidden = model(**batch).last_hidden_state
        return pool(hidden, batch["attention_mask"], settings.pooling)  # as served: core.encoder

    stop = settings.max_steps if settings.max_steps is not None else total
    stop = min(stop, total)
    start_epoch = step // steps_per_epoch
    for epoch in range(start_epoch, settings.epochs):
        if step >= stop:
            break
        order = epoch_order(len(examples), settings.seed, epoch)
        first = step - epoch * steps_per_epoch
        last = min(steps_per_epoch, stop - epoch * steps_per_epoch)
        bar = tqdm(total=last - first, desc=f"epoch {epoch + 1}/{settings.epochs}", unit="step",
                   disable=not progress, leave=False)
        started, seen, loss_sum = time.perf_counter(), 0, 0.0
        for b in range(first, last):
            batch = [examples[i] for i in order[b * settings.batch_size:(b + 1) * settings.batch_size]]
            # Passages of the batch: every positive, then every hard negative; one product
            # appears once, so a duplicate never counts as its own negative.
            numbers: dict[int, int] = {}
            for ex in batch:
                numbers.setdefault(ex.positive, len(numbers))
            for ex in batch:
                for n in ex.negatives:
                    numbers.setdefault(n, len(numbers))
            products = list(numbers)
            same = torch.tensor(same_query_mask(batch, products, settings.grade_order), device=device)
            q = encode([settings.query_prefix + ex.query for ex in batch], settings.query_max_length)
            p = encode([settings.passage_prefix + passages[n] for n in products], settings.passage_max_length)
            target = torch.tensor([numbers[ex.positive] for ex in batch], device=device)
            weights = torch.tensor([ex.grade for ex in batch], device=device, dtype=torch.float32)
            loss = contrastive_loss(q, p, target, same, weights, settings.temperature)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            value = float(loss.detach())
            loss_sum += value
            seen += len(batch)
            result.losses.append(value)
            elapsed = time.perf_counter() - started
            bar.set_postfix(loss=f"{value:.4f}", ex_s=f"{seen / max(elapsed, 1e-9):.1f}")
            bar.update(1)
            if on_step:
                on_step(step, value)
            if settings.checkpoint_every and step % settings.checkpoint_every == 0 and step != stop:
                save()
        bar.close()
        elapsed = time.perf_counter() - started
        batches = last - first
        if batches:
            result.epochs.append({
                "epoch": epoch + 1, "steps": batches, "examples": seen,
                "train_loss": loss_sum / batches, "seconds": round(elapsed, 3),
                "examples_per_s": round(seen / max(elapsed, 1e-9), 2),
                "complete": last == steps_per_epoch,
            })
        if on_epoch is not None and last == steps_per_epoch:
            model.eval()
            figures = on_epoch(epoch + 1)
            model.train()
            if figures is not None:
                result.epoch_validation.append({"epoch": epoch + 1, **figures})
        save()
    result.step = step
    model.eval()
    return result
