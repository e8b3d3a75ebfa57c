"""The app both transcript scripts run the adapters on: demo catalog, Redis at REDIS_URL or an
embedded one, keys under ``transcript`` (the customer's session cleared first)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from core.app import App, build_app
from core.redis_conn import EmbeddedRedis
from core.settings import Settings


@asynccontextmanager
async def transcript_app(user_key: str, *, lexical: bool) -> AsyncIterator[App]:
    embedded = None
    settings = Settings.from_env(dict(os.environ))
    if not settings.redis_url:
        embedded = EmbeddedRedis().start()
        settings = replace(settings, redis_url=embedded.url)
    settings = replace(settings, key_prefix="transcript", recommender="lexical" if lexical else settings.recommender)
    app = build_app(settings)
    await app.start()
    try:
        await app.redis.delete(app.store.key(user_key, "session"))
        yield app
    finally:
        await app.stop()
        if embedded:
            embedded.close()
