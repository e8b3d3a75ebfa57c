"""``daogou bench dialogue``: its figures are real counts of real turns, round trips and errors."""

from __future__ import annotations

import argparse
import json
import uuid

import pytest

from bots.cli import main
from core import bench_dialogue
from core.bench_customers import KINDS, parse_mix
from core.bench_dialogue import counting_client, measure
from core.settings import Settings


def _args(**overrides: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_dialogue.add_arguments(parser)
    args = parser.parse_args([])
    for name, value in overrides.items():
        setattr(args, name, value)
    return args


async def test_round_trips_are_counted_per_command_script_and_pipeline(redis_url: str) -> None:
    client, counter = counting_client(Settings(redis_url=redis_url))
    key = f"test-bench-{uuid.uuid4().hex}"
    try:
        await client.set(key, "1")
        assert (counter.sends, counter.replies, counter.connections) == (1, 1, 1)  # handshake apart
        async with client.pipeline(transaction=False) as pipe:
            pipe.incr(key).incr(key).get(key)
            assert await pipe.execute() == [2, 3, b"3"]
        assert (counter.sends, counter.replies) == (2, 4)  # a pipeline is one round trip, three replies
        script = client.register_script("return redis.call('GET', KEYS[1])")
        await script(keys=[key])  # EVALSHA, refused (NOSCRIPT), then SCRIPT LOAD and EVALSHA again
        sends = counter.sends
        assert await script(keys=[key]) == b"3"
        assert counter.sends == sends + 1
    finally:
        await client.delete(key)
        await client.aclose()


def test_mix_names_kinds_and_normalizes() -> None:
    assert parse_mix("smalltalk=1") == {"recommend": 0.0, "refine": 0.0, "details": 0.0, "smalltalk": 1.0}
    assert parse_mix("recommend=3,details=1")["recommend"] == 0.75
    with pytest.raises(ValueError):
        parse_mix("chitchat=1")
    with pytest.raises(ValueError):
        parse_mix("recommend=0")


def test_a_small_run_reports_real_figures(redis_url: str) -> None:
    environ = {"REDIS_URL": redis_url, "DAOGOU_RECOMMENDER": "lexical"}
    figures = measure(_args(users=20, turns=5, procs=1, warmup=5), environ)

    assert figures["turns"] == 100
    assert sum(k["turns"] for k in figures["kinds"].values()) == 100
    assert set(figures["kinds"]) == set(KINDS)
    assert figures["error_count"] == 0 and figures["errors"] == {}
    assert figures["recommender_class"] == "LexicalRecommender"
    recommend, smalltalk = figures["kinds"]["recommend"], figures["kinds"]["smalltalk"]
    assert recommend["recommended"] >= 0.8 * recommend["turns"]  # the needs come from the catalog
    assert smalltalk["with_products"] == 0
    assert figures["kinds"]["details"]["with_products"] > 0
    for kind in figures["kinds"].values():
        assert 0 < kind["latency_ms"]["p50"] <= kind["latency_ms"]["p99"] <= kind["latency_ms"]["max"]
    trips = figures["redis_round_trips"]
    assert trips["total"] >= 100 and trips["per_turn"] >= 1
    assert trips["replies_per_turn"] >= trips["per_turn"]
    # Every round trip carries at least one command; scripts run more inside.
    assert figures["redis_commands"]["per_turn"] >= trips["per_turn"]
    assert figures["cpu_ms_per_turn"]["bench"] > 0 and figures["cpu_ms_per_turn"]["redis"] > 0

    again = measure(_args(users=20, turns=5, procs=1, warmup=5), environ)
    assert {k: (v["turns"], v["recommended"], v["with_products"]) for k, v in again["kinds"].items()} == \
        {k: (v["turns"], v["recommended"], v["with_products"]) for k, v in figures["kinds"].items()}


def test_cli_splits_users_across_processes_and_prints_json(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DAOGOU_RECOMMENDER", "lexical")
    code = main(["bench", "dialogue", "--users", "6", "--turns", "3", "--procs", "2", "--warmup", "2",
                 "--mix", "smalltalk=1", "--json"])
    assert code == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["procs"] == 2
    assert figures["turns"] == 18 and set(figures["kinds"]) == {"smalltalk"}
    assert figures["recommended"] == 0 and figures["error_count"] == 0
    assert figures["redis_round_trips"]["total"] >= 18
