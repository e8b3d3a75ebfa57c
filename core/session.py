"""One customer's conversation state, and how it is written to and read back from JSON.

The session is read from Redis at the start of every turn and written back at its end
(``core.store``); nothing here touches Redis.  ``from_dict`` accepts what any earlier
version wrote: missing fields take defaults, unknown fields are ignored, and
``MIGRATIONS`` upgrades older layouts step by step.  Anything that still does not fit
raises ``CorruptSession``, and the store starts the customer afresh.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

SCHEMA_VERSION = 2

STATES = ("browsing", "clarifying", "comparing", "handoff")
MAX_SHOWN = 200  # products remembered as already shown; older ones may come back


class CorruptSession(ValueError):
    """Stored session data that cannot be read back."""


@dataclass
class Preferences:
    """What the customer is looking for, as built up over the conversation."""

    query: str = ""
    category: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    brands: list[str] = field(default_factory=list)          # only these
    exclude_brands: list[str] = field(default_factory=list)  # honoured for the whole session
    features: list[str] = field(default_factory=list)
    cheaper_than: float | None = None   # after "cheaper": below the cheapest shown then
    pricier_than: float | None = None   # after "more expensive": above the dearest shown then

    def price_window(self) -> tuple[float | None, float | None]:
        """The inclusive price range to search: the stated budget narrowed by cheaper/pricier."""
        low, high = self.price_min, self.price_max
        if self.cheaper_than is not None:
            ceiling = round(self.cheaper_than - 0.01, 2)
            high = ceiling if high is None else min(high, ceiling)
        if self.pricier_than is not None:
            floor = round(self.pricier_than + 0.01, 2)
            low = floor if low is None else max(low, floor)
        return low, high

    @property
    def empty(self) -> bool:
        return not (self.query or self.category or self.features or self.brands)


@dataclass
class Session:
    user: str
    lang: str = "en"
    lang_chosen: bool = False  # the customer picked a language; don't switch on every message
    state: str = "browsing"
    prefs: Preferences = field(default_factory=Preferences)
    last_results: list[str] = field(default_factory=list)  # ids in the order shown; "2" means [1]
    shown: list[str] = field(default_factory=list)
    liked: list[str] = field(default_factory=list)
    disliked: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    turns: int = 0
    misses: int = 0  # consecutive turns that found nothing
    dislike_streak: int = 0  # dislikes since the last like: the bot keeps missing the taste
    offered_turn: int = 0  # turn at which the bot last offered a person (0: never)
    offered_reason: str = ""  # why it offered, carried into the ticket if the customer accepts
    handoff: dict[str, Any] | None = None  # {"ticket", "reason", "queue", "since"} while with an agent
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    schema_version: int = SCHEMA_VERSION

    def remember(self, role: str, text: str, limit: int) -> None:
        self.history.append({"role": role, "text": text[:500], "ts": round(time.time(), 3)})
        del self.history[:-limit]

    def mark_shown(self, product_ids: list[str]) -> None:
        self.last_results = list(product_ids)
        self.shown = [p for p in self.shown if p not in product_ids] + list(product_ids)
        del self.shown[:-MAX_SHOWN]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form, sharing this session's lists: serialize it, do not keep it.
        Not ``asdict``: its deep copy of the history was the largest CPU cost of a turn
        that needs no recommendation."""
        data = {name: getattr(self, name) for name in _SESSION_FIELDS}
        data["prefs"] = {name: getattr(self.prefs, name) for name in _PREFS_FIELDS}
        return data

    @classmethod
    def from_dict(cls, data: Any) -> "Session":
        if not isinstance(data, dict) or not isinstance(data.get("user"), str):
            raise CorruptSession("not a session object")
        data = dict(data)
        version = data.get("schema_version", 1)
        if not isinstance(version, int) or version < 1:
            raise CorruptSession(f"bad schema_version {version!r}")
        while version < SCHEMA_VERSION:
            try:
                data = MIGRATIONS[version](data)
            except (TypeError, ValueError, AttributeError) as exc:
                raise CorruptSession(f"cannot migrate from version {version}: {exc}") from None
            version += 1
        data["schema_version"] = SCHEMA_VERSION
        try:
            prefs_data = data.get("prefs") or {}
            if not isinstance(prefs_data, dict):
                raise CorruptSession("prefs is not an object")
            prefs = Preferences(**_known(Preferences, prefs_data))
            session = cls(**{**_known(cls, data), "prefs": prefs})
        except TypeError as exc:
            raise CorruptSession(str(exc)) from None
        _check_types(session)
        return session


_SESSION_FIELDS = tuple(Session.__dataclass_fields__)
_PREFS_FIELDS = tuple(Preferences.__dataclass_fields__)


def _known(kind: type, data: dict[str, Any]) -> dict[str, Any]:
    """The fields ``kind`` has; a newer version's extra fields are dropped, not fatal."""
    names = kind.__dataclass_fields__  # type: ignore[attr-defined]
    return {k: v for k, v in data.items() if k in names}


def _check_types(session: Session) -> None:
    lists = (session.last_results, session.shown, session.liked, session.disliked, session.history,
             session.prefs.brands, session.prefs.exclude_brands, session.prefs.features)
    if not all(isinstance(x, list) for x in lists):
        raise CorruptSession("a list field holds something else")
    if session.state not in STATES:
        raise CorruptSession(f"unknown state {session.state!r}")
    counters = (session.turns, session.misses, session.dislike_streak, session.offered_turn)
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in counters):
        raise CorruptSession("a counter is not a whole number")
    if session.handoff is not None and not isinstance(session.handoff, dict):
        raise CorruptSession("handoff is not an object")
    if session.lang not in ("zh", "en"):
        raise CorruptSession(f"unknown language {session.lang!r}")
    prefs = session.prefs
    for price in (prefs.price_min, prefs.price_max, prefs.cheaper_than, prefs.pricier_than):
        if price is not None and not isinstance(price, (int, float)):
            raise CorruptSession("a price is not a number")


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # Version 1 (the first prototype) kept the budget as one [min, max] pair and the
    # shown products under "seen"; version 2 splits the budget and says "shown".
    data = dict(data)
    prefs = dict(data.get("prefs") or {})
    budget = prefs.pop("budget", None)
    if isinstance(budget, (list, tuple)) and len(budget) == 2:
        prefs["price_min"], prefs["price_max"] = budget
    data["prefs"] = prefs
    if "seen" in data and "shown" not in data:
        data["shown"] = data.pop("seen")
    return data


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}
