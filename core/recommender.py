"""The recommender interface the dialogue manager calls.

One instance serves every adapter.  The lexical recommender (``core.lexical``) is the
first implementation; the LM recommender and the remote HTTP client implement the same
protocol, so the dialogue manager cannot tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.catalog import Catalog, Product


@dataclass(frozen=True)
class SearchRequest:
    """A search with the session's constraints already applied.

    ``price_min``/``price_max`` are inclusive, in the catalog's currency.  ``brands``
    restricts to those brands (empty: any); ``exclude_brands`` and ``exclude_ids`` are
    never returned.  ``similar_to`` names a product whose neighbours are wanted ("more
    like the second one").  ``liked``/``disliked`` are product ids the customer reacted
    to; they nudge ranking, they do not filter.  ``user_key`` is a pseudonym of the customer
    (``core.logs.user_ref``, never the platform id) that keeps an A/B test's split stable per
    customer (``core.model_router``); empty for searches of no one (evaluation).
    """

    text: str = ""
    lang: str = "en"
    category: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    brands: tuple[str, ...] = ()
    exclude_brands: tuple[str, ...] = ()
    exclude_ids: frozenset[str] = frozenset()
    features: tuple[str, ...] = ()
    similar_to: str | None = None
    liked: tuple[str, ...] = ()
    disliked: tuple[str, ...] = ()
    in_stock_only: bool = True
    limit: int = 5
    diverse: bool = True  # cap brands and collapse variants; evaluation turns it off
    user_key: str = ""


@dataclass(frozen=True)
class Hit:
    """A ranked product and the query terms and features it matched (for the reason).
    ``model`` names the encoder that ranked it (``core.models.model_name``; "" when no
    dense model took part: a lexical ranker)."""

    product: Product
    score: float
    matched_terms: tuple[str, ...] = ()
    matched_features: tuple[str, ...] = ()
    model: str = ""


class Recommender(Protocol):
    """Finds products for a request.  Implementations must be safe to call concurrently."""

    @property
    def catalog(self) -> Catalog: ...

    async def search(self, request: SearchRequest) -> list[Hit]:
        """Best products first, at most ``request.limit``, every filter honoured."""
        ...

