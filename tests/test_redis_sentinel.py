"""DAOGOU_REDIS_MODE=sentinel: a master and one sentinel, and the app reaching the master
through the sentinel (``REDIS_URL`` names only the sentinel)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Chat
from redis.asyncio.sentinel import MasterNotFoundError, SentinelConnectionPool

from core.app import build_app
from core.lexical import LexicalRecommender
from core.settings import Settings
from tests.redis_servers import RedisProcess, binaries


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[RedisProcess, RedisProcess]]:
    binaries("redis-server")  # started with --sentinel: no separate redis-sentinel binary needed
    master = RedisProcess(tmp_path / "master")
    sentinel = RedisProcess(tmp_path / "sentinel", None, f"sentinel monitor shop 127.0.0.1 {master.port} 1",
                            "sentinel down-after-milliseconds shop 5000", sentinel=True)
    try:
        master.start()
        sentinel.start()
        yield master, sentinel
    finally:
        sentinel.stop()
        master.stop()


async def test_a_turn_is_saved_and_read_back_through_the_sentinel(
        servers: tuple[RedisProcess, RedisProcess], demo_recommender: LexicalRecommender) -> None:
    master, sentinel = servers
    settings = Settings(redis_url=sentinel.url, redis_mode="sentinel", redis_sentinel_master="shop",
                        key_prefix=f"test-{uuid.uuid4().hex[:10]}", recommender="lexical")
    app = build_app(settings, recommender=demo_recommender)
    await app.start()
    try:
        assert isinstance(app.redis.connection_pool, SentinelConnectionPool)
        chat = Chat(app, user="s1")
        await chat.say("waterproof running earbuds under 300")
        shown = [p.id for p in chat.products()]
        assert shown
        loaded = await app.store.load("test:s1", lang="en")
        assert loaded.status == "ok" and loaded.session.turns == 1 and loaded.session.last_results == shown
        # The session is on the server the sentinel named as master.
        with master.client() as client:
            assert client.exists(app.store.key("test:s1", "session"))
    finally:
        await app.stop()


async def test_an_unknown_master_name_is_a_storage_error(
        servers: tuple[RedisProcess, RedisProcess], demo_recommender: LexicalRecommender) -> None:
    _, sentinel = servers
    settings = Settings(redis_url=sentinel.url, redis_mode="sentinel", redis_sentinel_master="nobody",
                        key_prefix=f"test-{uuid.uuid4().hex[:10]}")
    app = build_app(settings, recommender=demo_recommender)
    try:
        with pytest.raises(MasterNotFoundError):
            await app.redis.ping()
        reply = await Chat(app, user="s2").say("hello")
        assert [r.kind for r in reply] == ["error"]  # the customer gets the apology, not a crash
    finally:
        await app.stop()
