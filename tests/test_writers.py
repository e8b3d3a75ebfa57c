"""Writers: the template writer, a tiny local causal LM, and an OpenAI-compatible endpoint
(a stand-in server on 127.0.0.1 that records requests).  Whatever a model writes passes the
grounding check or the customer gets the template reason; a model that fails never fails
the turn."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from core import wording
from core.catalog import Catalog, Product
from core.llm_writers import LocalLMWriter, OpenAIWriter, build_messages, parse_lines
from core.writers import Pick, TemplateWriter, build_writer

ROWS = [
    {"id": "s1", "title": "Sony WF-C510 True Wireless Earbuds", "price": 399, "brand": "Sony",
     "category": "Electronics > Headphones", "category_zh": "耳机", "title_zh": "索尼 WF-C510 真无线蓝牙耳机",
     "description": "Bluetooth 5.3 earbuds, IPX4 waterproof, stays put during gym workouts, lightweight at 4.6 g.",
     "description_zh": "蓝牙5.3真无线耳机，IPX4防水，适合健身房运动，轻量设计。",
     "attributes": {"bluetooth": "5.3", "waterproof": "IPX4", "weight": "4.6 g"},
     "features": ["wireless", "waterproof", "sport", "lightweight"]},
    {"id": "z1", "title": "Shokz OpenRun Pro 2 Open-Ear Headphones", "price": 1299, "brand": "Shokz",
     "category": "Electronics > Headphones", "category_zh": "耳机", "title_zh": "韶音 OpenRun Pro 2 骨传导运动耳机",
     "description": "Bone conduction open-ear headphones for running, IP55 sweat-proof.",
     "description_zh": "骨传导开放式耳机，适合跑步，IP55防汗。",
     "attributes": {"battery": "12 h", "waterproof": "IP55"},
     "features": ["wireless", "open_ear", "running", "sport", "waterproof"]},
    {"id": "b1", "title": "Bose QuietComfort Ultra Earbuds", "price": 1999, "brand": "Bose",
     "category": "Electronics > Headphones", "description": "Wireless noise cancelling earbuds.",
     "features": ["wireless", "noise_cancelling"]},
]
NEED_ZH = "适合运动的蓝牙耳机，1500元以内"
NEED_EN = "bluetooth earbuds for sport under 1500"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog([Product.from_dict(row) for row in ROWS])


def picks(catalog: Catalog, lang: str, ids: tuple[str, ...] = ("s1", "z1")) -> list[Pick]:
    """The picks the policy would build: template reasons from the facts that matched."""
    result = []
    for position, pid in enumerate(ids, 1):
        product = catalog.get(pid)
        assert product is not None
        features = tuple(f for f in ("wireless", "sport") if f in product.features)
        reason = wording.reason(product, lang, features=list(features), terms=[], price_min=None,
                                price_max=1500, brands=[])
        result.append(Pick(position, product, features, ("蓝牙",) if lang == "zh" else ("bluetooth",), reason))
    return result


def templates(items: list[Pick]) -> list[str]:
    return [p.template_reason for p in items]


GOOD_EN = ("1. Light and waterproof, the Sony WF-C510 stays put during gym workouts for ¥399.\n"
           "2. Open-ear bone conduction for running, sweat-proof, at ¥1,299.")
GOOD_ZH = "1. 索尼 WF-C510 轻巧防水，适合健身房运动，只要399元。\n2. 韶音骨传导开放式设计，跑步时防汗，售价1,299元。"


# --- the template writer and the factory ---------------------------------------------------

async def test_template_writer_returns_the_template_reasons(catalog: Catalog) -> None:
    writer = build_writer("template")
    assert isinstance(writer, TemplateWriter)
    await writer.start()
    items = picks(catalog, "zh")
    assert await writer.write(items, lang="zh", need=NEED_ZH) == templates(items)
    assert templates(items)[0].startswith("无线")  # the template reason is real text, not empty
    await writer.stop()


def test_build_writer_names_what_is_missing(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="unknown writer"):
        build_writer("gpt")
    with pytest.raises(ValueError, match="catalog"):
        build_writer("openai", url="http://127.0.0.1:1/v1", model="m")
    with pytest.raises(ValueError, match="DAOGOU_WRITER_MODEL_DIR"):
        build_writer("local", catalog=catalog)
    with pytest.raises(ValueError, match="DAOGOU_WRITER_URL"):
        build_writer("openai", catalog=catalog, model="m")
    with pytest.raises(ValueError, match="DAOGOU_WRITER_MODEL"):
        build_writer("openai", catalog=catalog, url="http://127.0.0.1:1/v1")
    writer = build_writer("OpenAI", catalog=catalog, url="http://127.0.0.1:1/v1", model="m", model_dir="ignored")
    assert isinstance(writer, OpenAIWriter)


async def test_a_model_writer_must_be_started(catalog: Catalog) -> None:
    writer = build_writer("openai", catalog=catalog, url="http://127.0.0.1:1/v1", model="m")
    with pytest.raises(RuntimeError, match="before start"):
        await writer.write(picks(catalog, "en"), lang="en", need=NEED_EN)


# --- the prompt and the answer's parsing ----------------------------------------------------

def test_the_prompt_is_a_fact_sheet_in_the_customers_language(catalog: Catalog) -> None:
    system, user = build_messages(picks(catalog, "zh"), lang="zh", need=NEED_ZH)
    assert system["role"] == "system" and "只能使用" in system["content"]
    assert user["role"] == "user"
    text = user["content"]
    for fact in (NEED_ZH, "1. 索尼 WF-C510 真无线蓝牙耳机", "品牌: Sony", "¥399 (CNY)", "2. 韶音 OpenRun Pro 2",
                 "¥1,299 (CNY)", "无线, 适合运动", "waterproof: IPX4", "请写2行"):
        assert fact in text
    system, user = build_messages(picks(catalog, "en"), lang="en", need="")
    assert "ONLY the facts" in system["content"]
    assert "(not stated)" in user["content"] and "Shokz OpenRun Pro 2 Open-Ear Headphones" in user["content"]


def test_parse_lines_reads_one_numbered_line_per_product() -> None:
    answer = "<think>the customer wants…</think>\nSure!\n1. First.\n**2.** Second\n2. Again\n7. Out of range"
    assert parse_lines(answer, 3) == ["First.", "Second", None]
    assert parse_lines("1) 第一\n2、第二", 2) == ["第一", "第二"]
    assert parse_lines("1. **Sony WF-C510**: light.", 1) == ["Sony WF-C510: light."]
    assert parse_lines("\"Just one sentence.\"", 1) == ["Just one sentence."]
    assert parse_lines("Just one.\nAnd another.", 1) == [None]
    assert parse_lines("", 2) == [None, None]


# --- a tiny local causal LM -------------------------------------------------------------------

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama with hidden size 32 and random weights, and a byte-level BPE tokenizer
    with a chat template, saved the way a real model directory is."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    path = tmp_path_factory.mktemp("tiny-lm")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<s>", "</s>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator([GOOD_EN, GOOD_ZH, NEED_ZH, NEED_EN, CHAT_TEMPLATE], trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(path)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    return path


@pytest.fixture
async def local_writer(tiny_model_dir: Path, catalog: Catalog) -> AsyncIterator[LocalLMWriter]:
    writer = build_writer("local", catalog=catalog, model_dir=str(tiny_model_dir), timeout_s=30, max_tokens=24,
                          device="cpu")
    assert isinstance(writer, LocalLMWriter)
    await writer.start()
    yield writer
    await writer.stop()


def fake_generate(writer: LocalLMWriter, answer: str, calls: list[dict[str, Any]], delay: float = 0.0) -> Any:
    """A stand-in for ``model.generate`` that returns the prompt followed by ``answer``."""
    import torch

    tokenizer = writer._tokenizer

    def generate(input_ids: Any, attention_mask: Any = None, generation_config: Any = None, **kw: Any) -> Any:
        calls.append({"thread": threading.get_ident(), "prompt": tokenizer.decode(input_ids[0]),
                      "config": generation_config})
        time.sleep(delay)
        answer_ids = tokenizer(answer, add_special_tokens=False, return_tensors="pt").input_ids
        return torch.cat([input_ids, answer_ids], dim=1)

    return generate


@pytest.mark.slow
async def test_random_weights_write_garbage_and_the_template_reasons_come_back(
    local_writer: LocalLMWriter, catalog: Catalog,
) -> None:
    for lang, need in (("zh", NEED_ZH), ("en", NEED_EN)):
        items = picks(catalog, lang)
        assert await local_writer.write(items, lang=lang, need=need) == templates(items)
    stats = local_writer.stats
    assert stats.requests == 2 and not stats.fallbacks  # the model did answer...
    assert stats.accepted == 0 and sum(stats.rejected.values()) == 4  # ...and every line was refused


@pytest.mark.slow
async def test_numbered_garbage_is_refused_by_the_grounding_check(
    local_writer: LocalLMWriter, catalog: Catalog, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The random model's real output, dressed as a well-formed answer, still never reaches a customer.
    items = picks(catalog, "zh")
    raw = local_writer._generate(build_messages(items, lang="zh", need=NEED_ZH))
    garbage = " ".join(raw.split())
    assert garbage

    async def complete(messages: list[dict[str, str]]) -> str:
        return f"1. {garbage}\n2. {garbage}"

    monkeypatch.setattr(local_writer, "_complete", complete)
    for lang in ("zh", "en"):
        items = picks(catalog, lang)
        assert await local_writer.write(items, lang=lang, need="") == templates(items)
    assert local_writer.stats.accepted == 0
    assert sum(local_writer.stats.rejected.values()) == 4 and "missing" not in local_writer.stats.rejected


@pytest.mark.slow
async def test_a_grounded_answer_from_the_local_model_is_accepted(
    local_writer: LocalLMWriter, catalog: Catalog, monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(local_writer._model, "generate", fake_generate(local_writer, GOOD_ZH, calls))
    reasons = await local_writer.write(picks(catalog, "zh"), lang="zh", need=NEED_ZH)
    assert reasons == ["索尼 WF-C510 轻巧防水，适合健身房运动，只要399元。", "韶音骨传导开放式设计，跑步时防汗，售价1,299元。"]
    assert local_writer.stats.accepted == 2
    [call] = calls
    assert call["thread"] != threading.get_ident()  # generation ran off the event loop
    assert call["prompt"].startswith("<|system|>") and call["prompt"].endswith("<|assistant|>\n")
    assert "¥1,299 (CNY)" in call["prompt"]
    config = call["config"]
    assert config.do_sample is False and config.max_new_tokens == 24


@pytest.mark.slow
async def test_a_chat_template_without_a_system_turn_gets_the_rules_in_the_user_turn(
    tiny_model_dir: Path, tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch,
) -> None:
    model_dir = tmp_path / "no-system"
    shutil.copytree(tiny_model_dir, model_dir)
    (model_dir / "chat_template.jinja").write_text(
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
        + CHAT_TEMPLATE, encoding="utf-8")
    writer = LocalLMWriter(str(model_dir), catalog=catalog, timeout_s=30, max_tokens=24, device="cpu")
    await writer.start()
    try:
        calls: list[dict[str, Any]] = []
        monkeypatch.setattr(writer._model, "generate", fake_generate(writer, GOOD_EN, calls))
        reasons = await writer.write(picks(catalog, "en"), lang="en", need=NEED_EN)
        assert writer.stats.accepted == 2 and reasons[1] == "Open-ear bone conduction for running, sweat-proof, at ¥1,299."
        assert calls[0]["prompt"].startswith("<|user|>\nYou are a shopping guide")
    finally:
        await writer.stop()


@pytest.mark.slow
async def test_one_ungrounded_line_costs_only_its_own_product(
    local_writer: LocalLMWriter, catalog: Catalog, monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer = "1. Light and waterproof for gym workouts at ¥399.\n2. Open-ear and sweat-proof, only ¥1!"
    monkeypatch.setattr(local_writer._model, "generate", fake_generate(local_writer, answer, []))
    items = picks(catalog, "en")
    reasons = await local_writer.write(items, lang="en", need=NEED_EN)
    assert reasons == ["Light and waterproof for gym workouts at ¥399.", items[1].template_reason]
    assert local_writer.stats.rejected == {"price": 1}


@pytest.mark.slow
async def test_a_slow_local_model_times_out_without_blocking_the_loop(
    tiny_model_dir: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch,
) -> None:
    writer = LocalLMWriter(str(tiny_model_dir), catalog=catalog, timeout_s=0.3, max_tokens=24, device="cpu")
    await writer.start()
    try:
        monkeypatch.setattr(writer._model, "generate", fake_generate(writer, GOOD_EN, [], delay=1.5))
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        items = picks(catalog, "en")
        reasons = await writer.write(items, lang="en", need=NEED_EN)
        ticker.cancel()
        assert reasons == templates(items)
        assert writer.stats.fallbacks == {"timeout": 1}
        assert ticks >= 5  # the loop kept running while the model "generated"
    finally:
        await writer.stop()


# --- an OpenAI-compatible endpoint ------------------------------------------------------------

class StandIn:
    """A chat-completions server on 127.0.0.1 that records requests and answers as told."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answer = ""
        self.status = 200
        self.delay = 0.0
        self.raw: str | None = None
        self.release = asyncio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append({"path": request.path, "headers": dict(request.headers), "body": await request.json()})
        if self.delay:
            try:
                await asyncio.wait_for(self.release.wait(), self.delay)
            except TimeoutError:
                pass
        if self.status != 200:
            return web.json_response({"error": {"message": "model crashed"}}, status=self.status)
        if self.raw is not None:
            return web.Response(text=self.raw, content_type="application/json")
        return web.json_response({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "tiny-chat",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": self.answer}}],
        })


