"""Real ``redis-server`` processes on free localhost ports, for the cluster, durability and
sentinel tests.  Each lives in its own directory, logs there, and is killed by ``stop()`` or
``kill()``; the context managers stop everything they started, also when a test fails.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import redis

STARTUP_S = 60.0  # a loaded 2-core machine can be slow to fork and load an AOF


def binaries(*names: str) -> None:
    """Skip the calling test when a Redis binary it needs is not on PATH."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not on PATH")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisProcess:
    """One ``redis-server`` (or sentinel) on 127.0.0.1:``port`` with ``directory`` as its dir."""

    def __init__(self, directory: Path, port: int | None = None, *options: str, sentinel: bool = False) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.options = options
        self.sentinel = sentinel
        self.log = self.directory / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self, timeout: float = STARTUP_S) -> RedisProcess:
        if self.sentinel:
            conf = self.directory / "sentinel.conf"
            conf.write_text("\n".join(self.options) + "\n")  # sentinel rewrites its config file
            command = ["redis-server", str(conf), "--sentinel", "--port", str(self.port), "--bind", "127.0.0.1",
                       "--dir", str(self.directory), "--logfile", str(self.log)]
        else:
            command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                       "--dir", str(self.directory), "--logfile", str(self.log), "--save", "", *self.options]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=2, socket_timeout=5)
        try:
            while True:
                try:
                    client.ping()
                    return self
                except redis.BusyLoadingError:
                    pass  # replaying its AOF
                except redis.ConnectionError:
                    if self.process.poll() is not None:
                        raise RuntimeError(f"redis-server on {self.port} exited: {self.log_tail()}") from None
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"redis-server on {self.port} did not answer: {self.log_tail()}")
                time.sleep(0.05)
        finally:
            client.close()

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=5, socket_timeout=30)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: no shutdown save, no goodbye to clients."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@contextmanager
def cluster(directory: Path, size: int = 3) -> Iterator[list[RedisProcess]]:
    """A ``size``-node Redis Cluster (primaries only) joined by ``redis-cli --cluster create``."""
    binaries("redis-server", "redis-cli")
    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=False).stdout
    major = re.search(r"v=(\d+)\.", version)
    if not major or int(major.group(1)) < 7:
        pytest.skip(f"the cluster helper needs redis-server 7 or later (cluster-port), found: {version.strip()}")
    with ExitStack() as stack:
        nodes = []
        for number in range(size):
            # The cluster bus port is set explicitly: port + 10000 may be taken or past 65535.
            node = RedisProcess(directory / f"node{number}", None, "--cluster-enabled", "yes",
                                "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
                                "--cluster-port", str(free_port()), "--appendonly", "no")
            stack.callback(node.stop)
            nodes.append(node.start())
        created = subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in nodes),
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, text=True, timeout=120, check=False,
        )
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout[-2000:]} {created.stderr[-2000:]}")
        _wait_for_cluster(nodes)
        yield nodes


def _wait_for_cluster(nodes: list[RedisProcess], timeout: float = 60.0) -> None:
    """Until every node says the cluster is ok and knows every other node."""
    deadline = time.monotonic() + timeout
    pending = list(nodes)
    while pending:
        node = pending[0]
        with node.client() as client:
            info = client.execute_command("CLUSTER", "INFO")
        text = info.decode() if isinstance(info, bytes) else str(info)
        fields = dict(line.split(":", 1) for line in text.split() if ":" in line)
        if fields.get("cluster_state") == "ok" and int(fields.get("cluster_known_nodes", 0)) == len(nodes):
            pending.pop(0)
            continue
        if time.monotonic() > deadline:
            raise RuntimeError(f"the cluster did not settle: {text}")
        time.sleep(0.1)
