"""The product vector cache: reuse, partial re-encoding, recovery, one cache per encoder."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.catalog import Product
from core.vectors import CACHE_FILE, bilingual_passage_text, load_or_encode, passage_text


class CountingEncoder:
    """Deterministic vectors from the text's hash; records every text it encodes."""

    def __init__(self, fingerprint: str = "fake-v1", dim: int = 8) -> None:
        self.fingerprint = fingerprint
        self.dim = dim
        self.encoded: list[str] = []

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        self.encoded.extend(texts)
        return np.vstack([self.vector(t) for t in texts]) if texts else np.empty((0, self.dim), np.float32)

    def vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha1((self.fingerprint + text).encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return v / np.linalg.norm(v)


def products(n: int) -> list[Product]:
    return [Product(id=f"p{i}", title=f"Product {i}", price=10.0 + i, brand="Acme", category="Home > Kitchen",
                    description=f"number {i}") for i in range(n)]


def expected(encoder: CountingEncoder, items: Sequence[Product]) -> np.ndarray:
    return np.vstack([encoder.vector(passage_text(p)) for p in items])


def test_second_load_encodes_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    encoder = CountingEncoder()
    items = products(50)
    first, stats = load_or_encode(items, encoder, tmp_path)
    assert (stats.reused, stats.encoded, stats.dropped) == (0, 50, 0)
    assert first.dtype == np.float32 and first.shape == (50, 8)
    np.testing.assert_array_equal(first, expected(encoder, items))
    assert (tmp_path / "fake-v1" / CACHE_FILE).exists() and (tmp_path / "fake-v1" / "meta.json").exists()
    written = os.stat(tmp_path / "fake-v1" / CACHE_FILE).st_mtime_ns

    encoder.encoded.clear()
    with caplog.at_level(logging.INFO, logger="core.vectors"):
        second, stats = load_or_encode(items, encoder, tmp_path)
    assert encoder.encoded == [] and (stats.reused, stats.encoded) == (50, 0)
    np.testing.assert_array_equal(second, first)
    assert os.stat(tmp_path / "fake-v1" / CACHE_FILE).st_mtime_ns == written  # nothing changed, nothing written
    assert "50 reused, 0 encoded" in caplog.text


def test_changed_product_is_encoded_alone(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    items = products(20)
    load_or_encode(items, encoder, tmp_path)
    items[7] = replace(items[7], description="now waterproof")
    encoder.encoded.clear()
    vectors, stats = load_or_encode(items, encoder, tmp_path)
    assert encoder.encoded == [passage_text(items[7])]
    assert (stats.reused, stats.encoded, stats.dropped, stats.stale) == (19, 1, 0, 1)
    np.testing.assert_array_equal(vectors, expected(encoder, items))


def test_added_removed_and_reordered_products(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    items = products(30)
    load_or_encode(items, encoder, tmp_path)
    new = products(35)[30:]
    current = list(reversed(items[5:])) + new  # p0..p4 removed, five added, order changed
    encoder.encoded.clear()
    vectors, stats = load_or_encode(current, encoder, tmp_path, keep_stale=0)
    assert sorted(encoder.encoded) == sorted(passage_text(p) for p in new)
    assert (stats.reused, stats.encoded, stats.dropped, stats.stale) == (25, 5, 5, 0)
    np.testing.assert_array_equal(vectors, expected(encoder, current))
    # The rewritten cache holds exactly the current products: a reload encodes nothing.
    encoder.encoded.clear()
    again, stats = load_or_encode(current, encoder, tmp_path)
    assert encoder.encoded == [] and stats.dropped == 0
    np.testing.assert_array_equal(again, vectors)


def test_switching_catalogs_encodes_neither_again(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    shop, evaluation = products(30), [replace(p, id=f"e{i}", title=f"eval {i}") for i, p in enumerate(products(40))]
    load_or_encode(shop, encoder, tmp_path)
    _, stats = load_or_encode(evaluation, encoder, tmp_path)
    assert (stats.encoded, stats.stale, stats.dropped) == (40, 30, 0)
    encoder.encoded.clear()
    back, stats = load_or_encode(shop, encoder, tmp_path)
    assert encoder.encoded == [] and stats.reused == 30
    np.testing.assert_array_equal(back, expected(encoder, shop))
    _, stats = load_or_encode(evaluation, encoder, tmp_path)
    assert encoder.encoded == [] and stats.reused == 40
    # Past keep_stale the rows written longest ago go first: 65 are stale, the evaluation's
    # 40 (written last) and 25 of the shop's.
    _, stats = load_or_encode(products(5), encoder, tmp_path, keep_stale=50)
    assert (stats.stale, stats.dropped) == (50, 15)
    encoder.encoded.clear()
    load_or_encode(shop, encoder, tmp_path)
    assert sorted(encoder.encoded) == sorted(passage_text(p) for p in shop[15:])


def test_duplicate_texts_are_encoded_once(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    items = products(3)
    items.append(replace(items[0], id="copy"))
    vectors, stats = load_or_encode(items, encoder, tmp_path)
    assert len(encoder.encoded) == 3 and stats.encoded == 3
    np.testing.assert_array_equal(vectors[3], vectors[0])
    assert load_or_encode(items, encoder, tmp_path).stats.reused == 4


@pytest.mark.parametrize("damage", [b"", b"not a zip file", "truncate"])
def test_corrupt_cache_is_re_encoded(tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: bytes | str) -> None:
    encoder = CountingEncoder()
    items = products(10)
    load_or_encode(items, encoder, tmp_path)
    path = tmp_path / "fake-v1" / CACHE_FILE
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2] if damage == "truncate" else damage)
    encoder.encoded.clear()
    with caplog.at_level(logging.WARNING, logger="core.vectors"):
        vectors, stats = load_or_encode(items, encoder, tmp_path)
    assert stats.encoded == 10 and len(encoder.encoded) == 10
    assert "re-encoding" in caplog.text
    np.testing.assert_array_equal(vectors, expected(encoder, items))
    encoder.encoded.clear()
    assert load_or_encode(items, encoder, tmp_path).stats.encoded == 0  # repaired


def test_cache_of_another_dimension_is_not_used(tmp_path: Path) -> None:
    items = products(5)
    load_or_encode(items, CountingEncoder(dim=8), tmp_path)
    wider = CountingEncoder(dim=16)  # same fingerprint, different shape: the file cannot be trusted
    vectors, stats = load_or_encode(items, wider, tmp_path)
    assert vectors.shape == (5, 16) and stats.encoded == 5


def test_each_encoder_has_its_own_cache(tmp_path: Path) -> None:
    items = products(10)
    a, b = CountingEncoder("model-a"), CountingEncoder("model-b")
    va = load_or_encode(items, a, tmp_path).vectors
    vb, stats = load_or_encode(items, b, tmp_path)
    assert stats.encoded == 10 and not np.allclose(va, vb)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-a", "model-b"]
    a.encoded.clear()
    assert load_or_encode(items, a, tmp_path).stats.encoded == 0 and a.encoded == []


def test_text_of_chooses_what_is_encoded(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    item = replace(products(1)[0], title_zh="产品", category_zh="厨房")
    load_or_encode([item], encoder, tmp_path, text_of=bilingual_passage_text)
    assert encoder.encoded == ["Product 0. 产品. Acme. Home > Kitchen. 厨房. number 0"]
    assert passage_text(item) == "Product 0. Acme. Home > Kitchen. number 0"


def test_empty_catalog(tmp_path: Path) -> None:
    vectors, stats = load_or_encode([], CountingEncoder(), tmp_path)
    assert vectors.shape == (0, 8) and stats.encoded == 0


def test_no_temporary_files_left_behind(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    load_or_encode(products(5), encoder, tmp_path)
    load_or_encode(products(6), encoder, tmp_path)
    assert sorted(p.name for p in (tmp_path / "fake-v1").iterdir()) == ["meta.json", CACHE_FILE]


def test_cache_files_are_readable_by_other_processes(tmp_path: Path) -> None:
    load_or_encode(products(3), CountingEncoder(), tmp_path)
    assert (tmp_path / "fake-v1" / CACHE_FILE).stat().st_mode & 0o044 == 0o044


def test_concurrent_writers_never_leave_a_torn_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import threading

    from core.vectors import _read

    catalogs = [products(400), products(300)]
    path = tmp_path / "fake-v1" / CACHE_FILE
    load_or_encode(catalogs[0], CountingEncoder(), tmp_path)
    errors: list[str] = []

    def writer(items: list[Product]) -> None:
        for _ in range(15):  # each alternation rewrites the cache
            load_or_encode(items, CountingEncoder(), tmp_path)
            load_or_encode(items[:50], CountingEncoder(), tmp_path)

    def reader() -> None:
        for _ in range(150):
            keys, vectors = _read(path, 8)
            if len(keys) not in (50, 300, 400) or vectors.shape != (len(keys), 8):
                errors.append(f"{len(keys)} keys, {vectors.shape}")

    with caplog.at_level(logging.WARNING, logger="core.vectors"):
        threads = [threading.Thread(target=writer, args=(c,)) for c in catalogs] + [threading.Thread(target=reader)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == [] and "unreadable" not in caplog.text


def test_a_read_only_cache_directory_still_serves(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # A container with a read-only root filesystem and a catalog of its own: encode, warn, serve.
    import errno

    import core.vectors

    def read_only(path: Path, *args: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(core.vectors, "_write", read_only)
    encoder = CountingEncoder()
    with caplog.at_level(logging.WARNING, logger="core.vectors"):
        vectors, _ = load_or_encode(products(4), encoder, tmp_path)
    assert np.allclose(vectors, expected(encoder, products(4)))
    assert "not cached" in caplog.text and "DAOGOU_VECTOR_CACHE" in caplog.text
