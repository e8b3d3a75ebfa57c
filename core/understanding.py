"""Understanding: one customer message (Chinese or English) → one ``Understanding``.

Transparent rules over a lexicon (``core.understanding_lexicon``), tried in this order:

1. cleaning: NFKC, curly quotes straightened, control/format characters, lone surrogates and
   links dropped, whitespace collapsed, at most 2,000 characters read; nothing left → EMPTY.
2. no letters or digits: 👍👌🙏 → THANKS, 👋 → GREET, other emoji and ":)" → OFFTOPIC.
3. slash commands: /start /help /reset /human /forget /lang [zh|en]; unknown ones → HELP.
4. prompt injection ("ignore previous instructions", "忽略之前的指令") → OFFTOPIC, injection.
5. the conversation: FORGET, HUMAN, RESET (distinctive phrases anywhere, single words only
   alone), then LANG, HELP, THANKS, GREET only when they are the whole message once greetings
   and politeness are removed, so "hi, I want running shoes" is a SEARCH.  Closings and
   acknowledgements ("ok", "yes", "no thanks", "算了", "bye") read as THANKS.
6. slots: budget (ranges, "around"/左右 ±20%, under/以内, over/以上, "五百多" → 500–1000, a
   bare amount with a currency → maximum; a number without a budget cue is never a budget,
   and without a currency it must be ≥ 10), cheap / cheaper / pricier, category (longest
   alias), features (``core.lexicon``), brands: exclusions ("不要苹果的", "no Apple or Sony",
   "华为的不要"), "only"/"只要", preferences ("I like Sony") and plain mentions as wanted.
7. the shown list: positions ("the second one", "第2款", "1号", "#2", "1 vs 3") with a cue →
   COMPARE, MORE (similar_to), DISLIKE, LIKE or DETAILS; a lone "2" only within the shown
   results; with results shown, "compare them", "tell me more", "I'll buy it" and pronoun
   questions ("what does it cost?", "这个防水吗") → COMPARE / DETAILS / LIKE with no positions.
8. "more" / "换一批" / "类似的" → MORE, or REFINE when the message also constrains.
9. a need: relative changes (cheaper, exclusions, only) → REFINE; with results shown, a new
   product or recipient ("for my mom") → SEARCH, any other constraint → REFINE; without
   results → SEARCH ("cheaper" as cheap when the bot just asked what is wanted).
10. nothing recognised: help words → HELP, closings → THANKS, weather/jokes/politics/
    arithmetic → OFFTOPIC; after the bot asked for a need → SEARCH; a question → OFFTOPIC;
    a short phrase → REFINE over results ("in red") or SEARCH ("yoga mat"); else OFFTOPIC.

Known misses: negated features ("not waterproof" asks for waterproof); several products in
one message (the longest category alias wins, so "a lens for my phone" is phones); Chinese
aliases match inside longer words ("手机壳" → phones); "几百", "百来块"; colours and sizes
stay in the query; "this one"/"它" carry no position; one intent per message ("start over,
I want shoes" is RESET); questions about a product's attributes only become DETAILS with a
pronoun; sarcasm; brand exclusions need the cue right before the brand list ("Apple is out"
is not one); words from the feature lexicon in other senses ("I am running a company").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from core import lexicon
from core import understanding_lexicon as L
from core.catalog import Catalog
from core.intents import Intent, Understanding
from core.zh_numbers import parse_number, trailing_scale

MAX_CHARS = 2000


@dataclass(frozen=True)
class Context:
    """What the dialogue knows that changes a reading: results on screen, an open question."""

    has_results: bool = False
    result_count: int = 0
    awaiting: str | None = None  # "need" when the bot just asked what the customer wants


def _c(source: str) -> re.Pattern[str]:
    return re.compile(source, re.IGNORECASE)


_NUMERAL = re.compile(r"[0-9零〇一壹二贰两俩三叁四肆五伍六陆七柒八捌九玖十拾百佰千仟万萬亿]")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[a-zA-Z]")
_SPACES = re.compile(r"\s+")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_URL = _c(r"\b(?:https?://|www\.)\S+")
_COMMAND = _c(r"^/([a-z_]+)(?:@\w+)?(?:\s+(.*))?$")
_GREETING = _c(rf"^(?:\s*(?:{L.GREETING})[\s,.!?~:;…。，！？、()]*)+")
_PUNCT, _QUERY_PUNCT, _POLITE = _c(L.PUNCT + "+"), _c(L.QUERY_PUNCT), _c(L.POLITE)
_EMOTICON, _INJECTION, _MATH_OPERATOR = _c(L.EMOTICON), _c(L.INJECTION), _c(L.MATH_OPERATOR)
_FORGET, _HUMAN, _RESET = _c(L.FORGET), _c(L.HUMAN), _c(L.RESET)
_FULL = {name: _c(src) for name, src in (
    ("human", L.FULL_HUMAN), ("reset", L.FULL_RESET), ("help", L.FULL_HELP), ("thanks", L.FULL_THANKS),
    ("greet", L.FULL_GREET), ("details", L.FULL_DETAILS), ("lang_en", L.FULL_LANG["en"]),
    ("lang_zh", L.FULL_LANG["zh"]), ("math", L.MATH),
)}
_OFFTOPIC, _HELP_WORD = _c(L.OFFTOPIC), _c(L.HELP_WORD)
_LEAD_IN, _PRODUCT_NOUN, _FILLER = _c(L.LEAD_IN), _c(L.PRODUCT_NOUN), _c(L.QUERY_FILLER)
_RECIPIENT, _NOT_BAD, _EDGES = _c(L.RECIPIENT), _c(L.NOT_BAD), _c(rf"^(?:\s|{L.EDGE_WORDS})+|(?:\s|{L.EDGE_WORDS})+$")
_CLOSING, _CLOSING_START = _c(L.CLOSING), _c(rf"^(?:{L.CLOSING_START})")
_PRONOUN, _LIKE_IT = _c(L.PRONOUN), _c(L.LIKE_IT)
_CHEAP, _CHEAPER, _PRICIER = _c(L.CHEAP), _c(L.CHEAPER), _c(L.PRICIER)
_CUE = {name: _c(src) for name, src in (
    ("compare", L.COMPARE_CUE), ("similar", L.SIMILAR_CUE), ("dislike", L.DISLIKE_CUE),
    ("like", L.LIKE_CUE), ("details", L.DETAILS_CUE),
)}
_POSITION, _MORE = _c(L.POSITION), _c(L.MORE)
_BARE_UNIT = _c(L.NOT_A_PRICE_UNIT.replace("(?!", "(?=", 1) + r"|(?=\s*(?:pairs?|of|x)(?![a-z]))")
_REF_LEFTOVER = _c(rf"^(?:\s|{L.PUNCT}|{L.alt(L.en('and', 'or', 'vs', 'the', 'one'), '和', '跟', '与')})*$")
_QUESTION = _c(r"\?|^(?:what|who|why|how|when|where|is|are|do|does|can|could|will|would|should|did)(?![a-z])"
               r"|(?<![a-z])(?:how\s+(?:much|many|long)|what|when|where|why|which)(?![a-z])|吗|什么|为什么|怎么|谁|哪|多少")
_EXCLUDE_BEFORE, _ONLY_BEFORE, _PREFER_BEFORE = _c(L.EXCLUDE_BEFORE), _c(L.ONLY_BEFORE), _c(L.PREFER_BEFORE)
_EXCLUDE_AFTER = _c(L.EXCLUDE_AFTER)
_BRAND_GAP, _BRAND_JOIN, _BRAND_TAIL = _c(r"[\s-]*" + L.BRAND_GAP), _c(L.BRAND_JOIN), _c(L.BRAND_TAIL)
_BUDGETS = [(kind, _c(source)) for kind, source in L.BUDGETS]


def clean(text: str) -> str:
    """The message as analysed: normalized, printable, whitespace collapsed, capped."""
    if not isinstance(text, str):
        return ""
    text = text[: MAX_CHARS * 2].encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    if not text.isprintable():
        text = "".join(
            ch for ch in text
            if ch in "\n\t" or (unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co") and ch != "\ufffd")
        )
    text = _URL.sub(" ", text.replace("\ufffd", ""))  # links are not words to understand
    return _SPACES.sub(" ", text).strip()[:MAX_CHARS]


def _lang(text: str, hint: str) -> str:
    if _CJK.search(text):
        return "zh"
    if _LATIN.search(text):
        return "en"
    return hint if hint in ("zh", "en") else "en"


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _core(text: str, polite: bool = True) -> tuple[str, bool]:
    """Lower-cased text without emoji, greetings, politeness (unless ``polite`` is false) or
    punctuation; and whether it greeted."""
    s = text.lower()
    if not s.isascii():
        s = "".join(ch for ch in s if unicodedata.category(ch) not in ("So", "Sk"))
    greeted = _GREETING.match(s)
    s = s[greeted.end():] if greeted and greeted.end() else s
    s = _PUNCT.sub(" ", _POLITE.sub(" ", s) if polite else s)
    return _SPACES.sub(" ", s).strip(), bool(greeted and greeted.end())


def _budget(text: str) -> tuple[float | None, float | None, str]:
    low: float | None = None
    high: float | None = None
    if not _NUMERAL.search(text):
        return low, high, text
    for kind, pattern in _BUDGETS:
        for m in list(pattern.finditer(text)):
            g = {k: v for k, v in m.groupdict().items() if v is not None}
            token = g.get("a") or g.get("x") or ""
            value = parse_number(token)
            if value is None:
                continue
            has_currency = any(k.endswith(("p", "c")) for k in g)
            lo, hi = value if isinstance(value, tuple) else (value, value)
            if kind == "range":
                b = parse_number(g["b"])
                if b is None:
                    continue
                hi = b[1] if isinstance(b, tuple) else b
                scale = trailing_scale(g["b"])
                if scale > 1 and trailing_scale(token) == 1 and lo * scale <= hi:
                    lo *= scale  # "三到五千", "5-10k"
                if lo >= hi or (lo < 10 and not has_currency):
                    continue
            elif kind == "bare" and not (has_currency or (isinstance(value, tuple) and hi >= 10)):
                continue
            elif hi < 10 and not has_currency:
                continue
            if kind == "around":
                lo, hi = round(lo * 0.8, 2), round(hi * 1.2, 2)
            elif kind == "odd":
                hi = hi * 2
            if kind in ("range", "around", "odd") or (kind == "bare" and lo != hi):
                low, high = lo, hi
            elif kind in ("max", "bare"):
                high = hi
            else:
                low = lo
            text = _blank(text, m.start(), m.end())
    if low is not None and high is not None and low > high:
        low = None  # "under $10 ... about 1922": the later, clearer maximum wins
    return (float(low) if low is not None else None, float(high) if high is not None else None, text)


def _positions(text: str, ctx: Context) -> tuple[list[tuple[int, str]], str]:
    """1-based list references with how they were said, and the text without them.

    "strong": unmistakable ("the second one", "第2款", "#2"); "word": a bare ordinal word
    ("second", which is also an adverb); "bare": a bare number ("2").
    """
    found: list[tuple[int, str]] = []
    for m in _POSITION.finditer(text):
        g = m.groupdict()
        numbers: list[int] = []
        kind = "strong"
        if g["zfirst"] or g["efirst"]:
            word = (g["en"] or "").lower()
            n = L.EN_NUMBER_WORDS[word] if word in L.EN_NUMBER_WORDS else parse_number(g["zn"] or word)
            numbers = list(range(1, int(n) + 1)) if isinstance(n, (int, float)) else []
        elif g["zord"] or g["zhao"]:
            n = parse_number(g["zord"] or g["zhao"])
            numbers = [int(n)] if isinstance(n, float) and n == int(n) and 1 <= n <= 20 else []
        elif g["zlast"] or g["ow"]:
            n = -1 if g["zlast"] else L.EN_ORDINALS[g["ow"].lower()]
            said = g["eord"].strip().lower() if g["eord"] else ""
            kind = "strong" if g["zlast"] or said != g["ow"].lower() or g["ow"][0].isdigit() else "word"
            if n == -1:  # "last" only as "the last (one)"; it is also a verb
                n = ctx.result_count if kind == "strong" else 0
            numbers = [n]
        elif g["enum"]:
            numbers = [L.EN_NUMBER_WORDS.get(g["enum"].lower()) or int(g["enum"])]
        elif g["bare"] and not _BARE_UNIT.match(text, m.end()):
            numbers, kind = [int(g["bare"])] if int(g["bare"]) <= 20 else [], "bare"
        numbers = [n for n in numbers if n >= 1]
        if numbers:
            found.extend((n, kind) for n in numbers)
            text = _blank(text, m.start(), m.end())
    return found, text


def _brand_chain(text: str, pos: int, at: dict[int, tuple[int, str | None]]) -> tuple[list[str | None], int]:
    """Brands named from ``pos`` on, joined by "and"/"或"/"、"; and where the list ends."""
    names: list[str | None] = []
    p = _BRAND_GAP.match(text, pos).end()  # type: ignore[union-attr]
    end = pos
    while p in at:
        stop, brand = at[p]
        names.append(brand)
        end = _BRAND_TAIL.match(text, stop).end()  # type: ignore[union-attr]
        join = _BRAND_JOIN.match(text, end)
        if not join:
            break
        p = _BRAND_GAP.match(text, join.end()).end()  # type: ignore[union-attr]
    return names, end


def _brands(text: str, words: L.ShopWords) -> tuple[list[str], list[str], bool, str]:
    """(wanted, excluded, whether "only"/exclusion made it a refinement, text without cue phrases)."""
    if words.brand_re is None:
        return [], [], False, text
    at = {m.start(): (m.end(), L.lookup(m.group(), words.brand_of)) for m in words.brand_re.finditer(text)}
    wanted: list[str | None] = []
    excluded: list[str | None] = []
    refine = False
    for cue, into, is_refine in ((_EXCLUDE_BEFORE, excluded, True), (_ONLY_BEFORE, wanted, True),
                                 (_PREFER_BEFORE, wanted, False)):
        for m in list(cue.finditer(text)):
            names, end = _brand_chain(text, m.end(), at)
            if names:
                into.extend(names)
                refine = refine or is_refine
                text = _blank(text, m.start(), end)
    for start, (stop, brand) in sorted(at.items()):
        if text[start:stop].strip() == "":
            continue  # consumed by a cue above
        after = _EXCLUDE_AFTER.match(text, stop)
        if after:
            excluded.append(brand)
            refine = True
            text = _blank(text, start, after.end())
        else:
            wanted.append(brand)
    out = [b for b in dict.fromkeys(excluded) if b]
    return [b for b in dict.fromkeys(wanted) if b and b not in out], out, refine, text


def _category(text: str, words: L.ShopWords) -> str | None:
    if words.category_re is None:
        return None
    best = max(words.category_re.finditer(text), key=lambda m: len(m.group()), default=None)
    return L.lookup(best.group(), words.category_of) if best else None


def _query(text: str) -> str:
    s = _GREETING.sub(" ", text)
    s = _FILLER.sub(" ", _LEAD_IN.sub(" ", s))
    s = _SPACES.sub(" ", _QUERY_PUNCT.sub(" ", s))
    for _ in range(3):
        s = _EDGES.sub("", s).strip()
    return s


@dataclass
class _Need:
    """What a message says about a product; ``work`` is the text with read phrases blanked."""

    work: str
    price_min: float | None
    price_max: float | None
    cheap: bool
    cheaper: bool
    pricier: bool
    category: str | None
    features: tuple[str, ...]
    product_noun: bool
    cues: dict[str, bool]
    refs: list[tuple[int, str]]
    without_refs: str

    @property
    def has_budget(self) -> bool:
        return self.price_min is not None or self.price_max is not None


def _read_need(text: str, words: L.ShopWords, ctx: Context) -> _Need:
    low, high, work = _budget(text)
    cues = {name: bool(p.search(_NOT_BAD.sub(" good ", work))) for name, p in _CUE.items()}
    refs, without_refs = _positions(work, ctx)
    cheaper, pricier = bool(_CHEAPER.search(work)), bool(_PRICIER.search(work))
    for pattern in (_CHEAPER, _PRICIER):
        work = pattern.sub(lambda m: " " * len(m.group()), work)
    cheap = bool(_CHEAP.search(work))
    work = _CHEAP.sub(lambda m: " " * len(m.group()), work)
    category = _category(work, words)
    product_noun = bool(category or _PRODUCT_NOUN.search(work))
    return _Need(work, low, high, cheap, cheaper, pricier, category, tuple(lexicon.features_in(work)),
                 product_noun, cues, refs, without_refs)


Reading = tuple[Intent, dict[str, Any]]


def _conversation(t: str, core: str, plain: str, greeted: bool) -> Reading | None:
    """FORGET, HUMAN, RESET, LANG, HELP, THANKS, GREET, or arithmetic: the conversation itself."""
    short = len(core) <= 120
    if _FORGET.search(t):
        return Intent.FORGET, {}
    if _HUMAN.search(t) or (short and _FULL["human"].fullmatch(core)):
        return Intent.HUMAN, {}
    if _RESET.search(t) or (short and _FULL["reset"].fullmatch(core)):
        return Intent.RESET, {}
    if not short:
        return None
    for code in ("en", "zh"):
        if _FULL["lang_" + code].fullmatch(core):
            return Intent.LANG, {"new_lang": code}
    if not core and greeted:
        return Intent.GREET, {}
    for name, intent in (("help", Intent.HELP), ("thanks", Intent.THANKS), ("greet", Intent.GREET)):
        if core and (_FULL[name].fullmatch(core) or _FULL[name].fullmatch(plain)):
            return intent, {}
    if _FULL["math"].fullmatch(t.lower()) and _MATH_OPERATOR.search(t.lower()):
        return Intent.OFFTOPIC, {}
    return None


def _list_reference(need: _Need, ctx: Context, core: str) -> Reading | None:
    """COMPARE, MORE like N, DISLIKE, LIKE or DETAILS about the shown list.

    A bare number needs a cue or to stand alone (and alone, shown results); a bare ordinal
    word ("second") needs "compare" or to stand alone; "the second one" always counts.
    """
    cues, refs = need.cues, need.refs
    only_refs = bool(_REF_LEFTOVER.match(_core(need.without_refs)[0]))
    alone = only_refs and (len(refs) > 1 if not ctx.has_results else True)

    def accepted(n: int, kind: str) -> bool:
        if kind == "word":
            return cues["compare"] or only_refs
        if kind == "bare":
            return any(cues.values()) or (alone and (not ctx.has_results or n <= ctx.result_count))
        return True

    positions = tuple(dict.fromkeys(n for n, kind in refs if accepted(n, kind)))
    if positions and not (need.product_noun and not ctx.has_results):
        if cues["compare"] or (len(positions) >= 2 and not (cues["like"] or cues["dislike"] or cues["similar"])):
            return Intent.COMPARE, {"positions": positions}
        if cues["similar"]:
            return Intent.MORE, {"similar_to": positions[0]}
        if cues["dislike"]:
            return Intent.DISLIKE, {"positions": positions, "cheaper": need.cheaper}
        if cues["like"]:
            return Intent.LIKE, {"positions": positions}
        return Intent.DETAILS, {"positions": positions}
    if ctx.has_results and not (need.product_noun or need.has_budget) and len(core) <= 120:
        if cues["compare"] and not need.features:
            return Intent.COMPARE, {}
        if _FULL["details"].fullmatch(core):
            return Intent.DETAILS, {}
        if _LIKE_IT.search(core):
            return Intent.LIKE, {}
    return None


def _need_intent(t: str, need: _Need, words: L.ShopWords, ctx: Context, core: str) -> Reading | None:
    """MORE, SEARCH or REFINE, or None when nothing in the message is about shopping."""
    wanted, excluded, brand_refine, work = _brands(need.work, words)
    constrained = bool(need.category or need.features or wanted or excluded or need.has_budget
                       or need.cheaper or need.pricier)
    more = _MORE.search(work)
    if more:
        rest = _blank(work, more.start(), more.end())
        if not (_query(rest) or constrained):
            return Intent.MORE, {}
        more = more if ctx.has_results else None
        work = rest if more else work
    if _CUE["similar"].search(work) and not (need.product_noun or need.has_budget or wanted or excluded):
        rest = _CUE["similar"].sub(lambda m: " " * len(m.group()), work)
        if not (_query(rest) or constrained) or (
                ctx.has_results and not (need.cheaper or need.pricier or need.features)):
            return Intent.MORE, {}
        work = rest if ctx.has_results else work
    slots: dict[str, Any] = dict(
        query=_query(work), category=need.category, cheap=need.cheap, brands=tuple(wanted),
        exclude_brands=tuple(excluded), features=need.features, price_min=need.price_min, price_max=need.price_max,
    )
    relative = {"cheaper": need.cheaper, "pricier": need.pricier}
    new_need = need.product_noun or bool(_RECIPIENT.search(t))
    changes = need.cheaper or need.pricier or brand_refine or bool(more)
    lead_in = bool(_LEAD_IN.search(t))
    if _OFFTOPIC.search(t) and not (new_need or wanted or need.has_budget or (lead_in and need.features)):
        return Intent.OFFTOPIC, {}
    if (ctx.has_results and _QUESTION.search(t.lower()) and _PRONOUN.search(core)
            and not (new_need or lead_in or need.has_budget or wanted or excluded or changes)):
        return Intent.DETAILS, {}  # "what does it cost?", "is it waterproof?", "这个防水吗"
    has_slots = bool(need.features or wanted or excluded or need.has_budget or need.cheap)
    if not (new_need or lead_in or changes or has_slots):
        return None
    if ctx.has_results:
        if new_need and (lead_in or not changes):
            return Intent.SEARCH, slots
        return Intent.REFINE, {**slots, **relative}
    if changes and not new_need and ctx.awaiting != "need":
        return Intent.REFINE, {**slots, **relative}  # "cheaper", "不要苹果的" said before any results
    if not (new_need or has_slots) and _HELP_WORD.search(t):
        return Intent.HELP, {}
    return Intent.SEARCH, {**slots, "cheap": need.cheap or need.cheaper}


def _fallback(t: str, core: str, query: str, lang: str, ctx: Context) -> Reading:
    """Nothing about shopping was recognised."""
    question = bool(_QUESTION.search(t.lower()))
    if _HELP_WORD.search(core):
        return Intent.HELP, {}
    if not question and (_CLOSING.search(core) or _CLOSING_START.match(core)):
        return Intent.THANKS, {}
    if ctx.awaiting == "need":
        return Intent.SEARCH, {"query": query}
    if question or all(w.isdigit() for w in core.split()):
        return Intent.OFFTOPIC, {}
    size = len(query.split()) if lang == "en" else len(query)
    if ctx.has_results and 0 < size <= (4 if lang == "en" else 10):
        return Intent.REFINE, {"query": query}  # "in red", "红色的"
    if size <= (5 if lang == "en" else 10):
        return Intent.SEARCH, {"query": query}  # "yoga mat"
    return Intent.OFFTOPIC, {}


def _symbols_only(t: str) -> Intent:
    symbols = [ch for ch in t if unicodedata.category(ch) in ("So", "Sk")]
    if any(ch in L.THANKS_EMOJI for ch in symbols):
        return Intent.THANKS
    if any(ch in L.GREET_EMOJI for ch in symbols):
        return Intent.GREET
    return Intent.OFFTOPIC if symbols or _EMOTICON.search(t) else Intent.EMPTY


def understand(text: str, catalog: Catalog, *, lang_hint: str = "", context: Context | None = None) -> Understanding:
    """Read one message.  Pure, never raises, and fast: the dialogue manager calls it on every
    text turn, with ``context`` saying whether results are on screen or a question is open."""
    ctx = context or Context()
    t = clean(text)
    lang = _lang(t, lang_hint)
    reading = _read(t, catalog, ctx, lang)
    return Understanding(reading[0], lang=lang, **reading[1])


def _read(t: str, catalog: Catalog, ctx: Context, lang: str) -> Reading:
    if not any(ch.isalnum() for ch in t):
        return _symbols_only(t), {}
    if command := _COMMAND.match(t):
        kind = L.COMMANDS.get(command.group(1).lower(), "help")
        if kind == "lang":
            return Intent.LANG, {"new_lang": L.LANG_WORDS.get((command.group(2) or "").strip().lower())}
        return Intent(kind), {}
    if _INJECTION.search(t):
        return Intent.OFFTOPIC, {"injection": True}
    core, greeted = _core(t)
    plain = _core(t, polite=False)[0]  # "what can you do" must keep its "can you"
    words = L.shop_words(catalog)
    found = _conversation(t, core, plain, greeted)
    if found is None:
        need = _read_need(t, words, ctx)
        found = _list_reference(need, ctx, core) or _need_intent(t, need, words, ctx, core)
        if found is None:
            found = _fallback(t, core, _query(_brands(need.work, words)[3]), lang, ctx)
    return found