@pytest.fixture
async def stand_in() -> AsyncIterator[StandIn]:
    server = StandIn()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.url = f"http://{host}:{port}/v1"
    yield server
    server.release.set()
    await runner.cleanup()


@pytest.fixture
async def openai_writer(stand_in: StandIn, catalog: Catalog) -> AsyncIterator[OpenAIWriter]:
    writer = build_writer("openai", catalog=catalog, url=stand_in.url, model="tiny-chat", api_key="sk-test",
                          timeout_s=5, max_tokens=200)
    assert isinstance(writer, OpenAIWriter)
    await writer.start()
    yield writer
    await writer.stop()


async def test_a_grounded_answer_from_the_endpoint_is_accepted(
    openai_writer: OpenAIWriter, stand_in: StandIn, catalog: Catalog,
) -> None:
    stand_in.answer = GOOD_EN
    reasons = await openai_writer.write(picks(catalog, "en"), lang="en", need=NEED_EN)
    assert reasons == ["Light and waterproof, the Sony WF-C510 stays put during gym workouts for ¥399.",
                       "Open-ear bone conduction for running, sweat-proof, at ¥1,299."]
    [request] = stand_in.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    body = request["body"]
    assert body["model"] == "tiny-chat" and body["temperature"] == 0.2 and body["max_tokens"] == 200
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert NEED_EN in body["messages"][1]["content"]


