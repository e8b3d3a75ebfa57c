"""The dense index (exact and approximate) and the DenseRetriever."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from core.dense import AnnParams, BoundQuery, DenseIndex, EncoderRetriever
from core.encoder import AsyncEncoder, TransformerEncoder


def clustered(n: int, dim: int, clusters: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = centres[rng.integers(0, clusters, n)] + 0.8 * rng.standard_normal((n, dim)).astype(np.float32) / dim**0.5
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(q @ x.T), axis=1, kind="stable")[:, :k]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    x = clustered(20_000, 64, 300)
    rng = np.random.default_rng(1)
    q = x[rng.integers(0, len(x), 200)] + 0.8 * rng.standard_normal((200, 64)).astype(np.float32) / 8
    return x, q / np.linalg.norm(q, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def ann(data: tuple[np.ndarray, np.ndarray]) -> DenseIndex:
    return DenseIndex(data[0], ann_threshold=1_000, ann=AnnParams())


def test_exact_index_matches_brute_force(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, q = data
    index = DenseIndex(x[:5000])
    assert not index.approximate and index.kind == "exact float32"
    positions, scores = index.search_batch(q, 10)
    np.testing.assert_array_equal(positions, brute_force(x[:5000], q, 10))
    np.testing.assert_allclose(scores, np.take_along_axis(q @ x[:5000].T, positions, axis=1), atol=1e-6)
    single, single_scores = index.search(q[0], 10)
    np.testing.assert_array_equal(single, positions[0])
    assert single.dtype == np.int64 and single_scores.dtype == np.float32


def test_exact_scores_for(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, q = data
    index = DenseIndex(x[:5000])
    wanted = np.array([4999, 0, 17, 17])
    np.testing.assert_allclose(index.scores_for(q[3], wanted), x[wanted] @ q[3], atol=1e-6)
    assert index.scores_for(q[3], np.array([], dtype=np.int64)).shape == (0,)


def test_approximate_index_recall(data: tuple[np.ndarray, np.ndarray], ann: DenseIndex) -> None:
    x, q = data
    assert ann.approximate and "IVF128,PQ16x4fs" in ann.kind
    truth = brute_force(x, q, 10)
    found, scores = ann.search_batch(q, 10)
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
    assert recall >= 0.95
    assert (np.diff(scores, axis=1) <= 0).all()  # best first
    assert all(len(set(row)) == 10 for row in found)
    # Memory: float16 vectors plus 16-byte codes and ids, far below float32.
    assert ann.nbytes < x.nbytes * 0.75


def test_approximate_scores_are_float16_exact(data: tuple[np.ndarray, np.ndarray], ann: DenseIndex) -> None:
    x, q = data
    positions = np.arange(0, 20_000, 997)
    np.testing.assert_allclose(ann.scores_for(q[5], positions), x[positions] @ q[5], atol=2e-3)
    found, scores = ann.search(q[5], 10)
    np.testing.assert_allclose(scores, x[found] @ q[5], atol=2e-3)
    np.testing.assert_allclose(ann.scores_for(q[5], found), scores, atol=1e-6)


def test_k_beyond_the_catalog(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, q = data
    index = DenseIndex(x[:7])
    positions, scores = index.search(q[0], 50)
    assert sorted(positions.tolist()) == list(range(7)) and (np.diff(scores) <= 0).all()
    assert index.search(q[0], 0)[0].shape == (0,)


def test_approximate_search_short_of_k(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, q = data
    narrow = DenseIndex(x, ann_threshold=1_000, ann=AnnParams(nlist=64, nprobe=1))
    positions, scores = narrow.search(q[0], 2_000)  # one list of ~300 products cannot fill 2,000
    assert (positions == -1).any() and (positions[scores == -np.inf] == -1).all()
    top, top_scores = BoundQuery(narrow, q[0]).top_k(2_000)
    assert (top >= 0).all() and len(top) == len(set(top.tolist())) < 2_000
    assert np.isfinite(top_scores).all()


def test_feedback_moves_the_query_towards_the_given_products(data: tuple[np.ndarray, np.ndarray]
                                                            ) -> None:
    x, q = data
    index = DenseIndex(x[:200])
    query = BoundQuery(index, q[0])
    far = np.argsort(query.scores_for(np.arange(200)))[:3]  # the three least like it
    moved = query.refined(far, 1.0)
    assert abs(float(np.linalg.norm(moved.vector)) - 1.0) < 1e-5
    before, after = query.scores_for(far), moved.scores_for(far)
    assert (after > before).all()
    assert np.allclose(query.refined(far[:0], 1.0).vector, q[0], atol=1e-6)  # nothing to move to


def test_tiny_catalogs_are_exact() -> None:
    assert not DenseIndex(clustered(500, 16, 5), ann_threshold=0).approximate
    empty = DenseIndex(np.empty((0, 16), dtype=np.float32))
    assert empty.search(np.ones(16, dtype=np.float32), 5)[0].shape == (0,)


@pytest.fixture(scope="module")
def minilm_retriever() -> Iterator[EncoderRetriever]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        encoder = TransformerEncoder()
    titles = ["Sony WF-1000XM5 waterproof sport earbuds", "Midea 3L smart rice cooker", "Nike Pegasus running shoes"]
    index = DenseIndex(encoder.encode_passages(titles))
    async_encoder = AsyncEncoder(encoder)
    yield EncoderRetriever(async_encoder, index)
    async_encoder.close()


async def test_retriever_finds_english_queries(minilm_retriever: EncoderRetriever) -> None:
    query = await minilm_retriever.query("wireless earphones for jogging", "en")
    assert query is not None
    positions, scores = query.top_k(3)
    assert positions[0] == 0 and scores[0] > scores[1]
    np.testing.assert_allclose(query.scores_for(np.array([2, 0])), scores[[list(positions).index(2), 0]], atol=1e-6)


async def test_retriever_declines_chinese_and_empty_text(minilm_retriever: EncoderRetriever) -> None:
    assert await minilm_retriever.query("我想买一款防水的蓝牙耳机", "zh") is None
    assert await minilm_retriever.query("电饭煲", "zh") is None
    assert await minilm_retriever.query("   ", "en") is None


async def test_retriever_language_list(minilm_retriever: EncoderRetriever) -> None:
    english_only = EncoderRetriever(minilm_retriever.encoder, minilm_retriever.index, languages=frozenset({"en"}))
    assert await english_only.query("sony earbuds", "zh") is None
    assert await english_only.query("sony earbuds", "en") is not None


def test_retriever_rejects_an_index_of_another_dimension(minilm_retriever: EncoderRetriever) -> None:
    with pytest.raises(ValueError, match="dimension"):
        EncoderRetriever(minilm_retriever.encoder, DenseIndex(np.eye(8, dtype=np.float32)))
