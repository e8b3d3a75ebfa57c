"""Structured logs: JSON lines with the fields operators filter by, and no customer in them.

User ids appear only as ``user_ref`` hashes, message text only at DEBUG; checked on real code
paths (an HTTP-channel turn and a long poll, an outbox delivery) as well as on the formatter.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import replace

import httpx
import pytest

from bots.http_channel import PLATFORM, start
from core import logs
from core.app import App
from core.logs import configure, text_ref, user_ref
from core.messages import Reply
from core.outbox import Outbox, OutboxMessage, Undeliverable
from core.settings import Settings

KEY = "logs-test-key-0123456789"
USER = "shopper-7f3kq9zx"  # distinctive enough that any appearance in a log line is a leak
TEXT = "flamingo-pink waterproof earbuds under 300"


@pytest.fixture
def capture(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., io.StringIO]]:
    """``capture(settings, ...)`` configures logging into a buffer; the root logger and the
    ``user_ref`` key are put back afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    monkeypatch.setattr(logs, "_key", logs._key)
    httpx_level = logging.getLogger("httpx").level

    def setup(settings: Settings, **overrides: object) -> io.StringIO:
        buffer = io.StringIO()
        configure(settings, stream=buffer, **overrides)  # type: ignore[arg-type]
        return buffer

    yield setup
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(httpx_level)


def lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_json_lines_carry_the_fixed_fields_and_the_extras(capture) -> None:
    buffer = capture(Settings(log_level="INFO"))
    log = logging.getLogger("daogou.test")
    log.info("turn of %s took %d ms", "u_x", 12, extra={"user": "u_x", "platform": "telegram", "ms": 12.5,
                                                         "ticket": "t-1", "kind": "text"})
    log.debug("not at INFO")
    [line] = lines(buffer)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    assert line["level"] == "INFO" and line["logger"] == "daogou.test" and line["msg"] == "turn of u_x took 12 ms"
    assert isinstance(line["pid"], int) and line["pid"] > 0
    assert {k: line[k] for k in ("user", "platform", "ms", "ticket", "kind")} == {
        "user": "u_x", "platform": "telegram", "ms": 12.5, "ticket": "t-1", "kind": "text"}
    assert "exc" not in line


def test_an_exception_traceback_goes_into_exc(capture) -> None:
    buffer = capture(Settings())
    try:
        {}["missing"]
    except KeyError:
        logging.getLogger("daogou.test").exception("lookup failed")
    [line] = lines(buffer)
    assert line["level"] == "ERROR" and line["msg"] == "lookup failed"
    assert line["exc"].startswith("Traceback") and "KeyError: 'missing'" in line["exc"]


def test_formatting_never_raises(capture) -> None:
    buffer = capture(Settings())
    log = logging.getLogger("daogou.test")
    loop: dict = {}
    loop["self"] = loop
    log.info("odd values", extra={"obj": object(), "raw": b"\xff", "loop": loop})
    [odd] = lines(buffer)
    assert odd["msg"] == "odd values" and odd["obj"].startswith("<object object") and odd["raw"] == "b'\\xff'"
    assert "loop" in odd
    # Wrong %-args (pytest's own capture handler raises on these, so the formatter is called directly).
    record = logging.LogRecord("daogou.test", logging.INFO, __file__, 1, "wrong args %d", ("not a number",), None)
    for formatter in (logs.JsonFormatter(), logs.TextFormatter()):
        assert "wrong args" in formatter.format(record)
    assert json.loads(logs.JsonFormatter().format(record))["level"] == "INFO"


def test_text_format_is_readable_with_the_extras(capture) -> None:
    buffer = capture(Settings(log_format="text"))
    log = logging.getLogger("daogou.test")
    log.warning("delivery failed", extra={"user": "u_abc", "platform": "discord"})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("handling failed")
    text = buffer.getvalue()
    assert re.search(r"WARNING daogou\.test: delivery failed \[user=u_abc platform=discord\]\n", text)
    assert "ERROR daogou.test: handling failed\nTraceback" in text and "ValueError: boom" in text
    assert not text.lstrip().startswith("{")


def test_a_second_configure_replaces_the_first_handler(capture) -> None:
    first = capture(Settings())
    second = capture(Settings(log_format="text"))
    logging.getLogger("daogou.test").warning("once")
    assert first.getvalue() == "" and second.getvalue().count("once") == 1


