"""Numbers as customers write them in Chinese and mixed text, for budgets and list positions.

``parse_number`` reads one numeral:

    "五百" → 500        "两千" → 2000        "一千五" → 1500 (colloquial: 一千五百)
    "二十五" → 25       "十" → 10           "一千零五" → 1005
    "1.5万" → 15000     "一万五" → 15000     "3千" → 3000      "3千5" → 3500
    "2k"/"2K" → 2000    "1,500" → 1500      "二零二一" → 2021 (digit string)
    "两三百" → (200, 300)   "三四千" → (3000, 4000)   "十五六" → (15, 16)

An approximate pair of adjacent digits ("两三百", "一两千") gives a ``(low, high)`` tuple;
everything else gives a float, or None when the text is not a numeral.  ``NUMBER`` is a
regular expression source for one numeral token inside longer text, linear-time (an atomic
group over disjoint character classes), used by ``core.understanding`` for budgets and
ordinals.  ``trailing_scale`` tells which unit a token ends in, so that "三到五千" can be
read as 3000–5000.

Not handled: "几百" (a few hundred), "半" (half), "百来块", financial numerals mixed with
Arabic digits beyond the forms above, negative numbers.
"""

from __future__ import annotations

import re

DIGITS: dict[str, int] = {
    "零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "俩": 2, "三": 3, "叁": 3,
    "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}
SMALL_UNITS: dict[str, int] = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
BIG_UNITS: dict[str, int] = {"万": 10_000, "萬": 10_000, "亿": 100_000_000}

_ZHD = "".join(DIGITS)
_ZHU = "".join(SMALL_UNITS) + "".join(BIG_UNITS)
_ARABIC = r"(?:\d{1,3}(?:,\d{3}){1,4}|\d{1,15})(?:\.\d{1,6})?"

# One numeral token: Arabic digits optionally followed by "k" or by Chinese units (and more
# digits: "3千5"), or a run of Chinese numeral characters.  Atomic and bounded, and never
# started inside another numeral, so scanning a long run of digits stays linear.
NUMBER = (
    rf"(?<![0-9{_ZHD}{_ZHU}])"
    rf"(?>{_ARABIC}(?:\s?[kK](?![a-zA-Z])|[{_ZHU}](?:[{_ZHD}{_ZHU}]|\d){{0,8}})?"
    rf"|[{_ZHD}{_ZHU}](?:[{_ZHD}{_ZHU}]|\d){{0,11}})"
)
_NUMBER_RE = re.compile(NUMBER)
_ARABIC_RE = re.compile(r"\d+(?:\.\d+)?")
_K_RE = re.compile(r"(\d+(?:\.\d+)?)\s?k")


def parse_number(text: str) -> float | tuple[float, float] | None:
    """The value of one numeral, a ``(low, high)`` pair for "两三百"-style ranges, or None."""
    s = text.strip().lower().replace(",", "")
    if not s or len(s) > 40:
        return None
    if m := _K_RE.fullmatch(s):
        return float(m.group(1)) * 1000
    if _ARABIC_RE.fullmatch(s):
        return float(s)
    pair = _approximate_pair(s)
    if pair is not None:
        return pair
    return _parse_exact(s)


def parse_value(text: str) -> float | None:
    """Like ``parse_number`` but always one float: a range gives its midpoint."""
    value = parse_number(text)
    if isinstance(value, tuple):
        return (value[0] + value[1]) / 2
    return value


def trailing_scale(text: str) -> int:
    """The multiplier a numeral token ends in: 1000 for "五千" or "10k", 1 for "500"."""
    s = text.strip().lower()
    if s.endswith("k"):
        return 1000
    last = s[-1:] if s else ""
    return SMALL_UNITS.get(last) or BIG_UNITS.get(last) or 1


def find_numbers(text: str) -> list[tuple[int, int, str]]:
    """(start, end, token) for every numeral token in ``text``."""
    return [(m.start(), m.end(), m.group()) for m in _NUMBER_RE.finditer(text)]


def _approximate_pair(s: str) -> tuple[float, float] | None:
    # "两三百": two adjacent digits one apart before the same unit → each read on its own.
    # Without any unit only a bare pair counts ("两三" → 2–3; "一二三" is a digit string).
    if len(s) != 2 and not any(c in SMALL_UNITS or c in BIG_UNITS for c in s):
        return None
    for i in range(len(s) - 1):
        a, b = DIGITS.get(s[i]), DIGITS.get(s[i + 1])
        if a is None or b is None or a == 0 or b != a + 1:
            continue
        low = _parse_exact(s[:i] + s[i] + s[i + 2:])
        high = _parse_exact(s[:i] + s[i + 1] + s[i + 2:])
        if low is not None and high is not None and low < high:
            return (low, high)
        return None
    return None


def _tokens(s: str) -> list[tuple[str, float]] | None:
    """Split into ("d", digit value) / ("u", unit) / ("z", 0) tokens; None if anything else."""
    out: list[tuple[str, float]] = []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch.isdigit() and ch.isascii():
            m = _ARABIC_RE.match(s, i)
            assert m is not None
            out.append(("d", float(m.group())))
            i = m.end()
            continue
        if ch in DIGITS:
            out.append(("z", 0.0) if DIGITS[ch] == 0 else ("d", float(DIGITS[ch])))
        elif ch in SMALL_UNITS:
            out.append(("u", float(SMALL_UNITS[ch])))
        elif ch in BIG_UNITS:
            out.append(("U", float(BIG_UNITS[ch])))
        else:
            return None
        i += 1
    return out


def _parse_exact(s: str) -> float | None:
    tokens = _tokens(s)
    if not tokens:
        return None
    if all(kind in "dz" for kind, _ in tokens):
        # A digit string: "二零二一" → 2021; a single digit → itself.
        if any(v >= 10 or v != int(v) for kind, v in tokens if kind == "d") and len(tokens) > 1:
            return None
        return float("".join(str(int(v)) for _, v in tokens))
    total = section = 0.0
    number: float | None = None
    last_unit = 0.0
    after_unit = False  # the pending digit directly follows a unit: "一千五" reads 1500
    previous = ""
    small_limit = big_limit = float("inf")  # units fall within a section: "十十" is not a number
    for kind, value in tokens:
        if kind == "d":
            if number is not None:
                return None  # two digits in a row inside a unit numeral
            number, after_unit = value, previous in ("u", "U")
        elif kind == "u":
            if value >= small_limit:
                return None
            section += (number if number is not None else 1) * value
            number, last_unit, small_limit = None, value, value
        elif kind == "U":
            if value >= big_limit:
                return None
            section += number if number is not None else 0
            total += (section or 1) * value
            section, number, last_unit = 0.0, None, value
            small_limit, big_limit = float("inf"), value
        previous = kind
    if number is not None:
        section += number * (last_unit / 10 if after_unit else 1)
    return total + section
