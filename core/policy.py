"""The dialogue policy: given the session and what the customer said, decide what to do.

``Policy.respond`` mutates the session in place and returns the replies and the events of
the turn; it does no I/O apart from calling the recommender, so the dialogue manager can
redo a turn whose write lost a race.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from core import cards, metrics, wording
from core.catalog import Product
from core.intents import Intent, Understanding
from core.logs import user_ref
from core.messages import Button, Reply
from core.recommender import Hit, Recommender, SearchRequest
from core.session import Session
from core.settings import Settings
from core.wording import price, t
from core.writers import Pick, TemplateWriter, Writer

# Words that say "I want something" without saying what; a need made only of these is too
# vague to search and earns one clarifying question.
VAGUE_WORDS = {
    "gift", "gifts", "present", "presents", "something", "anything", "stuff", "thing", "things",
    "nice", "good", "recommend", "recommendation", "buy", "shopping", "idea", "ideas", "suggestion",
    "礼物", "东西", "推荐", "买点", "好东西", "随便", "送礼", "什么",
}


_ABOUT_SHOWN = (Intent.DETAILS, Intent.COMPARE, Intent.LIKE, Intent.DISLIKE)


@dataclass
class Turn:
    """The outcome of one turn: replies for the customer, events for the stream, effects to run."""

    replies: list[Reply] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    forget: bool = False
    intent: str = ""  # what the customer asked for, as the metrics count it (set by the dialogue)
    # Writes outside the session (handoff tickets), run by the dialogue manager only after the
    # session is saved, so a turn redone after a lost race does them once.
    effects: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    def event(self, kind: str, **data: Any) -> None:
        self.events.append({"type": kind, "data": data})


class Policy:
    def __init__(self, recommender: Recommender, settings: Settings, writer: Writer | None = None) -> None:
        self.recommender = recommender
        self.settings = settings
        self.writer = writer or TemplateWriter()

    @property
    def catalog(self):  # type: ignore[no-untyped-def]
        return self.recommender.catalog

    async def respond(self, session: Session, und: Understanding, targets: list[str] | None = None) -> Turn:
        """Handle one understood message.  ``targets`` are product ids a button named."""
        turn = Turn()
        lang = session.lang
        intent = und.intent
        positions = und.positions if und.similar_to is None else (und.similar_to,)
        ids = targets if targets is not None else self._positions_to_ids(session, positions)
        if isinstance(ids, Reply):  # a position outside the list
            turn.replies.append(ids)
            return turn
        if not ids and intent in _ABOUT_SHOWN and session.last_results:
            # "compare them", "tell me more", "I'll take it": the list on screen.
            if intent is Intent.COMPARE or len(session.last_results) == 1:
                ids = list(session.last_results)
            else:
                turn.replies.append(Reply(t("which_one", lang, count=len(session.last_results)), kind="notice"))
                return turn

        if intent is Intent.EMPTY:
            turn.replies.append(Reply(t("empty", lang), kind="notice"))
        elif intent is Intent.GREET:
            turn.replies.append(Reply(t("welcome", lang)))
        elif intent is Intent.HELP:
            turn.replies.append(Reply(t("help", lang)))
        elif intent is Intent.THANKS:
            turn.replies.append(Reply(t("thanks", lang)))
        elif intent is Intent.OFFTOPIC:
            turn.replies.append(Reply(t("injection" if und.injection else "offtopic", lang), kind="notice"))
        elif intent is Intent.LANG:
            session.lang = und.new_lang or lang
            session.lang_chosen = True
            turn.replies.append(Reply(t("lang", session.lang)))
        elif intent is Intent.RESET:
            fresh = Session(user=session.user, lang=lang, lang_chosen=session.lang_chosen)
            session.__dict__.update(fresh.__dict__)
            turn.replies.append(Reply(t("reset", lang)))
        elif intent is Intent.FORGET:
            turn.forget = True
            turn.replies.append(Reply(t("forgotten", lang)))
        elif intent is Intent.HUMAN:
            pass  # core.handoff opens a ticket before the policy runs: opening one is I/O, not policy
        elif intent is Intent.DETAILS:
            self._details(session, ids, turn)
        elif intent is Intent.COMPARE:
            self._compare(session, ids, turn)
        elif intent in (Intent.LIKE, Intent.DISLIKE):
            self._react(session, intent, ids, turn)
        elif intent is Intent.MORE:
            await self._more(session, und, ids, turn)
        elif intent is Intent.REFINE:
            await self._refine(session, und, turn)
        else:
            await self._search(session, und, turn)
        return turn

    # --- search -----------------------------------------------------------------------

    async def _search(self, session: Session, und: Understanding, turn: Turn) -> None:
        lang = session.lang
        prefs = session.prefs
        if not und.has_need and not prefs.empty and (und.price_max or und.price_min or und.cheap):
            await self._refine(session, und, turn)
            return
        # A new need replaces the old one; exclusions hold for the whole session.
        prefs.query = und.query
        prefs.category = und.category
        prefs.features = list(und.features)
        prefs.brands = list(und.brands)
        prefs.price_min, prefs.price_max = und.price_min, und.price_max
        prefs.cheaper_than = prefs.pricier_than = None
        prefs.exclude_brands = _merge(prefs.exclude_brands, und.exclude_brands)
        turn.event("query", text=und.query, category=und.category, features=list(und.features),
                   price_min=und.price_min, price_max=und.price_max)
        if self._too_vague(und) and session.state != "clarifying":
            session.state = "clarifying"
            turn.replies.append(Reply(t("clarify", lang, examples=self._examples(lang)),
                                      buttons=self._category_buttons(lang), kind="clarify"))
            return
        session.state = "browsing"
        hits = await self._find(session, exclude_shown=False, cheap=und.cheap)
        await self._show(session, hits, turn, header=None)

    def _too_vague(self, und: Understanding) -> bool:
        if und.category or und.features or und.brands:
            return False
        words = [w for w in und.query.lower().replace("，", " ").split() if w]
        return all(w in VAGUE_WORDS or any(v in w for v in VAGUE_WORDS if not v.isascii()) for w in words)

    async def _refine(self, session: Session, und: Understanding, turn: Turn) -> None:
        lang = session.lang
        prefs = session.prefs
        if prefs.empty and not session.last_results:
            if und.has_need or und.price_max or und.price_min:
                await self._search(session, replace(und, intent=Intent.SEARCH), turn)
            else:
                turn.replies.append(Reply(t("need_results", lang), kind="notice"))
            return
        turn.event("query", refine=True, cheaper=und.cheaper, pricier=und.pricier,
                   exclude_brands=list(und.exclude_brands), brands=list(und.brands),
                   price_min=und.price_min, price_max=und.price_max, features=list(und.features))
        if und.cheaper:
            await self._cheaper(session, turn)
            return
        if und.pricier:
            await self._pricier(session, turn)
            return
        header = []
        if und.exclude_brands:
            prefs.exclude_brands = _merge(prefs.exclude_brands, und.exclude_brands)
            prefs.brands = [b for b in prefs.brands if b not in und.exclude_brands]
            header.append(t("excluded", lang, brands=self._brands(und.exclude_brands, lang)))
        if und.brands:
            prefs.brands = list(und.brands)
            prefs.exclude_brands = [b for b in prefs.exclude_brands if b not in und.brands]
            header.append(t("only_brands", lang, brands=self._brands(und.brands, lang)))
        if und.price_min is not None or und.price_max is not None:
            prefs.price_min, prefs.price_max = und.price_min, und.price_max
            prefs.cheaper_than = prefs.pricier_than = None
        if und.features:
            prefs.features = _merge(prefs.features, und.features)
        if und.category and und.category != prefs.category:
            prefs.category = und.category
        if und.query and not (und.exclude_brands or und.brands):
            prefs.query = " ".join(dict.fromkeys((prefs.query + " " + und.query).split()))
        hits = await self._find(session, exclude_shown=False, cheap=und.cheap)
        await self._show(session, hits, turn, header=" ".join(header) or None)

    async def _cheaper(self, session: Session, turn: Turn) -> None:
        await self._relative(session, turn, cheaper=True)

    async def _pricier(self, session: Session, turn: Turn) -> None:
        await self._relative(session, turn, cheaper=False)

    async def _relative(self, session: Session, turn: Turn, *, cheaper: bool) -> None:
        """"Cheaper": every product below the cheapest just shown, or an honest "nothing
        cheaper"; "more expensive" the mirror image.  The bound holds until the need changes."""
        lang = session.lang
        prefs = session.prefs
        shown = [p for p in map(self.catalog.get, session.last_results) if p]
        if not shown:
            turn.replies.append(Reply(t("need_results", lang), kind="notice"))
            return
        before = (prefs.cheaper_than, prefs.pricier_than)
        if cheaper:
            bound = min(p.price for p in shown)
            prefs.cheaper_than, prefs.pricier_than = bound, None
            prefs.price_min = None
        else:
            bound = max(p.price for p in shown)
            prefs.cheaper_than, prefs.pricier_than = None, bound
            prefs.price_max = None
        hits = await self._find(session, exclude_shown=True)
        if not hits:  # products shown in earlier lists may still qualify
            hits = await self._find(session, exclude_shown=False)
        limit = price(bound, shown[0].currency)
        if not hits:
            prefs.cheaper_than, prefs.pricier_than = before
            key = "nothing_cheaper" if cheaper else "nothing_pricier"
            turn.replies.append(Reply(t(key, lang, limit=limit), buttons=cards.result_buttons(lang)[1:],
                                      kind="notice"))
            return
        key = "results_cheaper" if cheaper else "results_pricier"
        await self._show(session, hits, turn, header=t(key, lang, n=len(hits), limit=limit))

    async def _more(self, session: Session, und: Understanding, ids: list[str], turn: Turn) -> None:
        lang = session.lang
        if session.prefs.empty and not session.last_results and not ids:
            turn.replies.append(Reply(t("need_results", lang), kind="notice"))
            return
        similar = ids[0] if ids else None
        if similar is not None:
            turn.event("clicked", product=similar, via="similar")
        hits = await self._find(session, exclude_shown=True, similar_to=similar)
        if not hits:
            turn.replies.append(Reply(t("no_more", lang), buttons=(cards.result_buttons(lang)[-1],)))
            return
        if similar is not None:
            product = self.catalog.get(similar)
            header = t("results_similar", lang, n=len(hits), title=product.title_in(lang) if product else "")
        else:
            header = t("results_more", lang, n=len(hits))
        await self._show(session, hits, turn, header=header)

    async def other_brand(self, session: Session) -> Turn:
        """The "another brand" button: the same need without the brands just shown."""
        turn = Turn()
        shown = [p for p in map(self.catalog.get, session.last_results) if p]
        if not shown:
            turn.replies.append(Reply(t("need_results", session.lang), kind="notice"))
            return turn
        brands = tuple(dict.fromkeys(p.brand for p in shown if p.brand))
        hits = await self._find(session, exclude_shown=True, extra_exclude_brands=brands)
        if not hits:
            turn.replies.append(Reply(t("no_more", session.lang), kind="notice"))
            return turn
        await self._show(session, hits, turn, header=None)
        return turn

    async def search_category(self, session: Session, category: str) -> Turn:
        """A clarifying question's category button."""
        turn = Turn()
        session.prefs.category = category
        session.prefs.query = ""
        session.state = "browsing"
        turn.event("query", category=category, via="button")
        hits = await self._find(session, exclude_shown=False)
        await self._show(session, hits, turn, header=None)
        return turn

    async def _find(
        self,
        session: Session,
        *,
        exclude_shown: bool,
        similar_to: str | None = None,
        cheap: bool = False,
        extra_exclude_brands: tuple[str, ...] = (),
    ) -> list[Hit]:
        prefs = session.prefs
        low, high = prefs.price_window()
        limit = self.settings.results
        excluded = set(session.disliked) | (set(session.shown) if exclude_shown else set())
        request = SearchRequest(
            text=prefs.query, lang=session.lang, category=prefs.category,
            price_min=low, price_max=high, brands=tuple(prefs.brands),
            exclude_brands=tuple(prefs.exclude_brands) + extra_exclude_brands,
            exclude_ids=frozenset(excluded), features=tuple(prefs.features), similar_to=similar_to,
            liked=tuple(session.liked), disliked=tuple(session.disliked),
            limit=limit * 3 if cheap else limit,
            user_key=user_ref(session.user),  # a pseudonym: it keeps an A/B test's split per customer
        )
        with metrics.RECOMMEND_SECONDS.time():
            hits = await self.recommender.search(request)
        if cheap:  # "cheap" with no number: the cheapest of the relevant ones
            hits = sorted(hits, key=lambda h: h.product.price)[:limit]
        return hits

    async def _show(self, session: Session, hits: list[Hit], turn: Turn, *, header: str | None) -> None:
        lang = session.lang
        prefs = session.prefs
        if not hits:
            session.misses += 1
            budget = wording.budget_phrase(prefs.price_min, prefs.price_max, self.catalog.currency, lang)
            prefix = (header + " ") if header else ""
            turn.replies.append(Reply(prefix + t("nothing_found", lang, budget=budget, examples=self._examples(lang)),
                                      buttons=self._category_buttons(lang), kind="notice"))
            return
        session.misses = 0
        liked = [p for p in map(self.catalog.get, session.liked) if p]
        picks = [Pick(position=n, product=hit.product, matched_features=hit.matched_features,
                      matched_terms=hit.matched_terms, template_reason=self._reason(hit, session, liked))
                 for n, hit in enumerate(hits, 1)]
        need = prefs.query or (self._category_label(prefs.category, lang) if prefs.category else "")
        reasons = await self.writer.write(picks, lang=lang, need=need)
        product_cards = [cards.card(p.product, lang, position=p.position, reason=r) for p, r in zip(picks, reasons)]
        if header is None:
            about = _about(prefs.query, prefs.category, self.catalog, lang)
            budget = wording.budget_phrase(prefs.price_min, prefs.price_max, self.catalog.currency, lang)
            header = t("results", lang, n=len(hits), about=about, budget=budget)
        ids = [h.product.id for h in hits]
        session.mark_shown(ids)
        # Which model ranked the list ("lexical": no dense model took part), for A/B analysis.
        turn.event("shown", products=ids, model=hits[0].model or "lexical")
        turn.replies.append(Reply(header, products=tuple(product_cards), buttons=cards.result_buttons(lang),
                                  kind="results"))

    def _reason(self, hit: Hit, session: Session, liked: list[Product]) -> str:
        prefs = session.prefs
        product = hit.product
        from core.lexicon import FEATURES

        feature_terms = {term for f in hit.matched_features for term in FEATURES[f].terms}
        # Words that only restate the category ("耳机", "earbuds") say nothing the header didn't.
        info = self.catalog.categories.get(product.category)
        category_words = " ".join([product.category, product.category_zh, *(info.aliases if info else ())]).lower()
        terms = [w for w in hit.matched_terms if w.lower() not in feature_terms
                 and w.lower() not in category_words and (session.lang == "zh" or w.isascii())]
        like = next((p for p in liked if p.id != product.id and p.brand == product.brand
                     and p.category == product.category), None)
        return wording.reason(
            product, session.lang, features=list(hit.matched_features), terms=terms[:3],
            price_min=prefs.price_min, price_max=prefs.price_max, brands=prefs.brands,
            cheaper_than=prefs.cheaper_than, liked_like=like.title_in(session.lang) if like else "",
        )

    # --- acting on shown products -----------------------------------------------------

    def _details(self, session: Session, ids: list[str], turn: Turn) -> None:
        lang = session.lang
        products = [p for p in map(self.catalog.get, ids) if p]
        if not products:
            turn.replies.append(Reply(t("need_results", lang), kind="notice"))
            return
        for product in products[:3]:
            position = session.last_results.index(product.id) + 1 if product.id in session.last_results else 0
            text = cards.details_text(product, lang)
            turn.event("clicked", product=product.id, via="details")
            turn.replies.append(Reply(text, products=(cards.card(product, lang, position=position, details=text),),
                                      kind="details"))

    def _compare(self, session: Session, ids: list[str], turn: Turn) -> None:
        lang = session.lang
        products = [p for p in map(self.catalog.get, dict.fromkeys(ids)) if p]
        if len(products) < 2:
            turn.replies.append(Reply(t("compare_need_two", lang), kind="notice"))
            return
        positions = [session.last_results.index(p.id) + 1 if p.id in session.last_results else 0 for p in products]
        session.state = "comparing"
        turn.event("clicked", products=[p.id for p in products], via="compare")
        turn.replies.append(Reply(
            cards.compare_text(products, positions, lang),
            products=tuple(cards.card(p, lang, position=n) for p, n in zip(products, positions)),
            kind="compare",
        ))

    def _react(self, session: Session, intent: Intent, ids: list[str], turn: Turn) -> None:
        lang = session.lang
        products = [p for p in map(self.catalog.get, ids) if p]
        if not products:
            turn.replies.append(Reply(t("need_results", lang), kind="notice"))
            return
        for product in products:
            if intent is Intent.LIKE:
                session.dislike_streak = 0
                session.liked = _merge(session.liked, (product.id,))
                session.disliked = [p for p in session.disliked if p != product.id]
                turn.event("liked", product=product.id)
                turn.replies.append(Reply(t("liked", lang, title=product.title_in(lang))))
            else:
                session.dislike_streak += 1
                session.disliked = _merge(session.disliked, (product.id,))
                session.liked = [p for p in session.liked if p != product.id]
                turn.event("disliked", product=product.id)
                turn.replies.append(Reply(t("disliked", lang, title=product.title_in(lang))))

    def _positions_to_ids(self, session: Session, positions: tuple[int, ...]) -> list[str] | Reply:
        ids = []
        for n in positions:
            if not 1 <= n <= len(session.last_results):
                if not session.last_results:
                    return Reply(t("need_results", session.lang), kind="notice")
                return Reply(t("bad_position", session.lang, n=n, count=len(session.last_results)), kind="notice")
            ids.append(session.last_results[n - 1])
        return ids

    # --- small helpers ----------------------------------------------------------------

    def _brands(self, brands: tuple[str, ...], lang: str) -> str:
        return wording.join([self.catalog.brand_name(b, lang) for b in brands], lang)

    def _top_categories(self) -> list[str]:
        counts: dict[str, int] = {}
        for product in self.catalog.products:
            if product.category:
                counts[product.category] = counts.get(product.category, 0) + 1
        return sorted(counts, key=lambda c: -counts[c])[:4]

    def _category_label(self, category: str, lang: str) -> str:
        info = self.catalog.categories.get(category)
        if lang == "zh" and info and info.zh:
            return info.zh
        return category.split(">")[-1].strip().lower() if lang == "en" else category.split(">")[-1].strip()

    def _examples(self, lang: str) -> str:
        return wording.join([self._category_label(c, lang) for c in self._top_categories()[:3]], lang)

    def _category_buttons(self, lang: str) -> tuple[Button, ...]:
        return tuple(Button(self._category_label(c, lang), f"category:{c}") for c in self._top_categories())


def _merge(items: list[str], more: tuple[str, ...] | list[str]) -> list[str]:
    return list(dict.fromkeys([*items, *more]))


def _about(query: str, category: str | None, catalog: Any, lang: str) -> str:
    if query:
        return f" for \u201c{query}\u201d" if lang == "en" else f"\u201c{query}\u201d"
    if category:
        info = catalog.categories.get(category)
        name = info.zh if lang == "zh" and info and info.zh else category.split(">")[-1].strip()
        return f" in {name}" if lang == "en" else name
    return ""
