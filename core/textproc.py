"""Text normalization and tokenization shared by the lexical index and its queries.

Called by ``core.lexical`` when it indexes a catalog and for every search; the same
function must serve both sides, or a query word and the product word it names would
become different tokens.

- Text is NFKC-normalized (full-width letters and digits become ASCII), case-folded and
  stripped of accents ("Lancôme" -> "lancome").
- Chinese runs are segmented with jieba's search mode, which yields a long word and its
  dictionary sub-words ("保温杯" -> "保温", "保温杯"), so a shorter query word still meets
  a longer product word.  Character bigrams of Chinese runs are *not* added: search mode
  already covers dictionary sub-words, and bigrams across word boundaries ("防水蓝牙" ->
  "水蓝", a colour) add false matches.  What bigrams would rescue, a query word that
  appears nowhere in the catalog, the index handles by backing off to characters
  (:func:`cjk_chars`, used by ``core.lexical``).
- English words get a light suffix stemmer (plural -s/-es/-ies, -ing, final -e, a final
  doubled consonant), no external stemmer.  Words with digits are never stemmed, and
  model codes stay whole: "WF-1000XM5" gives "wf1000xm5" plus its parts "wf" and
  "1000xm5", so "wf1000xm5", "WF-1000XM5" and "1000XM5" all meet.  Decimals and fractions
  ("1.9", "3/4") stay one token.
- A small bilingual stopword list removes the words of asking ("我想买一款", "I want a").

jieba is imported and its dictionary loaded lazily, once, under a lock, with its logging
quietened; nothing happens at import time.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import jieba

__all__ = ["normalize", "tokenize", "tokenize_with_surface", "cjk_chars", "stem", "is_cjk"]

_CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = f"[{_CJK_RANGES}]+"
_SEP = r"[-_./+'&]"
_WORD = r"[0-9a-z]+(?:" + _SEP + r"[0-9a-z]+)*"
_TOKEN_RE = re.compile(f"({_CJK_RUN})|({_WORD})")
_SEP_RE = re.compile(_SEP)
_NUMERIC_RE = re.compile(r"\d+(?:[./]\d+)+")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_IS_CJK = re.compile(f"^{_CJK_RUN}$")
_ACCENTED = re.compile("[\u00c0-\u024f\u1e00-\u1eff]")

_EN_STOPWORDS = frozenset(
    """
    a an the and or of for to in on at by with from into as
    i me my mine we us our you your it its this that these those there here
    is are was were be been am do does did have has had will would can could should
    want wants wanted wanna need needs needed looking look searching search
    please pls some something any anything show find get buy buying purchase give
    recommend recommendation recommendations suggest suggestion like prefer
    good best nice great cheap cheaper one ones thing things kind sort type
    under below less than within around about approximately budget price priced
    yuan rmb cny usd dollar dollars bucks kuai
    don doesn didn isn aren wasn weren won wouldn couldn shouldn hasn haven hadn ain
    """.split()  # the last line: what "didn't" leaves once the apostrophe splits it
)

_ZH_STOPWORDS = frozenset(
    """
    的 地 得 了 着 过 吗 呢 吧 啊 呀 哦 嗯 哈 嘛 么
    我 你 您 他 她 它 我们 你们 他们 自己 人
    想 要 想要 需要 买 购买 买个 买块 买件 买双 买台 来 来个 找 找找 帮 给 送 请 请问 麻烦
    推荐 介绍 有 有没有 没有 是不是 是 在 就 都 也 还 还是 和 与 跟 及 或 或者 而且 并且
    很 太 最 更 比较 非常 特别 挺 一下 一些 一点 一点儿 些 点 看 看看 瞧瞧 什么 哪个 哪些 哪款
    怎么 怎么样 如何 这个 那个 这款 那款 这种 那种 东西 之类 的话 适合 合适 用 用的
    左右 以内 以下 以上 之内 不到 不超过 低于 高于 元 块 块钱 钱 预算 价格 价位 便宜 实惠 性价比
    好 好用 不错 好的 能 可以 会 吗 谢谢
    """.split()
)
# "一款", "两双", "几件", "这台": a number or demonstrative plus a measure word.
_ZH_MEASURE_RE = re.compile(
    r"^[一二两三四五几这那每哪某][个款双台部件只条把块副套支本张份瓶盒包对辆]$"
)
# "我想", "给我", "帮我找", "我要买个": runs of the words of asking.
_ZH_ASKING_RE = re.compile(r"^[我想要买来找给帮再请你]+[个块件双台款只条部把套支本张份]?$")

# Words where "-ing" is part of the stem.
_ING_KEEP = frozenset(
    """
    ring earring string spring ceiling sling king wing swing thing bring sing during
    wedding pudding awning siding railing ping sterling evening morning
    """.split()
)
_STRIP_ES = ("sses", "xes", "zes", "ches", "shes")
_KEEP_S = ("ss", "us", "is")
_VOWELS = frozenset("aeiouy")

_lock = threading.Lock()
_segmenter: jieba.Tokenizer | None = None


def _jieba() -> jieba.Tokenizer:
    """The shared jieba tokenizer, loaded on first use (about a second) by one thread."""
    global _segmenter
    if _segmenter is None:
        with _lock:
            if _segmenter is None:
                import jieba as _jieba_module

                _jieba_module.setLogLevel(logging.WARNING)
                seg = _jieba_module.Tokenizer()
                seg.initialize()
                _segmenter = seg
    return _segmenter


def normalize(text: str) -> str:
    """NFKC, case-folded, accents removed, thousands separators dropped ("2,000" -> "2000")."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if not text.isascii():
        text = text.replace("\u2019", "'").replace("\u2018", "'")
        if _ACCENTED.search(text):
            text = _ACCENTED.sub(_strip_accent, text)
    return _THOUSANDS_RE.sub("", text) if "," in text else text


