"""Shipping a model: the registry (core.models), the comparison and its gate
(core.model_compare, ``daogou eval --candidate``, ``daogou model ...``), hot swaps and A/B
tests in running rankers (core.model_router), and the model named in hits and events.

Two real encoders stand for "worse" and "better": a tiny BERT with random weights over
MiniLM's vocabulary (it ranks at random) and the bundled MiniLM (linked into the models
directory).  The evaluation data is the demo catalog with paraphrased category queries."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import Chat
from prometheus_client import REGISTRY
from test_encoder import make_tiny_bert
from test_service import Server

from bots.cli import main as cli
from core import model_commands
from core.app import build_app, lexical_base
from core.catalog import Catalog, load_catalog
from core.dense import DenseIndex, EncoderRetriever
from core.encoder import AsyncEncoder, TransformerEncoder, default_encoder_dir
from core.logs import user_ref
from core.model_compare import training_set_data
from core.model_router import ModelRouter, ab_bucket
from core.models import ModelRegistry, RegistryError, RegistryState
from core.recommender import Hit, SearchRequest
from core.remote import RemoteRecommender
from core.service import make_app
from core.settings import Settings, SettingsError
from core.training_export import candidates_from_events, read_events
from core.vectors import load_or_encode, passage_text
from core.wire import hit_to_dict, parse_request, request_to_dict

ROOT = Path(__file__).resolve().parents[1]

# Paraphrases that name no category word, so the encoder, not BM25, has to find them.
QUERIES = {
    "Electronics > Headphones": "listen to music privately on the train",
    "Sports > Running Shoes": "footwear for jogging",
    "Beauty > Skincare": "cream to keep my face moisturized",
    "Electronics > Smartphones": "a new mobile phone",
    "Computers > Laptops": "a portable computer for work",
    "Electronics > Smartwatches & Fitness Bands": "wrist device that tracks my heart rate",
    "Home > Kitchen Appliances": "machine to make coffee or rice",
    "Beauty > Personal Care": "grooming device for men",
    "Toys & Hobbies > Toys": "a gift for a child to play with",
    "Electronics > Cameras": "take professional photos on vacation",
    "Sports > Fitness Equipment": "home workout gear",
    "Bags > Backpacks & Luggage": "suitcase for a flight",
    "Apparel > Outdoor Jackets": "warm coat for hiking in winter",
    "Electronics > Bluetooth Speakers": "play music loudly at a party",
    "Home > Home Cleaning": "machine that cleans the floor",
}


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> Path:
    """Module-wide: the random encoder, a training set over part of the demo catalog, and a
    vector cache already holding the catalog's vectors of both encoders."""
    root = tmp_path_factory.mktemp("models-store")
    words = (default_encoder_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    make_tiny_bert(root / "random", words)
    data = root / "set"
    data.mkdir()
    products = [p for category in QUERIES for p in [p for p in catalog.products if p.category == category][:6]]
    (data / "products.jsonl").write_text(
        "".join(json.dumps({"id": p.id, "text": passage_text(p)}) + "\n" for p in products))
    rows = [{"qid": f"q{i}", "query": query, "positive": p.id, "grade": 1.0 if n % 2 else 0.8, "negatives": []}
            for i, (category, query) in enumerate(QUERIES.items())
            for n, p in enumerate(p for p in products if p.category == category)]
    (data / "valid.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (data / "train.jsonl").write_text("")
    (root / "random" / "training.json").write_text(json.dumps({"data": str(data), "validation": {}}))
    for model_dir in (None, root / "random"):  # encoding the catalog costs seconds: once per run
        load_or_encode(catalog.products, encoder_of(model_dir), root / "vectors")
    return root


_ENCODERS: dict[str, TransformerEncoder] = {}


def encoder_of(model_dir: Path | None) -> TransformerEncoder:
    """One TransformerEncoder per model files for the whole run (loading one takes a second)."""
    key = os.path.realpath((model_dir or default_encoder_dir()) / "model.safetensors")
    if key not in _ENCODERS:
        _ENCODERS[key] = TransformerEncoder(model_dir)
    return _ENCODERS[key]


def link_model(source: Path, target: Path) -> Path:
    """A model directory whose files are links to ``source``'s (cheap, same fingerprint)."""
    target.mkdir(parents=True)
    for entry in source.iterdir():
        (target / entry.name).symlink_to(entry)
    return target


@pytest.fixture
def models(tmp_path: Path, store: Path) -> Path:
    """This test's DAOGOU_MODELS_DIR: "random" and "minilm", no registry yet; the vector
    cache beside it."""
    root = tmp_path / "models"
    link_model(store / "random", root / "random")
    link_model(default_encoder_dir(), root / "minilm")
    (tmp_path / "vectors").symlink_to(store / "vectors")  # the run's warm cache, beside the models
    return root


@pytest.fixture
def env(models: Path, store: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"DAOGOU_MODELS_DIR": str(models), "DAOGOU_VECTOR_CACHE": str(store / "vectors"),
              "HF_HUB_OFFLINE": "1", "DAOGOU_ENCODER_THREADS": "1"}
    for name in [k for k in os.environ if k.startswith("DAOGOU_")]:
        monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def loader(catalog: Catalog, cache: Path, delay: dict[str, float] | None = None,
           fail: set[str] | None = None):  # type: ignore[no-untyped-def]
    """A ``ModelRouter`` load function over the run's encoders and vector cache (a fresh
    AsyncEncoder per load: the router closes retired ones).  ``delay`` slows the loading of
    a model down (seconds, by directory name); ``fail`` makes it raise."""

    def load(model_dir: Path | None) -> EncoderRetriever:
        name = model_dir.name if model_dir else "default"
        time.sleep((delay or {}).get(name, 0.0))
        if name in (fail or set()):
            raise OSError(f"{name}: cannot read the weights")
        encoder = encoder_of(model_dir)
        return EncoderRetriever(AsyncEncoder(encoder), DenseIndex(load_or_encode(catalog.products, encoder, cache).vectors))

    return load


def router_for(catalog: Catalog, models: Path, **kw: object) -> ModelRouter:
    load = loader(catalog, models.parent / "vectors", kw.pop("delay", None), kw.pop("fail", None))  # type: ignore[arg-type]
    return ModelRouter(lexical_base(Settings(), catalog, "hybrid"), load, ModelRegistry(models), **kw)  # type: ignore[arg-type]


def loads(result: str) -> float:
    return REGISTRY.get_sample_value("daogou_model_loads_total", {"result": result}) or 0.0


# -- the registry ------------------------------------------------------------------------


def test_registry_writes_are_atomic_locked_and_versioned(models: Path) -> None:
    registry = ModelRegistry(models)
    assert registry.read() == RegistryState() and registry.stamp() is None
    errors: list[BaseException] = []
    seen: list[int] = []
    done = threading.Event()

    def reader() -> None:  # never a torn file, never a version going back
        while not done.is_set():
            try:
                seen.append(registry.read().version)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

    def writer(n: int) -> None:
        for i in range(10):
            registry.start_ab("random", 0.1 + 0.05 * (i % 5), f"exp-{n}-{i}")

    watcher = threading.Thread(target=reader)
    watcher.start()
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    watcher.join()
    assert errors == []
    assert registry.read().version == 40  # every read-modify-write under the lock: none lost
    assert seen == sorted(seen)
    assert sorted(p.name for p in models.iterdir()) == ["minilm", "random", "registry.json", "registry.lock"]
    data = json.loads((models / "registry.json").read_text())
    assert data["ab"]["candidate"] == "random" and data["serving"] is None and data["history"] == []


def test_refs_must_be_encoder_directories_inside_the_models_dir(models: Path, tmp_path: Path) -> None:
    registry = ModelRegistry(models)
    (models / "empty").mkdir()
    outside = link_model(default_encoder_dir(), tmp_path / "outside")
    (models / "escape").symlink_to(outside)
    for ref, message in [("../x", "not a model directory name"), ("a/b", "not a model directory name"),
                         (".hidden", "not a model directory name"), ("/etc", "not a model directory name"),
                         ("nope", "not an encoder directory"), ("empty", "no config.json"),
                         ("escape", "outside the models directory")]:
        with pytest.raises(RegistryError, match=message):
            registry.resolve(ref)
        with pytest.raises(RegistryError):
            registry.promote(ref, {})
    assert not (models / "registry.json").exists()
    assert registry.resolve("") is None and registry.resolve("random") == (models / "random").resolve()
    assert registry.ref_of(str(models / "random")) == "random" == registry.ref_of("random")
    assert registry.ref_of("default") == ""
    with pytest.raises(RegistryError, match="move or copy it there"):
        registry.ref_of(str(outside))
    with pytest.raises(RegistryError):
        registry.ref_of(str(models / ".." / "x"))


def test_a_corrupt_registry_is_a_clear_error(models: Path, env: dict[str, str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    registry = ModelRegistry(models)
    for text, message in [("{not json", "not valid JSON"), ("[]", "expected a JSON object"),
                          ('{"serving": {"ref": "../etc"}}', "not a model directory name"),
                          ('{"version": -1}', "version"),
                          ('{"ab": {"candidate": "random", "share": 2, "experiment": "e"}}', "share")]:
        (models / "registry.json").write_text(text)
        with pytest.raises(RegistryError, match=message):
            registry.read()
        assert cli(["model", "status"]) == 1
        err = capsys.readouterr().err
        assert "registry.json" in err and message in err
        with pytest.raises(RegistryError):
            registry.promote("random", {})  # a write never builds on a registry it cannot read
        assert (models / "registry.json").read_text() == text


def test_settings_of_the_registry() -> None:
    settings = Settings.from_env({"DAOGOU_MODELS_DIR": "/srv/models", "DAOGOU_MODEL_POLL_S": "0"})
    assert settings.models_dir == "/srv/models" and settings.model_poll_s == 0.0
    assert Settings().model_poll_s == 5.0 and Settings().models_dir.endswith("daogou/models")
    with pytest.raises(SettingsError, match="DAOGOU_MODEL_POLL_S"):
        Settings.from_env({"DAOGOU_MODEL_POLL_S": "-1"})


# -- compare, promote, rollback ------------------------------------------------------------


def test_training_set_grades_become_gains(store: Path) -> None:
    data = training_set_data(store / "set")
    assert len(data.queries) == len(QUERIES) and data.graded
    gains = data.gains("q0")
    assert set(gains.values()) == {2.0, 1.6}  # 2 * grade: nDCG weighs positives by their grade
    assert all(score >= 2.5 for score in data.qrels["q0"].values())  # grade >= 0.75 counts for recall


def test_eval_candidate_prints_both_models_side_by_side(env: dict[str, str], models: Path, store: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["eval", "--candidate", str(models / "random"), "--data", str(store / "set"), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["serving"]["model"] == "default" and result["candidate"]["model"] == "random"
    assert result["queries"] == len(QUERIES) and result["mode"] == "hybrid"
    for side in ("serving", "candidate"):
        assert {"ndcg@10", "ndcg@10_condensed", "recall@100", "mrr@10", "latency_ms"} <= set(result[side])
    serving, candidate = result["serving"]["ndcg@10"], result["candidate"]["ndcg@10"]
    assert result["delta"]["ndcg@10"] == pytest.approx((candidate - serving) / serving, abs=1e-3)
    assert candidate < serving  # random weights rank worse than MiniLM
    assert set(result["delta"]) == {"ndcg@10", "ndcg@10_condensed", "recall@100", "mrr@10",
                                    "latency_p50", "latency_p99"}
    # Without data options: the validation set of the candidate's training.json; as a table;
    # the model named as promote names it, inside DAOGOU_MODELS_DIR.
    assert cli(["eval", "--candidate", "random", "--limit", "3"]) == 0
    table = capsys.readouterr().out
    assert "serving" in table and "candidate" in table and "random" in table and "%" in table
    assert cli(["eval", "--candidate", str(models / "random"), "--mode", "lexical"]) == 2
    assert "nothing to compare" in capsys.readouterr().err
    assert cli(["eval", "--candidate", str(models / "nope")]) == 2
    assert "not an encoder directory" in capsys.readouterr().err
    assert cli(["eval", "--candidate", str(models / "minilm")]) == 2  # no training.json, no data options
    assert "--data" in capsys.readouterr().err


def test_promote_is_gated_by_the_margin_and_rollback_walks_back(
        env: dict[str, str], models: Path, store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = ModelRegistry(models)
    # The random model against the bundled MiniLM: refused, registry untouched.
    assert cli(["model", "promote", "random"]) == 1  # data: its training.json's set
    out = capsys.readouterr().out
    assert "not promoted: ndcg@10: candidate" in out and "serving" in out
    assert not registry.path.exists()
    # --force skips the gate, and says so.
    assert cli(["model", "promote", str(models / "random"), "--force", "--no-warm", "--limit", "5"]) == 0
    out = capsys.readouterr().out
    assert "--force: promoting although" in out and "promoted: random serves (was default" in out
    state = registry.read()
    assert state.serving_ref == "random" and [h.ref for h in state.history] == [""]
    assert state.serving is not None and state.serving.metrics["forced"] is True
    # MiniLM over the random model clears any sensible margin; the catalog is encoded first.
    assert cli(["model", "promote", "minilm", "--data", str(store / "set"), "--margin", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "catalog vectors ready: 355 products" in out and "promoted: minilm serves (was random" in out
    state = registry.read()
    assert state.serving is not None and state.serving.metrics["against"]["model"] == "random"
    assert state.serving.metrics["ndcg@10"] > state.serving.metrics["against"]["ndcg@10"] * 1.2
    assert cli(["model", "promote", "minilm"]) == 0 and "already the serving model" in capsys.readouterr().out
    assert cli(["model", "status"]) == 0
    status = capsys.readouterr().out
    assert "serving:  minilm since" in status and "ndcg@10" in status and "A/B test: none" in status
    assert status.index("  random") < status.index("  default")  # newest first
    # Rollback walks the history back, then says there is nothing left.
    assert cli(["model", "rollback"]) == 0 and "random serves again" in capsys.readouterr().out
    assert cli(["model", "rollback"]) == 0 and "default serves again" in capsys.readouterr().out
    assert cli(["model", "rollback"]) == 1
    assert "nothing to roll back to" in capsys.readouterr().err
    assert registry.read().serving_ref == "" and registry.read().version == 4
    # No evaluation data at all (minilm has no training.json): refused, unless forced.
    assert cli(["model", "promote", "minilm", "--no-warm"]) == 2 and "--data" in capsys.readouterr().err
    assert cli(["model", "promote", "minilm", "--no-warm", "--force"]) == 0
    assert "--force: promoting without a comparison" in capsys.readouterr().out
    state = registry.read()
    assert state.serving_ref == "minilm" and state.serving is not None and "unmeasured" in state.serving.metrics


def test_ab_command_starts_and_stops_a_test(env: dict[str, str], models: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["model", "ab", "random", "--share", "0.2", "--experiment", "exp-1"]) == 0
    assert "exp-1: random for 20% of customers, default for the rest" in capsys.readouterr().out
    assert ModelRegistry(models).read().ab is not None
    assert cli(["model", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["ab"]["candidate"] == "random" and status["ab"]["share"] == 0.2
    assert status["serving_model"] == "default"
    assert cli(["model", "ab", "--stop"]) == 0 and ModelRegistry(models).read().ab is None
    capsys.readouterr()
    assert cli(["model", "ab", "--stop"]) == 1 and "no A/B test is running" in capsys.readouterr().err
    assert cli(["model", "ab", "../random"]) == 2
    assert cli(["model", "ab", "random", "--share", "1.5"]) == 1 and "--share" in capsys.readouterr().err
    assert cli(["model", "ab", "default"]) == 1 and "serving model already" in capsys.readouterr().err


# -- hot swaps ------------------------------------------------------------------------------


async def test_the_router_swaps_models_while_answers_keep_flowing(catalog: Catalog, models: Path) -> None:
    router = router_for(catalog, models, delay={"random": 0.5}, poll_s=0.05)
    assert router.serving == "default"
    server = await Server(make_app(router)).start()
    await router.start()
    answers: list[list[tuple[float, int, str]]] = [[], [], []]  # per customer: answered, status, model
    stop = asyncio.Event()

    async def customer(mine: list[tuple[float, int, str]]) -> None:
        async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
            while not stop.is_set():
                response = await client.post("/v1/recommend", json={"text": "footwear for jogging", "limit": 3})
                named = {h["model"] for h in response.json().get("hits", [])}
                mine.append((time.monotonic(), response.status_code, ",".join(sorted(named))))

    try:
        customers = [asyncio.create_task(customer(mine)) for mine in answers]
        await asyncio.sleep(0.2)
        promoted = time.monotonic()
        ModelRegistry(models).promote("random", {})
        deadline = time.monotonic() + 20
        while router.serving != "random" and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*customers)
    finally:
        await router.stop()
        await server.stop()
    assert router.serving == "random"
    for mine in answers:
        assert {status for _, status, _ in mine} == {200}
        named = [model for _, _, model in mine]
        switch = named.index("random")  # each customer: the old model's answers, then the new one's
        assert set(named[:switch]) == {"default"} and set(named[switch:]) == {"random"}
        # While the new model loaded (half a second), the old one kept answering.
        assert len([at for at, _, model in mine if at > promoted and model == "default"]) > 2


async def test_a_model_that_fails_to_load_or_a_bad_registry_keeps_the_old_one(
        catalog: Catalog, models: Path, caplog: pytest.LogCaptureFixture) -> None:
    router = router_for(catalog, models, fail={"random"}, poll_s=0)
    registry = ModelRegistry(models)
    request = SearchRequest(text="footwear for jogging", limit=3)
    failed, bad = loads("failed"), loads("bad_registry")
    registry.promote("random", {})
    assert await router.check() is False
    assert loads("failed") == failed + 1 and router.serving == "default"
    assert "model random could not be loaded" in caplog.text
    assert {h.model for h in await router.search(request)} == {"default"}
    registry.path.write_text("{broken")
    assert await router.check() is False
    assert loads("bad_registry") == bad + 1 and "not valid JSON" in caplog.text
    assert await router.check() is False and loads("bad_registry") == bad + 1  # unchanged file: not re-read
    registry.path.write_text(json.dumps({"version": 9, "serving": {"ref": "gone"}}))  # edited by hand
    assert await router.check() is False and loads("failed") == failed + 2
    assert {h.model for h in await router.search(request)} == {"default"}
    registry.path.write_text(json.dumps({"version": 10, "serving": {"ref": "minilm"}}))
    assert await router.check() is True and router.serving == "minilm"
    assert {h.model for h in await router.search(request)} == {"minilm"}
    # A process starting on a registry it cannot use serves the default model.
    registry.path.write_text(json.dumps({"version": 11, "serving": {"ref": "random"}}))
    assert router_for(catalog, models, fail={"random"}, poll_s=0).serving == "default"


async def test_no_registry_serves_the_configured_model_as_before(catalog: Catalog, models: Path) -> None:
    router = router_for(catalog, models, poll_s=0.01)
    await router.start()
    try:
        hits = await router.search(SearchRequest(text="footwear for jogging", limit=5))
        plain = lexical_base(Settings(), catalog, "hybrid").with_dense(loader(catalog, models.parent / "vectors")(None))
        expected = await plain.search(SearchRequest(text="footwear for jogging", limit=5))
        assert [h.product.id for h in hits] == [h.product.id for h in expected]
        assert {h.model for h in hits} == {"default"} and {h.model for h in expected} == {""}
        await asyncio.sleep(0.05)
        assert router.serving == "default" and not (models / "registry.json").exists()
    finally:
        await router.stop()


# -- A/B tests ------------------------------------------------------------------------------


async def test_ab_split_is_stable_per_user_and_near_the_share(catalog: Catalog, models: Path) -> None:
    ModelRegistry(models).start_ab("random", 0.5, "exp-half")
    router = router_for(catalog, models, poll_s=0)
    assert router.serving == "default" and router.candidate == "random"
    keys = [user_ref(f"telegram:{n}") for n in range(1000)]
    arms = [router.model_for(SearchRequest(user_key=k)) for k in keys]
    assert 450 <= arms.count("random") <= 550
    assert arms == [router.model_for(SearchRequest(user_key=k)) for k in keys]  # stable
    assert router.model_for(SearchRequest()) == "default"  # no key (evaluation): the serving model
    for key, arm in list(zip(keys, arms))[:6]:
        hits = await router.search(SearchRequest(text="footwear for jogging", user_key=key))
        assert hits and {h.model for h in hits} == {arm}
    # Another experiment reshuffles; a smaller share takes a subset of the same users.
    other = [ab_bucket("exp-other", k) < 0.5 for k in keys]
    assert other != [arm == "random" for arm in arms]
    ModelRegistry(models).start_ab("random", 0.1, "exp-half")
    await router.check()
    tenth = [router.model_for(SearchRequest(user_key=k)) for k in keys]
    assert 60 <= tenth.count("random") <= 140
    assert all(arm == "random" for arm, small in zip(arms, tenth) if small == "random")
    ModelRegistry(models).stop_ab()
    await router.check()
    assert router.candidate is None and {router.model_for(SearchRequest(user_key=k)) for k in keys} == {"default"}


async def test_shown_events_name_the_model_of_each_customers_arm(
        catalog: Catalog, models: Path, settings: Settings) -> None:
    ModelRegistry(models).start_ab("random", 0.5, "exp-dialogue")
    router = router_for(catalog, models, poll_s=0)
    app = build_app(settings, recommender=router)
    await app.start()
    arm_of = {f"shopper{n}": router.model_for(SearchRequest(user_key=user_ref(f"test:shopper{n}")))
              for n in range(40)}
    users = ([u for u, arm in arm_of.items() if arm == "default"][:4]
             + [u for u, arm in arm_of.items() if arm == "random"][:4])  # both arms take part
    try:
        expected = {}
        for user in users:
            chat = Chat(app, user=user)
            await chat.say("running shoes")
            assert chat.products()
            await chat.say("I like the first one")
            expected[f"test:{user}"] = arm_of[user]
        events = await read_events(app.redis, f"{settings.key_prefix}:events")
    finally:
        await app.stop()
    shown = [e for e in events if e.type == "shown"]
    assert len(shown) == 8
    assert {e.user: e.data["model"] for e in shown} == expected
    assert all(user not in json.dumps(e.data) for e in events for user in expected)  # no raw ids in the data
    rows, seen = candidates_from_events(events, __import__("collections").Counter())
    assert seen["shown"] == 8 and len([r for r in rows if r.grade == 1.0]) == 8  # export still reads them
    # The report a shop decides the test on: each arm showed 4 lists to 4 customers, each liked.
    parser = argparse.ArgumentParser()
    model_commands.add_arguments(parser)
    out = io.StringIO()
    environ = {"REDIS_URL": settings.redis_url or "", "DAOGOU_KEY_PREFIX": settings.key_prefix,
               "DAOGOU_MODELS_DIR": str(models)}
    args = parser.parse_args(["ab", "--report", "--json"])
    assert await asyncio.to_thread(model_commands.run, args, environ=environ, out=out) == 0
    found = json.loads(out.getvalue())
    assert [(a["model"], a["customers"], a["lists"], a["liked"], a["engaged"], a["engagement"])
            for a in found["arms"]] == [("default", 4, 4, 4, 4, 1.0), ("random", 4, 4, 4, 4, 1.0)]
    assert "test" not in found and found["since"]  # both arms at 100%: no spread to test against


# -- the wire -------------------------------------------------------------------------------


async def test_user_key_and_model_cross_the_wire(catalog: Catalog, models: Path) -> None:
    request = SearchRequest(text="footwear for jogging", user_key="u_0123456789ab")
    assert parse_request(json.loads(json.dumps(request_to_dict(request)))) == request
    hit = Hit(catalog.products[0], 0.5, ("a",), (), model="random")
    assert hit_to_dict(hit)["model"] == "random"
    ModelRegistry(models).start_ab("random", 0.5, "exp-wire")
    router = router_for(catalog, models, poll_s=0)
    server = await Server(make_app(router)).start()
    remote = RemoteRecommender(server.url, catalog, lexical_base(Settings(), catalog, "hybrid"))
    await remote.start()
    try:
        for n in range(6):
            key = user_ref(f"web:{n}")
            hits = await remote.search(SearchRequest(text="footwear for jogging", user_key=key))
            assert hits and {h.model for h in hits} == {router.model_for(SearchRequest(user_key=key))}
        async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
            metrics = (await client.get("/metrics")).text
        assert "daogou_model_loads_total" in metrics and "daogou_model_registry_version" in metrics
    finally:
        await remote.stop()
        await server.stop()


# -- the command ----------------------------------------------------------------------------


@pytest.fixture
def service(env: dict[str, str], models: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bots.cli", "serve", "recommender", "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT, env={**os.environ, "DAOGOU_MODEL_POLL_S": "0.1", "DAOGOU_LOG_LEVEL": "WARNING"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line + (proc.stderr.read() if proc.stderr else "")
        yield proc, line.split()[-1]
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(20)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.slow
async def test_serve_recommender_picks_up_a_promotion_without_a_restart(
        service: tuple[subprocess.Popen[str], str], models: Path) -> None:
    proc, url = service
    async with httpx.AsyncClient(base_url=url, trust_env=False) as client:

        async def models_named() -> set[str]:
            response = await client.post("/v1/recommend", json={"text": "footwear for jogging", "limit": 3})
            assert response.status_code == 200
            return {h["model"] for h in response.json()["hits"]}

        assert await models_named() == {"default"}
        ModelRegistry(models).promote("random", {})
        deadline = time.monotonic() + 30
        named = await models_named()
        while named != {"random"} and time.monotonic() < deadline:
            named = await models_named()  # every answer in between comes from one model or the other
            assert named in ({"default"}, {"random"})
            await asyncio.sleep(0.05)
        assert named == {"random"}
        (models / "registry.json").write_text("{oops")  # a broken registry: the service keeps serving
        counted = 'daogou_model_loads_total{result="bad_registry"} 1.0'
        deadline = time.monotonic() + 30
        while counted not in (await client.get("/metrics")).text and time.monotonic() < deadline:
            assert await models_named() == {"random"}
            await asyncio.sleep(0.05)
        assert counted in (await client.get("/metrics")).text
        assert await models_named() == {"random"}
    proc.terminate()
    assert await asyncio.to_thread(proc.wait, 20) == 0
