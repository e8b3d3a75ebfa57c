"""The dense index over product vectors, and the ``DenseRetriever`` the ranker is given.

``DenseIndex`` searches by inner product (cosine: vectors are unit length).  Up to
``ann_threshold`` products it is exact: a float32 matrix-vector product.  Above it, an
inverted-file index with product-quantized codes (faiss ``IndexIVFPQ``) finds a shortlist
that is re-scored against float16 copies of the vectors, so at 1M x 384 the index holds
768 MB of float16 plus ~60 MB of codes and ids instead of 1.5 GB of float32.
``scores_for`` always uses the stored vectors: exact in float32, to within float16
rounding (about 1e-3) above the threshold.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.dense_api import DenseQuery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnnParams:
    """Approximate-index settings, chosen by ``daogou bench recommender`` measurements.

    ``nlist`` inverted lists (None: about 2*sqrt(n), a power of two); ``nprobe`` lists
    searched per query; ``pq_m`` sub-quantizers of ``pq_bits`` bits (``pq_m`` must divide
    the dimension); ``shortlist`` candidates per wanted result re-scored in float16;
    ``train_size`` vectors sampled to train the coarse and product quantizers.
    """

    nlist: int | None = None
    nprobe: int = 24
    pq_m: int = 48
    pq_bits: int = 8
    shortlist: int = 10
    min_shortlist: int = 100
    train_size: int = 60_000
    kmeans_iterations: int = 10
    seed: int = 1234

    def lists_for(self, n: int) -> int:
        if self.nlist:
            return self.nlist
        return max(16, 2 ** round(math.log2(2 * math.sqrt(n))))


class DenseIndex:
    """Top-k and exact scores over a fixed set of unit vectors, by row position.

    Built once per catalog (``build`` may take a minute at 1M products); read-only after
    that and safe to search from many threads.  ``threads`` sets faiss's OpenMP threads
    (process-wide); 1 suits single-query search on a small CPU.
    """

    def __init__(
        self,
        vectors: np.ndarray,
        *,
        ann_threshold: int = 100_000,
        ann: AnnParams | None = None,
        threads: int | None = 1,
    ) -> None:
        vectors = np.asarray(vectors)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be a matrix, got shape {vectors.shape}")
        self.size, self.dim = vectors.shape
        self.params = ann or AnnParams()
        self.approximate = self.size > ann_threshold
        self.build_seconds = 0.0
        self._ivf = None
        started = time.perf_counter()
        if self.approximate:
            import faiss

            if threads:
                faiss.omp_set_num_threads(threads)
            self._store = np.ascontiguousarray(vectors, dtype=np.float16)
            self._ivf = self._build_ivf(vectors)
        else:
            self._store = np.ascontiguousarray(vectors, dtype=np.float32)
        self.build_seconds = time.perf_counter() - started
        log.info("dense index: %d x %d, %s, built in %.1f s, %.0f MB", self.size, self.dim,
                 self.kind, self.build_seconds, self.nbytes / 2**20)

    @property
    def kind(self) -> str:
        if not self.approximate:
            return "exact float32"
        p = self.params
        return (f"IVF{self.params.lists_for(self.size)},PQ{p.pq_m}x{p.pq_bits} nprobe={p.nprobe} "
                f"+ float16 re-scoring")

    @property
    def nbytes(self) -> int:
        """Memory the index holds: stored vectors plus faiss codes, ids and centroids."""
        total = int(self._store.nbytes)
        if self._ivf is not None:
            import faiss

            invlists = self._ivf.invlists
            for i in range(invlists.nlist):
                total += invlists.list_size(i) * (invlists.code_size + 8)
            total += self._ivf.nlist * self.dim * 4  # centroids
            total += self.params.pq_m * (2 ** self.params.pq_bits) * (self.dim // self.params.pq_m) * 4
            del faiss
        return total

    def _build_ivf(self, vectors: np.ndarray):  # type: ignore[no-untyped-def]
        import faiss

        p = self.params
        if self.dim % p.pq_m:
            raise ValueError(f"pq_m={p.pq_m} must divide the dimension {self.dim}")
        nlist = p.lists_for(self.size)
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFPQ(quantizer, self.dim, nlist, p.pq_m, p.pq_bits, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = p.kmeans_iterations
        index.cp.seed = p.seed
        index.cp.max_points_per_centroid = max(39, p.train_size // nlist + 1)
        rng = np.random.default_rng(p.seed)
        sample = rng.choice(self.size, size=min(self.size, p.train_size), replace=False)
        sample.sort()
        index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
        chunk = 100_000
        for start in range(0, self.size, chunk):
            index.add(np.ascontiguousarray(vectors[start:start + chunk], dtype=np.float32))
        index.nprobe = p.nprobe
        return index

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` rows for one unit query vector: (positions int64, similarities float32)."""
        positions, scores = self.search_batch(np.asarray(query, dtype=np.float32)[None, :], k)
        return positions[0], scores[0]

    def search_batch(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` rows for each query row; (n, k') arrays with k' = min(k, size)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, self.size)
        if k <= 0:
            empty = np.empty((len(queries), 0))
            return empty.astype(np.int64), empty.astype(np.float32)
        if self._ivf is None:
            scores = queries @ self._store.T
            return _top_k(scores, k)
        want = min(self.size, max(k * self.params.shortlist, self.params.min_shortlist))
        _, candidates = self._ivf.search(queries, want)
        out_pos = np.empty((len(queries), k), dtype=np.int64)
        out_scores = np.empty((len(queries), k), dtype=np.float32)
        for row, (query, found) in enumerate(zip(queries, candidates)):
            found = found[found >= 0]
            exact = self._store[found].astype(np.float32) @ query
            order = np.argsort(-exact, kind="stable")[:k]
            got = len(order)
            out_pos[row, :got], out_scores[row, :got] = found[order], exact[order]
            if got < k:  # the probed lists held fewer than k products
                out_pos[row, got:], out_scores[row, got:] = -1, -np.inf
        return out_pos, out_scores

    def scores_for(self, query: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Similarities of ``positions`` to one query, from the stored vectors."""
        positions = np.asarray(positions, dtype=np.int64)
        rows = self._store[positions]
        return (rows.astype(np.float32, copy=False) @ np.asarray(query, dtype=np.float32)).astype(np.float32)


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if k < scores.shape[1]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    picked = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-picked, axis=1, kind="stable")
    return (np.take_along_axis(part, order, axis=1).astype(np.int64),
            np.take_along_axis(picked, order, axis=1).astype(np.float32))


class BoundQuery:
    """A ``DenseQuery``: one query vector against one ``DenseIndex``."""

    def __init__(self, index: DenseIndex, vector: np.ndarray) -> None:
        self.index = index
        self.vector = vector

    def top_k(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        positions, scores = self.index.search(self.vector, k)
        keep = positions >= 0
        return positions[keep], scores[keep]

    def scores_for(self, positions: np.ndarray) -> np.ndarray:
        return self.index.scores_for(self.vector, positions)


class EncoderRetriever:
    """The ``DenseRetriever``: encodes a query (off the loop, micro-batched) and binds it
    to the index.

    Returns None for empty text, for a language outside ``languages`` (None: any), and
    when more than ``max_unknown`` of the text's word pieces are unknown to the encoder's
    vocabulary (Chinese for the English MiniLM): the ranker then ranks lexically.
    """

    def __init__(
        self,
        encoder: QueryEncoder,
        index: DenseIndex,
        *,
        max_unknown: float = 0.3,
        languages: frozenset[str] | None = None,
    ) -> None:
        if encoder.dim != index.dim:
            raise ValueError(f"encoder dimension {encoder.dim} != index dimension {index.dim}")
        self.encoder = encoder
        self.index = index
        self.max_unknown = max_unknown
        self.languages = languages

    async def query(self, text: str, lang: str) -> DenseQuery | None:
        text = text.strip()
        if not text or (self.languages is not None and lang not in self.languages):
            return None
        if self.encoder.unknown_ratio(text) > self.max_unknown:
            return None
        vector = await self.encoder.encode_query(text)
        return BoundQuery(self.index, vector)


class QueryEncoder(Protocol):
    """What ``EncoderRetriever`` needs: ``core.encoder.AsyncEncoder`` has it."""

    @property
    def dim(self) -> int: ...

    def unknown_ratio(self, text: str) -> float: ...

    async def encode_query(self, text: str) -> np.ndarray: ...
