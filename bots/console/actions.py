"""Ticket actions as the console's pages and API both do them, with every check server-side.

``act`` answers with the changed ticket or raises ``ActionError`` carrying the HTTP status:
404 no such ticket, 403 the ticket is another agent's, 409 its state does not allow it (taken
meanwhile, closed, not claimed yet), 400 a malformed request.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.agents import AgentDesk
from core.tickets import ASSIGNED, Ticket, TicketNotFound, TicketStateError

ACTIONS = ("claim", "reply", "transfer", "resolve")
MAX_NOTE = 500
MAX_QUEUE = 64

# (zh, en): shown in the ticket's language first, the other one as a hint.
BUILTIN_CANNED: tuple[tuple[str, str], ...] = (
    ("您好，我是人工客服，很高兴为您服务。请问有什么可以帮您？", "Hi, I'm a member of the shop's team. How can I help?"),
    ("请稍等，我帮您查一下。", "One moment please, I'll check that for you."),
    ("这几款都有现货，下单后一般24小时内发货。", "These are all in stock and usually ship within 24 hours."),
    ("还有其他可以帮您的吗？", "Is there anything else I can help you with?"),
    ("感谢您的耐心等待！", "Thank you for waiting!"),
)


class ActionError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def canned_replies(setting: str | None, lang: str) -> list[tuple[str, str]]:
    """``(text, hint)`` pairs: DAOGOU_CONSOLE_CANNED as given, else the built-in list in ``lang``."""
    if setting:
        return [(text.strip(), "") for text in setting.split("|") if text.strip()]
    return [(zh, en) if lang == "zh" else (en, zh) for zh, en in BUILTIN_CANNED]


async def act(desk: AgentDesk, agents: list[str], agent: str, ticket_id: str, action: str,
              fields: Mapping[str, str]) -> Ticket:
    """Do ``action`` on ``ticket_id`` as ``agent``; ``agents`` are the names a ticket may go to."""
    if action not in ACTIONS:
        raise ActionError(404, f"no action {action!r}")
    try:
        ticket = await desk.tickets.get(ticket_id, messages=False)
    except TicketNotFound:
        raise ActionError(404, f"no ticket {ticket_id}") from None
    if not ticket.is_open:
        raise ActionError(409, f"ticket {ticket_id} is {ticket.state}")
    if action != "claim" and ticket.state == ASSIGNED and ticket.assignee != agent:
        raise ActionError(403, f"ticket {ticket_id} is assigned to {ticket.assignee}, not to you")
    try:
        if action == "claim":
            return await desk.claim(ticket_id, agent, name=agent)
        if action == "reply":
            text = str(fields.get("text") or "").strip()
            if not text:
                raise ActionError(400, "the reply is empty")
            return await desk.reply(ticket_id, agent, text, name=agent)
        note = str(fields.get("note") or "").strip()[:MAX_NOTE]
        if action == "resolve":
            return await desk.resolve(ticket_id, agent, note=note)
        to_agent = str(fields.get("to_agent") or "").strip() or None
        to_queue = str(fields.get("to_queue") or "").strip()[:MAX_QUEUE] or None
        if not to_agent and not to_queue:
            raise ActionError(400, "transfer to an agent or to a queue")
        if to_agent and to_agent not in agents:
            raise ActionError(400, f"no agent {to_agent!r}")
        return await desk.transfer(ticket_id, agent, to_agent=to_agent, to_queue=to_queue, note=note)
    except TicketNotFound:
        raise ActionError(404, f"no ticket {ticket_id}") from None
    except TicketStateError as exc:
        raise ActionError(409, str(exc)) from None
    except ValueError as exc:
        raise ActionError(400, str(exc)) from None


def brief(ticket: Ticket, now: float) -> dict[str, object]:
    """What a queue shows of a ticket (no transcript, no messages)."""
    return {
        "id": ticket.id, "state": ticket.state, "priority": ticket.priority, "reason": ticket.reason,
        "queue": ticket.queue, "platform": ticket.platform, "user_id": ticket.user_id, "lang": ticket.lang,
        "assignee": ticket.assignee, "created_at": ticket.created_at, "updated_at": ticket.updated_at,
        "age_s": max(0, round(now - ticket.created_at)), "sla_deadline": ticket.sla_deadline,
        "customer_messages": ticket.customer_messages, "tags": list(ticket.tags),
    }
