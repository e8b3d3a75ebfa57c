"""BM25 retrieval over the catalog, and the lexical recommender built on it.

``BM25Index`` is a BM25F index over documents made of weighted fields; it is built once and
never changes, so any number of searches may read it at once.  ``LexicalRecommender`` is
the first implementation of ``core.recommender.Recommender``: it indexes each product's
title, brand, category and description in both languages (``core.textproc`` tokenizes),
then for each request applies the hard filters, ranks, nudges by the session's likes and
dislikes, and keeps the top of the list varied.  The dialogue manager calls ``search``
once per turn that needs products.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat

from core.bm25 import BM25Index, FieldText
from core.catalog import Catalog, Product
from core.lexicon import FEATURES, features_in
from core.recommender import Hit, SearchRequest
from core.textproc import cjk_chars, is_cjk, normalize, tokenize, tokenize_with_surface

__all__ = ["BM25Index", "LexicalRecommender"]

# Field weights: a word in the title or the brand says more than one in the description.
# "chars" holds the Chinese characters of titles and categories, so a one-character query
# word ("包") meets a longer product word ("背包"), weakly.
FIELD_WEIGHTS: dict[str, float] = {
    "title": 3.0, "brand": 3.0, "category": 2.0, "body": 1.0, "chars": 0.3,
}
FEATURE_BOOST = 0.3  # having every requested feature, on a scale where the best text match is 1
FEATURE_TERM_WEIGHT = 0.5  # a requested feature's own name, added to the query
TRANSLATION_WEIGHT = 0.3  # the other language's name of a feature the text names
LIKE_NUDGE = 0.2
DISLIKE_NUDGE = 0.3
OUT_OF_STOCK_PENALTY = 0.05
SAME_CATEGORY_BONUS = 0.3  # similar_to: same category, or 0.15 for the same top-level one
FEATURE_OVERLAP_BONUS = 0.2
MAX_PER_BRAND = 2
GOOD_FRACTION = 0.5  # a candidate scoring at least this share of the best one is "good"
_INLINE_MAX_PRODUCTS = 2000  # larger catalogs score in a worker thread (over ~5 ms)

_COLOUR_SIZE_WORDS = """
    black white silver gold grey gray blue red green pink purple yellow orange brown beige
    navy ivory khaki teal violet coral champagne graphite charcoal midnight starlight
    titanium bronze copper transparent multicolor multicolour colour color matte burgundy
    maroon
    xs xxs xl xxl xxxl 2xl 3xl 4xl 5xl small medium large xlarge size
    黑 白 银 金 灰 蓝 红 绿 粉 紫 黄 橙 棕 褐 青 黑色 白色 银色 金色 灰色 蓝色 红色 绿色 粉色 紫色
    黄色 橙色 棕色 米色 藏青 藏青色 卡其 卡其色 香槟 香槟色 玫瑰金 深空灰 大号 中号 小号 均码 码 号
"""
_VARIANT_ATTRIBUTES = frozenset(
    "color colour size capacity storage 颜色 尺码 尺寸 规格 容量 存储 内存".split()
)
_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]|【[^】]*】|〔[^〕]*〕|<[^>]*>")
_SIZE_NUMBER = re.compile(
    r"\b(?:size|eu|us|uk)\s*\d+(?:\.\d+)?\b|\d+(?:\.\d+)?\s*(?:码|号|寸|英寸)|\b\d+\s*(?:gb|tb)\b"
)


@dataclass
class _Query:
    """One request's words as index terms; built per search, never shared."""

    features: tuple[str, ...]
    terms: dict[str, float] = field(default_factory=dict)  # the customer's words: they gate
    surfaces: dict[str, str] = field(default_factory=dict)  # term -> word as written
    soft: dict[str, dict[int, float]] = field(default_factory=dict)  # word -> docs with its chars
    translations: set[str] = field(default_factory=set)  # terms added for a named feature
    feature_terms: dict[str, float] = field(default_factory=dict)  # asked-for features' names


