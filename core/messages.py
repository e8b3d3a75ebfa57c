"""Platform-neutral messages: what an adapter hands the dialogue manager, and what it gets back.

Adapters translate a platform update into one ``Inbound`` and render each ``Reply``
natively (photos with keyboards, embeds, plain text, JSON).  Nothing here knows a platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Inbound:
    """One customer message or button press.

    ``text`` and ``action`` are mutually exclusive in practice: a button press carries the
    button's ``action`` string and no text.  ``message_id`` is the platform's id of the
    update, used to handle a re-delivered update only once; empty means "no id, never a
    duplicate".  ``lang`` is the platform's language hint (e.g. Telegram's
    ``language_code``), used only until the customer's own words say otherwise.
    """

    platform: str
    user_id: str
    chat_id: str = ""
    message_id: str = ""
    text: str = ""
    action: str = ""
    lang: str = ""

    @property
    def user_key(self) -> str:
        """The user's identity across the system: platform-qualified, since ids are per platform."""
        return f"{self.platform}:{self.user_id}"


@dataclass(frozen=True)
class Button:
    label: str
    action: str  # sent back verbatim as Inbound.action when pressed

    def to_dict(self) -> dict[str, str]:
        return {"label": self.label, "action": self.action}


@dataclass(frozen=True)
class ProductCard:
    """A product as shown to the customer, with the reason it fits and its own buttons."""

    id: str
    title: str
    brand: str
    price: float
    currency: str
    category: str
    reason: str = ""
    image_url: str = ""
    url: str = ""
    position: int = 0  # 1-based place in the result list, for "tell me more about 2"
    details: str = ""
    buttons: tuple[Button, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "brand": self.brand, "price": self.price,
            "currency": self.currency, "category": self.category, "reason": self.reason,
            "image_url": self.image_url, "url": self.url, "position": self.position,
            "details": self.details, "buttons": [b.to_dict() for b in self.buttons],
        }


@dataclass(frozen=True)
class Reply:
    """One message to the customer: text, optional product cards and buttons for the whole set."""

    text: str
    products: tuple[ProductCard, ...] = ()
    buttons: tuple[Button, ...] = ()
    kind: str = "text"  # text | results | details | compare | clarify | notice | error

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "kind": self.kind,
            "products": [p.to_dict() for p in self.products],
            "buttons": [b.to_dict() for b in self.buttons],
        }


@dataclass(frozen=True)
class Outcome:
    """What one handled turn produced; ``duplicate`` marks a re-delivered message id."""

    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False
