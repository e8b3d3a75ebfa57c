"""Two bot processes, one Redis: a customer's messages spread over two ``daogou run http``
replicas, one after another and at the same moment, as a load balancer would send them.

Proves what the architecture promises for replicas: every message is handled exactly once,
in arrival order per customer, with no lost update of the session; a message re-delivered to
the other process (the same message id) is dropped.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.redis_conn import connect
from core.session import Session
from core.settings import Settings
from core.store import SessionStore
from tests.redis_servers import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
KEY = "replica-test-key"
USER = "shopper"
STARTUP_S = 180.0  # two processes import and index the catalog at once on a loaded machine


class Replica:
    """One ``daogou run http`` process on its own port, logging to a file."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = {**env, "DAOGOU_HTTP_PORT": str(self.port)}
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bots.cli", "run", "http", cwd=ROOT, env=self.env,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            )

    async def ready(self, client: httpx.AsyncClient) -> None:
        deadline = time.monotonic() + STARTUP_S
        while True:
            assert self.process is not None
            if self.process.returncode is not None:
                raise AssertionError(f"replica {self.name} exited: {self.log.read_text(errors='replace')[-3000:]}")
            try:
                if (await client.get(f"http://127.0.0.1:{self.port}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"replica {self.name} did not start: {self.log.read_text()[-3000:]}"
            await asyncio.sleep(0.2)

    async def stop(self) -> int | None:
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            return None


async def test_two_processes_share_one_customer_consistently(redis_url: str, tmp_path: Path) -> None:
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAOGOU_") and k != "REDIS_URL"}
    env.update(REDIS_URL=redis_url, DAOGOU_KEY_PREFIX=prefix, DAOGOU_HTTP_API_KEYS=KEY,
               DAOGOU_HTTP_LISTEN="127.0.0.1", DAOGOU_RECOMMENDER="lexical", DAOGOU_HISTORY_LIMIT="500",
               DAOGOU_LOG_LEVEL="WARNING")
    replicas = [Replica("a", env, tmp_path / "a.log"), Replica("b", env, tmp_path / "b.log")]
    headers = {"Authorization": f"Bearer {KEY}"}
    answers: dict[str, list[tuple[str, dict[str, Any]]]] = {}  # message id -> (replica, answer) per delivery
    texts: dict[str, str] = {}

    async with httpx.AsyncClient(timeout=60, headers=headers) as client:

        async def send(replica: Replica, message_id: str, text: str) -> dict[str, Any]:
            texts[message_id] = text
            response = await client.post(f"http://127.0.0.1:{replica.port}/v1/messages",
                                         json={"user": USER, "text": text, "message_id": message_id})
            assert response.status_code == 200, response.text
            answer = response.json()
            answers.setdefault(message_id, []).append((replica.name, answer))
            return answer

        a, b = replicas
        try:
            await asyncio.gather(*(r.start() for r in replicas))
            await asyncio.gather(*(r.ready(client) for r in replicas))

            # One after another, alternating.
            await send(a, "m1", "waterproof running earbuds under 300")
            await send(b, "m2", "cheaper")
            await send(a, "m3", "bluetooth speaker")
            # Two different messages at the same moment, one to each.
            await asyncio.gather(send(a, "m4", "yoga mat"), send(b, "m5", "running shoes"))
            # The same message to both at once (a retrying gateway): one handles it, one drops it.
            await asyncio.gather(send(a, "m6", "smart watch"), send(b, "m6", "smart watch"))
            # A message handled by a re-delivered later to b.
            duplicate = await send(b, "m3", "bluetooth speaker")
            assert duplicate == {"replies": [], "duplicate": True, "push": []}
            # A burst, alternating, all at once.
            burst = [("m7", "laptop bag"), ("m8", "coffee maker"), ("m9", "camping tent"), ("m10", "desk lamp"),
                     ("m11", "gift for my dad"), ("m12", "headphones under 500")]
            await asyncio.gather(*(send(replicas[i % 2], mid, text) for i, (mid, text) in enumerate(burst)))
            await send(b, "m13", "something for hiking")
        finally:
            codes = await asyncio.gather(*(r.stop() for r in replicas))
    assert codes == [0, 0], [r.log.read_text(errors="replace")[-2000:] for r in replicas]

    # Exactly once: each message id has one real answer, every other delivery was dropped.
    handled: dict[str, tuple[str, dict[str, Any]]] = {}
    for message_id, deliveries in answers.items():
        real = [(name, answer) for name, answer in deliveries if not answer.get("duplicate")]
        assert len(real) == 1, (message_id, deliveries)
        assert real[0][1]["replies"], message_id
        handled[message_id] = real[0]
    assert len(answers["m6"]) == 2 and len(answers["m3"]) == 2
    assert {name for name, _ in handled.values()} == {"a", "b"}  # both processes did real work

    redis = connect(redis_url)
    try:
        store = SessionStore(redis, Settings(redis_url=redis_url, key_prefix=prefix))
        loaded = await store.load(f"http:{USER}", lang="en")
        seen = {m.decode() for m in await redis.zrange(store.key(f"http:{USER}", "seen"), 0, -1)}
    finally:
        await redis.aclose()
    session: Session = loaded.session
    assert loaded.status == "ok" and seen == set(handled)
    assert session.turns == len(handled)  # no lost update

    # The history is whole turns, each the customer's message and then exactly the replies that
    # message got, never interleaved with another turn.
    turns: list[tuple[str, list[str]]] = []
    for entry in session.history:
        if entry["role"] == "user":
            turns.append((entry["text"], []))
        else:
            assert turns, "a bot message before any customer message"
            turns[-1][1].append(entry["text"])
    by_text = {text: message_id for message_id, text in texts.items()}
    order = [by_text[text] for text, _ in turns]
    assert sorted(order) == sorted(handled)
    for text, bot in turns:
        _, answer = handled[by_text[text]]
        assert bot == [reply["text"][:500] for reply in answer["replies"]], text
    # In arrival order: the messages sent one after another are in the order sent; those sent at
    # the same moment are in some order, each once.
    position = {message_id: index for index, message_id in enumerate(order)}
    sequence = ["m1", "m2", "m3", "m4|m5", "m6", "m7|m8|m9|m10|m11|m12", "m13"]
    last = -1
    for step in sequence:
        places = sorted(position[m] for m in step.split("|"))
        assert places == list(range(last + 1, last + 1 + len(places))), (step, order)
        last = places[-1]