class LexicalRecommender:
    """BM25 over the catalog with hard filters, diversity and likes/dislikes.

    Built once per catalog, synchronously (jieba's dictionary loads in about a second the
    first time; see ``scripts/bench_lexical.py`` for larger catalogs).  ``search`` only
    reads what was built, so one instance serves every adapter and every concurrent
    request.
    """

    def __init__(self, catalog: Catalog, *, k1: float = 1.2, b: float = 0.75) -> None:
        self._catalog = catalog
        products = self._products = catalog.products
        self._ids = tuple(p.id for p in products)
        self._price = tuple(p.price for p in products)
        self._in_stock = tuple(p.in_stock for p in products)
        self._brand_key = tuple(p.brand.casefold() for p in products)
        self._category_path = tuple(_category_parts(p.category) for p in products)
        self._category_zh_path = tuple(_category_parts(p.category_zh) for p in products)
        self._features = tuple(frozenset(p.features) for p in products)
        self._by_category: dict[tuple[str, ...], list[int]] = {}
        self._by_brand: dict[str, list[int]] = {}
        having: dict[str, list[int]] = {}
        for i, path in enumerate(self._category_path):
            for depth in range(1, len(path) + 1):
                self._by_category.setdefault(path[:depth], []).append(i)
            self._by_brand.setdefault(self._brand_key[i], []).append(i)
            for key in self._features[i]:
                having.setdefault(key, []).append(i)
        self._with_feature = {key: frozenset(ids) for key, ids in having.items()}
        self._in_category = {path: frozenset(ids) for path, ids in self._by_category.items()}
        self._of_brand = {brand: frozenset(ids) for brand, ids in self._by_brand.items()}
        colour_tokens = frozenset(tokenize(_COLOUR_SIZE_WORDS))
        self._model_key = tuple(_model_line(p, colour_tokens) for p in products)
        aliases_of: dict[str, list[str]] = {}
        for alias, canonical in catalog.brand_aliases.items():
            aliases_of.setdefault(canonical, []).append(alias)
        self._index = BM25Index(
            ((p.id, self._fields(p, aliases_of)) for p in products),
            field_weights=FIELD_WEIGHTS, k1=k1, b=b,
        )

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @property
    def index(self) -> BM25Index:
        return self._index

    async def search(self, request: SearchRequest) -> list[Hit]:
        """Best products first, at most ``request.limit``, every filter honoured."""
        if len(self._products) > _INLINE_MAX_PRODUCTS:
            return await asyncio.to_thread(self.search_sync, request)
        return self.search_sync(request)

    def _fields(self, p: Product, aliases_of: Mapping[str, list[str]]) -> dict[str, FieldText]:
        info = self._catalog.categories.get(p.category)
        category_names = [p.category, p.category_zh]
        if info is not None:
            category_names += [info.zh, *info.aliases]
        category = " ".join(name.replace(">", " ") for name in category_names if name)
        attrs = " ".join(f"{k} {v}" for k, v in p.attributes.items())
        return {
            "title": f"{p.title} {p.title_zh}",
            "brand": " ".join([p.brand, *aliases_of.get(p.brand, ())]),
            "category": category,
            "body": f"{p.description} {p.description_zh} {attrs}",
            "chars": cjk_chars(f"{p.title_zh} {p.title} {category}"),
        }

    # -- searching --------------------------------------------------------------------

    def search_sync(self, request: SearchRequest) -> list[Hit]:
        """The search itself; ``search`` runs it inline or in a worker thread."""
        if request.limit <= 0:
            return []
        index = self._index
        query = self._parse(request)
        text_scores = index.scores_by_index(query.terms) if query.terms else {}
        for docs in query.soft.values():
            for i, v in docs.items():
                text_scores[i] = text_scores.get(i, 0.0) + v
        similar = index.index_of(request.similar_to) if request.similar_to else None
        similarity: dict[int, float] = {}
        # Diversity skips variants and caps brands, so rank past the first ``limit``.
        shortlist = max(50, request.limit * 10)
        if similar is not None:
            similarity = index.scores_by_index(self._similarity_query(similar))
            similarity.pop(similar, None)
            candidates = self._filtered(request, similarity)
            if len(candidates) < shortlist:
                # Few products share a telling word with it: its category-mates may do.
                found = set(candidates)
                same = self._by_category.get(self._category_path[similar], ())
                candidates += [
                    i for i in self._filtered(request, same) if i != similar and i not in found
                ]
        elif query.terms:
            candidates = self._filtered(request, text_scores)
            if not candidates and (request.category or query.features):
                candidates = self._filtered(request, self._pool(request))
        else:
            candidates = self._filtered(request, self._pool(request))
        if not candidates:
            return []
        if query.feature_terms:
            for i, v in index.scores_by_index(query.feature_terms).items():
                text_scores[i] = text_scores.get(i, 0.0) + v
        args = (text_scores, similarity, similar, query, request)
        scores = self._score(candidates, *args, keep=shortlist)
        chosen = self._diversify(self._ranked(scores, request, shortlist), scores, request.limit)
        if len(chosen) < request.limit and len(scores) > shortlist:
            # Rare: the short list was mostly variants of a few models.  Rank everything.
            scores = self._score(candidates, *args, keep=None)
            chosen = self._diversify(self._ranked(scores, request, None), scores, request.limit)
        return [
            Hit(
                product=self._products[i],
                score=round(scores[i], 6),
                matched_terms=self._matched_terms(i, query),
                matched_features=tuple(k for k in query.features if k in self._features[i]),
            )
            for i in chosen
        ]

    def _parse(self, request: SearchRequest) -> _Query:
        """The request's words as weighted index terms."""
        query = _Query(features=tuple(k for k in dict.fromkeys(request.features) if k in FEATURES))
        counts: Counter[str] = Counter()
        for token, surface in tokenize_with_surface(request.text):
            query.surfaces.setdefault(token, surface)
            counts[token] += 1
        query.terms.update((token, float(n)) for token, n in counts.items())
        # Feature words bridge the two languages: "noise cancelling" also looks for "降噪".
        for key in features_in(normalize(request.text)) if counts else ():
            for token, surface in _feature_tokens(key):
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
                    query.soft[token] = self._index.scores_all_of(chars, n / len(chars))
        # Asked-for features rank; they do not make a product a match on their own.
        for key in query.features:
            for token, _ in _feature_tokens(key):
                if token not in query.terms:
                    query.feature_terms[token] = FEATURE_TERM_WEIGHT
        return query

    def _pool(self, request: SearchRequest) -> Iterable[int]:
        """Where to look when every product passing the filters is a candidate: the
        narrowest prebuilt list."""
        path = _category_parts(request.category or "")
        if path and path in self._by_category:
            return self._by_category[path]
        keys = {self._resolve_brand(b) for b in request.brands if b.strip()}
        if keys:
            return sorted(i for k in keys for i in self._by_brand.get(k, ()))
        return range(len(self._products))

    def _filtered(self, request: SearchRequest, pool: Iterable[int]) -> list[int]:
        """The products of ``pool`` that pass every hard filter.  One comprehension per
        filter: on a large catalog this runs for thousands of products per search."""
        lo = -math.inf if request.price_min is None else request.price_min
        hi = math.inf if request.price_max is None else request.price_max
        price = self._price
        out = [i for i in pool if lo <= price[i] <= hi]
        if request.in_stock_only:
            stock = self._in_stock
            out = [i for i in out if stock[i]]
        if request.exclude_ids:
            ids, excluded = self._ids, request.exclude_ids
            out = [i for i in out if ids[i] not in excluded]
        brand = self._brand_key
        wanted = {self._resolve_brand(b) for b in request.brands if b.strip()}
        if wanted:
            out = [i for i in out if brand[i] in wanted]
        banned = {self._resolve_brand(b) for b in request.exclude_brands if b.strip()}
        if banned:
            out = [i for i in out if brand[i] not in banned]
        path = _category_parts(request.category or "")
        if path:
            n, en, zh = len(path), self._category_path, self._category_zh_path
            out = [i for i in out if en[i][:n] == path or zh[i][:n] == path]
        return out

    def _resolve_brand(self, name: str) -> str:
        key = name.strip().casefold()
        return self._catalog.brand_aliases.get(key, name.strip()).casefold()

    def _score(
        self,
        candidates: list[int],
        relevance: Mapping[int, float],
        similarity: Mapping[int, float],
        similar: int | None,
        query: _Query,
        request: SearchRequest,
        *,
        keep: int | None,
    ) -> dict[int, float]:
        """Final scores on one scale: the best text match counts 1, a requested feature up
        to FEATURE_BOOST, likes and dislikes a nudge of at most LIKE_/DISLIKE_NUDGE.

        With ``keep``, candidates that cannot reach the best ``keep`` whatever their
        nudges are left out (likes and dislikes cost a pass per product reacted to).
        """
        top = max(map(relevance.get, candidates, repeat(0.0)), default=0.0)
        scale = 1 / top if top > 0 else 0.0
        scores = {
            i: v * scale for i, v in zip(candidates, map(relevance.get, candidates, repeat(0.0)))
        }
        if query.features:
            per_feature = FEATURE_BOOST / len(query.features)
            for key in query.features:
                having = self._with_feature.get(key, frozenset())
                for i in candidates if len(candidates) < len(having) else having:
                    if i in having and i in scores:
                        scores[i] += per_feature
        if similar is not None:
            top_sim = max(map(similarity.get, candidates, repeat(0.0)), default=0.0)
            sim_scale = 1 / top_sim if top_sim > 0 else 0.0
            likeness = self._resemblance(
                similar, candidates, 0.0, SAME_CATEGORY_BONUS, FEATURE_OVERLAP_BONUS
            )
            for i, like in zip(candidates, likeness):
                scores[i] += like + similarity.get(i, 0.0) * sim_scale
        if not request.in_stock_only:
            stock = self._in_stock
            for i in candidates:
                if not stock[i]:
                    scores[i] -= OUT_OF_STOCK_PENALTY
        liked = self._known(request.liked)
        disliked = self._known(request.disliked)
        if not (liked or disliked):
            return scores
        if keep is not None and len(scores) > keep:
            reach = (LIKE_NUDGE if liked else 0.0) + (DISLIKE_NUDGE if disliked else 0.0)
            floor = heapq.nlargest(keep, scores.values())[-1] - reach
            scores = {i: v for i, v in scores.items() if v >= floor}
        nudged = list(scores)
        for refs, weight in ((liked, LIKE_NUDGE), (disliked, -DISLIKE_NUDGE)):
            if refs:
                # Affinity to the closest of the products reacted to: brand, category, features.
                closest = [self._resemblance(j, nudged, 0.4, 0.4, 0.2) for j in refs]
                for i, *values in zip(nudged, *closest):
                    scores[i] += weight * max(values)
        return scores

    def _known(self, ids: Iterable[str]) -> list[int]:
        found = (self._index.index_of(pid) for pid in dict.fromkeys(ids))
        return [i for i in found if i is not None]

    def _ranked(
        self, scores: Mapping[int, float], request: SearchRequest, keep: int | None
    ) -> list[int]:
        """The best ``keep`` (or all) scored candidates, best first: by score, then in
        stock, then nearest the middle of the budget, then catalog order."""
        candidates = list(scores)
        if keep is not None and len(candidates) > keep:
            # Ranking by score alone is cheap; the full key only runs on the products that
            # tie with the last of the short list (all of them, when nothing scored).
            cutoff = heapq.nlargest(keep, scores.values())[-1]
            candidates = [i for i in candidates if scores[i] >= cutoff]
        # Stable sorts from the last key to the first, each with a cheap key.
        ranked = sorted(candidates)  # catalog order breaks the last ties
        target = _price_target(request.price_min, request.price_max)
        if target is not None:
            price = self._price
            ranked.sort(key=lambda i: abs(price[i] - target))
        if not request.in_stock_only:
            ranked.sort(key=self._in_stock.__getitem__, reverse=True)
        ranked.sort(key=scores.__getitem__, reverse=True)
        return ranked if keep is None else ranked[:keep]

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

    def _resemblance(
        self,
        j: int,
        candidates: Sequence[int],
        brand_weight: float,
        category_weight: float,
        feature_weight: float,
    ) -> list[float]:
        """How much each candidate resembles product ``j``: ``brand_weight`` for the same
        brand, ``category_weight`` for the same category (half for the same top level),
        ``feature_weight`` times the Jaccard overlap of their features."""
        empty: frozenset[int] = frozenset()
        brand = self._brand_key[j]
        path = self._category_path[j]
        same_brand = self._of_brand.get(brand, empty) if brand and brand_weight else empty
        same_category = self._in_category.get(path, empty) if path else empty
        same_top = self._in_category.get(path[:1], empty) if path else empty
        half = category_weight / 2
        wanted = self._features[j]
        features = self._features
        out = []
        for i in candidates:
            score = brand_weight if i in same_brand else 0.0
            if i in same_category:
                score += category_weight
            elif i in same_top:
                score += half
            if wanted:
                have = features[i]
                shared = len(have & wanted) if have else 0
                if shared:
                    score += feature_weight * shared / len(have | wanted)
            out.append(score)
        return out

    def _diversify(self, ranked: list[int], scores: Mapping[int, float], limit: int) -> list[int]:
        """The first ``limit`` of ``ranked``, one product per model line, and at most
        MAX_PER_BRAND per brand while good candidates of other brands remain."""
        if not ranked:
            return []
        top = scores[ranked[0]]
        floor = top - max(abs(top) * (1 - GOOD_FRACTION), 0.25)
        chosen: list[int] = []
        lines: set[tuple[str, tuple[str, ...]]] = set()
        per_brand: Counter[str] = Counter()
        deferred: list[int] = []
        rest = len(ranked)
        for pos, i in enumerate(ranked):
            if len(chosen) == limit:
                return chosen
            if self._model_key[i] in lines:
                continue
            if scores[i] < floor:
                rest = pos
                break
            brand = self._brand_key[i]
            if brand and per_brand[brand] >= MAX_PER_BRAND:
                deferred.append(i)
                continue
            chosen.append(i)
            lines.add(self._model_key[i])
            per_brand[brand] += 1
        # Brand-capped candidates outrank everything from ``rest`` on, so they fill first.
        for i in deferred + ranked[rest:]:
            if len(chosen) == limit:
                break
            if self._model_key[i] not in lines:
                chosen.append(i)
                lines.add(self._model_key[i])
        return chosen

    def _matched_terms(self, i: int, query: _Query) -> tuple[str, ...]:
        """The customer's words this product contains, as written; a feature's name in the
        other language only when none of their own words matched."""
        found = [
            t for t in query.terms if self._index.has_term(t, i) or i in query.soft.get(t, ())
        ]
        own = [t for t in found if t not in query.translations]
        surfaces = list(dict.fromkeys(query.surfaces.get(t, t) for t in own or found))
        # "wf" and "1000xm5" say nothing once "wf-1000xm5" is listed, nor "保温" next to "保温杯".
        return tuple(
            s for s in surfaces if not any(s != o and _part_of(s, o) for o in surfaces)
        )


