"""How the recommender reads a product's text: its index fields and its model line.

``product_fields`` feeds ``core.bm25.BM25Index``; ``model_line`` tells variants of one
model apart from different models (diversity shows one per line).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from core.bm25 import FieldText
from core.catalog import Catalog, Product
from core.lexicon import FEATURES
from core.textproc import cjk_chars, normalize, tokenize, tokenize_with_surface

__all__ = [
    "category_names", "category_parts", "colour_size_tokens", "feature_tokens", "model_line",
    "product_fields", "written_words",
]

_COLOUR_SIZE_WORDS = """
    black white silver gold grey gray blue red green pink purple yellow orange brown beige
    navy ivory khaki teal violet coral champagne graphite charcoal midnight starlight
    titanium bronze copper transparent multicolor multicolour colour color matte burgundy
    maroon
    xs xxs xl xxl xxxl 2xl 3xl 4xl 5xl small medium large xlarge size
    黑 白 银 金 灰 蓝 红 绿 粉 紫 黄 橙 棕 褐 青 黑色 白色 银色 金色 灰色 蓝色 红色 绿色 粉色 紫色
    黄色 橙色 棕色 米色 藏青 藏青色 卡其 卡其色 香槟 香槟色 玫瑰金 深空灰 大号 中号 小号 均码 码 号
"""
_VARIANT_ATTRIBUTES = frozenset(
    ["color", "colour", "size", "capacity", "storage", "颜色", "尺码", "尺寸", "规格", "容量", "存储", "内存"]
)
_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]|【[^】]*】|〔[^〕]*〕|<[^>]*>")
_SIZE_NUMBER = re.compile(
    r"\b(?:size|eu|us|uk)\s*\d+(?:\.\d+)?\b|\d+(?:\.\d+)?\s*(?:码|号|寸|英寸)|\b\d+\s*(?:gb|tb)\b"
)


def product_fields(
    catalog: Catalog, aliases_of: dict[str, list[str]]
) -> Iterable[tuple[str, dict[str, FieldText]]]:
    """Each product's fields for the index.  Brand and category text repeat across the
    catalog, so they are tokenized once per distinct value."""
    brand_tokens: dict[str, list[str]] = {}
    categories: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for p in catalog.products:
        brand = brand_tokens.get(p.brand)
        if brand is None:
            names = " ".join([p.brand, *aliases_of.get(p.brand, ())])
            brand = brand_tokens[p.brand] = tokenize(names)
        key = (p.category, p.category_zh)
        category = categories.get(key)
        if category is None:
            text = " ".join(category_names(catalog, p))
            category = categories[key] = (text, tokenize(text))
        body = " ".join(
            part for part in (p.description, p.description_zh,
                              *(f"{k} {v}" for k, v in p.attributes.items())) if part
        )
        chars = f"{p.title_zh} {p.title} {category[0]}"
        yield p.id, {
            "title": f"{p.title} {p.title_zh}" if p.title_zh else p.title,
            "brand": brand,
            "category": category[1],
            "body": body,
            "chars": () if chars.isascii() else cjk_chars(chars),
        }


def category_names(catalog: Catalog, p: Product) -> list[str]:
    """The product's category in both languages and the category's aliases, path
    separators as spaces: the category field of the index."""
    info = catalog.categories.get(p.category)
    names = [p.category, p.category_zh]
    if info is not None:
        names += [info.zh, *info.aliases]
    return [name.replace(">", " ") for name in names if name]


def written_words(catalog: Catalog, p: Product, brand_aliases: Iterable[str] = ()) -> dict[str, str]:
    """Index term -> the word as written, over every text the index reads of ``p``
    (first spelling wins), so a term can be shown the way the catalog writes it."""
    texts = [p.title, p.title_zh, p.brand, *brand_aliases, *category_names(catalog, p),
             p.description, p.description_zh, *(f"{k} {v}" for k, v in p.attributes.items())]
    words: dict[str, str] = {}
    for text in texts:
        for token, surface in tokenize_with_surface(text):
            words.setdefault(token, surface)
    return words


def model_line(p: Product, colour_tokens: frozenset[str]) -> tuple[str, tuple[str, ...]]:
    """Brand and title words without colour, size or bracketed variant text: products
    sharing this are variants of one model and are shown once."""
    title = _SIZE_NUMBER.sub(" ", _BRACKETED.sub(" ", normalize(p.title)))
    drop = set(tokenize(p.brand)) if p.brand else set()
    for key, value in p.attributes.items():
        if key.casefold() in _VARIANT_ATTRIBUTES:
            drop.update(tokenize(value))
    words = tuple(
        t for t in tokenize(title)
        if t not in colour_tokens and t not in drop and not t.endswith("色")
    )
    return p.brand.casefold(), words or (p.id,)


@functools.cache
def colour_size_tokens() -> frozenset[str]:
    """Tokens of _COLOUR_SIZE_WORDS; on first use, as they need jieba, which an English
    catalog otherwise never loads."""
    return frozenset(tokenize(_COLOUR_SIZE_WORDS))


def feature_tokens(key: str) -> list[tuple[str, str]]:
    feature = FEATURES[key]
    return tokenize_with_surface(f"{feature.en} {feature.zh}")


def category_parts(category: str) -> tuple[str, ...]:
    return tuple(part.strip().casefold() for part in category.split(">") if part.strip())
