"""The on-disk cache of product vectors, so a restart encodes only what changed.

Layout: ``<cache_dir>/<encoder fingerprint>/vectors.npz`` holding ``keys`` (the sha1 of
each passage text) and ``vectors`` (float32, one row per key), plus ``meta.json`` for
people.  One file holds both arrays so that it can be replaced atomically (written to a
temporary file, then renamed): two processes starting at once both encode and the last
writer wins; a reader never sees a torn or mismatched pair.  A file that cannot be read
is logged and treated as empty.  Rows no product uses any more are kept (the newest first,
up to KEEP_STALE), so that switching between catalogs on one machine (the shop's, an
evaluation set's, the demo) does not encode each again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

from core.catalog import Product

log = logging.getLogger(__name__)

CACHE_FILE = "vectors.npz"
KEEP_STALE = 100_000  # rows of other catalogs kept: 150 MB at 384 dimensions
_CHUNK = 8192


class PassageEncoder(Protocol):
    """What the cache needs of an encoder (``core.encoder.TransformerEncoder`` has it)."""

    @property
    def fingerprint(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray: ...


def passage_text(product: Product) -> str:
    """What the encoder reads for a product: English title, brand, category, description."""
    return ". ".join(part for part in (product.title, product.brand, product.category, product.description) if part)


def bilingual_passage_text(product: Product) -> str:
    """Both languages, for multilingual encoders: the Chinese title, category and description
    join the English ones; the descriptions come last, since truncation cuts from the end."""
    parts = (product.title, product.title_zh, product.brand, product.category, product.category_zh,
             product.description, product.description_zh)
    return ". ".join(part for part in parts if part)


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CacheStats:
    """What a load did: ``reused`` rows came from the cache, ``encoded`` were computed
    (unique texts); of the cached rows no product uses any more, ``stale`` stay in the
    cache and ``dropped`` were removed from it."""

    products: int
    reused: int
    encoded: int
    dropped: int
    seconds: float
    path: Path
    stale: int = 0


class LoadResult(NamedTuple):
    vectors: np.ndarray
    stats: CacheStats


def load_or_encode(
    products: Sequence[Product],
    encoder: PassageEncoder,
    cache_dir: str | Path,
    *,
    text_of: Callable[[Product], str] = passage_text,
    batch_size: int = 64,
    keep_stale: int = KEEP_STALE,
) -> LoadResult:
    """Vectors for ``products`` (float32, (len(products), dim), rows in product order).

    Rows whose passage text is cached under this encoder's fingerprint are reused; the
    rest are encoded and the cache is rewritten to hold the current texts, then up to
    ``keep_stale`` of the rows no product uses now (those written most recently first).
    Called once at start (or catalog reload), from a worker thread: encoding blocks.
    """
    started = time.perf_counter()
    path = Path(cache_dir) / encoder.fingerprint / CACHE_FILE
    keys = [text_key(text_of(p)) for p in products]
    cached_keys, cached = _read(path, encoder.dim)
    row_of = {key: i for i, key in enumerate(cached_keys)}

    missing: dict[str, str] = {}  # key -> text, unique
    for product, key in zip(products, keys):
        if key not in row_of and key not in missing:
            missing[key] = text_of(product)
    fresh = _encode(encoder, list(missing.values()), batch_size)
    fresh_row = {key: i for i, key in enumerate(missing)}

    vectors = np.empty((len(products), encoder.dim), dtype=np.float32)
    source = np.fromiter((row_of.get(key, -1) for key in keys), dtype=np.int64, count=len(keys))
    hit = source >= 0
    vectors[hit] = cached[source[hit]]
    vectors[~hit] = fresh[[fresh_row[key] for key, found in zip(keys, hit) if not found]]

    wanted = set(keys)
    stale = [i for i, key in enumerate(cached_keys) if key not in wanted]
    kept = stale[:max(keep_stale, 0)]
    dropped = len(stale) - len(kept)
    if missing or dropped:
        unique = list(dict.fromkeys(keys))
        first_row = {key: i for i, key in reversed(list(enumerate(keys)))}
        try:
            _write(path, unique + [cached_keys[i] for i in kept],
                   np.concatenate([vectors[[first_row[key] for key in unique]], cached[kept]]),
                   encoder)
        except OSError as exc:  # a read-only image or volume: serve from memory, encode again next start
            log.warning("product vectors not cached (%s): set DAOGOU_VECTOR_CACHE to a writable directory "
                        "so the next start does not encode them again", exc)
    stats = CacheStats(
        products=len(products), reused=int(hit.sum()), encoded=len(missing),
        dropped=dropped, seconds=time.perf_counter() - started, path=path, stale=len(kept),
    )
    log.info(
        "product vectors: %d products, %d reused, %d encoded, %d dropped, %d kept of other catalogs, "
        "%.1f s (%s)", stats.products, stats.reused, stats.encoded, stats.dropped, stats.stale,
        stats.seconds, path,
    )
    return LoadResult(vectors, stats)


def _encode(encoder: PassageEncoder, texts: list[str], batch_size: int) -> np.ndarray:
    """Encode in chunks, logging progress: a large catalog takes minutes on a CPU."""
    out = np.empty((len(texts), encoder.dim), dtype=np.float32)
    started = time.perf_counter()
    for start in range(0, len(texts), _CHUNK):
        out[start:start + _CHUNK] = encoder.encode_passages(texts[start:start + _CHUNK], batch_size=batch_size)
        done = min(start + _CHUNK, len(texts))
        if done < len(texts):
            elapsed = time.perf_counter() - started
            log.info("encoding products: %d of %d, %.0f/s", done, len(texts), done / elapsed)
    return out


def _read(path: Path, dim: int) -> tuple[list[str], np.ndarray]:
    empty: tuple[list[str], np.ndarray] = ([], np.empty((0, dim), dtype=np.float32))
    if not path.exists():
        return empty
    try:
        with path.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
            keys = [k.decode("ascii") for k in data["keys"].tolist()]
            vectors = np.asarray(data["vectors"], dtype=np.float32)
    except Exception as exc:  # noqa: BLE001 -- any unreadable cache is rebuilt, never trusted
        log.warning("product vector cache %s is unreadable (%s); re-encoding", path, exc)
        return empty
    if vectors.shape != (len(keys), dim) or not np.isfinite(vectors).all():
        log.warning("product vector cache %s does not match the encoder (shape %s); re-encoding",
                    path, vectors.shape)
        return empty
    return keys, vectors


def _write(path: Path, keys: list[str], vectors: np.ndarray, encoder: PassageEncoder) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".vectors-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, keys=np.array(keys, dtype="S40"), vectors=vectors.astype(np.float32, copy=False))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; other workers and users read this cache
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    meta = {
        "fingerprint": encoder.fingerprint, "dim": encoder.dim, "rows": len(keys),
        "model_dir": str(getattr(encoder, "model_dir", "")), "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    fd, tmp = tempfile.mkstemp(prefix=".meta-", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(meta, fh, indent=1)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path.parent / "meta.json")