async def test_a_chinese_answer_to_a_chinese_request_is_accepted(
    openai_writer: OpenAIWriter, stand_in: StandIn, catalog: Catalog,
) -> None:
    stand_in.answer = GOOD_ZH
    reasons = await openai_writer.write(picks(catalog, "zh"), lang="zh", need=NEED_ZH)
    assert reasons[0] == "索尼 WF-C510 轻巧防水，适合健身房运动，只要399元。"
    assert openai_writer.stats.accepted == 2


@pytest.mark.parametrize(("lang", "answer", "code"), [
    # a product that is not in the list (another catalog product's brand and model)
    ("en", "1. Quieter than the Bose QuietComfort Ultra, and waterproof.\n2. Open-ear for running, ¥1,299.", "other_product"),
    ("en", "1. Waterproof gym earbuds, only ¥1!\n2. Open-ear for running, ¥1,299.", "price"),
    ("en", "1. 轻巧防水，适合健身房运动。\n2. Open-ear for running, ¥1,299.", "language"),
    ("zh", "1. Light and waterproof for the gym.\n2. 韶音骨传导，适合跑步。", "language"),
    ("en", "1. Waterproof, with noise cancelling for the commute.\n2. Open-ear for running, ¥1,299.", "feature"),
])
async def test_an_ungrounded_line_from_the_endpoint_gets_the_template(
    openai_writer: OpenAIWriter, stand_in: StandIn, catalog: Catalog, lang: str, answer: str, code: str,
) -> None:
    stand_in.answer = answer
    items = picks(catalog, lang)
    reasons = await openai_writer.write(items, lang=lang, need=NEED_ZH if lang == "zh" else NEED_EN)
    assert reasons[0] == items[0].template_reason
    assert reasons[1] == answer.splitlines()[1][3:]
    assert openai_writer.stats.rejected == {code: 1}


