"""Telegram's view of a ``Reply``: HTML text within Telegram's limits, and the messages to send.

Everything a customer or the catalog wrote is escaped, so a product title like
``<b>50% off</b> & more`` shows as written and can never break the parse mode.  Telegram
counts its limits (4,096 characters a message, 1,024 a caption) in UTF-16 code units of
the text after entity parsing, so lengths are measured on the visible text before markup
is added.  Buttons are left as ``core.messages.Button``: signing them needs Redis and
happens in the adapter.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from bots import fit
from bots.links import web_url
from core.messages import Button, ProductCard, Reply
from core.wording import price, t

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

@dataclass(frozen=True)
class Outgoing:
    """One Telegram message: a photo with a caption, or text; HTML; ``rows`` of buttons,
    where a button whose action starts with ``url:`` opens that address."""

    html: str
    photo: str = ""
    rows: tuple[tuple[Button, ...], ...] = ()
    fallback: str = ""  # the text to send instead when Telegram cannot fetch the photo
    products: tuple[str, ...] = field(default=())  # product ids shown, for logs and tests


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji or rare CJK char counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def cut(text: str, limit: int) -> str:
    """``text`` shortened to at most ``limit`` UTF-16 units, marked with an ellipsis."""
    return fit.cut(text, limit, units)


def split(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Plain text in pieces of at most ``limit`` UTF-16 units."""
    return fit.split(text, limit, units)


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def card_html(card: ProductCard, lang: str, *, limit: int, with_details: bool = False) -> str:
    """A product as HTML whose visible text fits ``limit``: title, brand and price, the reason
    it fits (or its details), and a link to its page.  The title and price always show;
    the reason or details are shortened to what is left."""
    head = f"{card.position}. {card.title}" if card.position else card.title
    line = " · ".join(part for part in (card.brand, price(card.price, card.currency)) if part)
    link = t("view_product", lang) if web_url(card.url) else ""
    body = card.details if with_details and card.details else card.reason
    if with_details and card.details:
        # The details begin with the title and price, already in the head lines.
        body = body.split("\n", 1)[1] if "\n" in body else ""
    head = cut(head, limit // 2)
    fixed = units(head) + units(line) + (units(link) + 1 if link else 0) + 2
    body = cut(body, max(limit - fixed - 1, 0)) if body and limit - fixed > 8 else ""
    parts = [f"<b>{esc(head)}</b>", esc(line)]
    if body:
        parts.append(esc(body) if with_details else f"<i>{esc(body)}</i>")
    if link:
        parts.append(f'<a href="{html.escape(card.url.strip(), quote=True)}">{esc(link)}</a>')
    return "\n".join(parts)


def card_rows(card: ProductCard, lang: str) -> tuple[tuple[Button, ...], ...]:
    """Details / more like this, like / dislike, then a link to the product page."""
    buttons = list(card.buttons)
    rows = [tuple(buttons[i:i + 2]) for i in range(0, len(buttons), 2)]
    url = web_url(card.url)
    if url:
        rows.append((Button(t("view_product", lang), f"url:{url}"),))
    return tuple(rows)


def set_rows(buttons: tuple[Button, ...]) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i:i + 2]) for i in range(0, len(buttons), 2))


def render(reply: Reply, lang: str) -> list[Outgoing]:
    """The messages that show ``reply`` in Telegram, in order."""
    if reply.kind == "results" and reply.products:
        return _results(reply, lang)
    if reply.kind == "details" and reply.products:
        return _details(reply.products[0], lang)
    if reply.kind == "compare" and reply.products:
        detail_buttons = tuple(
            Button(f"#{c.position or n} {t('btn_details', lang)}", f"details:{c.id}")
            for n, c in enumerate(reply.products, 1)
        )
        return _text(reply.text, set_rows(detail_buttons) + set_rows(reply.buttons))
    return _text(reply.text, set_rows(reply.buttons))


def _results(reply: Reply, lang: str) -> list[Outgoing]:
    out = _text(reply.text, ()) if reply.text.strip() else []
    for card in reply.products:
        out.append(_card(card, lang, with_details=False))
    if reply.buttons:
        out.append(Outgoing(esc(t("refine", lang)), rows=set_rows(reply.buttons)))
    return out


def _details(card: ProductCard, lang: str) -> list[Outgoing]:
    photo = web_url(card.image_url)
    full = card_html(card, lang, limit=TEXT_LIMIT, with_details=True)
    rows = card_rows(card, lang)
    if photo:
        caption = card_html(card, lang, limit=CAPTION_LIMIT, with_details=True)
        if caption == full:  # everything fits under the photo
            return [Outgoing(caption, photo=photo, rows=rows, fallback=full, products=(card.id,))]
        short = card_html(card, lang, limit=CAPTION_LIMIT)
        return [Outgoing(short, photo=photo, fallback=short, products=(card.id,)),
                Outgoing(full, rows=rows, products=(card.id,))]
    return [Outgoing(full, rows=rows, products=(card.id,))]


def _card(card: ProductCard, lang: str, *, with_details: bool) -> Outgoing:
    photo = web_url(card.image_url)
    rows = card_rows(card, lang)
    if photo:
        return Outgoing(card_html(card, lang, limit=CAPTION_LIMIT, with_details=with_details), photo=photo,
                        rows=rows, fallback=card_html(card, lang, limit=TEXT_LIMIT, with_details=with_details),
                        products=(card.id,))
    return Outgoing(card_html(card, lang, limit=TEXT_LIMIT, with_details=with_details), rows=rows,
                    products=(card.id,))


def _text(text: str, rows: tuple[tuple[Button, ...], ...]) -> list[Outgoing]:
    pieces = split(text.strip() or "…")
    return [Outgoing(esc(piece), rows=rows if n == len(pieces) - 1 else ()) for n, piece in enumerate(pieces)]
