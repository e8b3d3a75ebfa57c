"""The customer's side of the handoff, for the dialogue manager.

Every turn the dialogue manager asks ``current`` whether the customer has an open ticket.

- With one, the bot stays out of the way (``while_open``): the message goes to the ticket,
  where the agent sees it live, and the customer gets no reply at all, except a short
  acknowledgement for the first message while nobody has claimed the ticket yet (so the
  customer knows it was not lost).  "cancel", "/bot", "回到机器人" or the "Back to the bot"
  button end the ticket and bring the bot back; "/forget" still forgets.
- Without one, a session still marked "handoff" means an agent closed the ticket: the bot
  resumes (``resume``) with the session as it was, preferences and results included.
- ``before_policy`` opens a ticket for an explicit request or a routing word ("退货") before
  the policy runs, so the shopping context is not overwritten by "I want to return these";
  ``after_policy`` looks for a stuck bot or a frustrated customer and offers a person (or
  opens a ticket, per ``handoff_implicit``).
- ``rate`` takes the 1-5 rating offered when an agent resolves a ticket.

Deciding is separate from doing: these methods only read Redis; every write to a ticket is
queued on ``Turn.effects`` and run by the dialogue manager after the session is saved, so a
turn that is redone after a lost race never opens or appends twice.
"""

from __future__ import annotations

import logging
from typing import Any

from core.catalog import Catalog
from core.hours import BusinessHours
from core.intents import Intent, Understanding
from core.messages import Button, Inbound, Reply
from core.policy import Turn
from core.session import Session
from core.settings import Settings
from core.tickets import PENDING, Ticket, TicketError, TicketStore
from core.triggers import Trigger, Triggers, is_cancel
from core.wording import TEXTS, t

log = logging.getLogger(__name__)

CANCEL_ACTION = "handoff_cancel"
RATE_ACTION = "rate"


def team(queue: str, lang: str) -> str:
    """How the customer hears a queue named: "after-sales team", "售后客服"."""
    key = f"team_{queue}"
    return t(key if key in TEXTS else "team_other", lang)


def rating_buttons() -> tuple[Button, ...]:
    return tuple(Button(f"{n} ★", f"{RATE_ACTION}:{n}") for n in range(1, 6))


def back_button(lang: str) -> Button:
    return Button(t("btn_back_to_bot", lang), CANCEL_ACTION)


def back_at(hours: BusinessHours, opens_at: float, now: float, lang: str) -> str:
    """ "tomorrow at 09:00 (Asia/Shanghai time)", "周一09:00（北京时间）": when agents are back."""
    opens, today = hours.local(opens_at), hours.local(now).date()
    clock = opens.strftime("%H:%M")
    days = (opens.date() - today).days
    if days == 0:
        when = t("today_at", lang, time=clock)
    elif days == 1:
        when = t("tomorrow_at", lang, time=clock)
    else:
        when = t("weekday_at", lang, day=t("weekdays", lang).split(",")[opens.weekday()], time=clock)
    zone = str(hours.tz.key)
    name = "北京" if lang == "zh" and zone in ("Asia/Shanghai", "Asia/Chongqing", "PRC") else zone
    return when + t("zone", lang, zone=name)


def carries_request(und: Understanding) -> bool:
    """Whether a message asks the bot for something beyond free words: a product, a budget,
    a brand, a change to the list, a command."""
    if und.intent not in (Intent.SEARCH, Intent.REFINE, Intent.OFFTOPIC, Intent.EMPTY, Intent.THANKS, Intent.GREET):
        return True
    return bool(und.category or und.features or und.brands or und.exclude_brands or und.positions
                or und.price_min is not None or und.price_max is not None or und.cheap or und.cheaper or und.pricier)


def summary(session: Session, catalog: Catalog) -> dict[str, Any]:
    """What the bot learned, for the agent: the need, the budget, and the products shown,
    liked and disliked, each with its id and title."""
    prefs = session.prefs
    low, high = prefs.price_window()

    def products(ids: list[str]) -> list[dict[str, Any]]:
        found = []
        for product_id in ids:
            product = catalog.get(product_id)
            found.append({"id": product_id, "title": product.title if product else "",
                          "title_zh": product.title_zh if product else "",
                          "brand": product.brand if product else "", "price": product.price if product else None})
        return found

    return {
        "lang": session.lang,
        "query": prefs.query,
        "category": prefs.category,
        "features": list(prefs.features),
        "budget": {"min": low, "max": high, "currency": catalog.currency},
        "brands": list(prefs.brands),
        "exclude_brands": list(prefs.exclude_brands),
        "shown": products(session.last_results),
        "shown_count": len(session.shown),
        "liked": products(session.liked),
        "disliked": products(session.disliked),
        "turns": session.turns,
        "misses": session.misses,
    }


