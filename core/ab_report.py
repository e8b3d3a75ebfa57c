"""``daogou model ab --report``: how each model of an A/B test did, from the event stream.

Each ``shown`` event names the ``model`` that ranked the list (``core.policy``).  Replaying
each customer's events in stream order, a reaction (``liked``, ``disliked``, ``clicked``:
details, "more like this", compare) counts for the model that showed that product to that
customer last.  Per model:

- ``customers``: customers who saw a list ranked by it; ``lists``: lists shown;
- ``liked``, ``clicked``, ``disliked``: reactions to products it ranked;
- ``engaged``: lists with at least one like or click on one of their products, and
  ``engagement`` = engaged / lists, the figure the arms are compared on.

With two models, a two-proportion z-test on ``engagement`` says whether the difference is
more than chance (``p`` below 0.05 is the usual bar).  Lists are not fully independent (one
customer sees several), so read ``p`` as a guide, and let a test run to a few hundred lists per
arm before deciding.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.training_export import Event

POSITIVE = ("liked", "clicked")


@dataclass
class Arm:
    model: str
    customers: set[str] = field(default_factory=set)
    lists: int = 0
    liked: int = 0
    clicked: int = 0
    disliked: int = 0
    engaged: int = 0

    @property
    def engagement(self) -> float | None:
        return self.engaged / self.lists if self.lists else None

    def as_json(self) -> dict[str, Any]:
        rate = self.engagement
        return {"model": self.model, "customers": len(self.customers), "lists": self.lists, "liked": self.liked,
                "clicked": self.clicked, "disliked": self.disliked, "engaged": self.engaged,
                "engagement": None if rate is None else round(rate, 4)}


def arms_from_events(events: Iterable[Event]) -> dict[str, Arm]:
    """Per model, what its lists earned (see the module docstring)."""
    arms: dict[str, Arm] = {}
    # Per customer: product -> (model, list number) of the list that showed it last.
    shown_by: dict[str, dict[str, tuple[str, int]]] = {}
    engaged: set[tuple[str, int]] = set()  # (customer, list number) with a positive reaction
    lists = 0
    for event in events:
        if event.type == "shown":
            model = str(event.data.get("model") or "")
            if not model:
                continue  # written before models were recorded
            arm = arms.setdefault(model, Arm(model))
            arm.customers.add(event.user)
            arm.lists += 1
            lists += 1
            mine = shown_by.setdefault(event.user, {})
            for product in event.data.get("products") or []:
                mine[str(product)] = (model, lists)
            continue
        if event.type not in (*POSITIVE, "disliked"):
            continue
        products = event.data.get("products") or ([event.data["product"]] if event.data.get("product") else [])
        for product in products:
            found = shown_by.get(event.user, {}).get(str(product))
            if found is None:
                continue
            model, number = found
            arm = arms[model]
            if event.type == "disliked":
                arm.disliked += 1
                continue
            if event.type == "liked":
                arm.liked += 1
            else:
                arm.clicked += 1
            if (event.user, number) not in engaged:
                engaged.add((event.user, number))
                arm.engaged += 1
    return arms


def z_test(a: Arm, b: Arm) -> tuple[float, float] | None:
    """Two-proportion z-test of engagement: (z of b minus a, two-sided p); None without data."""
    if not a.lists or not b.lists:
        return None
    pooled = (a.engaged + b.engaged) / (a.lists + b.lists)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / a.lists + 1 / b.lists))
    if spread == 0:
        return None
    z = ((b.engaged / b.lists) - (a.engaged / a.lists)) / spread
    return z, math.erfc(abs(z) / math.sqrt(2))


def report(events: Iterable[Event], *, serving: str | None = None, candidate: str | None = None) -> dict[str, Any]:
    """The arms (serving first, then the candidate, then any other model seen) and, with two
    of them, the z-test of the candidate against the serving model."""
    arms = arms_from_events(events)
    order = [m for m in (serving, candidate) if m and m in arms] + sorted(m for m in arms if m not in (serving,
                                                                                                       candidate))
    found: dict[str, Any] = {"arms": [arms[m].as_json() for m in order]}
    if len(order) >= 2:
        test = z_test(arms[order[0]], arms[order[1]])
        if test is not None:
            found["test"] = {"baseline": order[0], "other": order[1], "z": round(test[0], 3), "p": round(test[1], 4)}
    return found


def table(found: dict[str, Any]) -> str:
    """The report as aligned text."""
    if not found["arms"]:
        return "no list in the event stream names its model yet (are the bots serving with a dense model?)"
    header = ("model", "customers", "lists", "liked", "clicked", "disliked", "engaged", "engagement")
    rows = [header] + [(a["model"], *(str(a[k]) for k in header[1:-1]),
                        "-" if a["engagement"] is None else f"{a['engagement']:.1%}") for a in found["arms"]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
             for r in rows]
    test = found.get("test")
    if test:
        verdict = "a real difference" if test["p"] < 0.05 else "not distinguishable from chance yet"
        lines.append(f"{test['other']} vs {test['baseline']}: z = {test['z']:+.2f}, p = {test['p']:.4f} ({verdict})")
    return "\n".join(lines)
