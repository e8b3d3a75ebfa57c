"""Addresses the chat platforms accept for link buttons and images."""

from __future__ import annotations

import re

_WEB_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)


def web_url(url: str, limit: int = 2048) -> str:
    """``url`` when it is an http(s) address a platform would accept, else ""."""
    url = (url or "").strip()
    return url if _WEB_URL.fullmatch(url) and len(url) <= limit else ""