def _model_line(p: Product, colour_tokens: frozenset[str]) -> tuple[str, tuple[str, ...]]:
    """Brand and title words without colour, size or bracketed variant text: products
    sharing this are variants of one model and are shown once."""
    title = _SIZE_NUMBER.sub(" ", _BRACKETED.sub(" ", normalize(p.title)))
    drop = set(tokenize(p.brand))
    for key, value in p.attributes.items():
        if key.casefold() in _VARIANT_ATTRIBUTES:
            drop.update(tokenize(value))
    words = tuple(
        t for t in tokenize(title)
        if t not in colour_tokens and t not in drop and not t.endswith("色")
    )
    return p.brand.casefold(), words or (p.id,)


def _feature_tokens(key: str) -> list[tuple[str, str]]:
    feature = FEATURES[key]
    return tokenize_with_surface(f"{feature.en} {feature.zh}")


def _part_of(small: str, big: str) -> bool:
    if is_cjk(small):
        return small in big
    return small in re.split(r"[-_./+'&]", big)


def _category_parts(category: str) -> tuple[str, ...]:
    return tuple(part.strip().casefold() for part in category.split(">") if part.strip())


def _price_target(lo: float | None, hi: float | None) -> float | None:
    """The price an empty-text search ranks nearest to: the middle of the budget."""
    if hi is not None:
        return ((lo or 0.0) + hi) / 2
    if lo is not None:
        return lo * 1.25
    return None
