"""Fitting text into a platform's length limits, measured the platform's way.

Telegram counts UTF-16 code units, Discord characters; both adapters pass their measure.
"""

from __future__ import annotations

from collections.abc import Callable

ELLIPSIS = "…"


def cut(text: str, limit: int, length: Callable[[str], int] = len) -> str:
    """``text`` shortened to at most ``limit`` (by ``length``), marked with an ellipsis."""
    if length(text) <= limit:
        return text
    out, used = [], length(ELLIPSIS)
    for ch in text:
        used += length(ch)
        if used > limit:
            break
        out.append(ch)
    return "".join(out).rstrip() + ELLIPSIS


def split(text: str, limit: int, length: Callable[[str], int] = len) -> list[str]:
    """``text`` in pieces of at most ``limit``, broken at a line or a space when one is in
    the second half of a piece."""
    pieces: list[str] = []
    rest = text
    while length(rest) > limit:
        head = cut(rest, limit - 1, length)[:-1]  # without the ellipsis
        brk = max(head.rfind("\n"), head.rfind(" "))
        if brk > len(head) // 2:
            head = head[:brk]
        pieces.append(head.rstrip())
        rest = rest[len(head):].lstrip()
    if rest or not pieces:
        pieces.append(rest)
    return pieces
