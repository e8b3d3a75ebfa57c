"""Turning catalog products into what the customer sees: cards, details and comparisons.

Every fact here comes from the catalog record; nothing is made up."""

from __future__ import annotations

from core.catalog import Product
from core.lexicon import feature_name
from core.messages import Button, ProductCard
from core.wording import join, price, t


def card_buttons(product_id: str, lang: str) -> tuple[Button, ...]:
    return (
        Button(t("btn_details", lang), f"details:{product_id}"),
        Button(t("btn_similar", lang), f"similar:{product_id}"),
        Button(t("btn_like", lang), f"like:{product_id}"),
        Button(t("btn_dislike", lang), f"dislike:{product_id}"),
    )


def result_buttons(lang: str) -> tuple[Button, ...]:
    return (
        Button(t("btn_cheaper", lang), "cheaper"),
        Button(t("btn_other_brand", lang), "other_brand"),
        Button(t("btn_more", lang), "more"),
        Button(t("btn_human", lang), "human"),
    )


def card(product: Product, lang: str, *, position: int = 0, reason: str = "", details: str = "") -> ProductCard:
    return ProductCard(
        id=product.id,
        title=product.title_in(lang),
        brand=product.brand,
        price=product.price,
        currency=product.currency,
        category=product.category_in(lang),
        reason=reason,
        image_url=product.image_url,
        url=product.url,
        position=position,
        details=details,
        buttons=card_buttons(product.id, lang),
    )


def details_text(product: Product, lang: str) -> str:
    lines = [f"{product.title_in(lang)} — {price(product.price, product.currency)}"]
    if product.brand:
        lines.append(("品牌：" if lang == "zh" else "Brand: ") + product.brand)
    if product.category:
        lines.append(("类别：" if lang == "zh" else "Category: ") + product.category_in(lang))
    description = product.description_in(lang)
    if description:
        lines.append(description)
    for key, value in list(product.attributes.items())[:12]:
        lines.append(f"• {key}: {value}")
    if product.features:
        label = "特点：" if lang == "zh" else "Features: "
        lines.append(label + join([feature_name(f, lang) for f in product.features], lang))
    stock = ("有货" if lang == "zh" else "In stock") if product.in_stock else t("out_of_stock", lang)
    lines.append(stock)
    if product.url:
        lines.append(product.url)
    return "\n".join(lines)


def compare_text(products: list[Product], positions: list[int], lang: str) -> str:
    """A side-by-side of the products' price, brand, features and shared attributes."""
    heads = [f"#{n} {p.title_in(lang)}" for n, p in zip(positions, products)]
    rows = [t("compare", lang), *heads]
    label = {"price": "价格" if lang == "zh" else "Price", "brand": "品牌" if lang == "zh" else "Brand",
             "features": "特点" if lang == "zh" else "Features"}
    rows.append(f"{label['price']}: " + " | ".join(price(p.price, p.currency) for p in products))
    rows.append(f"{label['brand']}: " + " | ".join(p.brand or "—" for p in products))
    rows.append(f"{label['features']}: " + " | ".join(
        join([feature_name(f, lang) for f in p.features], lang) or "—" for p in products))
    keys = [k for k in products[0].attributes if any(k in p.attributes for p in products[1:])]
    for key in keys[:8]:
        rows.append(f"{key}: " + " | ".join(p.attributes.get(key, "—") for p in products))
    cheapest = min(products, key=lambda p: p.price)
    pos = positions[products.index(cheapest)]
    if len({p.price for p in products}) > 1:
        rows.append(f"→ #{pos} 最便宜" if lang == "zh" else f"→ #{pos} is the cheapest")
    return "\n".join(rows)
