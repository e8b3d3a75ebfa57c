"""The dense index over product vectors, and the ``DenseRetriever`` the ranker is given.

``DenseIndex`` searches by inner product (cosine: vectors are unit length).  Up to
``ann_threshold`` products it is exact: a float32 matrix-vector product.  Above it, an
inverted-file index with 4-bit product-quantized codes (faiss ``IndexIVFPQFastScan``)
finds a shortlist of a few hundred candidates, which are re-scored against float16
copies of the vectors.  At 1M x 384 that is 768 MB of float16 plus about 56 MB of codes,
ids and centroids, instead of 1.5 GB of float32.  ``scores_for`` always reads the stored
vectors: exact in float32, to within float16 rounding (below 1e-3) above the threshold.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from core.dense_api import DenseQuery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnnParams:
    """Approximate-index settings, chosen by measurement (``daogou bench recommender``).

    ``nlist`` inverted lists (None: sqrt(n) rounded to a power of two, 1024 at 1M);
    ``probe`` the fraction of lists searched per query, at least ``min_probe`` lists
    (``nprobe`` overrides both): short queries sit far from product titles (cosine ~0.6),
    so recall needs a wide probe, 25% of 256 lists on the real Home Depot vectors;
    ``pq_m`` 4-bit sub-quantizers (None: dim/4, so 48 bytes a vector at 384 dims);
    ``shortlist`` candidates re-scored in float16 (at least ``shortlist_per_k`` per result
    wanted, but no more than ``shortlist_max`` or ``k``: converting the re-scored rows
    dominates a deep search, and 3 per result kept the hybrid's 1,000-deep rankings on
    homedepot-dev identical while a call took 8 ms less); ``train_size`` vectors sampled
    to train the quantizers.
    """

    nlist: int | None = None
    probe: float = 0.125
    min_probe: int = 64
    nprobe: int | None = None
    pq_m: int | None = None
    shortlist: int = 500
    shortlist_per_k: int = 10
    shortlist_max: int = 3000
    train_size: int = 50_000
    kmeans_iterations: int = 10
    seed: int = 1234

    def lists_for(self, n: int) -> int:
        if self.nlist:
            return self.nlist
        return int(min(max(16, 2 ** round(math.log2(math.sqrt(n)))), max(16, n // 39)))

    def probes_for(self, nlist: int) -> int:
        return self.nprobe or min(nlist, max(self.min_probe, math.ceil(nlist * self.probe)))

    def sub_quantizers_for(self, dim: int) -> int:
        if self.pq_m:
            return self.pq_m
        # 4 dimensions per sub-quantizer; FastScan wants an even count that divides dim.
        for m in range(dim // 4, 1, -1):
            if dim % m == 0 and m % 2 == 0:
                return m
        raise ValueError(f"no product quantizer fits dimension {dim}")


class DenseIndex:
    """Top-k and exact scores over a fixed set of unit vectors, by row position.

    Built once per catalog (about a minute at 1M products on 2 cores); read-only after
    that and safe to search from many threads.  ``threads`` sets faiss's OpenMP threads
    (process-wide): 1 suits single queries on a small CPU, and keeps a busy machine from
    stalling in OpenMP barriers.
    """

    def __init__(
        self,
        vectors: np.ndarray,
        *,
        ann_threshold: int = 20_000,
        ann: AnnParams | None = None,
        threads: int | None = 1,
    ) -> None:
        vectors = np.asarray(vectors)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be a matrix, got shape {vectors.shape}")
        self.size, self.dim = vectors.shape
        self.params = ann or AnnParams()
        # Below ~1,000 vectors there is too little to train quantizers on; exact is instant anyway.
        self.approximate = self.size > max(ann_threshold, 1_000)
        self._ivf: Any = None
        self._flat: Any = None
        self._ivf_bytes = 0
        started = time.perf_counter()
        import faiss

        if threads:
            faiss.omp_set_num_threads(threads)
        if self.approximate:
            self.nlist = self.params.lists_for(self.size)
            self.nprobe = self.params.probes_for(self.nlist)
            self.pq_m = self.params.sub_quantizers_for(self.dim)
            self._store = np.ascontiguousarray(vectors, dtype=np.float16)
            self._ivf = self._build_ivf(vectors)
            self._ivf_bytes = len(faiss.serialize_index(self._ivf))
        else:
            # faiss scans one query on one thread; numpy's BLAS would start threads that spin
            # and, on a busy 2-core machine, made a 10k scan 5x slower.  The matrix lives in
            # the faiss index; _store is a view of it, for batches and scores_for.
            self._flat = faiss.IndexFlatIP(self.dim)
            if self.size:
                self._flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
                self._store = faiss.rev_swig_ptr(self._flat.get_xb(), self.size * self.dim).reshape(
                    self.size, self.dim)
                self._store.setflags(write=False)
            else:
                self._store = np.empty((0, self.dim), dtype=np.float32)
        self.build_seconds = time.perf_counter() - started
        log.info("dense index: %d x %d, %s, built in %.1f s, %.0f MB", self.size, self.dim,
                 self.kind, self.build_seconds, self.nbytes / 2**20)

    @property
    def kind(self) -> str:
        if not self.approximate:
            return "exact float32"
        return f"IVF{self.nlist},PQ{self.pq_m}x4fs nprobe={self.nprobe} + float16 re-scoring"

    @property
    def nbytes(self) -> int:
        """Memory the index holds: the stored vectors plus faiss's lists, codes and centroids."""
        return int(self._store.nbytes) + self._ivf_bytes

    def _build_ivf(self, vectors: np.ndarray) -> Any:
        import faiss

        p = self.params
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFPQFastScan(quantizer, self.dim, self.nlist, self.pq_m, 4, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = p.kmeans_iterations
        index.cp.seed = p.seed
        index.cp.max_points_per_centroid = max(39, p.train_size // self.nlist + 1)
        index.cp.verbose = False
        rng = np.random.default_rng(p.seed)
        sample = np.sort(rng.choice(self.size, size=min(self.size, p.train_size), replace=False))
        index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
        for start in range(0, self.size, 100_000):
            index.add(np.ascontiguousarray(vectors[start:start + 100_000], dtype=np.float32))
        index.nprobe = self.nprobe
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
            if len(queries) < 4:
                scores, positions = self._flat.search(queries, k)
                return positions.astype(np.int64), scores
            return _top_k(queries @ self._store.T, k)
        p = self.params
        want = min(self.size, max(p.shortlist, k * p.shortlist_per_k), max(p.shortlist_max, k))
        _, candidates = self._ivf.search(queries, want)
        found = candidates >= 0
        rows = self._store[np.where(found, candidates, 0)].astype(np.float32)  # (queries, want, dim)
        exact = np.matmul(rows, queries[:, :, None])[:, :, 0]
        exact[~found] = -np.inf
        best, scores = _top_k(exact, k)
        positions = np.take_along_axis(candidates, best, axis=1)
        positions[~np.isfinite(scores)] = -1  # the probed lists held fewer than k products
        return positions, scores

    def vectors(self, positions: np.ndarray) -> np.ndarray:
        """The stored vectors of ``positions`` (float32 rows)."""
        return self._store[np.asarray(positions, dtype=np.int64)].astype(np.float32)

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

    def refined(self, positions: np.ndarray, weight: float) -> BoundQuery:
        """Rocchio's feedback: the query moved towards the mean of ``positions``' vectors
        (``weight`` times it), unit length again."""
        vector = np.asarray(self.vector, dtype=np.float32).reshape(-1)
        if len(positions):
            vector = vector + weight * self.index.vectors(positions).mean(axis=0)
        norm = float(np.linalg.norm(vector))
        return BoundQuery(self.index, vector / norm if norm > 0 else vector)


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
