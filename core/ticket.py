"""A handoff ticket: one customer's request for a person, from opening to rating.

A ticket is opened by ``core.handoff`` when a trigger fires, claimed and answered by an agent
through ``core.agents`` (the console and CS webhooks call that later), and closed::

    pending ──assign──► assigned ──resolve──► resolved ──rating──► (rated)
       │  ▲               │  │
       │  └─transfer to a queue   └─transfer to an agent (stays assigned)
       └────────┴──abandon──► abandoned     (customer gone, SLA job, operator)

A customer who goes back to the bot ends the ticket as ``resolved`` with the note
"cancelled by customer": the request is settled, nobody failed to answer it; ``abandoned``
is kept for tickets nobody saw through (expiry, the SLA job, an operator).  Every change
appends a ``Transition`` (from, to, actor, time, note); ``move`` is the one place that
checks a change against the lifecycle.  Storage is ``core.tickets``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

PENDING, ASSIGNED, RESOLVED, ABANDONED = "pending", "assigned", "resolved", "abandoned"
STATES = (PENDING, ASSIGNED, RESOLVED, ABANDONED)
OPEN_STATES = frozenset({PENDING, ASSIGNED})
NEXT_STATES: dict[str, frozenset[str]] = {
    PENDING: frozenset({ASSIGNED, RESOLVED, ABANDONED}),
    ASSIGNED: frozenset({ASSIGNED, PENDING, RESOLVED, ABANDONED}),
    RESOLVED: frozenset(),
    ABANDONED: frozenset(),
}
CANCELLED_NOTE = "cancelled by customer"
MAX_PRIORITY = 9


class TicketError(Exception):
    """A ticket operation that cannot be done; the message says why, for an agent to read."""


class TicketNotFound(TicketError, LookupError):
    def __init__(self, ticket_id: str) -> None:
        super().__init__(f"no ticket {ticket_id!r}")
        self.ticket_id = ticket_id


class TicketStateError(TicketError):
    """The ticket is not in a state that allows this (claimed already, closed, not yours)."""

    def __init__(self, ticket_id: str, state: str, action: str, why: str = "") -> None:
        super().__init__(f"ticket {ticket_id} is {state}: cannot {action}" + (f" ({why})" if why else ""))
        self.ticket_id = ticket_id
        self.state = state
        self.action = action


@dataclass(frozen=True)
class Transition:
    from_state: str | None
    to_state: str
    actor: str
    at: float
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.from_state, "to": self.to_state, "actor": self.actor, "at": self.at, "note": self.note}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transition:
        return cls(data.get("from"), data["to"], data["actor"], float(data["at"]), data.get("note", ""))


@dataclass(frozen=True)
class TicketMessage:
    """A message written while the ticket was open; ``sender`` is "customer" or "agent"."""

    sender: str
    text: str
    at: float
    actor: str = ""  # the agent's id for agent messages

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.sender, "text": self.text, "at": self.at, "actor": self.actor}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TicketMessage:
        return cls(data["from"], data["text"], float(data["at"]), data.get("actor", ""))


@dataclass
class Ticket:
    """One handoff request.  ``summary`` is what the bot learned (see ``core.handoff.summary``);
    ``transcript`` the recent conversation as the session kept it ({role, text, ts})."""

    id: str
    state: str
    reason: str
    queue: str
    platform: str
    user_id: str
    chat_id: str = ""
    lang: str = "en"
    priority: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0
    sla_deadline: float = 0.0
    tags: list[str] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    assignee: str | None = None
    history: list[Transition] = field(default_factory=list)
    rating: int | None = None
    rated_at: float | None = None
    resolution: str = ""  # the note of the closing transition
    # Not in the JSON record: kept in the hash and the message list, filled in by the store.
    messages: list[TicketMessage] = field(default_factory=list)
    customer_messages: int = 0

    @property
    def customer(self) -> str:
        """The customer's identity as the session store names it: ``platform:user``."""
        return f"{self.platform}:{self.user_id}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def to_json(self) -> str:
        data = asdict(self)
        data["history"] = [t.to_dict() for t in self.history]
        del data["messages"], data["customer_messages"]
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    def to_dict(self) -> dict[str, Any]:
        """Everything, messages included, for a console or an API."""
        data = json.loads(self.to_json())
        data["messages"] = [m.to_dict() for m in self.messages]
        data["customer_messages"] = self.customer_messages
        return data

    @classmethod
    def from_json(cls, raw: bytes | str) -> Ticket:
        data = json.loads(raw)
        data["history"] = [Transition.from_dict(t) for t in data.get("history", [])]
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names and k not in ("messages", "customer_messages")})


def move(ticket: Ticket, to_state: str, actor: str, note: str, now: float) -> None:
    """Record a state change, or raise ``TicketStateError`` for one the lifecycle does not allow."""
    if to_state not in NEXT_STATES[ticket.state]:
        raise TicketStateError(ticket.id, ticket.state, f"become {to_state}")
    ticket.history.append(Transition(ticket.state, to_state, actor, now, note))
    ticket.state = to_state
    ticket.updated_at = now
    if to_state in (RESOLVED, ABANDONED):
        ticket.resolution = note
