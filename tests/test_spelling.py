"""Query words no product uses: the speller's guesses, and what the lexical ranker does with them."""

from __future__ import annotations

import numpy as np
import pytest

from core.catalog import Catalog, Product
from core.lexical import LexicalRecommender
from core.recommender import SearchRequest
from core.spelling import Speller, english_words

VOCABULARY = [
    ("filter", 40), ("fitter", 3), ("grommet", 5), ("quarter", 12), ("round", 30),
    ("lilter", 90),  # a closer-than-nothing neighbour of "filter" with another first letter
    ("refrigerator", 20), ("rain", 8), ("bird", 4), ("band", 9), ("saw", 50),
    ("sid", 6), ("panel", 7),  # "side" stems to "sid"
    ("tongu", 3), ("groov", 3), ("unused", 0), ("10", 30), ("20", 25), ("3.5", 2),
    ("耳机", 9),
]


@pytest.fixture(scope="module")
def speller() -> Speller:
    return Speller(VOCABULARY, known=frozenset)  # no dictionary: every unknown word is a typo


def test_one_edit_prefers_the_first_letter_then_the_common_word(speller: Speller) -> None:
    assert speller.suggest("fulter") == ("filter",)  # not "lilter", commoner but it moved the f
    assert speller.suggest("grommett") == ("grommet",)
    assert speller.suggest("guarter") == ("quarter",)  # a first-letter typo, when it is all there is


def test_long_words_may_take_two_edits_short_ones_only_one(speller: Speller) -> None:
    assert speller.suggest("refrigertor") == ("refrigerator",)
    assert speller.suggest("refrigirater") == ("refrigerator",)
    assert speller.suggest("ruond") == ()  # two edits from "round": too far for 5 letters


def test_run_together_words_split_into_catalog_words(speller: Speller) -> None:
    assert speller.suggest("rainbird") == ("rain", "bird")
    assert speller.suggest("bandsaw") == ("band", "saw")
    assert speller.suggest("sidepanel") == ("sid", "panel")  # halves stemmed like the index


def test_sizes_give_their_numbers(speller: Speller) -> None:
    assert speller.suggest("10x20") == ("10", "20")
    assert speller.suggest("3.5x10x99") == ("3.5", "10")  # 99 is in no title


def test_english_words_are_never_corrected() -> None:
    # Words a catalog of taps and tents does not use, but nobody misspelt.
    speller = Speller([("chain", 5), ("thanks", 3), ("tank", 4), ("book", 9), ("back", 2),
                       ("paper", 6), ("filter", 8)])
    for word in ("chairs", "think", "thank", "paperback", "bock"):
        assert speller.suggest(word) == (), word
    assert speller.suggest("fulter") == ("filter",)
    # The customer's word as written decides, not its stem: "fulters" is no word either.
    assert speller.suggest("fulter", "fulters") == ("filter",)
    assert speller.suggest("chair", "chairs") == ()
    assert "chairs" in english_words() and "fulters" not in english_words()


def test_no_guess_for_short_rare_or_foreign_words(speller: Speller) -> None:
    assert speller.suggest("sae") == ()  # under MIN_LENGTH
    assert speller.suggest("unusedd") == ()  # a term no product holds any more is no guess
    assert speller.suggest("zzzzzz") == ()
    assert speller.suggest("耳机们") == () and speller.suggest("wf1000xm6") == ()
    assert len(speller) == len([t for t, df in VOCABULARY if df > 0 and len(t) >= 3 and t.isalpha() and t.isascii()])


# -- in the ranker ------------------------------------------------------------------------

CATALOG = Catalog([
    Product(id="f1", title="Honeywell Humidifier Replacement Filter", price=20),
    Product(id="f2", title="Whole House Air Filter 16x25", price=35),
    Product(id="g1", title="Grommet Kit, 100 Pieces", price=9),
    Product(id="c1", title="Garden Canopy 10 ft. x 20 ft.", price=199),
    Product(id="c2", title="Party Tent 10 ft. x 10 ft.", price=99),
    Product(id="r1", title="Rain Bird Sprinkler Valve", price=25),
    Product(id="r2", title="Bird Feeder", price=15),
    Product(id="r3", title="Rain Gauge", price=8),
    Product(id="k1", title="Kettle 1.7L", price=30),
])


@pytest.fixture(scope="module")
def rec() -> LexicalRecommender:
    return LexicalRecommender(CATALOG)


async def search(rec: LexicalRecommender, text: str) -> list[tuple[str, tuple[str, ...]]]:
    hits = await rec.search(SearchRequest(text=text, diverse=False, limit=10))
    return [(h.product.id, h.matched_terms) for h in hits]


async def test_a_misspelt_word_finds_what_it_meant(rec: LexicalRecommender) -> None:
    found = await search(rec, "humidifier fulters")
    assert found[0] == ("f1", ("humidifier", "filter"))  # the catalog's word for the typo
    assert ("f2", ("filter",)) in found
    assert [pid for pid, _ in await search(rec, "gromet")] == ["g1"]


async def test_a_size_and_a_run_together_brand(rec: LexicalRecommender) -> None:
    assert [pid for pid, _ in await search(rec, "canopy 10x20")][0] == "c1"
    ranked = [pid for pid, _ in await search(rec, "rainbird valve")]
    assert ranked[0] == "r1" and set(ranked) == {"r1", "r2", "r3"}


async def test_words_the_catalog_holds_are_taken_as_they_are(rec: LexicalRecommender) -> None:
    query = rec._parse(SearchRequest(text="air filter"))
    assert set(query.terms) == {"air", "filter"}
    assert await search(rec, "kettle") == [("k1", ("kettle",))]
    assert await search(rec, "xqzvbn") == []  # nothing close: still nothing, no guess


async def test_spelling_costs_no_array_when_every_word_is_known(rec: LexicalRecommender) -> None:
    before = rec._speller.suggest.cache_info().misses
    await search(rec, "filter kit")
    assert rec._speller.suggest.cache_info().misses == before
    await search(rec, "filtr")
    assert rec._speller.suggest.cache_info().misses == before + 1
    assert np.isfinite([h.score for h in await rec.search(SearchRequest(text="filtr"))]).all()
