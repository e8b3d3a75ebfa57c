"""The contract between the dense side (encoder, vectors, index) and the ranker.

The ranker (``core.lexical``) knows nothing about torch or faiss: for a query it is
handed a ``DenseQuery`` bound to that query's vector, and asks it for the best products
and for the similarity of any products it is already considering.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class DenseQuery(Protocol):
    """Cosine similarities between one query and the catalog, by product position.

    Positions are indexes into ``catalog.products`` (the order the ranker built its
    index in).  Implementations must be safe to call from a worker thread.
    """

    def top_k(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar products: (positions int64, similarities float32), best first.
        Approximate for large catalogs."""
        ...

    def scores_for(self, positions: np.ndarray) -> np.ndarray:
        """Exact similarities (float32) of the given positions, in the same order."""
        ...


def refined(query: DenseQuery, positions: np.ndarray, weight: float) -> DenseQuery | None:
    """``query`` moved towards the products at ``positions`` (pseudo-relevance feedback),
    or None when it cannot move.

    An optional capability: a ``DenseQuery`` that can offers ``refined(positions, weight)``
    returning another ``DenseQuery`` (``core.dense.BoundQuery`` does); others simply get
    no feedback.
    """
    method = getattr(query, "refined", None)
    return None if method is None else method(positions, weight)


class DenseRetriever(Protocol):
    """Turns a query text into a ``DenseQuery``; owned by the recommender, shared by all requests."""

    async def query(self, text: str, lang: str) -> DenseQuery | None:
        """None when the dense side has nothing trustworthy to say about ``text`` (for
        example a Chinese query for an English-only encoder): the ranker then uses
        lexical scores alone."""
        ...
