"""The grounding check: a sentence a model wrote about a product reaches a customer only if
everything it states can be traced to that product's catalog record.

The model writers (``core.llm_writers``) call ``Grounding.check`` on every reason they get
back, before it replaces the template reason.  The check is deliberately conservative: a
false rejection costs a plainer sentence (the template reason), a false acceptance puts an
invented price or a competitor's product in front of a customer.  It returns ``None`` for an
acceptable reason, or the code of the first problem found:

    empty          nothing (or almost nothing) to say
    garbled        broken text: replacement or control characters, mostly symbols
    too_long       more than ``max_chars`` characters
    url            a link, an e-mail address or a phone-like number
    instruction    meta talk or directions ("ignore the instructions", "click", "扫码", "作为AI")
    promo          an invented promotion ("20% off", "包邮", "coupon") -- the catalog has none
    language       zh without Chinese, en that is mostly Chinese, or another script
    price          an amount of money that is neither this product's price nor a number the
                   customer or the template reason gave (a budget), or the wrong currency
    other_product  a brand, model code or title of another catalog product that this
                   product's own record does not mention
    number         a number (Arabic digits: "30 h", "IPX7", "5.3") that appears nowhere in the
                   product's record, the customer's need or the template reason
    feature        a feature (``core.lexicon``) this product does not have

Known limits: negations are not understood ("not waterproof" claims waterproof and is
rejected); numbers are checked by value, not by unit ("8 g" passes for a product with "8 h");
numbers written in Chinese characters are checked only as prices ("两小时" is not checked);
a true fact of this product that it shares with other products can still be put wrongly
("the lightest of the three").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from core import zh_numbers
from core.catalog import Catalog, Product
from core.lexicon import features_in

CODES = ("empty", "garbled", "too_long", "url", "instruction", "promo", "language", "price", "other_product", "number",
         "feature")

# --- money -----------------------------------------------------------------------------

# Currencies a written money marker can mean.  "¥" is yuan or yen, "$" any dollar.
_DOLLARS = frozenset({"USD", "HKD", "CAD", "AUD", "SGD", "NZD", "TWD"})
_MARKERS: dict[str, frozenset[str]] = {
    "¥": frozenset({"CNY", "JPY"}), "￥": frozenset({"CNY", "JPY"}), "$": _DOLLARS, "＄": _DOLLARS,
    "us$": frozenset({"USD"}), "hk$": frozenset({"HKD"}), "€": frozenset({"EUR"}), "£": frozenset({"GBP"}),
    "₹": frozenset({"INR"}), "rmb": frozenset({"CNY"}), "cny": frozenset({"CNY"}), "usd": frozenset({"USD"}),
    "eur": frozenset({"EUR"}), "gbp": frozenset({"GBP"}), "hkd": frozenset({"HKD"}), "jpy": frozenset({"JPY"}),
    "yuan": frozenset({"CNY"}), "dollar": _DOLLARS, "dollars": _DOLLARS, "bucks": _DOLLARS,
    "euro": frozenset({"EUR"}), "euros": frozenset({"EUR"}), "元": frozenset({"CNY"}), "块": frozenset({"CNY"}),
    "块钱": frozenset({"CNY"}), "人民币": frozenset({"CNY"}), "美元": frozenset({"USD"}), "美金": frozenset({"USD"}),
    "港元": frozenset({"HKD"}), "港币": frozenset({"HKD"}), "日元": frozenset({"JPY"}), "欧元": frozenset({"EUR"}),
    "英镑": frozenset({"GBP"}),
}
_NUM = zh_numbers.NUMBER
_PREFIX = r"(?P<pre>us\$|hk\$|[¥￥$＄€£₹]|\b(?:rmb|cny|usd|eur|gbp|hkd|jpy)\b)"
# 块 is also a classifier ("两块电池"): money only when 钱 or no Chinese word follows.
_SUFFIX = (r"(?P<suf>人民币|美元|美金|港元|港币|日元|欧元|英镑|块钱|块(?![\u4e00-\u9fff])|元"
           r"|(?:rmb|cny|usd|eur|gbp|hkd|jpy|yuan|dollars?|bucks|euros?)\b)")
# "价格399", "price: 399", "costs 399": a price word makes a bare number a price.
_PRICE_WORD = r"(?:价格|售价|价钱|到手价|仅售|\bpriced? (?:at|is|of)|\bcosts?|\bsells? for)"
_MONEY = re.compile(
    rf"{_PREFIX}\s?(?P<a>{_NUM})"
    rf"|(?P<b>{_NUM})\s?{_SUFFIX}"
    rf"|{_PRICE_WORD}\s?[:：]?\s?(?P<c>{_NUM})",
    re.IGNORECASE,
)
_ANY_NUMBER = re.compile(_NUM)
_DIGITS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\d.,])\d+(?:\.\d+)?")
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "dual": 2, "double": 2, "single": 1,
                 "双": 2, "单": 1}


@dataclass(frozen=True)
class Money:
    """An amount of money named in text; ``currencies`` empty when the text does not say."""

    amount: float
    currencies: frozenset[str]
    text: str


def money_in(text: str) -> list[Money]:
    """Every amount of money ``text`` names: "¥1,299", "1299.00元", "RMB 399", "三百九十九块"."""
    found = []
    for m in _MONEY.finditer(text):
        number = m.group("a") or m.group("b") or m.group("c")
        value = zh_numbers.parse_number(number)
        if value is None:
            continue
        marker = (m.group("pre") or m.group("suf") or "").lower()
        currencies = _MARKERS.get(marker, frozenset())
        for amount in value if isinstance(value, tuple) else (value,):
            found.append(Money(float(amount), currencies, m.group(0)))
    return found


def amounts_in(text: str) -> list[float]:
    """Every number in ``text``, money or not ("500以内", "under 300"): a customer's budget."""
    amounts: list[float] = []
    for m in _ANY_NUMBER.finditer(text):
        value = zh_numbers.parse_number(m.group(0))
        if isinstance(value, tuple):
            amounts.extend(value)
        elif value is not None:
            amounts.append(value)
    return amounts