def test_user_ref_is_stable_keyed_and_differs_between_users(capture) -> None:
    capture(Settings(log_salt="salt-one"))
    ref = user_ref("telegram:42")
    assert re.fullmatch(r"u_[0-9a-f]{12}", ref)
    # What any process with the same salt computes: no per-process randomness.
    assert ref == "u_" + hmac.new(b"salt-one", b"telegram:42", hashlib.sha256).hexdigest()[:12]
    assert user_ref(42, "telegram") == user_ref("42", "telegram") == ref  # an adapter's id, the dialogue's key
    assert len({ref, user_ref("telegram:43"), user_ref("discord:42")}) == 3
    capture(Settings(log_salt="salt-two"))
    assert user_ref("telegram:42") != ref
    capture(Settings(button_secret="buttons"))
    from_buttons = user_ref("telegram:42")
    capture(Settings(button_secret="buttons", telegram_token="123:abc"))  # the same in every process
    assert user_ref("telegram:42") == from_buttons != ref
    assert user_ref("") == user_ref(None) == "-"


def test_text_ref_shows_the_text_only_at_debug(capture) -> None:
    capture(Settings(log_level="INFO"))
    assert text_ref(TEXT) == f"<{len(TEXT)} chars>" and text_ref("") == "<empty>"
    capture(Settings(log_level="DEBUG"))
    assert text_ref(TEXT) == TEXT
    long = "长" * 500
    assert text_ref(long) == "长" * logs.TEXT_CHARS + "…"
    quiet = logging.getLogger("daogou.test.quiet")
    quiet.setLevel(logging.INFO)
    try:
        assert text_ref(TEXT, quiet) == f"<{len(TEXT)} chars>"  # the logger that writes the line decides
    finally:
        quiet.setLevel(logging.NOTSET)


async def _http_turn(app: App, settings: Settings) -> None:
    running = await start(replace(settings, http_api_keys=KEY, http_listen="127.0.0.1"), app, port=0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.port}", timeout=10) as client:
            auth = {"Authorization": f"Bearer {KEY}"}
            answer = await client.post("/v1/messages", json={"user": USER, "text": TEXT}, headers=auth)
            assert answer.status_code == 200 and answer.json()["replies"]
            pending = await client.get("/v1/messages/pending", params={"user": USER}, headers=auth)
            assert pending.status_code == 200
    finally:
        await running.stop()


async def test_an_http_turn_logs_the_user_hashed_and_no_text_at_info(app: App, settings: Settings,
                                                                      capture) -> None:
    buffer = capture(replace(settings, log_level="INFO"))
    await _http_turn(app, settings)
    output = buffer.getvalue()
    parsed = lines(buffer)  # every line is JSON
    ref = user_ref(USER, PLATFORM)
    assert USER not in output and "flamingo" not in output
    [turn] = [line for line in parsed if line.get("user") == ref and line["logger"] == "core.dialogue"]
    assert turn["platform"] == PLATFORM and turn["kind"] == "text" and turn["ms"] >= 0
    assert f"<{len(TEXT)} chars>" in turn["msg"]
    paths = {line.get("path") for line in parsed if line["logger"] == "aiohttp.access"}
    assert paths == {"/v1/messages", "/v1/messages/pending"}  # route templates, never ?user=


async def test_at_debug_the_message_text_is_logged(app: App, settings: Settings, capture) -> None:
    buffer = capture(replace(settings, log_level="DEBUG"))
    await _http_turn(app, settings)
    [turn] = [line for line in lines(buffer)
              if line.get("user") == user_ref(USER, PLATFORM) and line["logger"] == "core.dialogue"]
    assert TEXT in turn["msg"]


async def test_an_undeliverable_outbox_message_names_the_user_by_hash(app: App, settings: Settings,
                                                                       capture) -> None:
    buffer = capture(replace(settings, log_level="INFO"))
    outbox = Outbox(app.redis, replace(settings, outbox_retry_ms=200), "telegram")
    stop = asyncio.Event()

    async def refuse(message: OutboxMessage) -> None:
        raise Undeliverable("bot was blocked by the user")

    task = asyncio.create_task(outbox.run(refuse, consumer="logs-test", stop=stop, block_ms=50))
    await outbox.put(USER, USER, Reply("your order shipped", kind="notice"), kind="alert")
    for _ in range(100):
        if await outbox.dead_letters():
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert USER not in buffer.getvalue()
    [line] = [line for line in lines(buffer) if "undeliverable" in line["msg"]]
    assert line["user"] == user_ref(USER, "telegram") and line["platform"] == "telegram" and line["kind"] == "alert"
