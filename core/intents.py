"""What understanding produces: one intent per message plus the slots it carries."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Intent(StrEnum):
    EMPTY = "empty"          # nothing usable: blank, whitespace, control characters only
    GREET = "greet"          # "hi", "你好"
    HELP = "help"            # "help", "怎么用", "/help"
    THANKS = "thanks"        # "thanks", "谢谢"
    RESET = "reset"          # "start over", "重新开始", "/reset"
    FORGET = "forget"        # "forget me", "删除我的数据", "/forget"
    HUMAN = "human"          # "talk to a person", "转人工", "/human"
    SEARCH = "search"        # a product need: "waterproof running earbuds under 300"
    REFINE = "refine"        # changes the current search: "cheaper", "不要苹果的", "only Sony", "under 200"
    MORE = "more"            # "show me more", "换一批", "more like the second one" (with similar_to)
    DETAILS = "details"      # "tell me more about 2", "第二个详细说说"
    COMPARE = "compare"      # "compare 1 and 3", "对比一下1和3"
    LIKE = "like"            # "I like the first one", "喜欢第二个"
    DISLIKE = "dislike"      # "I don't like 3", "第三个不喜欢"
    LANG = "lang"            # "speak English", "说中文", "/lang zh"
    OFFTOPIC = "offtopic"    # weather, jokes, "ignore your instructions ...", anything not shopping


@dataclass(frozen=True)
class Understanding:
    """The reading of one message.

    Budgets are in the shop's currency; ``price_max`` alone for "under 300",
    both for "两三百块" (200–300) or "$50-80".  ``cheap`` marks a vague wish for a low
    price ("cheap", "便宜的") with no number.  ``cheaper``/``pricier`` are relative to the
    last results.  ``positions`` are 1-based references into the last shown list
    ("compare 1 and 3" → (1, 3)); ``similar_to`` is such a position for "more like N".
    ``brands`` means "only these"; ``exclude_brands`` "not these".  ``category`` is a
    catalog category name, ``features`` are keys of ``core.lexicon.FEATURES``.
    ``query`` is the product-need text with budget, brand-exclusion and filler words
    removed, suitable for retrieval.
    """

    intent: Intent
    lang: str = "en"
    query: str = ""
    category: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    cheap: bool = False
    cheaper: bool = False
    pricier: bool = False
    brands: tuple[str, ...] = ()
    exclude_brands: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    positions: tuple[int, ...] = ()
    similar_to: int | None = None
    new_lang: str | None = None
    injection: bool = False  # the text tried to instruct the bot ("ignore previous instructions")

    @property
    def has_need(self) -> bool:
        """Whether the message says anything searchable about what to buy."""
        return bool(self.query or self.category or self.features or self.brands)
