"""Platform-neutral messages: what an adapter hands the dialogue manager, and what it gets back.

Adapters translate a platform update into one ``Inbound`` and render each ``Reply``
natively (photos with keyboards, embeds, plain text, JSON).  Nothing here knows a platform.
"""

from __future__ import annotations

from collections.abc import Mapping
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

    @classmethod
    def from_dict(cls, data: Any) -> Button:
        """Inverse of ``to_dict``; raises ValueError on a missing field or a wrong type."""
        data = _mapping(data, "button")
        return cls(label=_str(data, "label"), action=_str(data, "action"))


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

    @classmethod
    def from_dict(cls, data: Any) -> ProductCard:
        """Inverse of ``to_dict``; optional fields may be missing.  Raises ValueError on wrong types."""
        data = _mapping(data, "product")
        return cls(
            id=_str(data, "id"), title=_str(data, "title"), brand=_str(data, "brand"),
            price=_number(data, "price"), currency=_str(data, "currency"), category=_str(data, "category"),
            reason=_str(data, "reason", ""), image_url=_str(data, "image_url", ""), url=_str(data, "url", ""),
            position=_int(data, "position", 0), details=_str(data, "details", ""),
            buttons=tuple(Button.from_dict(b) for b in _list(data, "buttons")),
        )


@dataclass(frozen=True)
class Reply:
    """One message to the customer: text, optional product cards and buttons for the whole set."""

    text: str
    products: tuple[ProductCard, ...] = ()
    buttons: tuple[Button, ...] = ()
    kind: str = "text"  # text | results | details | compare | clarify | notice | error | handoff | offer | agent

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "kind": self.kind,
            "products": [p.to_dict() for p in self.products],
            "buttons": [b.to_dict() for b in self.buttons],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Reply:
        """Inverse of ``to_dict``, for replies that travel through Redis (the outbox).

        Only ``text`` is required; raises ValueError on a missing ``text`` or a wrong type, so a
        reader can treat any bad stored reply as one kind of failure.
        """
        data = _mapping(data, "reply")
        return cls(
            text=_str(data, "text"),
            products=tuple(ProductCard.from_dict(p) for p in _list(data, "products")),
            buttons=tuple(Button.from_dict(b) for b in _list(data, "buttons")),
            kind=_str(data, "kind", "text"),
        )


@dataclass(frozen=True)
class Outcome:
    """What one handled turn produced; ``duplicate`` marks a re-delivered message id."""

    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False
    intent: str = ""  # what the message asked for ("search", "refine", ..., "agent", "duplicate"): for metrics


_REQUIRED: Any = object()


def _mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(f"{what} must be an object, got {type(data).__name__}")
    return data


def _get(data: Mapping[str, Any], key: str, default: Any) -> Any:
    if key in data:
        return data[key]
    if default is _REQUIRED:
        raise ValueError(f"missing {key!r}")
    return default


def _str(data: Mapping[str, Any], key: str, default: Any = _REQUIRED) -> str:
    value = _get(data, key, default)
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be a string, got {type(value).__name__}")
    return value


def _number(data: Mapping[str, Any], key: str) -> float:
    value = _get(data, key, _REQUIRED)
    if isinstance(value, bool) or not isinstance(value, (int, float)):  # bool is an int, but never a price
        raise ValueError(f"{key!r} must be a number, got {type(value).__name__}")
    return float(value)


def _int(data: Mapping[str, Any], key: str, default: int) -> int:
    value = _get(data, key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key!r} must be a whole number, got {type(value).__name__}")
    return value


def _list(data: Mapping[str, Any], key: str) -> list[Any] | tuple[Any, ...]:
    value = _get(data, key, ())
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{key!r} must be a list, got {type(value).__name__}")
    return value
