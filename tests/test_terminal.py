"""The ``daogou chat`` command as a user and a script run it: real processes, real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Catalog vectors are keyed by content, so every test process can share one cache.
VECTORS = Path(tempfile.gettempdir()) / "daogou-test-vectors"


def _daogou(*args: str, stdin: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DAOGOU_") and k != "REDIS_URL"}
    environ["DAOGOU_VECTOR_CACHE"] = str(VECTORS)
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bots.cli", *args], input=stdin, capture_output=True, text=True,
        cwd=ROOT, env=environ, timeout=120,
    )


def _lines(*messages: dict) -> str:
    return "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in messages)


@pytest.mark.slow
def test_jsonl_contract_with_embedded_redis() -> None:
    result = _daogou("chat", "--jsonl", stdin=_lines(
        {"user": "u1", "text": "我想买一款适合运动的蓝牙耳机，500元以内"},
        {"user": "u1", "text": "compare 1 and 2"},
        {"user": "u1", "action": "other_brand"},
        {"user": "u1", "text": "cheaper"},
    ) + "this is not json\n" + _lines([1, 2], {"user": "", "text": "hi"}, {"user": "u1", "text": 5}))
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == 8  # exactly one line per input line
    first = answers[0]["replies"][-1]
    assert first["products"] and all(p["price"] <= 500 for p in first["products"])
    for product in first["products"]:
        assert {"id", "title", "brand", "price", "currency", "category"} <= product.keys()
    assert all({"label", "action"} == set(b) for b in first["buttons"])
    assert answers[1]["replies"][0]["kind"] == "compare"
    other = answers[2]["replies"][-1]["products"]
    assert other and not {p["brand"] for p in other} & {p["brand"] for p in first["products"]}
    cheaper = answers[3]["replies"][-1]["products"]
    assert cheaper and max(p["price"] for p in cheaper) < min(p["price"] for p in other)
    for bad in answers[4:]:
        assert bad["replies"] == [] and bad["error"]


@pytest.mark.slow
def test_a_second_process_continues_the_conversation(redis_url: str, settings) -> None:
    env = {"REDIS_URL": redis_url, "DAOGOU_KEY_PREFIX": settings.key_prefix}
    first = _daogou("chat", "--jsonl", stdin=_lines({"user": "dan", "text": "waterproof running earbuds under 300"}),
                    env=env)
    shown = json.loads(first.stdout)["replies"][-1]["products"]
    assert shown, first.stderr
    second = _daogou("chat", "--jsonl", stdin=_lines({"user": "dan", "text": "tell me more about 2"},
                                                    {"user": "dan", "action": f"like:{shown[0]['id']}"}), env=env)
    details, liked = (json.loads(line) for line in second.stdout.splitlines())
    assert details["replies"][0]["products"][0]["id"] == shown[1]["id"]
    assert liked["replies"][0]["kind"] == "text"


@pytest.mark.slow
def test_interactive_chat_renders_cards() -> None:
    result = _daogou("chat", "--user", "eve", stdin="waterproof running earbuds under 300\n!cheaper\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout and "¥" in result.stdout and "!cheaper" in result.stdout


def test_invalid_setting_is_a_clear_error() -> None:
    result = _daogou("chat", "--jsonl", stdin="", env={"DAOGOU_SESSION_TTL": "tomorrow"})
    assert result.returncode == 2
    assert "DAOGOU_SESSION_TTL must be whole seconds > 0, got 'tomorrow'" in result.stderr


def test_missing_catalog_is_a_clear_error(tmp_path: Path) -> None:
    result = _daogou("chat", "--jsonl", "--catalog", str(tmp_path / "nope"), stdin="")
    assert result.returncode == 2 and "cannot load the catalog" in result.stderr