# --- scripts, links, instructions --------------------------------------------------------

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_URL = re.compile(
    r"https?://|\bwww\.|\b[\w\-]+\.(?:com|cn|net|org|io|shop|store|co|me|ly|xyz|top|app)\b"
    r"|[\w.+\-]+@[\w\-]+\.\w+|(?<!\d)\+?\d[\d\s\-]{8,}\d(?!\d)",
    re.IGNORECASE,
)
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b.{0,40}\b(?:instructions?|rules|above|previous|prompt)\b"
    r"|\b(?:system prompt|instructions?|as an ai|language model|i cannot|i can't|i'm sorry)\b"
    r"|\b(?:click|visit our|visit the|call us|call now|contact us|contact the|scan the|dm us|whatsapp"
    r"|wechat|telegram|follow us)\b"
    r"|^\s*(?:system|user|assistant)\s*:|<\|?/?\w*\|?>|```"
    r"|忽略|指令|提示词|系统提示|作为(?:一个)?(?:ai|人工智能|语言模型)|点击|访问|扫码|加微信|微信|联系我们|联系客服|私信|关注我们",
    re.IGNORECASE,
)
_PROMO = re.compile(
    r"\d+\s?%\s?off|\b(?:discount|coupon|promo|free shipping|on sale|limited time|flash sale|voucher)\b"
    r"|\d+(?:\.\d+)?折|[一二三四五六七八九]折|优惠|包邮|满减|促销|秒杀|限时|折扣|红包|赠品|送礼品",
    re.IGNORECASE,
)

# Tokens that name a model: letters with digits ("WF-1000XM5", "C510", "PS5") or an inner
# capital ("AirPods", "OpenRun").  Compared without case, hyphens, dots or spaces.
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-+./]*[A-Za-z0-9]")
_COMPACT = re.compile(r"[\s\-_.,/+'’]+")


def _compact(text: str) -> str:
    return _COMPACT.sub("", text.lower())


def _codes(text: str) -> set[str]:
    codes = set()
    for m in _TOKEN.finditer(text):
        token = m.group(0)
        for part in {token, *re.split(r"[\-+./]", token)}:
            has_digit = any(c.isdigit() for c in part)
            has_alpha = any(c.isalpha() for c in part)
            camel = re.search(r"[a-z][A-Z]", part) is not None
            if len(part) >= 3 and has_alpha and (has_digit or camel):
                codes.add(_compact(part))
    return codes


