"""The shop's catalog: products, and the lexicon (brand and category names) that
understanding needs to read customers' words against this particular shop.

A catalog is a directory or a single JSONL file.  A directory holds ``products.jsonl``
and, optionally, ``lexicon.json``:

    {"brands": {"Sony": ["索尼"], ...},
     "categories": {"Audio > Headphones": {"zh": "耳机", "aliases": ["earbuds", "耳机", ...]}}}

Products are read once at start and never change while a process serves them; a
catalog reload builds a new ``Catalog``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from core import lexicon

DEMO_CATALOG = Path(__file__).parent / "data" / "demo"
_NEGATIVE = {"no", "none", "false", "n", "0", "not applicable", "na", "n/a", "无", "否", "不", "没有", "不支持"}


class CatalogError(ValueError):
    """A product row or a catalog file that cannot be used, with where and why."""


@dataclass(frozen=True)
class Product:
    id: str
    title: str
    price: float
    currency: str = "CNY"
    brand: str = ""
    category: str = ""
    description: str = ""
    title_zh: str = ""
    description_zh: str = ""
    category_zh: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)
    features: tuple[str, ...] = ()
    image_url: str = ""
    url: str = ""
    stock: int = 1

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    def title_in(self, lang: str) -> str:
        return self.title_zh if lang == "zh" and self.title_zh else self.title

    def description_in(self, lang: str) -> str:
        return self.description_zh if lang == "zh" and self.description_zh else self.description

    def category_in(self, lang: str) -> str:
        return self.category_zh if lang == "zh" and self.category_zh else self.category

    def text(self, *, affirmed_only: bool = False) -> str:
        """All searchable text, both languages.

        ``affirmed_only`` leaves out attributes answered in the negative ("Water
        Resistant: No"), so reading features from the text does not claim them.
        """
        attrs = " ".join(
            f"{k} {v}" for k, v in self.attributes.items()
            if not (affirmed_only and v.strip().lower() in _NEGATIVE)
        )
        return " ".join(
            part
            for part in (
                self.title, self.title_zh, self.brand, self.category, self.category_zh,
                self.description, self.description_zh, attrs,
            )
            if part
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "price": self.price, "currency": self.currency,
            "brand": self.brand, "category": self.category, "description": self.description,
            "title_zh": self.title_zh, "description_zh": self.description_zh,
            "category_zh": self.category_zh, "attributes": dict(self.attributes),
            "features": list(self.features), "image_url": self.image_url, "url": self.url,
            "stock": self.stock,
        }

    @classmethod
    def from_dict(cls, row: Mapping[str, Any], *, currency: str = "CNY") -> "Product":
        """Build a product from a normalized row; raises CatalogError naming the bad field."""
        pid = str(row.get("id") or "").strip()
        if not pid:
            raise CatalogError("missing id")
        title = str(row.get("title") or "").strip()
        if not title:
            raise CatalogError("missing title")
        try:
            price = float(row.get("price"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise CatalogError(f"price is not a number: {row.get('price')!r}") from None
        if not math.isfinite(price) or price < 0:
            raise CatalogError(f"price out of range: {row.get('price')!r}")
        try:
            stock = int(row.get("stock", 1) if row.get("stock", "") != "" else 1)
        except (TypeError, ValueError):
            raise CatalogError(f"stock is not a whole number: {row.get('stock')!r}") from None
        attributes = row.get("attributes") or {}
        if not isinstance(attributes, Mapping):
            raise CatalogError("attributes must be an object")
        declared = row.get("features") or ()
        if isinstance(declared, str):
            declared = [f.strip() for f in declared.split(",")]
        text_fields = {
            k: str(row.get(k) or "").strip()
            for k in ("brand", "category", "description", "title_zh", "description_zh",
                      "category_zh", "image_url", "url")
        }
        product = cls(
            id=pid, title=title, price=round(price, 2),
            currency=str(row.get("currency") or currency).strip().upper(),
            attributes={str(k): str(v) for k, v in attributes.items()},
            stock=stock, brand=text_fields["brand"], category=text_fields["category"],
            description=text_fields["description"], title_zh=text_fields["title_zh"],
            description_zh=text_fields["description_zh"], category_zh=text_fields["category_zh"],
            image_url=text_fields["image_url"], url=text_fields["url"],
        )
        # Features a customer can ask for: those the shop declared plus those its text names.
        found = lexicon.features_in(product.text(affirmed_only=True))
        features = tuple(dict.fromkeys([f for f in declared if f in lexicon.FEATURES] + found))
        return replace(product, features=features)


@dataclass(frozen=True)
class CategoryInfo:
    name: str
    zh: str = ""
    aliases: tuple[str, ...] = ()


class Catalog:
    """An immutable set of products plus the names customers use for its brands and categories."""

    def __init__(
        self,
        products: Iterable[Product],
        *,
        brand_aliases: Mapping[str, Iterable[str]] | None = None,
        categories: Mapping[str, CategoryInfo] | None = None,
    ) -> None:
        self.products: tuple[Product, ...] = tuple(products)
        self.by_id: dict[str, Product] = {p.id: p for p in self.products}
        self.brands: tuple[str, ...] = tuple(sorted({p.brand for p in self.products if p.brand}))
        self.categories: dict[str, CategoryInfo] = {}
        for p in self.products:
            if p.category and p.category not in self.categories:
                self.categories[p.category] = CategoryInfo(p.category, zh=p.category_zh)
        for name, info in (categories or {}).items():
            if name in self.categories:
                self.categories[name] = info
        # alias (lower-cased) -> canonical brand; built-in Chinese names first, the shop's own win.
        self.brand_aliases: dict[str, str] = {}
        known = {b.lower(): b for b in self.brands}
        for table in (lexicon.BRAND_ALIASES, brand_aliases or {}):
            for canonical, names in table.items():
                if canonical.lower() in known:
                    for alias in names:
                        self.brand_aliases[alias.lower()] = known[canonical.lower()]
        for brand in self.brands:
            self.brand_aliases[brand.lower()] = brand
        # The Chinese name to say a brand by ("索尼" for Sony), where the lexicon has one.
        self.brand_zh: dict[str, str] = {}
        for alias, brand in self.brand_aliases.items():
            if brand not in self.brand_zh and any("\u4e00" <= ch <= "\u9fff" for ch in alias):
                self.brand_zh[brand] = alias
        self.currency = self.products[0].currency if self.products else "CNY"

    def __len__(self) -> int:
        return len(self.products)

    def get(self, product_id: str) -> Product | None:
        return self.by_id.get(product_id)

    def brand_name(self, brand: str, lang: str) -> str:
        return self.brand_zh.get(brand, brand) if lang == "zh" else brand


def load_catalog(path: str | Path | None = None, *, currency: str = "CNY") -> Catalog:
    """Load a catalog directory (products.jsonl + optional lexicon.json) or a JSONL file.

    ``None`` loads the bundled demo catalog.  Rows must already be normalized (the
    importer writes such files); a bad row raises CatalogError with its line number.
    """
    path = Path(path) if path else DEMO_CATALOG
    if path.is_dir():
        products_file = path / "products.jsonl"
        lexicon_file = path / "lexicon.json"
    else:
        products_file = path
        lexicon_file = path.with_name(path.stem + ".lexicon.json")
    if not products_file.exists():
        raise CatalogError(f"no catalog at {products_file}")
    products = []
    with products_file.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                products.append(Product.from_dict(json.loads(line), currency=currency))
            except (json.JSONDecodeError, CatalogError) as exc:
                raise CatalogError(f"{products_file}:{lineno}: {exc}") from None
    brand_aliases: dict[str, list[str]] = {}
    categories: dict[str, CategoryInfo] = {}
    if lexicon_file.exists():
        data = json.loads(lexicon_file.read_text(encoding="utf-8"))
        brand_aliases = data.get("brands", {})
        for name, info in data.get("categories", {}).items():
            categories[name] = CategoryInfo(
                name, zh=info.get("zh", ""), aliases=tuple(info.get("aliases", ()))
            )
    return Catalog(products, brand_aliases=brand_aliases, categories=categories)
