"""BM25 retrieval over the catalog, optionally fused with a dense retriever: the recommender.

``LexicalRecommender`` is the first implementation of ``core.recommender.Recommender``: it
indexes each product's title, brand, category and description in both languages
(``core.textproc`` tokenizes) into a ``core.bm25.BM25Index``, keeps every product's price,
stock, brand, category and features as numpy arrays, and for each request applies the
hard filters, ranks, nudges by the session's likes and dislikes, and keeps the top of the
list varied.  Given a ``core.dense_api.DenseRetriever`` it fuses BM25 with the dense side's
cosine similarities before all of that.  The dialogue manager calls ``search`` once per
turn that needs products; ``daogou eval`` calls it with ``diverse=False``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.bm25 import BM25Index
from core.catalog import Catalog, Product
from core.dense_api import DenseQuery, DenseRetriever, refined
from core.fusion import FUSIONS, fuse
from core.lexicon import FEATURES, features_in
from core.product_text import (
    category_parts, colour_size_tokens, feature_tokens, model_line, product_fields, written_words,
)
from core.recommender import Hit, SearchRequest
from core.spelling import Speller, english_words
from core.textproc import cjk_chars, is_cjk, normalize, tokenize, tokenize_with_surface

__all__ = ["FUSIONS", "BM25Index", "LexicalRecommender", "fuse"]

# Field weights: a word in the title or the brand says more than one in the description.
# "chars" holds the Chinese characters of titles and categories, so a one-character query
# word ("包") meets a longer product word ("背包"), weakly.
FIELD_WEIGHTS: dict[str, float] = {
    "title": 3.0, "brand": 3.0, "category": 2.0, "body": 1.0, "chars": 0.3,
}
FEATURE_BOOST = 0.3  # having every requested feature, on a scale where the best text match is 1
FEATURE_TERM_WEIGHT = 0.5  # a requested feature's own name, added to the query
TRANSLATION_WEIGHT = 0.3  # the other language's name of a feature the text names
SPELLING_WEIGHT = 0.8  # a catalog word standing in for a query word no product uses
LIKE_NUDGE = 0.2
DISLIKE_NUDGE = 0.3
OUT_OF_STOCK_PENALTY = 0.05
SAME_CATEGORY_BONUS = 0.3  # similar_to: same category, or 0.15 for the same top-level one
FEATURE_OVERLAP_BONUS = 0.2
MAX_PER_BRAND = 2
GOOD_FRACTION = 0.5  # a candidate scoring at least this share of the best one is "good"
_WRITTEN_LOOKS = 20  # products read to find how the catalog writes a corrected word
_INLINE_MAX_PRODUCTS = 10_000  # larger catalogs search in a worker thread (over ~1 ms)

# Hybrid retrieval.  The lexical side contributes its best LEXICAL_DEPTH filtered matches,
# the dense side its best DENSE_DEPTH filtered products; a filtered pool of at most
# EXACT_POOL products (a category, a brand, a narrow budget) is scored whole instead.
# Then the query vector moves towards the FEEDBACK_PRODUCTS best fused candidates
# (FEEDBACK_WEIGHT times their mean) and the dense side is asked again: products described
# in other words than the customer's come closer.  On homedepot-dev's validation queries
# (daogou eval, the bundled MiniLM) the two together took hybrid nDCG@10 from 0.423 to
# 0.427 and condensed nDCG@10, which needs judged products found deep, from 0.878 to 0.895.
LEXICAL_DEPTH = 1000
DENSE_DEPTH = 1000
EXACT_POOL = 20_000
FEEDBACK_PRODUCTS = 5
FEEDBACK_WEIGHT = 1.0
FIRST_ROUND_DEPTH = 200

_NONE = np.zeros(0, dtype=np.int64)

log = logging.getLogger(__name__)


@dataclass
class _Query:
    """One request's words as index terms; built per search, never shared."""

    features: tuple[str, ...]
    terms: dict[str, float] = field(default_factory=dict)  # the customer's words: they gate
    surfaces: dict[str, str] = field(default_factory=dict)  # term -> word as written
    # word -> (documents holding all its characters, ascending; their scores)
    soft: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    translations: set[str] = field(default_factory=set)  # terms added for a named feature
    feature_terms: dict[str, float] = field(default_factory=dict)  # asked-for features' names


