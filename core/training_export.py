"""``daogou data export``: the event stream (``<prefix>:events``) as a training set.

core/policy.py writes, per user and in order: ``query`` (``text`` of a search; ``refine``
events and category buttons carry no text), ``shown`` (``products``: the list just shown),
``clicked`` (``product`` with ``via`` = ``details`` or ``similar``, or ``products`` with
``via`` = ``compare``), ``liked`` and ``disliked`` (``product``).  Each user's events are
replayed in stream order; a product is labelled for the query text of the latest search
whose lists showed it (refinements keep the search's text):

- grades: ``liked`` (and ``bought`` / ``chosen``, should a shop write them) 1.0; asked for
  details or "more like this" 0.7; picked for a comparison 0.5 (:data:`GRADES`);
- hard negatives: ``disliked``; and "skipped": products shown above one the customer then
  acted on, in the same list, that they never acted on (the skip-above rule of click logs).

A reaction with no search text before it (after a category button, or a stream cut by its
length cap) counts as ``no_query_text``.  User ids and platforms are never written: only the
query text, product ids and ``qid`` (a hash of the normalised query) reach the files.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from core.settings import Settings
from core.training_data import Candidate, DataError, TrainingSet, build
from core.training_import import catalog_texts

GRADES = {"liked": 1.0, "bought": 1.0, "chosen": 1.0, "details": 0.7, "similar": 0.7, "compare": 0.5}


@dataclass(frozen=True)
class Event:
    """One stream entry: its type, the user key (only for grouping), its data."""

    type: str
    user: str
    data: dict[str, Any]


@dataclass
class _Lists:
    """One user's replay state: the search text, and which list each product was last shown in."""

    query: str | None = None
    shown_in: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # product -> (query, list)
    acted: set[tuple[str, str]] = field(default_factory=set)  # (query, product) acted on


def since_id(since: str | None) -> str:
    """The stream id where ``--since`` starts ("-" for the beginning)."""
    if not since:
        return "-"
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise DataError(f"--since: {since!r} is not an ISO date or time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{int(moment.timestamp() * 1000)}-0"


async def read_events(redis: Redis, key: str, *, since: str | None = None, batch: int = 1000) -> list[Event]:
    """Every event of the stream at ``key`` from ``since`` on, in stream order."""
    events: list[Event] = []
    start = since_id(since)
    while True:
        entries = await redis.xrange(key, min=start, count=batch) or []
        for entry_id, fields in entries:
            decoded = {_text(k): _text(v) for k, v in (fields or {}).items()}
            try:
                data = json.loads(decoded.get("data") or "{}")
            except json.JSONDecodeError:
                data = {}
            events.append(Event(decoded.get("type", ""), decoded.get("user", ""), data if isinstance(data, dict) else {}))
        if len(entries) < batch:
            return events
        start = "(" + _text(entries[-1][0] or "")


def candidates_from_events(events: Iterable[Event], dropped: Counter[str]) -> tuple[list[Candidate], Counter[str]]:
    """Labelled rows from events (see the module docstring); also counts events by type."""
    states: dict[str, _Lists] = {}
    seen: Counter[str] = Counter()
    rows: list[Candidate] = []
    for event in events:
        seen[event.type] += 1
        state = states.setdefault(event.user, _Lists())
        data = event.data
        if event.type == "query":
            if data.get("refine"):
                continue  # a refinement narrows the same need: its lists keep the search's text
            text = str(data.get("text") or "").strip()
            state.query = text or None
            continue
        if event.type == "shown":
            if state.query is not None:
                shown = [str(p) for p in data.get("products") or []]
                for product in shown:
                    state.shown_in[product] = (state.query, shown)
            continue
        if event.type == "disliked":
            for product in _products(data):
                query = _query_for(state, product)
                if query is None:
                    dropped["no_query_text"] += 1
                else:
                    rows.append(Candidate(query, product, 0.0))
            continue
        grade = GRADES.get(event.type) or (GRADES.get(str(data.get("via"))) if event.type == "clicked" else None)
        if grade is None:
            continue
        for product in _products(data):
            query = _query_for(state, product)
            if query is None:
                dropped["no_query_text"] += 1
                continue
            rows.append(Candidate(query, product, grade))
            state.acted.add((query, product))
            rows.extend(_skipped_above(state, query, product))
    return rows, seen


def _skipped_above(state: _Lists, query: str, product: str) -> list[Candidate]:
    """Products above ``product`` in its list that were never acted on: hard negatives.

    A skip later acted on turns into a positive too; cleaning then drops the negative as a
    label conflict, so the customer's last word wins over the guess.
    """
    _, shown = state.shown_in[product]
    above = shown[: shown.index(product)]
    return [Candidate(query, other, 0.0) for other in above if (query, other) not in state.acted]


def _query_for(state: _Lists, product: str) -> str | None:
    hit = state.shown_in.get(product)
    if hit:
        return hit[0]
    return None


def _products(data: dict[str, Any]) -> list[str]:
    if data.get("products"):
        return [str(p) for p in data["products"]]
    return [str(data["product"])] if data.get("product") else []


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


async def export_from(redis: Redis, settings: Settings, out: Path, *, since: str | None = None,
                      seed: int = 0, valid_fraction: float = 0.1,
                      texts: dict[str, str] | None = None) -> TrainingSet:
    """Read the stream of ``settings.key_prefix`` and write a training set at ``out``.

    ``texts`` defaults to the settings' catalog (``core.vectors.passage_text``).
    """
    texts = catalog_texts(settings) if texts is None else texts
    events = await read_events(redis, f"{settings.key_prefix}:events", since=since)
    dropped: Counter[str] = Counter()
    rows, seen = candidates_from_events(events, dropped)
    source = {"kind": "events", "stream": f"{settings.key_prefix}:events", "since": since,
              "events": dict(sorted(seen.items())), "rows": len(rows) + sum(dropped.values()),
              "catalog": settings.catalog or "demo catalog",
              "grades": {**GRADES, "disliked": 0.0, "skipped above an acted-on product": 0.0}}
    return build(rows, texts, out, source=source, seed=seed, valid_fraction=valid_fraction, dropped=dropped)


def export(settings: Settings, out: Path, *, since: str | None = None, seed: int = 0,
           valid_fraction: float = 0.1) -> TrainingSet:
    """``daogou data export``: needs ``REDIS_URL`` (the Redis the bots write events to)."""
    from redis.exceptions import RedisError

    from core.redis_conn import connect_from

    if not settings.redis_url:
        raise DataError("REDIS_URL is not set: the event stream lives in the Redis the bots share")

    async def go() -> TrainingSet:
        redis = connect_from(settings)
        try:
            return await export_from(redis, settings, out, since=since, seed=seed, valid_fraction=valid_fraction)
        except RedisError as exc:
            raise DataError(f"Redis: {exc}") from None
        finally:
            await redis.aclose()

    return asyncio.run(go())