def _strip_accent(m: re.Match[str]) -> str:
    decomposed = unicodedata.normalize("NFKD", m.group())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def is_cjk(token: str) -> bool:
    return bool(_IS_CJK.match(token))


def stem(word: str) -> str:
    """A light English stemmer: plural and -ing suffixes, final -e, final doubled consonant.

    Only alphabetic words longer than three letters change; both an index and its
    queries go through it, so what matters is that variants meet, not that stems are
    words ("charging" and "charge" both become "charg").
    """
    if len(word) <= 3 or not word.isalpha() or not word.isascii():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(_STRIP_ES):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(_KEEP_S):
        word = word[:-1]
    if word.endswith("ing") and len(word) >= 6 and word not in _ING_KEEP:
        base = word[:-3]
        if _VOWELS.intersection(base):
            word = base
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in _VOWELS and word[-1] != "s":
        word = word[:-1]
    return word


def _is_stopword(token: str) -> bool:
    if token in _EN_STOPWORDS or token in _ZH_STOPWORDS:
        return True
    if len(token) == 1 and token.isascii() and token.isalpha():
        return True
    if len(token) <= 4 and not token.isascii():
        return bool(_ZH_MEASURE_RE.match(token) or _ZH_ASKING_RE.match(token))
    return False


# Catalog text repeats the same words and phrases endlessly (brands, categories, "蓝牙耳机"),
# so both halves of tokenizing are memoized; lru_cache is safe across threads.
@functools.lru_cache(maxsize=1 << 16)
def _ascii_tokens(word: str) -> tuple[tuple[str, str], ...]:
    if not _SEP_RE.search(word) or _NUMERIC_RE.fullmatch(word):
        return () if _is_stopword(word) else ((stem(word), word),)
    parts = [p for p in _SEP_RE.split(word) if p]
    joined = "".join(parts)
    out = [] if _is_stopword(joined) else [(stem(joined), word)]
    # A part equal to the whole ("men's" -> "mens" -> "men", "men") would count twice.
    seen = {t for t, _ in out}
    for part in parts:
        token = stem(part)
        if token not in seen and not _is_stopword(part):
            seen.add(token)
            out.append((token, part))
    return tuple(out)


@functools.lru_cache(maxsize=1 << 16)
def _cjk_tokens(run: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (w, w) for w in _jieba().cut_for_search(run)
        if w and not _is_stopword(w) and _IS_CJK.match(w)
    )


def tokenize_with_surface(text: str) -> list[tuple[str, str]]:
    """``(token, surface)`` pairs in text order: the token to index or look up, and the
    normalized word it came from (for showing which words matched)."""
    out: list[tuple[str, str]] = []
    for cjk, word in _TOKEN_RE.findall(normalize(text)):
        out.extend(_cjk_tokens(cjk) if cjk else _ascii_tokens(word))
    return out


def tokenize(text: str) -> list[str]:
    """Tokens of ``text`` for indexing or querying, stopwords removed, in text order."""
    return [token for token, _ in tokenize_with_surface(text)]


def cjk_chars(text: str) -> list[str]:
    """The Chinese characters of ``text`` that are not stopwords, in order.

    The index keeps them as a low-weight field so that a one-character query word ("包",
    "鞋") meets a product word that contains it ("背包", "跑鞋"), and a query word found
    nowhere in the catalog can back off to its characters.
    """
    return [ch for run in re.findall(_CJK_RUN, normalize(text)) for ch in _run_chars(run)]


@functools.lru_cache(maxsize=1 << 16)
def _run_chars(run: str) -> tuple[str, ...]:
    return tuple(ch for ch in run if not _is_stopword(ch))