def _garbled(text: str) -> bool:
    """Undecodable bytes, control or private-use characters, or more symbols than words."""
    if any(c == "\ufffd" or (unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") and c not in "\t ")
           for c in text):
        return True
    visible = [c for c in text if not c.isspace()]
    return sum(1 for c in visible if c.isalnum()) < 0.6 * len(visible)


def _own_numbers(own: str) -> list[float]:
    """Every number the product's record states, in digits, Chinese numerals or English words."""
    numbers = amounts_in(own) + [float(m.group(0).replace(",", "")) for m in _DIGITS.finditer(own)]
    numbers += [float(v) for w, v in _NUMBER_WORDS.items() if re.search(rf"(?<![a-z]){w}(?![a-z])", own)]
    return numbers


def _own_text(product: Product) -> str:
    return product.text().lower()


def _own_names(product: Product) -> set[str]:
    """Latin words of the product's names and attribute values ("sony", "wf", "ipx"), and those
    its Chinese texts use (there, a Latin word is a name: "Omni-Heat", "LDAC")."""
    names = " ".join([product.title, product.title_zh, product.description_zh, product.category_zh,
                      product.brand, *product.attributes.values()])
    return {w.lower() for w in _LATIN_WORD.findall(names)}


class Grounding:
    """Checks model-written reasons against the catalog.  Build once per catalog; the
    indexes (brands with their aliases, model codes and titles of every product) are read-only
    afterwards, so one instance is safe to share between tasks and threads."""

    def __init__(self, catalog: Catalog, *, max_chars: int = 200) -> None:
        self.catalog = catalog
        self.max_chars = max_chars
        # alias (lower) -> canonical brand; ASCII aliases match whole words, Chinese ones anywhere.
        self._brand_of = dict(catalog.brand_aliases)
        for brand in catalog.brands:
            self._brand_of.setdefault(brand.lower(), brand)
        patterns = []
        for alias in sorted(self._brand_of, key=len, reverse=True):
            if alias.isascii():
                if len(alias) >= 2:
                    patterns.append(r"(?<![a-z0-9])" + re.escape(alias) + r"(?![a-z0-9])")
            elif alias:
                patterns.append(re.escape(alias))
        self._brands = re.compile("|".join(patterns)) if patterns else None
        # model code -> ids of the products whose title names it
        self._code_owners: dict[str, set[str]] = {}
        # first four characters (lower) -> full titles (lower) starting with them
        self._titles: dict[str, set[str]] = {}
        for product in catalog.products:
            for title in {product.title, product.title_zh} - {""}:
                for code in _codes(title):
                    self._code_owners.setdefault(code, set()).add(product.id)
                lowered = title.lower().strip()
                if len(lowered) >= 6:
                    self._titles.setdefault(lowered[:4], set()).add(lowered)

    def check(self, text: str, product: Product, *, lang: str, allowed_amounts: Iterable[float] = ()) -> str | None:
        """``None`` if ``text`` may be shown as the reason for ``product`` in ``lang``, else the
        code of the first problem (see the module docstring).  ``allowed_amounts`` are numbers
        that may be named as money besides the product's price: the customer's budget, the
        bounds the template reason states."""
        text = text.strip()
        if sum(1 for c in text if c.isalnum()) < 2:
            return "empty"
        if _garbled(text):
            return "garbled"
        if len(text) > self.max_chars:
            return "too_long"
        if _URL.search(text):
            return "url"
        if _INSTRUCTION.search(text):
            return "instruction"
        if _PROMO.search(text):
            return "promo"
        if not self._language_ok(text, lang, _own_names(product)):
            return "language"
        own = _own_text(product)
        allowed = [product.price, *allowed_amounts]
        if not self._prices_ok(text, product, allowed):
            return "price"
        if self._names_other_product(text, product, own):
            return "other_product"
        if not self._numbers_ok(text, allowed + _own_numbers(own)):
            return "number"
        if set(features_in(text)) - set(product.features):
            return "feature"
        return None

    # --- the parts ----------------------------------------------------------------------

    @staticmethod
    def _language_ok(text: str, lang: str, own_names: set[str]) -> bool:
        han = len(_HAN.findall(text))
        latin_words = _LATIN_WORD.findall(text)
        latin = sum(len(w) for w in latin_words)
        letters = sum(1 for c in text if c.isalpha())
        other = letters - han - sum(1 for c in text if c.isalpha() and c.isascii())
        if other > 0.1 * max(letters, 1):  # kana, hangul, Cyrillic, accented garbage...
            return False
        if lang == "zh":
            # Latin words from the product's own record (its brand, model, "IPX4") are fine.
            foreign = sum(len(w) for w in latin_words if w.lower() not in own_names)
            return han >= 2 and han >= foreign
        words = sum(1 for w in latin_words if len(w) >= 2)
        return words >= 2 and han <= 0.3 * (han + latin)

    @staticmethod
    def _prices_ok(text: str, product: Product, allowed: list[float]) -> bool:
        for money in money_in(text):
            if not any(abs(money.amount - a) < 0.005 for a in allowed):
                return False
            if money.currencies and product.currency not in money.currencies:
                return False
        return True

    @staticmethod
    def _numbers_ok(text: str, known: list[float]) -> bool:
        for m in _DIGITS.finditer(text):
            value = float(m.group(0).replace(",", ""))
            if not any(abs(value - k) < 0.005 for k in known):
                return False
        return True

    def _names_other_product(self, text: str, product: Product, own: str) -> bool:
        lowered = text.lower()
        own_compact = _compact(own)
        if self._brands is not None:
            for m in self._brands.finditer(lowered):
                brand = self._brand_of.get(m.group(0))
                if brand and brand != product.brand and m.group(0) not in own:
                    return True
        for code in _codes(text):
            owners = self._code_owners.get(code)
            if owners and product.id not in owners and code not in own_compact:
                return True
        for i in range(len(lowered) - 3):
            for title in self._titles.get(lowered[i:i + 4], ()):
                if lowered.startswith(title, i) and title not in own:
                    return True
        return False
