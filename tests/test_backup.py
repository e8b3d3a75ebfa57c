"""The README's Redis backup and restore, done as an operator would do it, on real servers."""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest

from core.app import build_app
from core.messages import Inbound, Reply
from core.outbox import Outbox
from core.settings import Settings
from tests.redis_servers import RedisProcess, binaries

pytestmark = pytest.mark.slow


def _backup(server: RedisProcess, to: Path) -> Path:
    """``redis-cli BGSAVE``, wait until it is done, copy ``dump.rdb`` away (the README's steps)."""
    with server.client() as client:
        saves = client.info("persistence")["rdb_saves"]
        client.bgsave()
        deadline = time.monotonic() + 60
        while (info := client.info("persistence"))["rdb_bgsave_in_progress"] or info["rdb_saves"] == saves:
            assert time.monotonic() < deadline, "BGSAVE did not finish"
            time.sleep(0.05)
        assert info["rdb_last_bgsave_status"] == "ok"
        source = Path(client.config_get("dir")["dir"]) / client.config_get("dbfilename")["dbfilename"]
    to.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(source, to / "dump.rdb"))


async def test_a_backup_restores_sessions_tickets_and_the_outbox(tmp_path: Path, settings: Settings,
                                                                 demo_recommender) -> None:
    binaries("redis-server")
    live = RedisProcess(tmp_path / "live", None, "--appendonly", "yes", "--appendfsync", "always").start()
    try:
        settings = replace(settings, redis_url=live.url, handoff_hours="always")
        app = build_app(settings, recommender=demo_recommender)
        await app.start()
        try:
            say = lambda user, text, n: app.dialogue.handle(  # noqa: E731
                Inbound(platform="test", user_id=user, text=text, message_id=f"{user}-{n}"))
            await say("alice", "wireless earbuds under 500", 1)
            await say("bob", "talk to a person", 1)
            await Outbox(app.redis, settings, "test").put("carol", "carol", Reply("your order ships today"))
            shown = (await app.store.load("test:alice", lang="en")).session.last_results
        finally:
            await app.stop()
        backup = _backup(live, tmp_path / "backups" / "today")
    finally:
        live.stop()

    # Restore on a new server: the dump in its directory, loaded with AOF off, then AOF on.
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    shutil.copy2(backup, restored_dir / "dump.rdb")
    restored = RedisProcess(restored_dir, None, "--appendonly", "no", "--dbfilename", "dump.rdb").start()
    try:
        with restored.client() as client:
            client.config_set("appendonly", "yes")  # writes an AOF of what was loaded
            deadline = time.monotonic() + 60
            while client.info("persistence")["aof_rewrite_in_progress"] or \
                    client.info("persistence")["aof_rewrite_scheduled"]:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        settings = replace(settings, redis_url=restored.url)
        app = build_app(settings, recommender=demo_recommender)
        await app.start()
        try:
            session = (await app.store.load("test:alice", lang="en")).session
            assert session.last_results == shown and session.turns == 1
            cheaper = await app.dialogue.handle(Inbound(platform="test", user_id="alice", text="cheaper",
                                                        message_id="alice-2"))
            assert cheaper.replies[0].products  # the conversation goes on where it was
            ticket = await app.tickets.open_ticket_of("test", "bob")
            assert ticket is not None and ticket.state == "pending"
            delivered: list[str] = []
            stop = asyncio.Event()

            async def deliver(message) -> None:  # type: ignore[no-untyped-def]
                delivered.append(message.reply.text)
                stop.set()

            await asyncio.wait_for(Outbox(app.redis, settings, "test").run(deliver, consumer="restore", stop=stop), 30)
            assert delivered == ["your order ships today"]
        finally:
            await app.stop()
    finally:
        restored.kill()  # a crash right after the restore: the AOF written by CONFIG SET has it all

    again = RedisProcess(restored_dir, restored.port, "--appendonly", "yes", "--dbfilename", "dump.rdb").start()
    try:
        with again.client() as client:
            data = client.hget(f"{settings.key_prefix}:{{test:alice}}:session", "rev")
        assert data is not None and int(data) == 2  # the restored turn and the one after it
    finally:
        again.stop()
