"""The one place that builds everything a process needs."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from core.catalog import Catalog, load_catalog
from core.dialogue import DialogueManager
from core.recommender import Recommender
from core.redis_conn import connect
from core.settings import Settings
from core.store import SessionStore


@dataclass
class App:
    settings: Settings
    redis: Redis
    store: SessionStore
    recommender: Recommender
    dialogue: DialogueManager

    async def stop(self) -> None:
        """Close the Redis pool; call once when the process shuts down."""
        await self.redis.aclose()


def build_app(
    settings: Settings,
    *,
    redis: Redis | None = None,
    catalog: Catalog | None = None,
    recommender: Recommender | None = None,
) -> App:
    """Wire the parts.  Every collaborator can be passed in; each has one default.

    Without ``redis``, ``settings.redis_url`` must be set (the terminal chat starts an
    embedded server and passes its URL).
    """
    if redis is None:
        if not settings.redis_url:
            raise ValueError("REDIS_URL is not set and no Redis client was given")
        redis = connect(settings.redis_url, max_connections=settings.redis_pool)
    if recommender is None:
        from core.lexical import LexicalRecommender

        recommender = LexicalRecommender(catalog or load_catalog(settings.catalog, currency=settings.currency))
    store = SessionStore(redis, settings)
    return App(settings, redis, store, recommender, DialogueManager(store, recommender, settings))
