"""Prometheus metrics of a daogou process, served at ``GET /metrics``.

Counters and histograms live in the process's default registry and count what this process
did.  The handoff queue and the outbox are shared state: ``refresh`` reads them from Redis
just before each scrape, so every process reports the same values for them (aggregate those
with ``max``, not ``sum``).

    daogou_turns_total{platform,intent}          customer messages handled
    daogou_turn_seconds{platform}                time to handle one message (histogram)
    daogou_recommend_seconds                     one recommender call, as the dialogue sees it
    daogou_errors_total{kind}                    redis, recommender, handler, send, ticket_write, ...
    daogou_outbox_delivered_total{platform,result}   delivered, retry, dead
    daogou_handoff_queue_depth{queue}            tickets waiting for an agent
    daogou_handoff_oldest_wait_seconds{queue}    how long the longest-waiting one has waited
    daogou_handoff_wait_seconds                  request to claim, at each claim (histogram)
    daogou_outbox_lag{platform}                  messages queued and not yet delivered
    daogou_outbox_oldest_seconds{platform}       age of the oldest of them
    daogou_outbox_dead_letters{platform}         messages given up on
    daogou_recommender_up                        0 while the shared service is away (checked by /readyz)
    daogou_model_loads_total{result}             encoders loaded by the ranker: ok, failed, bad_registry
    daogou_model_registry_version                the registry.json version this process last applied
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from redis.exceptions import RedisError

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from core.settings import Settings

log = logging.getLogger(__name__)

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_WAIT = (5, 15, 30, 60, 120, 300, 600, 1800, 3600, 14400)

TURNS = Counter("daogou_turns", "Customer messages handled", ["platform", "intent"])
TURN_SECONDS = Histogram("daogou_turn_seconds", "Time to handle one customer message", ["platform"],
                         buckets=_FAST)
RECOMMEND_SECONDS = Histogram("daogou_recommend_seconds", "One recommender call made by the dialogue",
                              buckets=_FAST)
ERRORS = Counter("daogou_errors", "Errors by kind", ["kind"])
OUTBOX_DELIVERED = Counter("daogou_outbox_delivered", "Outbox deliveries by result", ["platform", "result"])
HANDOFF_WAIT = Histogram("daogou_handoff_wait_seconds", "From a customer's request for a human to an agent's claim",
                         buckets=_WAIT)
HANDOFF_DEPTH = Gauge("daogou_handoff_queue_depth", "Tickets waiting for an agent", ["queue"])
HANDOFF_OLDEST = Gauge("daogou_handoff_oldest_wait_seconds", "Wait so far of the longest-waiting ticket",
                       ["queue"])
OUTBOX_LAG = Gauge("daogou_outbox_lag", "Outbox messages queued and not yet delivered", ["platform"])
OUTBOX_OLDEST = Gauge("daogou_outbox_oldest_seconds", "Age of the oldest undelivered outbox message",
                      ["platform"])
RECOMMENDER_UP = Gauge("daogou_recommender_up", "1 while the shared recommender service answers /readyz "
                       "(0: answering from the local fallback); 1 for an in-process recommender")
RECOMMENDER_UP.set(1)
MODEL_LOADS = Counter("daogou_model_loads", "Encoders loaded by an in-process ranker (core.model_router), by "
                      "result: ok, failed (the previous model keeps serving), bad_registry (registry.json "
                      "unreadable)", ["result"])
for _result in ("ok", "failed", "bad_registry"):
    MODEL_LOADS.labels(_result)
MODEL_VERSION = Gauge("daogou_model_registry_version", "The registry.json version this process last applied "
                      "(0: no registry)")
MODEL_METRICS = ("daogou_model_loads_total", "daogou_model_loads_created", "daogou_model_registry_version")
OUTBOX_DEAD = Gauge("daogou_outbox_dead_letters", "Outbox messages given up on (daogou outbox dead)",
                    ["platform"])

# Error kinds are a closed set, so a bug cannot blow up the number of series.
ERROR_KINDS = ("redis", "recommender", "handler", "send", "ticket_write", "writer", "outbox", "webhook")
for _kind in ERROR_KINDS:
    ERRORS.labels(_kind)  # present at 0 from the start, so rate() works from the first error


def error(kind: str) -> None:
    """Count one error of ``kind`` (one of ``ERROR_KINDS``)."""
    ERRORS.labels(kind if kind in ERROR_KINDS else "handler").inc()


async def refresh(redis: Redis, settings: Settings, *, timeout: float = 2.0) -> bool:
    """Read the handoff queue and the outbox from Redis into their gauges; False if Redis did
    not answer in time (the gauges keep their last values and a scrape still succeeds)."""
    from core.outbox import outbox_stats
    from core.tickets import TicketStore

    try:
        queues, outboxes = await asyncio.wait_for(
            asyncio.gather(TicketStore(redis, settings).queue_stats(), outbox_stats(redis, settings)), timeout)
    except (RedisError, OSError, asyncio.TimeoutError) as exc:
        log.warning("metrics: could not read queue and outbox figures from Redis: %s", exc)
        return False
    now = time.time()
    for queue, (depth, oldest) in queues.items():
        HANDOFF_DEPTH.labels(queue).set(depth)
        HANDOFF_OLDEST.labels(queue).set(max(0.0, now - oldest) if oldest else 0.0)
    for platform, (lag, oldest, dead) in outboxes.items():
        OUTBOX_LAG.labels(platform).set(lag)
        OUTBOX_OLDEST.labels(platform).set(max(0.0, now - oldest) if oldest else 0.0)
        OUTBOX_DEAD.labels(platform).set(dead)
    return True


def render() -> tuple[bytes, str]:
    """The exposition text of this process's registry, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