class LexicalRecommender:
    """BM25 (optionally fused with dense retrieval) with hard filters, diversity and
    likes/dislikes.

    Built once per catalog, synchronously (jieba's dictionary loads in about a second the
    first time; ``scripts/bench_lexical.py`` reports build times and latencies).  ``search``
    only reads what was built, so one instance serves every adapter and every concurrent
    request.

    ``dense``, when given, is asked for a ``DenseQuery`` per text search; its cosine
    similarities are fused with BM25 as ``dense_weight * dense + (1 - dense_weight) *
    lexical``, each side normalized over the candidates by ``fusion`` (one of
    ``FUSIONS``: min-max, division by the maximum, z-score, or reciprocal-rank fusion).
    The fused relevance then takes BM25's place in the feature boost, likes and diversity.
    The dense side re-ranks every candidate but adds a product the words did not find only
    when its similarity is at least ``dense_min_similarity``, so a search whose words match
    nothing gets dense results only when the best similarity reaches it.  Matched terms
    always come from the lexical side.  ``lexical_depth``, ``dense_depth`` and
    ``exact_pool`` size the candidate sets (see LEXICAL_DEPTH and the rest); ``feedback``
    (0: off) is how many of the first round's best products the dense query moves towards
    before a second round, when the ``DenseQuery`` can move (``core.dense_api.refined``).
    ``k1``, ``b`` and ``field_weights`` are BM25F's (FIELD_WEIGHTS by default).
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        dense: DenseRetriever | None = None,
        dense_weight: float = 0.5,
        fusion: str = "minmax",
        dense_min_similarity: float = 0.3,
        lexical_depth: int = LEXICAL_DEPTH,
        dense_depth: int = DENSE_DEPTH,
        exact_pool: int = EXACT_POOL,
        feedback: int = FEEDBACK_PRODUCTS,
        k1: float = 1.2,
        b: float = 0.75,
        field_weights: dict[str, float] | None = None,
    ) -> None:
        if not 0 <= dense_weight <= 1:
            raise ValueError(f"dense_weight must be within [0, 1], got {dense_weight}")
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
        self._catalog = catalog
        self._dense = dense
        self._dense_weight = dense_weight
        self._fusion = fusion
        self._dense_min_similarity = dense_min_similarity
        self._lexical_depth = lexical_depth
        self._dense_depth = dense_depth
        self._exact_pool = exact_pool
        self._feedback = feedback
        products = self._products = catalog.products
        n = len(products)
        self._all = np.arange(n, dtype=np.int64)
        self._price = np.fromiter((p.price for p in products), dtype=np.float64, count=n)
        self._in_stock = np.fromiter((p.stock > 0 for p in products), dtype=bool, count=n)
        self._price_order = np.argsort(self._price, kind="stable")
        self._sorted_price = self._price[self._price_order]
        # Brands: one code per case-folded name; "" (no brand) is never capped.
        self._brand_code_of: dict[str, int] = {}
        self._brand = np.fromiter(
            (self._brand_code_of.setdefault(p.brand.casefold(), len(self._brand_code_of))
             for p in products), dtype=np.int32, count=n,
        )
        self._unbranded = self._brand_code_of.get("", -1)
        self._by_brand = _groups(self._brand, len(self._brand_code_of))
        self._build_categories(products)
        self._build_features(products)
        # Filled by searches; every thread computes the same value for a key, so a race
        # only repeats work.
        self._model_lines: dict[int, tuple[str, tuple[str, ...]]] = {}
        aliases_of: dict[str, list[str]] = {}
        for alias, canonical in catalog.brand_aliases.items():
            aliases_of.setdefault(canonical, []).append(alias)
        self._index = BM25Index(
            product_fields(catalog, aliases_of),
            field_weights=FIELD_WEIGHTS if field_weights is None else field_weights,
            k1=k1, b=b,
        )
        self._speller = Speller(self._index.vocabulary())
        english_words()  # loaded once per process (0.2 s) here, not on a customer's first typo
        self._written: dict[str, str] = {}  # index term -> a catalog word it came from

    def _build_categories(self, products: Sequence[Product]) -> None:
        """Every category path prefix, English or Chinese, gets a code; ``_cat_en[d][i]``
        is the code of product ``i``'s English path cut to ``d + 1`` parts (-1: shorter)."""
        n = len(products)
        paths: dict[str, tuple[str, ...]] = {}
        en = [paths.get(p.category) or paths.setdefault(p.category, category_parts(p.category))
              for p in products]
        zh = [paths.get(p.category_zh)
              or paths.setdefault(p.category_zh, category_parts(p.category_zh))
              for p in products]
        depth = max((len(path) for path in paths.values()), default=0)
        code_of: dict[tuple[str, ...], int] = {}
        for path in paths.values():
            for d in range(1, len(path) + 1):
                code_of.setdefault(path[:d], len(code_of))
        codes_of_path = {
            path: [code_of[path[:d]] for d in range(1, len(path) + 1)] for path in paths.values()
        }
        cat = np.full((2, depth, n), -1, dtype=np.int32)
        for side, side_paths in enumerate((en, zh)):
            for i, path in enumerate(side_paths):
                if path:
                    codes = codes_of_path[path]
                    cat[side, : len(codes), i] = codes
        self._prefix_code = code_of
        self._cat_en, self._cat_zh = cat[0], cat[1]
        self._en_depth = np.fromiter((len(path) for path in en), dtype=np.int32, count=n)
        # Positions under each prefix, English or Chinese path: the pool of a category search.
        flat = cat.reshape(-1)
        positions = np.tile(self._all, 2 * depth) if depth else _NONE
        used = flat >= 0
        pairs = np.unique(flat[used].astype(np.int64) * max(n, 1) + positions[used])
        self._in_prefix = _groups_sorted(pairs // max(n, 1), pairs % max(n, 1), len(code_of))

    def _build_features(self, products: Sequence[Product]) -> None:
        """Features as bits, 64 to a word, so feature tests and overlaps are array ops."""
        bit_of: dict[str, int] = {key: i for i, key in enumerate(FEATURES)}
        for p in products:
            for key in p.features:
                bit_of.setdefault(key, len(bit_of))
        words = (len(bit_of) + 63) // 64
        bits = np.zeros((len(products), words), dtype=np.uint64)
        for i, p in enumerate(products):
            for key in p.features:
                b = bit_of[key]
                bits[i, b // 64] |= np.uint64(1 << (b % 64))
        self._bit_of = bit_of
        self._feature_bits = bits

    def _model_of(self, i: int) -> tuple[str, tuple[str, ...]]:
        """Product ``i``'s model line (see ``core.product_text.model_line``), worked out the first time it
        is ranked high enough to matter and kept: most products never are, and a large
        catalog would spend most of its build time on them."""
        line = self._model_lines.get(i)
        if line is None:
            line = self._model_lines[i] = model_line(self._products[i], colour_size_tokens())
        return line

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @property
    def index(self) -> BM25Index:
        return self._index

    @property
    def dense(self) -> DenseRetriever | None:
        return self._dense

    def with_dense(self, dense: DenseRetriever | None) -> LexicalRecommender:
        """A recommender with ``dense`` as its dense side that shares everything else with
        this one (BM25 index, arrays, fusion settings): no rebuild.  ``core.model_router``
        swaps encoders this way; both copies stay safe to search concurrently."""
        clone = copy.copy(self)
        clone._dense = dense
        return clone

    async def search(self, request: SearchRequest) -> list[Hit]:
        """Best products first, at most ``request.limit``, every filter honoured."""
        dense: DenseQuery | None = None
        if (
            self._dense is not None and request.limit > 0 and request.text.strip()
            and not request.similar_to
        ):
            try:
                dense = await self._dense.query(request.text, request.lang)
            except Exception:  # the encoder failing must not cost the customer an answer
                log.exception("dense query failed; ranking lexically")
        if len(self._products) > _INLINE_MAX_PRODUCTS:
            return await asyncio.to_thread(self.search_sync, request, dense)
        return self.search_sync(request, dense)

    # -- searching --------------------------------------------------------------------

    def search_sync(self, request: SearchRequest, dense: DenseQuery | None = None) -> list[Hit]:
        """The search itself; ``search`` runs it inline or in a worker thread, with the
        request's ``DenseQuery`` when there is a dense side."""
        if request.limit <= 0 or not len(self._products):
            return []
        index = self._index
        query = self._parse(request)
        lexical = index.score_array(query.terms) if query.terms else None
        if lexical is not None:
            for docs, values in query.soft.values():
                lexical[docs] += values.astype(np.float32)
        similar = index.index_of(request.similar_to) if request.similar_to else None
        # Diversity skips variants and caps brands, so rank past the first ``limit``.
        shortlist = max(50, request.limit * 10)
        keep = shortlist if request.diverse else request.limit
        similarity: np.ndarray | None = None
        cosines: np.ndarray | None = None
        if similar is not None:
            similarity = index.score_array(self._similarity_query(similar))
            similarity[similar] = 0.0
            candidates = self._filtered(request, np.flatnonzero(similarity > 0))
            if len(candidates) < shortlist:
                # Few products share a telling word with it: its category-mates may do.
                same = self._filtered(request, self._same_category(similar))
                candidates = np.union1d(candidates, same[same != similar])
        elif dense is not None:
            # The first round only picks the feedback products: its best few need no depth.
            first = min(self._dense_depth, FIRST_ROUND_DEPTH) if self._feedback > 0 else None
            candidates, cosines = self._hybrid_candidates(request, query, lexical, dense, first)
            if cosines is not None and self._feedback > 0 and len(candidates):
                candidates, cosines = self._after_feedback(
                    request, query, lexical, dense, candidates, cosines)
        else:
            candidates = self._lexical_candidates(request, query, lexical)
        if not len(candidates):
            return []
        if query.feature_terms:
            lexical = index.score_array(query.feature_terms, out=lexical)
        relevance = _gather(lexical, candidates)
        if cosines is not None:
            relevance = fuse(relevance, cosines, self._dense_weight, self._fusion)
        sim = None if similarity is None else similarity[candidates].astype(np.float64)
        scored, scores = self._score(candidates, relevance, sim, similar, query, request, keep)
        ranked = self._ranked(scored, scores, request, keep)
        if not request.diverse:
            chosen = ranked[: request.limit]
        else:
            chosen = ranked[self._diversify(scored[ranked], scores[ranked], request.limit)]
            if len(chosen) < request.limit and len(candidates) > keep:
                # Rare: the short list was mostly variants of a few models.  Rank everything.
                scored, scores = self._score(candidates, relevance, sim, similar, query, request, None)
                ranked = self._ranked(scored, scores, request, None)
                chosen = ranked[self._diversify(scored[ranked], scores[ranked], request.limit)]
        positions = scored[chosen]
        matched = self._matched_terms(positions, query)
        products = self._products
        return [
            Hit(
                product=products[i],
                score=round(score, 6),
                matched_terms=terms,
                matched_features=tuple(k for k in query.features if k in products[i].features)
                if query.features else (),
            )
            for i, score, terms in zip(positions.tolist(), scores[chosen].tolist(), matched)
        ]

    def _lexical_candidates(
        self, request: SearchRequest, query: _Query, lexical: np.ndarray | None
    ) -> np.ndarray:
        """Products matching a word, or every product passing the filters when the
        request has no words (or none matched but a category or feature was asked for)."""
        if lexical is not None:
            candidates = self._filtered(request, np.flatnonzero(lexical > 0))
            if len(candidates) or not (request.category or query.features):
                return candidates
        return self._filtered(request, self._pool(request))

    def _hybrid_candidates(
        self,
        request: SearchRequest,
        query: _Query,
        lexical: np.ndarray | None,
        dense: DenseQuery,
        depth: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Candidates and their cosine similarities (None: lexical alone decides).

        The lexical candidates (its best ``lexical_depth`` matches, or the pool a search
        without matching words lists) meet the products the dense side is confident about
        (similarity at least ``dense_min_similarity``): among its best ``dense_depth``
        that pass the filters or, when the filters leave a pool of at most
        ``exact_pool`` products, among the whole pool, so a restrictive filter never
        starves the dense side.  Without matching words and without a confident dense
        product the search is lexical alone.
        """
        matches = self._filtered(request, np.flatnonzero(lexical > 0)) if lexical is not None \
            else _NONE
        pool = self._pool(request)
        exact = len(pool) <= self._exact_pool
        if exact:
            found = self._filtered(request, pool)  # ascending
            cosines = _as_scores(dense.scores_for(found)) if len(found) else np.zeros(0)
        else:
            found, cosines = self._dense_top(request, dense, depth or self._dense_depth)
        confident = found[cosines >= self._dense_min_similarity]
        if not len(matches):
            if not len(confident):
                return self._lexical_candidates(request, query, lexical), None
            if lexical is None or request.category or query.features:
                # A search that lists the pool without matching words still does.
                matches = found if exact else self._filtered(request, pool)
        else:
            cut = len(matches) - self._lexical_depth
            if cut > 0 and lexical is not None:
                matches = np.sort(matches[np.argpartition(lexical[matches], cut)[cut:]])
        candidates = np.union1d(matches, confident)
        if exact:
            return candidates, cosines[np.searchsorted(found, candidates)]
        return candidates, _as_scores(dense.scores_for(candidates))

    def _after_feedback(
        self,
        request: SearchRequest,
        query: _Query,
        lexical: np.ndarray | None,
        dense: DenseQuery,
        candidates: np.ndarray,
        cosines: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The hybrid candidates again, for the query vector moved towards the best
        ``feedback`` candidates of the first round; the first round's when the dense
        query cannot move or the second round would be lexical alone."""
        relevance = fuse(_gather(lexical, candidates), cosines, self._dense_weight, self._fusion)
        k = min(self._feedback, len(candidates))
        best = candidates[np.argpartition(-relevance, k - 1)[:k]]
        moved = refined(dense, np.sort(best), FEEDBACK_WEIGHT)
        if moved is None:
            return candidates, cosines
        again, again_cosines = self._hybrid_candidates(request, query, lexical, moved)
        if again_cosines is None or not len(again):
            return candidates, cosines
        return again, again_cosines

    def _dense_top(self, request: SearchRequest, dense: DenseQuery, depth: int
                   ) -> tuple[np.ndarray, np.ndarray]:
        """The dense side's best products that pass the filters, and their similarities.
        When the filters throw most of them away, it asks again for more, once."""
        n = len(self._products)
        k = min(depth, n)
        positions, cosines = self._dense_best(dense, k, request)
        if len(positions) * 4 < k < n:
            positions, cosines = self._dense_best(dense, min(n, k * 8), request)
        return positions, cosines

    def _dense_best(
        self, dense: DenseQuery, k: int, request: SearchRequest
    ) -> tuple[np.ndarray, np.ndarray]:
        positions, cosines = dense.top_k(k)
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        cosines = _as_scores(cosines)
        # An approximate index pads a short answer with -1.
        ok = (positions >= 0) & (positions < len(self._products))
        ok[ok] = self._passes(request, positions[ok])
        return positions[ok], cosines[ok]

    def _parse(self, request: SearchRequest) -> _Query:
        """The request's words as weighted index terms."""
        query = _Query(features=tuple(k for k in dict.fromkeys(request.features) if k in FEATURES))
        counts: Counter[str] = Counter()
        for token, surface in tokenize_with_surface(request.text):
            query.surfaces.setdefault(token, surface)
            counts[token] += 1
        query.terms.update((token, float(n)) for token, n in counts.items())
        # A word no product uses (a typo, "rainbird", "10x20") also looks for what it
        # probably meant, shown to the customer the way the catalog writes it.
        for token, n in counts.items():
            if token not in self._index and not is_cjk(token):
                for guess in self._speller.suggest(token, query.surfaces[token]):
                    if guess not in query.terms:
                        query.terms[guess] = SPELLING_WEIGHT * n
                        query.surfaces.setdefault(guess, self._catalog_word(guess))
        # Feature words bridge the two languages: "noise cancelling" also looks for "降噪".
        for key in features_in(normalize(request.text)) if counts else ():
            for token, surface in feature_tokens(key):
                if token not in query.terms:
                    query.terms[token] = TRANSLATION_WEIGHT
                    query.surfaces.setdefault(token, surface)
                    query.translations.add(token)
        # A Chinese word also matches, more weakly, a product title holding all of its
        # characters: "跑鞋" meets "跑步鞋", and a word no product uses still finds something.
        for token, n in counts.items():
            if is_cjk(token) and len(token) > 1:
                chars = list(dict.fromkeys(cjk_chars(token)))
                if chars:
                    query.soft[token] = self._index.all_of(chars, n / len(chars))
        # Asked-for features rank; they do not make a product a match on their own.
        for key in query.features:
            for token, _ in feature_tokens(key):
                if token not in query.terms:
                    query.feature_terms[token] = FEATURE_TERM_WEIGHT
        return query

    def _catalog_word(self, term: str) -> str:
        """How the catalog writes the index term ``term``: as the first product holding it
        does ("earphon" -> "earphones"), else the term itself."""
        word = self._written.get(term)
        if word is None:
            word = term
            docs, _ = self._index.postings(term)
            for i in docs[:_WRITTEN_LOOKS].tolist():
                written = written_words(self._catalog, self._products[i]).get(term)
                if written:
                    word = written
                    break
            self._written[term] = word  # every thread writes the same value
        return word

    # -- filters ----------------------------------------------------------------------

    def _pool(self, request: SearchRequest) -> np.ndarray:
        """Positions (ascending) holding every product that passes the filters, and as few
        others as the prebuilt lists allow: the category's, the brands', or the budget's."""
        options: list[Callable[[], np.ndarray]] = []
        sizes: list[int] = []
        path = category_parts(request.category or "")
        if path:
            code = self._prefix_code.get(path)
            if code is None:
                return _NONE
            positions = self._in_prefix[code]
            options.append(lambda: positions)
            sizes.append(len(positions))
        wanted = self._brand_codes(request.brands)
        if wanted is not None:
            brand_lists = [self._by_brand[c] for c in wanted]
            options.append(lambda: np.sort(np.concatenate(brand_lists)) if brand_lists else _NONE)
            sizes.append(sum(map(len, brand_lists)))
        if request.price_min is not None or request.price_max is not None:
            lo = -np.inf if request.price_min is None else request.price_min
            hi = np.inf if request.price_max is None else request.price_max
            a = int(np.searchsorted(self._sorted_price, lo, side="left"))
            z = int(np.searchsorted(self._sorted_price, hi, side="right"))
            options.append(lambda: np.sort(self._price_order[a:z]))
            sizes.append(max(0, z - a))
        if not options:
            return self._all
        return options[int(np.argmin(sizes))]()

    def _passes(self, request: SearchRequest, positions: np.ndarray) -> np.ndarray:
        """For each position, whether that product passes every hard filter."""
        ok = np.ones(len(positions), dtype=bool)
        if not len(positions):
            return ok
        if request.price_min is not None:
            ok &= self._price[positions] >= request.price_min
        if request.price_max is not None:
            ok &= self._price[positions] <= request.price_max
        if request.in_stock_only:
            ok &= self._in_stock[positions]
        if request.exclude_ids:
            found = (self._index.index_of(pid) for pid in request.exclude_ids)
            excluded = np.array(sorted(i for i in found if i is not None), dtype=np.int64)
            ok &= ~_member(positions, excluded)
        wanted = self._brand_codes(request.brands)
        if wanted is not None:
            ok &= np.isin(self._brand[positions], wanted)
        banned = self._brand_codes(request.exclude_brands)
        if banned:
            ok &= ~np.isin(self._brand[positions], banned)
        path = category_parts(request.category or "")
        if path:
            code = self._prefix_code.get(path)
            if code is None or len(path) > self._cat_en.shape[0]:
                ok[:] = False
            else:
                d = len(path) - 1
                ok &= (self._cat_en[d, positions] == code) | (self._cat_zh[d, positions] == code)
        return ok

    def _filtered(self, request: SearchRequest, positions: np.ndarray) -> np.ndarray:
        """The positions that pass every hard filter, in their order."""
        return positions[self._passes(request, positions)]

    def _brand_codes(self, names: Iterable[str]) -> list[int] | None:
        """Codes of the named brands (aliases resolved); None when no name was given."""
        keys = {self._resolve_brand(b) for b in names if b.strip()}
        if not keys:
            return None
        return sorted(self._brand_code_of[k] for k in keys if k in self._brand_code_of)

    def _resolve_brand(self, name: str) -> str:
        key = name.strip().casefold()
        return self._catalog.brand_aliases.get(key, name.strip()).casefold()

    def _same_category(self, i: int) -> np.ndarray:
        """Products whose English category path starts with product ``i``'s whole path."""
        depth = int(self._en_depth[i])
        if not depth:
            return _NONE
        code = self._cat_en[depth - 1, i]
        pool = self._in_prefix[code]
        return pool[self._cat_en[depth - 1, pool] == code]

    # -- ranking ----------------------------------------------------------------------

    def _score(
        self,
        candidates: np.ndarray,
        relevance: np.ndarray,
        similarity: np.ndarray | None,
        similar: int | None,
        query: _Query,
        request: SearchRequest,
        keep: int | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidates and their final scores, on one scale: the best text match counts 1, a
        requested feature up to FEATURE_BOOST, likes and dislikes a nudge of at most
        LIKE_/DISLIKE_NUDGE.

        With ``keep``, candidates that cannot reach the best ``keep`` whatever their boosts
        and nudges are left out first: those cost a pass over the candidates each.
        """
        top = float(relevance.max())
        scores = relevance * (1 / top) if top > 0 else np.zeros(len(candidates))
        liked, disliked = self._known(request.liked), self._known(request.disliked)
        up = (FEATURE_BOOST if query.features else 0.0) + (LIKE_NUDGE if liked else 0.0)
        down = (DISLIKE_NUDGE if disliked else 0.0) + (
            0.0 if request.in_stock_only else OUT_OF_STOCK_PENALTY
        )
        if keep is not None and similar is None and (up or down) and len(candidates) > 2 * keep:
            # At least ``keep`` candidates end at or above the keep-th best score less ``down``.
            cut = len(candidates) - keep
            floor = np.partition(scores, cut)[cut] - down - up
            reach = scores >= floor
            candidates, scores = candidates[reach], scores[reach]
        if query.features:
            per_feature = FEATURE_BOOST / len(query.features)
            for key in query.features:
                scores += per_feature * self._has_feature(candidates, key)
        if similar is not None and similarity is not None:
            top_sim = float(similarity.max())
            if top_sim > 0:
                scores += similarity * (1 / top_sim)
            scores += self._resemblance(
                similar, candidates, 0.0, SAME_CATEGORY_BONUS, FEATURE_OVERLAP_BONUS
            )
        if not request.in_stock_only:
            scores -= OUT_OF_STOCK_PENALTY * ~self._in_stock[candidates]
        for known, weight in ((liked, LIKE_NUDGE), (disliked, -DISLIKE_NUDGE)):
            if known:
                # Affinity to the closest of the products reacted to: brand, category, features.
                closest = np.max(
                    [self._resemblance(j, candidates, 0.4, 0.4, 0.2) for j in known], axis=0
                )
                scores += weight * closest
        return candidates, scores

    def _known(self, ids: Iterable[str]) -> list[int]:
        found = (self._index.index_of(pid) for pid in dict.fromkeys(ids))
        return [i for i in found if i is not None]

    def _ranked(
        self, candidates: np.ndarray, scores: np.ndarray, request: SearchRequest, keep: int | None
    ) -> np.ndarray:
        """Indexes into ``candidates`` of the best ``keep`` (or all), best first: by score,
        then in stock, then nearest the middle of the budget, then catalog order."""
        chosen = np.arange(len(candidates))
        if keep is not None and len(candidates) > keep:
            # Ranking by score alone is cheap; the full key only sorts the products that
            # tie with the last of the short list or beat it (all, when nothing scored).
            cut = len(candidates) - keep
            cutoff = np.partition(scores, cut)[cut]
            chosen = np.flatnonzero(scores >= cutoff)
        positions = candidates[chosen]
        keys: list[np.ndarray] = [positions]  # catalog order breaks the last ties
        target = _price_target(request.price_min, request.price_max)
        if target is not None:
            keys.append(np.abs(self._price[positions] - target))
        if not request.in_stock_only:
            keys.append(~self._in_stock[positions])
        keys.append(-scores[chosen])
        order = chosen[np.lexsort(keys)]
        return order if keep is None else order[:keep]

    def _similarity_query(self, i: int) -> Counter[str]:
        """Product ``i``'s telling words: title, brand, category, features.  Words most of
        the catalog shares are left out (the category bonus covers them), which keeps a
        large catalog's search short."""
        p = self._products[i]
        names = " ".join(f"{FEATURES[k].en} {FEATURES[k].zh}" for k in p.features if k in FEATURES)
        category = f"{p.category} {p.category_zh}".replace(">", " ")
        words = Counter(tokenize(f"{p.title} {p.title_zh} {p.brand} {category} {names}"))
        common = max(50, len(self._products) // 10)
        telling = Counter({t: n for t, n in words.items() if self._index.df(t) <= common})
        return telling or words

    def _has_feature(self, positions: np.ndarray, key: str) -> np.ndarray:
        bit = self._bit_of.get(key)
        if bit is None:
            return np.zeros(len(positions), dtype=bool)
        word = self._feature_bits[positions, bit // 64]
        return (word & np.uint64(1 << (bit % 64))) != 0

    def _resemblance(
        self,
        j: int,
        candidates: np.ndarray,
        brand_weight: float,
        category_weight: float,
        feature_weight: float,
    ) -> np.ndarray:
        """How much each candidate resembles product ``j``: ``brand_weight`` for the same
        brand, ``category_weight`` for the same category (half for the same top level),
        ``feature_weight`` times the Jaccard overlap of their features."""
        out = np.zeros(len(candidates))
        brand = self._brand[j]
        if brand_weight and brand != self._unbranded:
            out += brand_weight * (self._brand[candidates] == brand)
        depth = int(self._en_depth[j])
        if depth and category_weight:
            same = self._cat_en[depth - 1, candidates] == self._cat_en[depth - 1, j]
            same_top = self._cat_en[0, candidates] == self._cat_en[0, j]
            out += np.where(same, category_weight, np.where(same_top, category_weight / 2, 0.0))
        wanted = self._feature_bits[j]
        if feature_weight and wanted.any():
            have = self._feature_bits[candidates]
            shared = np.bitwise_count(have & wanted).sum(axis=1)
            either = np.bitwise_count(have | wanted).sum(axis=1)
            out += feature_weight * shared / either  # ``wanted`` is non-empty: either >= 1
        return out

    def _diversify(self, ranked: np.ndarray, scores: np.ndarray, limit: int) -> np.ndarray:
        """Indexes into ``ranked`` (positions, best first, with their ``scores``) of the first
        ``limit`` products, one per model line, and at most MAX_PER_BRAND per brand while
        good candidates of other brands remain."""
        if not len(ranked):
            return _NONE
        top = float(scores[0])
        floor = top - max(abs(top) * (1 - GOOD_FRACTION), 0.25)
        order = ranked.tolist()
        brands = self._brand[ranked].tolist()
        model_of = self._model_of
        chosen: list[int] = []
        lines: set[tuple[str, tuple[str, ...]]] = set()
        per_brand: Counter[int] = Counter()
        deferred: list[int] = []
        rest = len(order)
        for pos, (i, brand, score) in enumerate(zip(order, brands, scores.tolist())):
            if len(chosen) == limit:
                break
            model = model_of(i)
            if model in lines:
                continue
            if score < floor:
                rest = pos
                break
            if brand != self._unbranded and per_brand[brand] >= MAX_PER_BRAND:
                deferred.append(pos)
                continue
            chosen.append(pos)
            lines.add(model)
            per_brand[brand] += 1
        if len(chosen) < limit:
            # Brand-capped candidates outrank everything from ``rest`` on, so they fill first.
            for pos in [*deferred, *range(rest, len(order))]:
                if len(chosen) == limit:
                    break
                model = model_of(order[pos])
                if model not in lines:
                    chosen.append(pos)
                    lines.add(model)
        return np.array(chosen, dtype=np.int64)

    def _matched_terms(self, positions: np.ndarray, query: _Query) -> list[tuple[str, ...]]:
        """Per position: the customer's words that product contains, as written; a feature's
        name in the other language only when none of their own words matched."""
        terms = list(query.terms)
        if not terms or not len(positions):
            return [()] * len(positions)
        has = np.stack([
            self._index.contains(t, positions)
            | (_member(positions, query.soft[t][0]) if t in query.soft else False)
            for t in terms
        ], axis=1)
        # Hits share few patterns of matched words: word them once per pattern.
        worded: dict[bytes, tuple[str, ...]] = {}
        out = []
        for row in has:
            key = row.tobytes()
            words = worded.get(key)
            if words is None:
                words = worded[key] = _surfaces([t for t, hit in zip(terms, row) if hit], query)
            out.append(words)
        return out


def _surfaces(found: list[str], query: _Query) -> tuple[str, ...]:
    own = [t for t in found if t not in query.translations]
    surfaces = list(dict.fromkeys(query.surfaces.get(t, t) for t in own or found))
    # "wf" and "1000xm5" say nothing once "wf-1000xm5" is listed, nor "保温" by "保温杯".
    return tuple(s for s in surfaces if not any(s != o and _part_of(s, o) for o in surfaces))


# -- helpers ------------------------------------------------------------------------------

def _groups(codes: np.ndarray, count: int) -> list[np.ndarray]:
    """Positions (ascending) holding each code 0..count-1."""
    order = np.argsort(codes, kind="stable").astype(np.int64)
    return _groups_sorted(codes[order], order, count)


def _groups_sorted(codes: np.ndarray, positions: np.ndarray, count: int) -> list[np.ndarray]:
    bounds = np.searchsorted(codes, np.arange(count + 1))
    return [positions[bounds[c]:bounds[c + 1]] for c in range(count)]


def _gather(values: np.ndarray | None, positions: np.ndarray) -> np.ndarray:
    if values is None:
        return np.zeros(len(positions))
    return values[positions].astype(np.float64)


def _as_scores(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1)


def _member(positions: np.ndarray, sorted_positions: np.ndarray) -> np.ndarray:
    """For each of ``positions``, whether it is in ``sorted_positions`` (ascending)."""
    if not len(sorted_positions) or not len(positions):
        return np.zeros(len(positions), dtype=bool)
    j = np.searchsorted(sorted_positions, positions)
    j[j == len(sorted_positions)] = 0
    return sorted_positions[j] == positions


def _part_of(small: str, big: str) -> bool:
    if is_cjk(small):
        return small in big
    return small in re.split(r"[-_./+'&]", big)


def _price_target(lo: float | None, hi: float | None) -> float | None:
    """The price an empty-text search ranks nearest to: the middle of the budget."""
    if hi is not None:
        return ((lo or 0.0) + hi) / 2
    if lo is not None:
        return lo * 1.25
    return None