async def test_the_customers_budget_may_be_repeated(
    openai_writer: OpenAIWriter, stand_in: StandIn, catalog: Catalog,
) -> None:
    stand_in.answer = "1. 防水轻巧，在1500元预算内。\n2. 骨传导开放式，跑步时防汗。"
    reasons = await openai_writer.write(picks(catalog, "zh"), lang="zh", need=NEED_ZH)
    assert reasons[0] == "防水轻巧，在1500元预算内。"


@pytest.mark.parametrize(("setup", "why"), [
    ({"status": 500}, "error"),
    ({"status": 429}, "error"),
    ({"raw": "{not json"}, "error"),
    ({"raw": json.dumps({"choices": []})}, "error"),
    ({"answer": "Sorry, I can't help with that."}, None),
])
async def test_a_failing_endpoint_gets_the_templates_without_an_exception(
    openai_writer: OpenAIWriter, stand_in: StandIn, catalog: Catalog, setup: dict[str, Any], why: str | None,
) -> None:
    for key, value in setup.items():
        setattr(stand_in, key, value)
    items = picks(catalog, "en")
    assert await openai_writer.write(items, lang="en", need=NEED_EN) == templates(items)
    if why:
        assert openai_writer.stats.fallbacks == {why: 1}
    else:  # an answer without numbered lines: every product's line is missing
        assert openai_writer.stats.rejected == {"missing": 2}


async def test_a_slow_endpoint_times_out_to_the_templates(stand_in: StandIn, catalog: Catalog) -> None:
    stand_in.delay = 30
    writer = build_writer("openai", catalog=catalog, url=stand_in.url, model="tiny-chat", timeout_s=0.3)
    await writer.start()
    try:
        items = picks(catalog, "en")
        assert await writer.write(items, lang="en", need=NEED_EN) == templates(items)
        assert writer.stats.fallbacks == {"timeout": 1}  # type: ignore[attr-defined]
        assert "Authorization" not in stand_in.requests[0]["headers"]
    finally:
        await writer.stop()


async def test_an_unreachable_endpoint_gets_the_templates(catalog: Catalog) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    writer = build_writer("openai", catalog=catalog, url=f"http://127.0.0.1:{port}/v1", model="m")
    await writer.start()
    try:
        items = picks(catalog, "zh")
        assert await writer.write(items, lang="zh", need=NEED_ZH) == templates(items)
        assert writer.stats.fallbacks == {"error": 1}  # type: ignore[attr-defined]
    finally:
        await writer.stop()