class Handoff:
    """Customer-side handoff decisions of one process; built by the dialogue manager."""

    def __init__(self, tickets: TicketStore, settings: Settings, catalog: Catalog) -> None:
        self.tickets = tickets
        self.settings = settings
        self.catalog = catalog
        self.triggers = Triggers(settings)
        self.hours = BusinessHours.parse(settings.handoff_hours, settings.handoff_timezone)

    def index_key(self, inbound: Inbound) -> str:
        """The key naming the customer's open ticket: the dialogue reads it with the session."""
        return self.tickets.customer_key(inbound.platform, inbound.user_id, "ticket")

    async def index_of(self, inbound: Inbound) -> str:
        return await self.tickets.open_ticket_id(inbound.platform, inbound.user_id)

    async def current(self, inbound: Inbound, ticket_id: str) -> Ticket | None:
        """The customer's open ticket, given the id its index held at the start of the turn
        (no read at all for a customer without one)."""
        if not ticket_id:
            return None
        return await self.tickets.open_ticket_of(inbound.platform, inbound.user_id, known=ticket_id)

    @staticmethod
    def resume(session: Session) -> None:
        """No open ticket: if the session still says "handoff", the agent closed it; bot again."""
        if session.state == "handoff":
            session.state = "browsing"
            session.handoff = None

    # -- while an agent has the conversation ---------------------------------------------------

    def while_open(self, session: Session, ticket: Ticket, inbound: Inbound, text: str,
                   intent: Intent | None) -> Turn:
        """A message while the ticket is open: to the agent, silently; or back to the bot."""
        lang = session.lang
        turn = Turn()
        action = inbound.action
        if action == CANCEL_ACTION or (not action and is_cancel(text)):
            session.state, session.handoff = "browsing", None
            turn.event("handoff_cancelled", ticket=ticket.id)
            turn.effects.append(lambda: self._cancel(ticket.id))
            turn.replies.append(Reply(t("handoff_cancelled", lang), kind="handoff"))
            return turn
        if session.state != "handoff":  # opened elsewhere (a console, a CS platform): the session follows
            session.state = "handoff"
            session.handoff = {"ticket": ticket.id, "reason": ticket.reason, "queue": ticket.queue,
                               "since": round(ticket.created_at, 3)}
        if intent is Intent.HUMAN:
            turn.replies.append(Reply(t("handoff_already", lang), buttons=(back_button(lang),), kind="handoff"))
            return turn
        message = f"[{action}]" if action else text
        if message:
            turn.effects.append(lambda: self._append(ticket.id, message))
        if ticket.state == PENDING and ticket.customer_messages == 0:
            turn.replies.append(Reply(t("handoff_ack", lang), buttons=(back_button(lang),), kind="handoff"))
        return turn

    async def _cancel(self, ticket_id: str) -> None:
        try:
            await self.tickets.cancel(ticket_id)
        except TicketError as exc:  # the agent closed it meanwhile: the customer is back with the bot anyway
            log.info("cancel of ticket %s: %s", ticket_id, exc)

    async def _append(self, ticket_id: str, text: str) -> None:
        try:
            await self.tickets.append_message(ticket_id, "customer", text)
        except TicketError as exc:  # closed between the start of the turn and now
            log.warning("customer message not added to ticket %s: %s", ticket_id, exc)

    # -- triggers ------------------------------------------------------------------------------

    def before_policy(self, session: Session, inbound: Inbound, text: str, und: Understanding | None, *,
                      explicit: bool) -> Turn | None:
        """Instead of the policy: a ticket for an explicit request or a routing word, or a
        person offered to a customer whose message is only frustration ("这也太垃圾了")."""
        trigger = self.triggers.detect_direct(session, text, explicit=explicit)
        if trigger is None and und is not None and not carries_request(und):
            trigger = self.triggers.detect_frustration(session, text, only_frustration=True)
        if trigger is None:
            return None
        turn = Turn()
        self._act(session, inbound, trigger, turn)
        return turn

    def after_policy(self, session: Session, inbound: Inbound, text: str, turn: Turn) -> None:
        """After the policy answered: a stuck bot or a frustrated customer who still asked for
        something gets the answer and an offer of a person (or a ticket, per ``handoff_implicit``)."""
        trigger = self.triggers.detect_implicit(session, text, showed_products=any(r.products for r in turn.replies))
        if trigger is not None:
            self._act(session, inbound, trigger, turn)

    def _act(self, session: Session, inbound: Inbound, trigger: Trigger, turn: Turn) -> None:
        if trigger.action == "open":
            turn.replies.clear()  # the handoff notice is the answer
            self._open(session, inbound, trigger, turn)
            return
        lang = session.lang
        session.offered_turn = session.turns + 1
        session.offered_reason = trigger.reason
        key = "offer_frustration" if trigger.reason == "frustration" else "offer_stuck"
        turn.replies.append(Reply(t(key, lang), buttons=(Button(t("btn_human", lang), "human"),), kind="offer"))
        turn.event("handoff_offered", reason=trigger.reason)

    def _open(self, session: Session, inbound: Inbound, trigger: Trigger, turn: Turn) -> None:
        lang = session.lang
        now = self.tickets.clock()  # one clock for tickets and business hours (tests replace it)
        opens = self.hours.next_open(now)
        opens_at = opens.timestamp() if opens else None
        ticket_id = self.tickets.new_id()
        tags = (*trigger.tags, f"lang:{lang}", *(("after_hours",) if opens_at else ()))
        fields: dict[str, Any] = {
            "platform": inbound.platform, "user_id": inbound.user_id, "chat_id": inbound.chat_id, "lang": lang,
            "reason": trigger.reason, "queue": trigger.queue, "priority": trigger.priority,
            "sla_deadline": (opens_at or now) + self.settings.handoff_sla, "tags": tags,
            "transcript": list(session.history[-self.settings.handoff_transcript:]),
            "summary": summary(session, self.catalog), "ticket_id": ticket_id,
        }
        session.state = "handoff"
        session.handoff = {"ticket": ticket_id, "reason": trigger.reason, "queue": trigger.queue, "since": round(now, 3)}
        session.offered_turn, session.offered_reason = 0, ""
        turn.event("handoff", reason=trigger.reason, queue=trigger.queue, ticket=ticket_id)
        turn.effects.append(lambda: self.tickets.open(**fields))

        who = team(trigger.queue, lang)
        lead = {"customer_request": "handoff_lead_request", "keyword": "handoff_lead_keyword"}.get(
            trigger.reason, "handoff_lead_stuck")
        body = (t("handoff_wait_closed", lang, when=back_at(self.hours, opens_at, now, lang), team=who) if opens_at
                else t("handoff_wait", lang, team=who))
        text = t(lead, lang, team=who) + ("" if lang == "zh" else " ") + body
        turn.replies.append(Reply(text, buttons=(back_button(lang),), kind="handoff"))

    # -- after an agent resolved ---------------------------------------------------------------

    async def rate(self, session: Session, inbound: Inbound, score: str) -> Turn:
        """The ``rate:N`` button: recorded on the ticket waiting for it, else a notice."""
        lang = session.lang
        turn = Turn()
        if score not in ("1", "2", "3", "4", "5"):
            turn.replies.append(Reply(t("unknown_action", lang), kind="notice"))
            return turn
        ticket_id = await self.tickets.awaiting_rating(inbound.platform, inbound.user_id)
        if ticket_id is None:
            turn.replies.append(Reply(t("no_rating", lang), kind="notice"))
            return turn
        turn.event("rated", ticket=ticket_id, rating=int(score))
        turn.effects.append(lambda: self._rate(ticket_id, int(score)))
        turn.replies.append(Reply(t("rated", lang, score=score)))
        return turn

    async def _rate(self, ticket_id: str, score: int) -> None:
        try:
            await self.tickets.set_rating(ticket_id, score)
        except TicketError as exc:  # forgotten or expired meanwhile
            log.warning("rating of ticket %s not recorded: %s", ticket_id, exc)

    async def forget(self, inbound: Inbound) -> None:
        """The customer asked to be forgotten: their tickets go too."""
        await self.tickets.forget_customer(inbound.platform, inbound.user_id)
