"""The one place that builds everything a process needs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from core.agents import AgentDesk
from core.catalog import Catalog, load_catalog
from core.dialogue import DialogueManager
from core.recommender import Recommender
from core.redis_conn import connect_from
from core.settings import Settings
from core.store import SessionStore
from core.tickets import TicketStore
from core.writers import Writer, build_writer

if TYPE_CHECKING:
    from core.lexical import LexicalRecommender

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    redis: Redis
    store: SessionStore
    recommender: Recommender
    writer: Writer
    dialogue: DialogueManager
    tickets: TicketStore
    agents: AgentDesk  # what the agent console and CS webhooks call

    async def start(self) -> None:
        """Open what needs opening (the service client, the writer's model or HTTP client)."""
        await _call(self.recommender, "start")
        await self.writer.start()

    async def stop(self) -> None:
        """Close everything start() and build_app() opened; call once at shutdown."""
        await self.writer.stop()
        await _call(self.recommender, "stop")
        await self.redis.aclose()


async def _call(obj: Any, name: str) -> None:
    method = getattr(obj, name, None)
    if method is not None:
        await method()


def build_recommender(settings: Settings, catalog: Catalog | None = None) -> Recommender:
    """The recommender ``settings`` describe: a client of the shared service when
    DAOGOU_RECOMMENDER_URL is set (falling back to in-process lexical search), else the
    in-process hybrid (dense + BM25) or lexical ranker.  Models load from local
    directories only."""
    catalog = catalog or load_catalog(settings.catalog, currency=settings.currency)
    if settings.recommender_url:
        from core.lexical import LexicalRecommender
        from core.remote import RemoteRecommender

        return RemoteRecommender(settings.recommender_url, catalog, LexicalRecommender(catalog),
                                 timeout=settings.recommender_timeout_ms / 1000)
    return build_ranker(settings, catalog, settings.recommender)


def build_ranker(settings: Settings, catalog: Catalog, mode: str, *, encoder: Path | None = None,
                 hot_reload: bool = True) -> Recommender:
    """The in-process ranker: "lexical" (BM25), "hybrid" (dense + BM25) or "dense" (the
    dense side alone, for evaluation).

    The dense modes rank with the model the registry in DAOGOU_MODELS_DIR names (the
    configured DAOGOU_ENCODER while there is none) through a ``core.model_router.ModelRouter``,
    which swaps in newly promoted models every DAOGOU_MODEL_POLL_S seconds once started
    (``hot_reload=False``: never) and runs A/B tests.  ``encoder`` names a model directory to
    rank with instead, registry or not (``daogou eval --candidate``)."""
    from core.lexical import LexicalRecommender

    if mode == "lexical":
        return LexicalRecommender(catalog)
    from core.dense_setup import retriever_for

    base = lexical_base(settings, catalog, mode)
    if encoder is not None:
        return base.with_dense(retriever_for(settings, catalog, encoder))
    from core.model_router import ModelRouter
    from core.models import ModelRegistry

    return ModelRouter(base, lambda model_dir: retriever_for(settings, catalog, model_dir),
                       ModelRegistry(settings.models_dir), poll_s=settings.model_poll_s if hot_reload else 0.0)


def lexical_base(settings: Settings, catalog: Catalog, mode: str) -> LexicalRecommender:
    """The BM25 side of a dense ``mode`` with that mode's fusion settings, not yet given a
    dense retriever (``with_dense`` gives it one)."""
    from core.lexical import LexicalRecommender

    if mode == "dense":  # the encoder alone: no feedback round either
        return LexicalRecommender(catalog, dense_weight=1.0, dense_min_similarity=-1.0, feedback=0)
    return LexicalRecommender(catalog, dense_weight=settings.dense_weight)


def build_app(
    settings: Settings,
    *,
    redis: Redis | None = None,
    catalog: Catalog | None = None,
    recommender: Recommender | None = None,
    writer: Writer | None = None,
    tickets: TicketStore | None = None,
) -> App:
    """Wire the parts.  Every collaborator can be passed in; each has one default.

    Without ``redis``, ``settings.redis_url`` must be set (the terminal chat starts an
    embedded server and passes its URL).  Call ``await app.start()`` before serving.
    """
    if redis is None:
        if not settings.redis_url:
            raise ValueError("REDIS_URL is not set and no Redis client was given")
        redis = connect_from(settings)
    recommender = recommender or build_recommender(settings, catalog)
    writer = writer or build_writer(
        settings.writer, catalog=recommender.catalog, model_dir=settings.writer_model_dir,
        url=settings.writer_url, model=settings.writer_model, api_key=settings.writer_api_key,
        timeout_s=settings.writer_timeout_s, max_tokens=settings.writer_max_tokens,
        workers=settings.writer_workers,
    )
    store = SessionStore(redis, settings)
    tickets = tickets or TicketStore(redis, settings)
    dialogue = DialogueManager(store, recommender, settings, writer=writer, tickets=tickets)
    return App(settings, redis, store, recommender, writer, dialogue, tickets, AgentDesk(tickets, redis, settings))
