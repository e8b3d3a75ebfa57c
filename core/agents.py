"""The agent's side of the handoff: claim, answer, transfer and resolve tickets.

The web console and the CS-platform webhooks (later) call this; so do tests.  It holds no
state: the ticket is in Redis (``core.tickets``) and everything the customer must see goes
through the outbox of their platform (``core.outbox``), which their adapter delivers: the
Telegram and Discord bots send it as a message, the terminal chat prints it.

Agents are named by an id (``agent``) that goes into the ticket history; ``name`` is how the
customer sees them ("Li", "小王"); without one they see "Agent" / "客服".
"""

from __future__ import annotations

from redis.asyncio import Redis

from core.handoff import rating_buttons
from core.messages import Reply
from core.outbox import Outbox
from core.settings import Settings
from core.tickets import ASSIGNED, PENDING, Ticket, TicketStateError, TicketStore
from core.wording import t

MAX_REPLY = 4000


class AgentDesk:
    """Ticket actions of human agents.  Raises ``TicketStateError`` for an action the ticket's
    state does not allow (claimed by someone else, not yours, closed) and Redis errors."""

    def __init__(self, tickets: TicketStore, redis: Redis, settings: Settings) -> None:
        self.tickets = tickets
        self.redis = redis
        self.settings = settings
        self._outboxes: dict[str, Outbox] = {}

    def outbox(self, platform: str) -> Outbox:
        if platform not in self._outboxes:
            self._outboxes[platform] = Outbox(self.redis, self.settings, platform)
        return self._outboxes[platform]

    async def queue(self, limit: int = 50, *, queue: str | None = None) -> list[Ticket]:
        """Tickets waiting for an agent, most urgent first."""
        return await self.tickets.queue(limit, queue=queue)

    async def claim(self, ticket_id: str, agent: str, *, name: str | None = None) -> Ticket:
        """Take a pending ticket; of two agents claiming at once exactly one succeeds.

        The customer is told that a person has joined.
        """
        ticket = await self.tickets.assign(ticket_id, agent, expected_state=PENDING)
        await self._tell(ticket, t("handoff_joined", ticket.lang, agent=name or t("agent", ticket.lang)), "handoff")
        return ticket

    async def reply(self, ticket_id: str, agent: str, text: str, *, name: str | None = None) -> Ticket:
        """Answer the customer: recorded on the ticket and sent to their chat."""
        text = text.strip()[:MAX_REPLY]
        if not text:
            raise ValueError("an empty reply")
        ticket = await self._yours(ticket_id, agent, "reply")
        await self.tickets.append_message(ticket_id, "agent", text, actor=agent)
        said = t("handoff_agent_says", ticket.lang, agent=name or t("agent", ticket.lang), text=text)
        await self._tell(ticket, said, "agent")
        return ticket

    async def transfer(self, ticket_id: str, agent: str, *, to_agent: str | None = None,
                       to_queue: str | None = None, note: str = "") -> Ticket:
        """Pass the ticket to another agent, or back to a queue for anyone there to claim."""
        await self._yours(ticket_id, agent, "transfer", allow_pending=True)
        return await self.tickets.transfer(ticket_id, actor=agent, to_agent=to_agent, to_queue=to_queue, note=note)

    async def resolve(self, ticket_id: str, agent: str, *, note: str = "") -> Ticket:
        """Close the ticket.  The customer is told the bot is back and asked for a 1-5 rating
        (buttons ``rate:1`` .. ``rate:5``); their session is untouched, so the bot carries on
        where it was."""
        await self._yours(ticket_id, agent, "resolve", allow_pending=True)
        ticket = await self.tickets.resolve(ticket_id, actor=agent, note=note, ask_rating=True)
        await self.outbox(ticket.platform).put(
            ticket.user_id, ticket.chat_id or ticket.user_id,
            Reply(t("handoff_resolved", ticket.lang), buttons=rating_buttons(), kind="handoff"), kind="handoff",
        )
        return ticket

    async def _yours(self, ticket_id: str, agent: str, action: str, *, allow_pending: bool = False) -> Ticket:
        ticket = await self.tickets.get(ticket_id, messages=False)
        if ticket.state == ASSIGNED and ticket.assignee == agent:
            return ticket
        if ticket.state == PENDING and allow_pending:
            return ticket
        why = f"assigned to {ticket.assignee}" if ticket.state == ASSIGNED else "claim it first" \
            if ticket.state == PENDING else ""
        raise TicketStateError(ticket_id, ticket.state, f"{action} as {agent}", why)

    async def _tell(self, ticket: Ticket, text: str, kind: str) -> None:
        await self.outbox(ticket.platform).put(ticket.user_id, ticket.chat_id or ticket.user_id,
                                               Reply(text, kind=kind), kind=kind)
