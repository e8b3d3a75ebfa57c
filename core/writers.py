"""Who writes the "why it fits" sentence of each recommended product.

The policy builds one ``Pick`` per product it shows, with the reason the template writer
made from the facts that matched (``core.wording.reason``), and asks the configured
``Writer`` for the sentences.  Three writers share the interface:

- ``TemplateWriter`` (the default) returns the template reasons unchanged;
- ``LocalLMWriter`` (``core.llm_writers``) asks a causal LM loaded from a local directory;
- ``OpenAIWriter`` (``core.llm_writers``) asks any OpenAI-compatible endpoint (vLLM, TGI,
  Ollama, llama.cpp server).

The model writers check every sentence with ``core.grounding`` and fall back to the
template reason, product by product, when a sentence fails or the model is slow or down:
a writer never raises for a model's misbehaviour, and a customer never waits on it for
more than the writer's timeout.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from core.catalog import Catalog, Product

if TYPE_CHECKING:
    import httpx

KINDS = ("template", "local", "openai")


@dataclass(frozen=True)
class Pick:
    """One product in a result list, as the writer sees it.

    ``position`` is its 1-based place in the list; ``matched_features`` and
    ``matched_terms`` are what the recommender matched (``Hit``); ``template_reason`` is the
    reason ``core.wording.reason`` made from those facts, used as is or as the fallback.
    """

    position: int
    product: Product
    matched_features: tuple[str, ...]
    matched_terms: tuple[str, ...]
    template_reason: str


class Writer(Protocol):
    """Writes one reason per pick.  The policy calls ``write`` once per result list it shows;
    the app calls ``start`` once before the first turn and ``stop`` once at shutdown.
    Implementations must be safe to call concurrently and must not raise for a model's
    failure: they return the template reasons instead."""

    async def write(self, picks: list[Pick], *, lang: str, need: str) -> list[str]:
        """One reason per pick, in the same order, in ``lang`` ("zh" or "en").  ``need`` is the
        customer's need in their words ("适合运动的蓝牙耳机"), possibly empty."""
        ...

    async def start(self) -> None:
        """Load a model or open an HTTP client.  Default: nothing to open."""
        return None  # noqa: RET501 -- a body, so that mypy sees a default and not an abstract method

    async def stop(self) -> None:
        """Release what ``start`` opened.  Default: nothing to close."""
        return None  # noqa: RET501


@dataclass
class WriterStats:
    """Counters for metrics: how often the model was asked, and what came of it.

    ``fallbacks`` counts lists that got only template reasons because the model could not
    answer (``timeout``: no answer in time, workers busy included; ``error``: anything else); ``rejected`` counts single reasons replaced
    by their template, by grounding code (``core.grounding.CODES``, plus ``missing`` for a
    product the answer left out).  Mutated only on the event loop.
    """

    requests: int = 0
    accepted: int = 0
    fallbacks: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)


class TemplateWriter(Writer):
    """The default writer, and every model writer's fallback: the template reasons as they are."""

    def __init__(self) -> None:
        self.stats = WriterStats()

    async def write(self, picks: list[Pick], *, lang: str, need: str) -> list[str]:
        return [pick.template_reason for pick in picks]


def build_writer(
    kind: str = "template",
    *,
    catalog: Catalog | None = None,
    model_dir: str | None = None,
    url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    timeout_s: float = 10.0,
    max_tokens: int = 256,
    workers: int = 1,
    device: str = "auto",
    transport: httpx.AsyncBaseTransport | None = None,
) -> Writer:
    """Build the writer named by ``kind`` (DAOGOU_WRITER): "template", "local" or "openai".

    Options a kind does not use are ignored, so the app can pass every setting.  "local"
    needs ``model_dir``; "openai" needs ``url`` (the base URL ending before
    ``/chat/completions``, e.g. ``http://vllm:8000/v1``) and ``model``; both need the
    ``catalog`` the grounding check reads.  Raises ValueError naming what is missing.
    """
    kind = kind.strip().lower()
    if kind == "template":
        return TemplateWriter()
    if kind not in KINDS:
        raise ValueError(f"unknown writer {kind!r}; expected one of {', '.join(KINDS)}")
    if catalog is None:
        raise ValueError(f"the {kind} writer needs the catalog to check what the model writes")
    if timeout_s <= 0 or max_tokens <= 0:
        raise ValueError("the writer's timeout and max tokens must be > 0")
    from core import llm_writers  # torch and transformers load only when a model writer is used

    options: dict[str, Any] = {"catalog": catalog, "timeout_s": timeout_s, "max_tokens": max_tokens}
    if kind == "local":
        if not model_dir:
            raise ValueError("the local writer needs a model directory (DAOGOU_WRITER_MODEL_DIR)")
        return llm_writers.LocalLMWriter(model_dir, workers=workers, device=device, **options)
    if not url:
        raise ValueError("the openai writer needs a base URL (DAOGOU_WRITER_URL)")
    if not model:
        raise ValueError("the openai writer needs a model name (DAOGOU_WRITER_MODEL)")
    return llm_writers.OpenAIWriter(url, model=model, api_key=api_key, transport=transport, **options)
