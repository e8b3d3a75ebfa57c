"""The dialogue manager: the one entry point every adapter calls.

``handle`` takes one ``Inbound`` and returns the replies for it.  It holds the user's turn
(one message at a time per user, in arrival order, across processes), drops re-delivered
messages, loads the session, understands the message, lets the policy decide, and writes
the session back.  It never raises for anything a customer can send, and when Redis is
unreachable it answers with an apology and keeps serving once Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import unicodedata

from redis.exceptions import RedisError

from core import metrics
from core.handoff import RATE_ACTION, Handoff
from core.intents import Intent, Understanding
from core.logs import text_ref, user_ref
from core.messages import Inbound, Outcome, Reply
from core.policy import Policy, Turn
from core.recommender import Recommender
from core.session import Session
from core.settings import Settings
from core.store import ConflictError, Held, Loaded, SessionStore
from core.tickets import Ticket, TicketStore
from core.triggers import without_frustration
from core.understanding import Context, understand
from core.wording import t
from core.writers import Writer

log = logging.getLogger(__name__)

_WORDS = re.compile(r"[A-Za-z\u3400-\u9fff\uf900-\ufaff]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_MAX_ACTION = 200
_PRODUCT_ACTIONS = {"details": Intent.DETAILS, "similar": Intent.MORE, "like": Intent.LIKE, "dislike": Intent.DISLIKE}
_SIMPLE_ACTIONS = {
    "more": Intent.MORE, "human": Intent.HUMAN, "reset": Intent.RESET, "help": Intent.HELP,
    "start": Intent.GREET, "forget": Intent.FORGET,
}


# Button actions as the metrics count them: the intent each stands for.
_ACTION_INTENTS = {
    **{name: intent.value for name, intent in (_PRODUCT_ACTIONS | _SIMPLE_ACTIONS).items()},
    "cheaper": "refine", "other_brand": "refine", "details_at": "details", "compare_at": "compare",
    "category": "search", "lang": "lang",
}


def _labelled(turn: Turn, intent: str) -> Turn:
    turn.intent = turn.intent or intent
    return turn


def clean_text(text: str, limit: int) -> tuple[str, bool]:
    """Printable text of at most ``limit`` characters, and whether it was cut.

    Lone surrogates (invalid UTF-16 halves some platforms let through) and control
    characters are dropped; the result is always encodable as UTF-8.
    """
    text = text.encode("utf-8", "ignore").decode("utf-8") if _has_surrogates(text) else text
    truncated = len(text) > limit * 2
    text = text[: limit * 2]  # bound the work before normalizing
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    text = " ".join(text.split())
    if len(text) > limit:
        text, truncated = text[:limit], True
    return text, truncated


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _reply_lang(text: str, session: Session) -> str:
    """Answer in the language the customer writes in.  Wordless messages ("👍", "2") keep
    the session's language, and so do a few Latin words ("ok", "iPhone 15") from a
    customer who chose Chinese."""
    if _CJK.search(text):
        return "zh"
    if not _WORDS.search(text):
        return session.lang
    if session.lang_chosen and session.lang == "zh" and len(re.findall(r"[A-Za-z]+", text)) < 3:
        return "zh"
    return "en"


def _lang_code(hint: str) -> str:
    hint = (hint or "").lower()
    return "zh" if hint.startswith("zh") else "en" if hint.startswith("en") else ""


class DialogueManager:
    def __init__(
        self, store: SessionStore, recommender: Recommender, settings: Settings, *, writer: Writer | None = None,
        tickets: TicketStore | None = None,
    ) -> None:
        self.store = store
        self.recommender = recommender
        self.settings = settings
        self.policy = Policy(recommender, settings, writer)
        self.handoff = Handoff(tickets or TicketStore(store.redis, settings), settings, recommender.catalog)
        # Admission: at most as many turns at once as the process has Redis connections.  A
        # burst beyond that waits here, in arrival order and without a deadline, instead of
        # every turn competing for a connection and the unlucky ones timing out.
        self._slots = asyncio.Semaphore(settings.redis_pool)

    async def handle(self, inbound: Inbound) -> Outcome:
        """Handle one customer message; called by every adapter for every update."""
        started = time.perf_counter()
        async with self._slots:
            outcome = await self._handle(inbound)
        took = time.perf_counter() - started
        metrics.TURN_SECONDS.labels(inbound.platform).observe(took)
        metrics.TURNS.labels(inbound.platform, outcome.intent or "other").inc()
        if log.isEnabledFor(logging.INFO):
            kind = "action" if inbound.action else "text"
            log.info("%s %s: %s, %d replies in %.0f ms", kind, text_ref(inbound.action or inbound.text, log),
                     outcome.intent, len(outcome.replies), took * 1000,
                     extra={"user": user_ref(inbound.user_key), "platform": inbound.platform, "kind": kind,
                            "intent": outcome.intent, "ms": round(took * 1000, 1)})
        return outcome

    async def _handle(self, inbound: Inbound) -> Outcome:
        user = inbound.user_key
        try:
            hint = _lang_code(inbound.lang) or self.settings.default_lang
            ticket_index = self.handoff.index_key(inbound)
            async with self.store.turn(user, message_id=inbound.message_id, lang=hint,
                                       peek=(ticket_index,)) as held:
                if held.duplicate:
                    log.info("duplicate message %s of %s ignored", inbound.message_id, user_ref(user))
                    return Outcome(duplicate=True, intent="duplicate")
                assert held.loaded is not None
                loaded, ticket_id = held.loaded, held.peeked[ticket_index]
                for _attempt in range(3):
                    try:
                        return await self._turn(inbound, held, loaded, ticket_id)
                    except ConflictError:
                        log.warning("session of %s changed during a turn; redoing it", user_ref(user))
                        loaded = await self.store.load(user, lang=hint)
                        ticket_id = await self.handoff.index_of(inbound)
                raise RuntimeError(f"session of {user_ref(user)} kept changing during its turn")
        except (RedisError, OSError) as exc:
            log.error("storage unavailable while handling a message of %s: %s", user_ref(user), exc,
                      extra={"user": user_ref(user), "platform": inbound.platform})
            metrics.error("redis")
            return Outcome([Reply(t("unavailable", self._fallback_lang(inbound)), kind="error")], intent="unavailable")

    async def _turn(self, inbound: Inbound, held: Held, loaded: Loaded, ticket_id: str) -> Outcome:
        user = inbound.user_key
        session = loaded.session
        replies: list[Reply] = []
        if loaded.status == "corrupt":
            replies.append(Reply(t("corrupt", session.lang), kind="notice"))
        ticket = await self.handoff.current(inbound, ticket_id)

        text = ""
        if inbound.action:
            label, _ = clean_text(inbound.action, _MAX_ACTION)
            session.remember("user", f"[{label}]", self.settings.history_limit)
        else:
            text, truncated = clean_text(inbound.text, self.settings.max_message_chars)
            session.lang = _reply_lang(text, session)
            if truncated:
                replies.append(Reply(t("truncated", session.lang, n=self.settings.max_message_chars), kind="notice"))
            if text:
                session.remember("user", text, self.settings.history_limit)
        turn = await self._decide(session, inbound, text, ticket)

        replies.extend(turn.replies)
        if turn.forget:
            await self.store.forget(user)
            await self.handoff.forget(inbound)
            return Outcome(replies, intent=turn.intent)
        session.turns += 1
        for reply in turn.replies:
            session.remember("bot", reply.text, self.settings.history_limit)
        events = [{**e, "data": {**e["data"], "platform": inbound.platform}} for e in turn.events]
        # A turn with ticket writes keeps the user's queue until they are done, so the
        # customer's next message sees the ticket; the others release it with the write.
        await self.store.commit(user, session, rev=loaded.rev, message_id=inbound.message_id, events=events,
                                held=held, release=not turn.effects)
        await self._run_effects(turn, user)
        return Outcome(replies, intent=turn.intent)

    async def _decide(self, session: Session, inbound: Inbound, text: str, ticket: Ticket | None) -> Turn:
        """Who answers this message: the agent (an open ticket), the handoff, or the shopping policy."""
        und = None if inbound.action else self._understand(session, without_frustration(text))
        intent = und.intent if und else _SIMPLE_ACTIONS.get(inbound.action)
        name, _, arg = inbound.action.partition(":")
        if ticket is not None:
            if intent is not Intent.FORGET:  # forgetting works whoever has the conversation
                return _labelled(self.handoff.while_open(session, ticket, inbound, text, intent), "agent")
        else:
            self.handoff.resume(session)
        if name == RATE_ACTION:
            return _labelled(await self.handoff.rate(session, inbound, arg), "rate")
        explicit = intent is Intent.HUMAN
        if text or explicit:
            instead = self.handoff.before_policy(session, inbound, text, und, explicit=explicit)
            if instead is not None:
                return _labelled(instead, "human")
        if inbound.action:
            turn = await self._action(session, inbound.action)
        else:
            assert und is not None
            turn = await self.policy.respond(session, und)
        if not turn.forget:
            self.handoff.after_policy(session, inbound, text, turn)
        return _labelled(turn, und.intent.value if und else _ACTION_INTENTS.get(name, "invalid"))

    async def _run_effects(self, turn: Turn, user: str) -> None:
        """The turn's ticket writes, once its session is saved.  A Redis failure still reaches the
        customer as an apology (they were told an agent is coming); anything else is logged."""
        for effect in turn.effects:
            try:
                await effect()
            except (RedisError, OSError):
                raise
            except Exception:  # the session is saved; one failed write must not lose the turn
                log.exception("a handoff write for %s failed", user_ref(user))
                metrics.error("ticket_write")

    def _understand(self, session: Session, text: str) -> Understanding:
        context = Context(
            has_results=bool(session.last_results),
            result_count=len(session.last_results),
            awaiting="need" if session.state == "clarifying" else None,
        )
        return understand(text, self.recommender.catalog, lang_hint=session.lang, context=context)

    async def _action(self, session: Session, action: str) -> Turn:
        """A button press.  Anything not a button we could have sent changes nothing."""
        lang = session.lang
        name, _, arg = action[:_MAX_ACTION + 1].partition(":")
        invalid = Turn(replies=[Reply(t("unknown_action", lang), kind="notice")])
        if len(action) > _MAX_ACTION:
            return invalid
        if name in _PRODUCT_ACTIONS:
            # Only products this customer was shown: a forged id must not act on the catalog.
            if arg not in session.shown or self.recommender.catalog.get(arg) is None:
                return invalid
            return await self.policy.respond(session, Understanding(_PRODUCT_ACTIONS[name], lang=lang), [arg])
        if name == "cheaper" and not arg:
            return await self.policy.respond(session, Understanding(Intent.REFINE, lang=lang, cheaper=True))
        if name == "other_brand" and not arg:
            return await self.policy.other_brand(session)
        if name in _SIMPLE_ACTIONS and not arg:
            return await self.policy.respond(session, Understanding(_SIMPLE_ACTIONS[name], lang=lang))
        if name in ("details_at", "compare_at"):
            # Slash commands name products by their place in the list: "details_at:2", "compare_at:1,3".
            parts = arg.split(",")
            if not all(p.isdigit() and 0 < int(p) <= 100 for p in parts) or len(parts) > 5:
                return invalid
            intent = Intent.DETAILS if name == "details_at" else Intent.COMPARE
            return await self.policy.respond(session, Understanding(intent, lang=lang,
                                                                    positions=tuple(int(p) for p in parts)))
        if name == "category" and arg in self.recommender.catalog.categories:
            return await self.policy.search_category(session, arg)
        if name == "lang" and arg in ("zh", "en"):
            return await self.policy.respond(session, Understanding(Intent.LANG, lang=lang, new_lang=arg))
        return invalid

    def _fallback_lang(self, inbound: Inbound) -> str:
        if _CJK.search(inbound.text or ""):
            return "zh"
        if _WORDS.search(inbound.text or ""):
            return "en"
        return _lang_code(inbound.lang) or self.settings.default_lang
