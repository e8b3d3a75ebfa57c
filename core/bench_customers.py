"""The simulated customers of ``daogou bench dialogue``: what each sends, turn by turn.

A customer draws the kinds of their turns from a mix and words each from what the bot last
showed them: a need built from the catalog (so it finds products), a refinement or a button
the bot offered, a question about a product on screen, or small talk.  Everything is drawn
from the customer's own seeded RNG, so a run is repeatable.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from core.catalog import Catalog
from core.lexicon import FEATURES
from core.messages import Inbound, ProductCard, Reply

KINDS = ("recommend", "refine", "details", "smalltalk")
DEFAULT_MIX = "recommend=0.35,refine=0.25,details=0.2,smalltalk=0.2"
PLATFORM = "bench"
_SMALLTALK = {
    "en": ["hi", "hello", "thanks", "what can you do?", "good morning", "great, thanks!"],
    "zh": ["你好", "谢谢", "你能做什么", "早上好", "好的，谢谢"],
}
_PRESSABLE = ("cheaper", "other_brand", "more", "category:")  # never "human": that opens a ticket


def parse_mix(text: str) -> dict[str, float]:
    """``recommend=0.35,refine=0.25,...`` -> weights summing to 1; kinds not named get 0."""
    weights = dict.fromkeys(KINDS, 0.0)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name.strip() not in weights:
            raise ValueError(f"unknown kind {name.strip()!r} (kinds: {', '.join(KINDS)})")
        weights[name.strip()] = float(value)
    total = sum(weights.values())
    if total <= 0 or any(w < 0 for w in weights.values()):
        raise ValueError("the mix needs a positive weight")
    return {k: w / total for k, w in weights.items()}


class Phrasebook:
    """Shopping needs built from a catalog, so that they find its products: a category's
    name, a feature and a brand its products have, a budget its products fit.  Each need is
    drawn afresh (thousands of combinations), so the encoder's query cache sees what a
    shop's varied traffic gives it, not a short list repeated."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.by_category: dict[str, list[Any]] = {}
        for product in catalog.products:
            if product.category and product.in_stock:
                self.by_category.setdefault(product.category, []).append(product)
        self.categories = sorted(self.by_category)

    def need(self, rng: random.Random, lang: str) -> str:
        category = rng.choice(self.categories)
        return self._need(rng, lang, category, rng.choice(self.by_category[category]))

    def _need(self, rng: random.Random, lang: str, category: str, product: Any) -> str:
        info = self.catalog.categories.get(category)
        aliases = [a for a in (info.aliases if info else ()) if a.isascii() == (lang == "en")]
        label = category.split(">")[-1].strip()
        noun = rng.choice(aliases) if aliases else (info.zh if lang == "zh" and info and info.zh else label.lower())
        feature = FEATURES.get(rng.choice(product.features)) if product.features else None
        budget = _round_up(product.price * rng.uniform(1.0, 1.5))
        brand = self.catalog.brand_name(product.brand, lang) if product.brand else ""
        style = rng.randrange(5)
        if lang == "en":
            what = noun if feature is None else (f"{noun} {feature.en}" if feature.en.startswith("for ")
                                                 else f"{feature.en} {noun}")
            a = "an" if what[0] in "aeiou" else "a"
            return [f"{what} under {budget}", f"i need {a} {what}", f"{brand} {noun}".strip(),
                    f"looking for {a} {what}, budget {budget}", f"{what}"][style]
        what = noun if feature is None else f"{feature.zh}的{noun}"
        return [f"我想买一款{what}，{budget}元以内", f"推荐一款{what}", f"{brand}的{noun}",
                f"{budget}以内的{noun}", f"有没有{what}"][style]


def _round_up(price: float) -> int:
    step = 50 if price < 1000 else 500
    return int(-(-price // step) * step)


class Customer:
    """One simulated customer: what they send next depends on what the bot last showed."""

    def __init__(self, user_id: str, rng: random.Random, book: Phrasebook) -> None:
        self.user_id = user_id
        self.rng = rng
        self.book = book
        self.lang = "zh" if rng.random() < 0.4 else "en"
        self.results: list[ProductCard] = []  # the last result list shown
        self.offered: list[str] = []  # actions of the buttons the last answer offered
        self.last = ""
        self.sent = 0

    def plan(self, mix: Mapping[str, float], turns: int) -> list[str]:
        """The kinds of this customer's turns: drawn from ``mix``, with the first recommend
        moved ahead of the first refine or details (people ask before they refine)."""
        kinds = self.rng.choices(list(mix), weights=list(mix.values()), k=turns)
        first_need = next((i for i, k in enumerate(kinds) if k == "recommend"), None)
        first_follow = next((i for i, k in enumerate(kinds) if k in ("refine", "details")), None)
        if first_need is not None and first_follow is not None and first_follow < first_need:
            kinds.insert(first_follow, kinds.pop(first_need))
        return kinds

    def inbound(self, kind: str) -> Inbound:
        self.sent += 1
        text, action = getattr(self, "_" + kind)()
        if text and text == self.last:  # the same words three times in a row would call a person
            text, action = getattr(self, "_" + kind)()
        self.last = text
        return Inbound(platform=PLATFORM, user_id=self.user_id, chat_id=self.user_id,
                       message_id=f"{self.user_id}:{self.sent}", text=text, action=action,
                       lang="zh-CN" if self.lang == "zh" else "en")

    def observe(self, replies: Sequence[Reply]) -> None:
        self.offered = [b.action for r in replies for b in r.buttons]
        for reply in replies:
            if reply.kind == "results" and reply.products:
                self.results = list(reply.products)

    def _recommend(self) -> tuple[str, str]:
        return self.book.need(self.rng, self.lang), ""

    def _refine(self) -> tuple[str, str]:
        pressable = [a for a in self.offered if a.startswith(_PRESSABLE)]
        if pressable and self.rng.random() < 0.5:
            return "", self.rng.choice(pressable)
        zh = self.lang == "zh"
        brands = [p.brand for p in self.results if p.brand]
        choices = ["便宜点" if zh else "cheaper", "换个牌子" if zh else "another brand",
                   "还有别的吗" if zh else "show me more"]
        if brands:
            brand = self.book.catalog.brand_name(self.rng.choice(brands), self.lang)
            choices.append(f"不要{brand}的" if zh else f"no {brand}")
        if self.results:
            budget = _round_up(min(p.price for p in self.results) * 1.2)
            choices.append(f"{budget}以内的" if zh else f"under {budget}")
        return self.rng.choice(choices), ""

    def _details(self) -> tuple[str, str]:
        count = max(len(self.results), 1)
        n = self.rng.randint(1, count)
        roll = self.rng.random()
        if roll < 0.3:
            return "", f"details_at:{n}"
        if roll < 0.45 and self.results:
            return "", f"details:{self.results[n - 1].id}"
        if roll < 0.75:
            return (f"第{n}个详细介绍一下" if self.lang == "zh" else f"tell me more about {n}"), ""
        a, b = (sorted(self.rng.sample(range(1, count + 1), 2)) if count > 1 else (1, 2))
        return (f"比较一下{a}和{b}" if self.lang == "zh" else f"compare {a} and {b}"), ""

    def _smalltalk(self) -> tuple[str, str]:
        return self.rng.choice(_SMALLTALK[self.lang]), ""
