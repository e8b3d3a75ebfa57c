"""Shared fixtures: a real Redis server, settings with a private key prefix, the app.

Tests run against the Redis at ``REDIS_URL`` when it is set, otherwise against a
redis-server this test run starts itself.  Each test gets its own key prefix, so tests
never see each other's keys and a shared server is left as it was found.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace

import pytest
from redis.asyncio import Redis

from core.app import App, build_app
from core.catalog import Catalog, load_catalog
from core.lexical import LexicalRecommender
from core.messages import Inbound, Reply
from core.redis_conn import EmbeddedRedis, connect
from core.settings import Settings


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture(scope="session")
def demo_catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def demo_recommender(demo_catalog: Catalog) -> LexicalRecommender:
    return LexicalRecommender(demo_catalog)


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings(redis_url=redis_url, key_prefix=f"test-{uuid.uuid4().hex[:10]}", history_limit=50)


@pytest.fixture
async def app(settings: Settings, demo_recommender: LexicalRecommender) -> AsyncIterator[App]:
    app = build_app(settings, recommender=demo_recommender)
    await app.start()
    yield app
    await app.stop()


class Chat:
    """A loopback channel for dialogue tests: ``await chat.say("cheaper")`` returns the replies."""

    def __init__(self, app: App, user: str = "alice", platform: str = "test") -> None:
        self.app = app
        self.user = user
        self.platform = platform
        self.count = 0
        self.last: list[Reply] = []

    async def say(self, text: str, **fields: str) -> list[Reply]:
        return await self._send(Inbound(platform=self.platform, user_id=self.user, text=text, **fields))

    async def press(self, action: str) -> list[Reply]:
        return await self._send(Inbound(platform=self.platform, user_id=self.user, action=action))

    async def _send(self, inbound: Inbound) -> list[Reply]:
        self.count += 1
        if not inbound.message_id:
            inbound = replace(inbound, message_id=f"m{self.count}-{uuid.uuid4().hex[:6]}")
        self.last = (await self.app.dialogue.handle(inbound)).replies
        return self.last

    def products(self) -> list:
        return [card for reply in self.last for card in reply.products]

    def text(self) -> str:
        return "\n".join(reply.text for reply in self.last)


@pytest.fixture
def chat(app: App) -> Chat:
    return Chat(app)


@pytest.fixture
async def make_redis(redis_url: str) -> AsyncIterator[Callable[[], Redis]]:
    """Extra Redis clients, as a second process would have; closed after the test."""
    clients: list[Redis] = []

    def make() -> Redis:
        client = connect(redis_url)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
