"""The bundled demo catalog: complete, consistent, and exactly what its generator writes."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from core.catalog import DEMO_CATALOG, Catalog, load_catalog
from core.lexicon import FEATURES, features_in

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "scripts" / "make_demo_catalog.py"
HEADPHONES = "Electronics > Headphones"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    lines = (DEMO_CATALOG / "products.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def lexicon_data() -> dict:
    return json.loads((DEMO_CATALOG / "lexicon.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_demo_catalog", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_size(catalog: Catalog) -> None:
    assert len(catalog) >= 300
    assert len(catalog.categories) >= 10


def test_every_product_is_complete(catalog: Catalog) -> None:
    for p in catalog.products:
        for name in ("title", "title_zh", "description", "description_zh", "category_zh", "brand",
                     "image_url", "url"):
            assert getattr(p, name).strip(), f"{p.id}: empty {name}"
        assert p.price > 0, p.id
        assert p.currency == "CNY", p.id
        assert p.stock >= 0, p.id
        assert p.image_url == f"https://demo.daogou.shop/img/{p.id}.jpg"
        assert p.url == f"https://demo.daogou.shop/p/{p.id}"
        assert "{" not in p.description + p.description_zh, f"{p.id}: unfilled template"


def test_ids_are_unique(rows: list[dict]) -> None:
    ids = Counter(row["id"] for row in rows)
    assert [i for i, n in ids.items() if n > 1] == []


def test_rows_have_exactly_the_product_keys(catalog: Catalog, rows: list[dict]) -> None:
    for row in rows:
        assert list(row) == list(catalog.get(row["id"]).to_dict()), row["id"]  # type: ignore[union-attr]


def test_features_are_valid_and_agree_with_text(catalog: Catalog, rows: list[dict]) -> None:
    for row in rows:
        assert set(row["features"]) <= FEATURES.keys(), row["id"]
        product = catalog.get(row["id"])
        assert product is not None
        # Declared features are exactly those the text names: none missing, none invented.
        assert set(row["features"]) == set(features_in(product.text())), row["id"]


def test_some_products_are_sold_out(catalog: Catalog) -> None:
    sold_out = sum(not p.in_stock for p in catalog.products)
    assert 0.02 <= sold_out / len(catalog) <= 0.10


def test_lexicon_categories_match_products(catalog: Catalog, lexicon_data: dict) -> None:
    in_products = {p.category for p in catalog.products}
    assert set(lexicon_data["categories"]) == in_products
    for name, info in lexicon_data["categories"].items():
        assert info["zh"], name
        assert info["aliases"], name
        assert info["zh"] == catalog.categories[name].zh
        assert all(a == a.strip().lower() for a in info["aliases"]), name


def test_lexicon_brands_are_sold_and_named_in_chinese(catalog: Catalog, lexicon_data: dict) -> None:
    assert set(lexicon_data["brands"]) <= set(catalog.brands)
    assert catalog.brand_aliases["韶音"] == "Shokz"  # built-in alias
    assert catalog.brand_aliases["漫步者"] == "Edifier"  # from the demo's lexicon.json


def test_every_category_is_varied(catalog: Catalog) -> None:
    for name in catalog.categories:
        products = [p for p in catalog.products if p.category == name]
        assert 15 <= len(products) <= 40, name
        assert len({p.brand for p in products}) >= 4, name
        prices = [p.price for p in products]
        assert max(prices) >= 3 * min(prices), name
        assert len({f for p in products for f in p.features}) >= 3, name


def test_supports_sport_earbuds_under_500(catalog: Catalog) -> None:
    """"我想买一款适合运动的蓝牙耳机，500元以内", then "不要索尼的", then "便宜点" twice."""
    hits = [p for p in catalog.products
            if p.category == HEADPHONES and p.in_stock and p.price <= 500
            and {"sport", "wireless"} <= set(p.features)]
    assert len(hits) >= 8
    assert len({p.brand for p in hits}) >= 5
    assert sum(p.brand == "Sony" for p in hits) >= 2
    assert len({p.price for p in hits}) >= 5


def test_supports_waterproof_running_earbuds_under_300(catalog: Catalog) -> None:
    hits = [p for p in catalog.products
            if p.category == HEADPHONES and p.in_stock and p.price <= 300
            and "waterproof" in p.features and {"running", "sport"} & set(p.features)]
    assert len(hits) >= 5
    assert len({p.brand for p in hits}) >= 3


def test_generator_is_deterministic(generator: ModuleType, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    generator.build(first)
    generator.build(second)
    for name in ("products.jsonl", "lexicon.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_committed_catalog_is_the_generator_output(generator: ModuleType, tmp_path: Path) -> None:
    generator.build(tmp_path)
    for name in ("products.jsonl", "lexicon.json"):
        assert (DEMO_CATALOG / name).read_bytes() == (tmp_path / name).read_bytes(), (
            f"core/data/demo/{name} differs from scripts/make_demo_catalog.py output; "
            "edit the script's tables and rerun it"
        )
