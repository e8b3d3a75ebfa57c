"""Discord's view of a ``Reply``: message content, embeds and button rows within Discord's limits.

Discord allows 2,000 characters of content, 10 embeds a message (title 256, description
4,096, a field 1,024, 6,000 in all) and 5 rows of 5 buttons with labels of 80.  A result
list becomes one message with an embed per product and a row of that product's buttons,
then a short message with the buttons for the whole list.  Text from customers and the
catalog is escaped, so ``**free**`` shows as written and cannot mention anyone (the adapter
also sends with mentions disabled).  Buttons stay ``core.messages.Button``: the adapter signs
them.
"""

from __future__ import annotations

from dataclasses import dataclass

from discord.utils import escape_markdown, escape_mentions

from bots import fit
from bots.links import web_url
from core.messages import Button, ProductCard, Reply
from core.wording import price, t

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
LABEL_LIMIT = 80
EMBEDS_PER_MESSAGE = 10
ROWS_PER_MESSAGE = 5
BUTTONS_PER_ROW = 5
COLOUR = 0xE4572E


@dataclass(frozen=True)
class Embed:
    title: str
    description: str = ""
    url: str = ""
    image: str = ""
    price: str = ""
    brand: str = ""
    footer: str = ""


@dataclass(frozen=True)
class Outgoing:
    """One Discord message; a button whose action starts with ``url:`` is a link button."""

    content: str = ""
    embeds: tuple[Embed, ...] = ()
    rows: tuple[tuple[Button, ...], ...] = ()


def escape(text: str) -> str:
    """Discord markdown and mentions shown literally; links stay clickable."""
    return escape_mentions(escape_markdown(text, ignore_links=True))


def cut(text: str, limit: int) -> str:
    return fit.cut(text, limit)


def split(text: str, limit: int = CONTENT_LIMIT) -> list[str]:
    """Text in pieces of at most ``limit`` characters."""
    return fit.split(text, limit)


def card_embed(card: ProductCard, lang: str, *, details: bool = False) -> Embed:
    title = f"{card.position}. {card.title}" if card.position else card.title
    body = card.details.split("\n", 1)[1] if details and "\n" in card.details else card.reason
    return Embed(
        title=cut(title, TITLE_LIMIT),
        description=cut(escape(body), DESCRIPTION_LIMIT if details else 1000),
        url=web_url(card.url),
        image=web_url(card.image_url),
        price=price(card.price, card.currency),
        brand=cut(card.brand, 256),
        footer=cut(card.category, 256),
    )


def card_row(card: ProductCard, lang: str, *, numbered: bool) -> tuple[Button, ...]:
    """Details, more like this, like, dislike, and a link to the product page."""
    prefix = f"{card.position} · " if numbered and card.position else ""
    row = [Button(cut(prefix + b.label, LABEL_LIMIT), b.action) for b in card.buttons[:4]]
    url = web_url(card.url)
    if url and len(url) <= 512:
        row.append(Button(cut(prefix + t("view_product", lang), LABEL_LIMIT), f"url:{url}"))
    return tuple(row[:BUTTONS_PER_ROW])


def rows_of(buttons: tuple[Button, ...]) -> tuple[tuple[Button, ...], ...]:
    labelled = [Button(cut(b.label, LABEL_LIMIT), b.action) for b in buttons]
    rows = [tuple(labelled[i:i + BUTTONS_PER_ROW]) for i in range(0, len(labelled), BUTTONS_PER_ROW)]
    return tuple(rows[:ROWS_PER_MESSAGE])


def render(reply: Reply, lang: str) -> list[Outgoing]:
    """The messages that show ``reply`` in Discord, in order."""
    if reply.kind == "results" and reply.products:
        return _results(reply, lang)
    if reply.kind == "details" and reply.products:
        card = reply.products[0]
        return [Outgoing(embeds=(card_embed(card, lang, details=True),), rows=(card_row(card, lang, numbered=False),))]
    rows = rows_of(reply.buttons)
    if reply.kind == "compare" and reply.products:
        rows = rows_of(tuple(Button(f"#{c.position or n} {t('btn_details', lang)}", f"details:{c.id}")
                             for n, c in enumerate(reply.products, 1))) + rows
    return _text(reply.text, rows[:ROWS_PER_MESSAGE])


def _results(reply: Reply, lang: str) -> list[Outgoing]:
    out: list[Outgoing] = []
    cards = reply.products
    for start in range(0, len(cards), ROWS_PER_MESSAGE):
        chunk = cards[start:start + ROWS_PER_MESSAGE]
        content = cut(escape(reply.text), CONTENT_LIMIT) if start == 0 else ""
        out.append(Outgoing(content=content, embeds=tuple(card_embed(c, lang) for c in chunk),
                            rows=tuple(card_row(c, lang, numbered=True) for c in chunk)))
    if reply.buttons:
        out.append(Outgoing(content=escape(t("refine", lang)), rows=rows_of(reply.buttons)))
    return out


def _text(text: str, rows: tuple[tuple[Button, ...], ...]) -> list[Outgoing]:
    pieces = split(escape(text.strip()) or "…")
    return [Outgoing(content=piece, rows=rows if n == len(pieces) - 1 else ()) for n, piece in enumerate(pieces)]
