"""The lexical recommender: tokenizing, BM25F, hard filters, ranking, diversity, reactions.

Runs on a small bilingual catalog built here, so the figures it checks do not move when
the demo catalog changes; one test at the end reads the demo catalog when it exists.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from core.catalog import DEMO_CATALOG, Catalog, Product, load_catalog
from core.lexical import BM25Index, LexicalRecommender, fuse
from core.recommender import Hit, Recommender, SearchRequest
from core.textproc import tokenize, tokenize_with_surface

HEADPHONES = "Electronics > Headphones"


def _row(pid: str, title: str, title_zh: str, brand: str, category: str, category_zh: str,
         price: float, **extra: object) -> dict[str, object]:
    return dict(id=pid, title=title, title_zh=title_zh, brand=brand, category=category,
                category_zh=category_zh, price=price, **extra)


ROWS = [
    _row("sony-xm5-black", "Sony WF-1000XM5 Wireless Noise Cancelling Earbuds (Black)",
         "索尼 WF-1000XM5 真无线降噪蓝牙耳机 黑色", "Sony", HEADPHONES, "电子产品 > 耳机", 1999,
         attributes={"color": "Black"}),
    _row("sony-xm5-silver", "Sony WF-1000XM5 Wireless Noise Cancelling Earbuds (Silver)",
         "索尼 WF-1000XM5 真无线降噪蓝牙耳机 银色", "Sony", HEADPHONES, "电子产品 > 耳机", 1999,
         attributes={"color": "Silver"}),
    _row("sony-xm4", "Sony WH-1000XM4 Over-Ear Noise Cancelling Headphones",
         "索尼 WH-1000XM4 头戴式降噪耳机", "Sony", HEADPHONES, "电子产品 > 耳机", 1599),
    _row("sony-sport", "Sony WF-SP800N Sport Earbuds, IPX5 Waterproof",
         "索尼 WF-SP800N 运动蓝牙耳机 防水", "Sony", HEADPHONES, "电子产品 > 耳机", 899),
    _row("huawei-fb", "Huawei FreeBuds Pro 3 Wireless Earbuds",
         "华为 FreeBuds Pro 3 无线蓝牙耳机 主动降噪", "Huawei", HEADPHONES, "电子产品 > 耳机", 1199),
    _row("xiaomi-buds", "Xiaomi Redmi Buds 5 Bluetooth Earbuds", "小米 Redmi Buds 5 蓝牙耳机",
         "Xiaomi", HEADPHONES, "电子产品 > 耳机", 199),
    _row("shokz", "Shokz OpenRun Bone Conduction Sport Headphones", "韶音 OpenRun 骨传导运动耳机",
         "Shokz", HEADPHONES, "电子产品 > 耳机", 999,
         description="Open-ear, IP67 waterproof, made for running."),
    _row("jbl-flip", "JBL Flip 6 Portable Bluetooth Speaker", "JBL Flip 6 便携蓝牙音箱 防水",
         "JBL", "Electronics > Speakers", "电子产品 > 音箱", 799, stock=0),
    _row("nike-peg", "Nike Air Zoom Pegasus 40 Running Shoes", "耐克 Air Zoom Pegasus 40 男子跑步鞋",
         "Nike", "Sports > Shoes", "运动 > 鞋", 899),
    _row("lining", "Li-Ning Red Hare 6 Running Shoes", "李宁 赤兔6 跑鞋 轻便 透气",
         "Li-Ning", "Sports > Shoes", "运动 > 鞋", 399),
    _row("backpack", "Samsonite Laptop Backpack", "新秀丽 双肩背包 电脑包", "Samsonite",
         "Bags > Backpacks", "箱包 > 背包", 699,
         description="Water-resistant fabric, fits 15-inch laptops."),
    _row("thermos", "Thermos Stainless Steel Vacuum Bottle 500ml", "膳魔师 不锈钢保温杯 500毫升",
         "Thermos", "Home > Kitchen", "家居 > 厨房", 199),
]
EARPHONES = {"sony-xm5-black", "sony-xm5-silver", "sony-xm4", "sony-sport", "huawei-fb",
             "xiaomi-buds", "shokz"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog([Product.from_dict(row) for row in ROWS])


@pytest.fixture(scope="module")
def rec(catalog: Catalog) -> LexicalRecommender:
    return LexicalRecommender(catalog)


async def ids(rec: LexicalRecommender, **kw: object) -> list[str]:
    return [h.product.id for h in await rec.search(SearchRequest(**kw))]  # type: ignore[arg-type]


# -- tokenizing ---------------------------------------------------------------------------

def test_tokenize_drops_the_words_of_asking_in_both_languages() -> None:
    assert tokenize("我想买一款防水的蓝牙耳机") == ["防水", "蓝牙", "耳机"]
    assert tokenize("I want a pair of earbuds for the gym") == ["pair", "earbud", "gym"]
    assert tokenize("帮我找一台笔记本电脑")[-1] == "笔记本电脑"


def test_tokenize_normalizes_width_case_and_accents() -> None:
    assert tokenize("ＷＦ－１０００ＸＭ５") == tokenize("wf-1000xm5")
    assert tokenize("Lancôme") == tokenize("lancome")
    assert tokenize("2,000") == ["2000"]


def test_model_codes_meet_however_they_are_written() -> None:
    code = set(tokenize("Sony WF-1000XM5"))
    assert {"wf1000xm5", "1000xm5"} <= code
    assert set(tokenize("wf1000xm5")) <= code
    assert tokenize("IPX5 1.9 3/4") == ["ipx5", "1.9", "3/4"]


def test_light_stemming_joins_plurals_and_ing_forms() -> None:
    for a, b in [("earbuds", "earbud"), ("batteries", "battery"), ("boxes", "box"),
                 ("charging", "charge"), ("running", "run"), ("cancelling", "cancel"),
                 ("shoes", "shoe")]:
        assert tokenize(a) == tokenize(b), (a, b)
    assert tokenize("earrings") != tokenize("ear")


def test_surface_forms_are_the_words_as_written() -> None:
    pairs = dict(tokenize_with_surface("Running Shoes"))
    assert pairs == {"run": "running", "sho": "shoes"}


# -- the index ----------------------------------------------------------------------------

def test_bm25_scores_only_matching_documents_and_weights_fields() -> None:
    index = BM25Index(
        [
            ("in-title", {"title": "waterproof jacket", "body": "a coat for rain"}),
            ("in-body", {"title": "rain coat", "body": "waterproof jacket fabric"}),
            ("neither", {"title": "running shoes", "body": "light and fast"}),
        ],
        field_weights={"title": 3.0, "body": 1.0},
    )
    scores = index.scores(tokenize("waterproof"))
    assert set(scores) == {"in-title", "in-body"}
    assert scores["in-title"] > scores["in-body"] > 0
    assert index.scores(["nothing-here"]) == {}


def test_rarer_terms_weigh_more() -> None:
    index = BM25Index([(str(i), {"t": "common" + (" rare" if i == 0 else "")}) for i in range(5)])
    scores = index.scores(tokenize("common rare"))
    assert max(scores, key=scores.__getitem__) == "0"
    assert scores["0"] - scores["1"] > scores["1"]


def test_bm25_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        BM25Index([], b=1.5)


# -- searching ----------------------------------------------------------------------------

def test_it_is_a_recommender(rec: LexicalRecommender, catalog: Catalog) -> None:
    recommender: Recommender = rec
    assert recommender.catalog is catalog


async def test_chinese_query_finds_chinese_titled_earbuds(rec: LexicalRecommender) -> None:
    found = await ids(rec, text="蓝牙耳机")
    assert found and set(found) <= EARPHONES
    assert "jbl-flip" not in found  # a Bluetooth speaker, and out of stock


async def test_chinese_sentence_ranks_the_asked_feature_first(rec: LexicalRecommender) -> None:
    assert (await ids(rec, text="我想买一款防水的蓝牙耳机"))[0] == "sony-sport"


async def test_english_query(rec: LexicalRecommender) -> None:
    found = await ids(rec, text="wireless earbuds")
    assert found[0] in {"huawei-fb", "sony-xm5-black", "sony-xm5-silver"}
    assert set(found) <= EARPHONES
    assert set((await ids(rec, text="running shoes"))[:2]) == {"lining", "nike-peg"}


async def test_one_character_and_differently_cut_words_still_match(rec: LexicalRecommender) -> None:
    assert await ids(rec, text="包") == ["backpack"]
    # "跑鞋" is the Li-Ning's word; the Nike says "跑步鞋".
    assert set(await ids(rec, text="跑鞋")) == {"lining", "nike-peg"}


async def test_model_code_query(rec: LexicalRecommender) -> None:
    assert (await ids(rec, text="wf1000xm5"))[0] in {"sony-xm5-black", "sony-xm5-silver"}
    assert (await ids(rec, text="WF-SP800N"))[0] == "sony-sport"


async def test_brand_named_in_chinese_matches_the_brand(rec: LexicalRecommender) -> None:
    found = await ids(rec, text="索尼")
    assert found and all(pid.startswith("sony") for pid in found)


async def test_budget_is_inclusive(rec: LexicalRecommender) -> None:
    hits = await rec.search(SearchRequest(text="耳机", price_min=199, price_max=999, limit=10))
    prices = {h.product.id: h.product.price for h in hits}
    assert all(199 <= p <= 999 for p in prices.values())
    assert {"xiaomi-buds", "shokz", "sony-sport"} <= set(prices)  # 199 and 999 are in


async def test_only_and_excluded_brands_ignore_case(rec: LexicalRecommender) -> None:
    only = await ids(rec, text="耳机", brands=("sony",), limit=10)
    assert only and all(pid.startswith("sony") for pid in only)
    without = await ids(rec, text="耳机", exclude_brands=("SONY",), limit=10)
    assert without and not any(pid.startswith("sony") for pid in without)
    assert set(await ids(rec, text="耳机", brands=("华为",))) == {"huawei-fb"}  # an alias


async def test_excluded_ids_never_come_back(rec: LexicalRecommender) -> None:
    first = await ids(rec, text="蓝牙耳机", limit=2)
    again = await ids(rec, text="蓝牙耳机", exclude_ids=frozenset(first), limit=10)
    assert again and not set(first) & set(again)


async def test_out_of_stock_only_when_allowed(rec: LexicalRecommender) -> None:
    assert await ids(rec, text="speaker") == []
    assert await ids(rec, text="speaker", in_stock_only=False) == ["jbl-flip"]


async def test_category_matches_a_path_prefix(rec: LexicalRecommender) -> None:
    electronics = await ids(rec, category="Electronics", limit=20)
    assert set(electronics) == {"sony-xm5-black", "sony-xm4", "sony-sport", "huawei-fb",
                                "xiaomi-buds", "shokz"}  # one XM5 colour; the JBL is sold out
    assert set(await ids(rec, category=" electronics>headphones ", limit=20)) == set(electronics)
    assert await ids(rec, category="Electron", limit=20) == []  # whole names only
    # Nothing in the category matches the words: the category's products, as asked.
    assert await ids(rec, text="耳机", category="Sports") == ["nike-peg", "lining"]
    assert await ids(rec, category="运动", limit=20) == ["nike-peg", "lining"]  # Chinese path


async def test_near_duplicates_collapse_and_brands_are_capped(rec: LexicalRecommender) -> None:
    # Four Sony lines match "耳机" as well as the three other brands do.
    found = await ids(rec, text="耳机", limit=5)
    assert len(found) == 5
    assert sum(pid.startswith("sony") for pid in found) == 2
    assert not {"sony-xm5-black", "sony-xm5-silver"} <= set(found)
    # When the words favour one brand, the others are no good candidates: the cap yields.
    sony_words = await ids(rec, text="sony 耳机", limit=4)
    assert all(pid.startswith("sony") for pid in sony_words[:3])
    # Only Sony allowed: the cap yields, the colour variants still collapse.
    sony = await ids(rec, text="耳机", brands=("Sony",), limit=5)
    assert len(sony) == 3 and len({p.split("-")[1] for p in sony}) == 3


async def test_similar_to_ranks_neighbours_and_not_itself(rec: LexicalRecommender) -> None:
    found = await ids(rec, similar_to="huawei-fb")
    assert "huawei-fb" not in found
    assert found and set(found) <= EARPHONES
    assert found[0] in {"sony-xm5-black", "sony-xm5-silver"}  # wireless, noise cancelling
    assert (await ids(rec, similar_to="nike-peg"))[0] == "lining"


async def test_likes_and_dislikes_nudge_without_filtering(rec: LexicalRecommender) -> None:
    base = await ids(rec, text="耳机", limit=10)
    liked = await ids(rec, text="耳机", limit=10, liked=("sony-sport",))
    disliked = await ids(rec, text="耳机", limit=10, disliked=("sony-xm4",))
    assert liked.index("sony-sport") <= base.index("sony-sport")
    assert liked[0] == "sony-sport"
    assert disliked[-1] == "sony-xm4" != base[-1]  # still shown, last
    assert set(base) == set(liked) == set(disliked)


async def test_empty_text_with_filters_still_answers(rec: LexicalRecommender) -> None:
    assert await ids(rec, category="Sports") == ["nike-peg", "lining"]
    # Nearest the middle of the budget first.
    assert await ids(rec, category="Electronics", price_min=800, price_max=1200) == [
        "shokz", "sony-sport", "huawei-fb",  # 999, 899, 1199 around 1000
    ]
    assert await ids(rec, text="我想买一款", category="Sports") == ["nike-peg", "lining"]
    waterproof = await rec.search(SearchRequest(features=("waterproof",), limit=3))
    assert all("waterproof" in h.matched_features for h in waterproof)


async def test_no_match_returns_nothing_unless_a_category_or_feature_is_set(
    rec: LexicalRecommender,
) -> None:
    assert await ids(rec, text="refrigerator") == []
    assert await ids(rec, text="冰箱") == []
    assert set(await ids(rec, text="refrigerator", category="Sports")) == {"nike-peg", "lining"}
    assert await ids(rec, text="refrigerator", features=("waterproof",))


async def test_hits_say_what_matched(rec: LexicalRecommender) -> None:
    request = SearchRequest(text="Running shoes", features=("breathable", "waterproof"))
    hits = await rec.search(request)
    by_id = {h.product.id: h for h in hits}
    assert by_id["lining"].matched_features == ("breathable",)
    assert by_id["nike-peg"].matched_features == ()
    assert set(by_id["nike-peg"].matched_terms) == {"running", "shoes"}
    for h in hits:
        assert h.matched_features == tuple(
            k for k in request.features if k in h.product.features
        )
    code = (await rec.search(SearchRequest(text="WF-1000XM5 耳机")))[0]
    assert code.matched_terms == ("wf-1000xm5", "耳机")


async def test_scores_descend_and_limit_holds(rec: LexicalRecommender) -> None:
    hits = await rec.search(SearchRequest(text="耳机", limit=3))
    assert len(hits) == 3 and all(isinstance(h, Hit) for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert await rec.search(SearchRequest(text="耳机", limit=0)) == []


async def test_concurrent_searches_agree(rec: LexicalRecommender) -> None:
    requests = [SearchRequest(text=t) for t in ("蓝牙耳机", "running shoes", "包", "speaker")] * 10
    results = await asyncio.gather(*(rec.search(r) for r in requests))
    for request, hits in zip(requests, results):
        assert hits == await rec.search(request)


@pytest.mark.skipif(not (DEMO_CATALOG / "products.jsonl").exists(), reason="no demo catalog yet")
async def test_demo_catalog_answers_common_asks() -> None:
    demo = LexicalRecommender(load_catalog())
    for text in ("蓝牙耳机", "running shoes", "laptop"):
        hits = await demo.search(SearchRequest(text=text, price_max=5000))
        assert hits, text
        assert all(h.matched_terms and h.product.price <= 5000 for h in hits)
        assert len({h.product.id for h in hits}) == len(hits)


# -- diversity off (evaluation) -----------------------------------------------------------

async def test_diverse_false_keeps_variants_and_brands(rec: LexicalRecommender) -> None:
    found = await ids(rec, text="耳机", limit=10, diverse=False)
    assert {"sony-xm5-black", "sony-xm5-silver"} <= set(found)
    assert sum(pid.startswith("sony") for pid in found) == 4
    hits = await rec.search(SearchRequest(text="耳机", limit=10, diverse=False))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(await ids(rec, text="耳机", limit=2, diverse=False)) == 2


# -- hybrid: a dense side the tests control -----------------------------------------------

POSITION = {str(row["id"]): i for i, row in enumerate(ROWS)}


class FakeQuery:
    """A DenseQuery over similarities the test chose (0 for products it did not name),
    recording what the ranker asked of it."""

    def __init__(self, similarities: dict[str, float]) -> None:
        self.sims = np.zeros(len(ROWS), dtype=np.float32)
        for pid, value in similarities.items():
            self.sims[POSITION[pid]] = value
        self.asked: list[tuple[str, int]] = []

    def top_k(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        self.asked.append(("top_k", k))
        best = np.argsort(-self.sims, kind="stable")[:k]
        return best.astype(np.int64), self.sims[best]

    def scores_for(self, positions: np.ndarray) -> np.ndarray:
        self.asked.append(("scores_for", len(positions)))
        return self.sims[np.asarray(positions, dtype=np.int64)]


class FakeDense:
    def __init__(self, answer: FakeQuery | None) -> None:
        self.answer = answer
        self.texts: list[str] = []

    async def query(self, text: str, lang: str) -> FakeQuery | None:
        self.texts.append(text)
        return self.answer


def hybrid(catalog: Catalog, similarities: dict[str, float] | None, **kw: object
           ) -> tuple[LexicalRecommender, FakeDense]:
    dense = FakeDense(None if similarities is None else FakeQuery(similarities))
    return LexicalRecommender(catalog, dense=dense, **kw), dense  # type: ignore[arg-type]


async def test_fusion_reorders_by_the_dense_side(catalog: Catalog, rec: LexicalRecommender
                                                 ) -> None:
    lexical = await ids(rec, text="earbuds", diverse=False, limit=10)
    assert len(lexical) == 5 and set(lexical) <= EARPHONES
    liked_by_dense = {pid: 0.2 for pid in lexical} | {lexical[-1]: 0.9}
    for fusion in ("minmax", "max", "zscore", "rrf"):
        # RRF flattens scores to ranks, so the dense side needs most of the weight to win.
        fused_rec, _ = hybrid(catalog, liked_by_dense, dense_weight=0.9, fusion=fusion)
        fused = await ids(fused_rec, text="earbuds", diverse=False, limit=10)
        assert fused[0] == lexical[-1], fusion
        assert set(fused) == set(lexical), fusion  # nobody else is similar enough to join
    # No weight on the dense side: the lexical order.
    zero, _ = hybrid(catalog, liked_by_dense, dense_weight=0.0)
    assert await ids(zero, text="earbuds", diverse=False, limit=10) == lexical
    # All the weight on it: its order, catalog order breaking its ties.
    everything, _ = hybrid(catalog, liked_by_dense, dense_weight=1.0)
    assert await ids(everything, text="earbuds", diverse=False, limit=10) == [
        lexical[-1], *sorted(lexical[:-1], key=POSITION.__getitem__)
    ]


async def test_dense_adds_confident_products_the_words_missed(catalog: Catalog) -> None:
    fused, _ = hybrid(catalog, {"sony-xm5-black": 0.8, "shokz": 0.7, "thermos": 0.29})
    hits = await fused.search(SearchRequest(text="earbuds", diverse=False, limit=10))
    by_id = {h.product.id: h for h in hits}
    assert "shokz" in by_id and "thermos" not in by_id  # 0.29 is under dense_min_similarity
    assert by_id["shokz"].matched_terms == ()  # matched words come from the lexical side
    assert by_id["sony-xm5-black"].matched_terms == ("earbuds",)


@pytest.mark.parametrize("exact_pool", [0, 20_000])
async def test_filters_hold_on_dense_only_candidates(catalog: Catalog, exact_pool: int) -> None:
    # The dense side loves what every filter forbids, and likes two that pass.
    fused, dense = hybrid(catalog, {
        "jbl-flip": 0.95, "sony-xm4": 0.9, "backpack": 0.85, "thermos": 0.8, "xiaomi-buds": 0.75,
        "shokz": 0.7, "lining": 0.6,
    }, exact_pool=exact_pool)
    request = SearchRequest(
        text="earbuds", price_max=1500, exclude_ids=frozenset({"backpack"}),
        exclude_brands=("Thermos", "Xiaomi"), limit=12, diverse=False,
    )
    found = [h.product for h in await fused.search(request)]
    assert {"shokz", "lining"} <= {p.id for p in found}
    for p in found:
        assert p.price <= 1500 and p.in_stock and p.id != "backpack"
        assert p.brand not in {"Thermos", "Xiaomi"}
    assert dense.answer is not None
    assert any(kind == ("top_k" if exact_pool == 0 else "scores_for")
               for kind, _ in dense.answer.asked)
    in_electronics = await fused.search(SearchRequest(text="earbuds", category="Electronics",
                                                      limit=12, diverse=False))
    assert in_electronics and all(h.product.category.startswith("Electronics")
                                  for h in in_electronics)


async def test_a_restrictive_filter_scores_its_whole_pool(catalog: Catalog, rec: LexicalRecommender
                                                         ) -> None:
    # The whole catalog (12) is over exact_pool, the Sports category (2) is not.
    fused, dense = hybrid(catalog, {"lining": 0.6, "nike-peg": 0.5}, exact_pool=5)
    assert dense.answer is not None
    # No word matches in Sports: lexically the category's products in catalog order ...
    assert await ids(rec, text="earbuds", category="Sports") == ["nike-peg", "lining"]
    # ... with a dense side, the pool scored exactly, ranked by similarity.
    assert await ids(fused, text="earbuds", category="Sports") == ["lining", "nike-peg"]
    assert dense.answer.asked == [("scores_for", 2)]
    dense.answer.asked.clear()
    await fused.search(SearchRequest(text="earbuds"))  # the whole catalog: the dense top
    assert dense.answer.asked[0][0] == "top_k"


class MovableQuery(FakeQuery):
    """A FakeQuery that can take feedback: moved, it answers with ``moved`` similarities."""

    def __init__(self, similarities: dict[str, float], moved: dict[str, float]) -> None:
        super().__init__(similarities)
        self.moved = moved
        self.feedback: list[list[str]] = []

    def refined(self, positions: np.ndarray, weight: float) -> FakeQuery:
        self.feedback.append([ROWS[i]["id"] for i in positions.tolist()])  # type: ignore[misc]
        return FakeQuery(self.moved)


async def test_feedback_asks_again_with_the_query_moved_towards_the_best(catalog: Catalog) -> None:
    # Shokz says "headphones", not "earbuds", and the query alone finds it unlike (0.1).
    first = {"sony-xm5-black": 0.8, "huawei-fb": 0.7, "shokz": 0.1}
    moved = {"sony-xm5-black": 0.85, "huawei-fb": 0.8, "shokz": 0.6}
    query = MovableQuery(first, moved)
    fused = LexicalRecommender(catalog, dense=FakeDense(query))  # type: ignore[arg-type]
    found = await ids(fused, text="earbuds", diverse=False, limit=10)
    assert "shokz" in found and found[0] == "sony-xm5-black"
    (given,) = query.feedback
    assert len(given) == 5 and {"sony-xm5-black", "huawei-fb"} <= set(given)
    assert set(given) <= {"sony-xm5-black", "sony-xm5-silver", "sony-sport", "huawei-fb", "xiaomi-buds"}
    # Without feedback the same query never meets Shokz.
    still = MovableQuery(first, moved)
    plain = LexicalRecommender(catalog, dense=FakeDense(still), feedback=0)  # type: ignore[arg-type]
    assert "shokz" not in await ids(plain, text="earbuds", diverse=False, limit=10)
    assert still.feedback == []


async def test_no_words_matching_needs_a_confident_dense_side(catalog: Catalog) -> None:
    unsure, _ = hybrid(catalog, {"thermos": 0.25})
    assert await ids(unsure, text="refrigerator") == []
    # Unsure and a category asked for: the category's products, as without a dense side.
    assert await ids(unsure, text="refrigerator", category="Sports") == ["nike-peg", "lining"]
    sure, _ = hybrid(catalog, {"thermos": 0.45, "backpack": 0.1})
    assert await ids(sure, text="refrigerator") == ["thermos"]
    lower, _ = hybrid(catalog, {"thermos": 0.25, "backpack": 0.1}, dense_min_similarity=0.05)
    assert await ids(lower, text="refrigerator") == ["thermos", "backpack"]


REQUESTS = [
    SearchRequest(text="蓝牙耳机"), SearchRequest(text="running shoes", price_max=500),
    SearchRequest(text="耳机", limit=10, liked=("sony-sport",), disliked=("sony-xm4",)),
    SearchRequest(text="Running shoes", features=("breathable", "waterproof")),
    SearchRequest(text="refrigerator", category="Sports"), SearchRequest(category="Electronics"),
    SearchRequest(text="speaker", in_stock_only=False), SearchRequest(similar_to="huawei-fb"),
    SearchRequest(text="耳机", diverse=False, limit=20, exclude_brands=("sony",)),
]


async def test_without_a_dense_answer_the_search_is_lexical(catalog: Catalog,
                                                            rec: LexicalRecommender) -> None:
    silent, dense = hybrid(catalog, None)  # the dense side has nothing to say
    for request in REQUESTS:
        assert await silent.search(request) == await rec.search(request)
    # It was asked whenever there was text and no similar_to.
    assert dense.texts == [r.text for r in REQUESTS if r.text and not r.similar_to]


async def test_similar_to_and_empty_text_do_not_ask_the_dense_side(catalog: Catalog,
                                                                   rec: LexicalRecommender
                                                                   ) -> None:
    fused, dense = hybrid(catalog, {"thermos": 0.9})
    for request in (SearchRequest(similar_to="nike-peg"), SearchRequest(category="Sports"),
                    SearchRequest(text="  ", category="Sports")):
        assert await fused.search(request) == await rec.search(request)
    assert dense.texts == []


def test_fuse_normalizations() -> None:
    lexical = np.array([4.0, 2.0, 0.0])
    dense = np.array([0.2, 0.6, 0.8])
    assert fuse(lexical, dense, 0.5, "minmax") == pytest.approx([0.5, 0.5 * (2 / 3 + 0.5), 0.5])
    assert fuse(lexical, dense, 0.5, "max") == pytest.approx([0.5 * (0.25 + 1), 0.5 * (0.75 + 0.5),
                                                              0.5])
    standard = 0.5 * (lexical - lexical.mean()) / lexical.std() + 0.5 * (dense - dense.mean()) / dense.std()
    assert fuse(lexical, dense, 0.5, "zscore") == pytest.approx(standard - standard.min())
    rrf = fuse(lexical, dense, 0.5, "rrf")
    assert rrf == pytest.approx([0.5 / 63 + 0.5 / 61, 0.5 / 62 + 0.5 / 62, 0.5 / 61])
    # One candidate, or all equal: the side counts fully when positive, not at all at zero.
    assert fuse(np.array([3.0]), np.array([0.4]), 0.5, "minmax") == pytest.approx([1.0])
    assert fuse(np.array([0.0, 0.0]), np.array([0.4, 0.2]), 0.5, "minmax") == pytest.approx(
        [0.5, 0.0])
    with pytest.raises(ValueError):
        LexicalRecommender(Catalog([]), fusion="sum")
