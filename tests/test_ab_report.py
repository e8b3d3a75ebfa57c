"""The A/B report's arithmetic: attribution of reactions to the model that showed the product,
engagement per list, and the z-test."""

from __future__ import annotations

import math

import pytest

from core.ab_report import Arm, report, table, z_test
from core.training_export import Event


def shown(user: str, model: str, *products: str) -> Event:
    return Event("shown", user, {"products": list(products), "model": model})


def test_reactions_count_for_the_model_that_showed_the_product_last() -> None:
    events = [
        shown("u1", "base", "p1", "p2"),
        Event("liked", "u1", {"product": "p1"}),
        Event("clicked", "u1", {"product": "p2", "via": "details"}),  # same list: engaged once
        shown("u1", "tuned", "p2", "p3"),  # p2 again, now ranked by the candidate
        Event("clicked", "u1", {"products": ["p2", "p3"], "via": "compare"}),
        shown("u2", "tuned", "p1"),
        Event("disliked", "u2", {"product": "p1"}),  # a dislike does not engage
        Event("liked", "u2", {"product": "p9"}),  # never shown to u2: not counted
        Event("liked", "u3", {"product": "p1"}),  # u3 saw nothing
        Event("shown", "u4", {"products": ["p1"]}),  # before models were recorded: skipped
    ]
    found = report(events, serving="base", candidate="tuned")
    assert found["arms"] == [
        {"model": "base", "customers": 1, "lists": 1, "liked": 1, "clicked": 1, "disliked": 0, "engaged": 1,
         "engagement": 1.0},
        {"model": "tuned", "customers": 2, "lists": 2, "liked": 0, "clicked": 2, "disliked": 1, "engaged": 1,
         "engagement": 0.5},
    ]
    assert found["test"]["baseline"] == "base" and found["test"]["other"] == "tuned"
    text = table(found)
    assert "tuned" in text and "50.0%" in text and "z =" in text


def test_z_test_matches_the_textbook_formula() -> None:
    a, b = Arm("a", lists=400, engaged=100), Arm("b", lists=400, engaged=132)
    z, p = z_test(a, b)  # type: ignore[misc]
    pooled = 232 / 800
    assert z == pytest.approx((0.33 - 0.25) / math.sqrt(pooled * (1 - pooled) * (2 / 400)))
    assert z == pytest.approx(2.493, abs=1e-3) and p == pytest.approx(0.0127, abs=1e-3)
    assert z_test(Arm("a"), b) is None
    assert z_test(Arm("a", lists=10, engaged=0), Arm("b", lists=10, engaged=0)) is None


def test_an_empty_stream_says_so() -> None:
    assert report([]) == {"arms": []}
    assert "no list" in table(report([]))
