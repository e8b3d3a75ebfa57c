"""One-shot product search outside a conversation: Telegram's inline mode ("@bot earbuds")
and anything else that shows products without a session.

It reads the text like a chat message (budget, brands, category, features), searches once
and words each product's reason from what matched.  Nothing is stored: inline queries
arrive on every keystroke and belong to no conversation.
"""

from __future__ import annotations

from core import wording
from core.cards import card
from core.intents import Intent
from core.messages import ProductCard
from core.recommender import Recommender, SearchRequest
from core.understanding import understand

MAX_TEXT = 256  # Telegram caps inline queries at 256 characters

_NEEDLESS = (Intent.EMPTY, Intent.OFFTOPIC, Intent.GREET, Intent.HELP, Intent.THANKS)


async def preview(recommender: Recommender, text: str, *, lang_hint: str = "", limit: int = 10) -> list[ProductCard]:
    """Up to ``limit`` product cards for ``text``; none when it asks for nothing searchable."""
    und = understand(text[:MAX_TEXT], recommender.catalog, lang_hint=lang_hint)
    if und.intent in _NEEDLESS or not (und.has_need or und.price_max is not None):
        return []
    request = SearchRequest(
        text=und.query, lang=und.lang, category=und.category, price_min=und.price_min,
        price_max=und.price_max, brands=und.brands, exclude_brands=und.exclude_brands,
        features=und.features, limit=limit,
    )
    hits = await recommender.search(request)
    return [
        card(hit.product, und.lang, position=n, reason=wording.reason(
            hit.product, und.lang, features=list(hit.matched_features), terms=list(hit.matched_terms[:3]),
            price_min=und.price_min, price_max=und.price_max, brands=list(und.brands),
        ))
        for n, hit in enumerate(hits, 1)
    ]
