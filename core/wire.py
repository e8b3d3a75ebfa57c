"""The recommender service's wire format, shared by the server (``core.service``) and the
client (``core.remote``): a ``SearchRequest`` as JSON, strictly validated, and hits back."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from core.recommender import Hit, SearchRequest

RECOMMEND_PATH = "/v1/recommend"
MAX_LIMIT = 100
MAX_TEXT_CHARS = 4000  # bounds the tokenizing and scoring one request can cost
MAX_LIST_ITEMS = 1000
MAX_ITEM_CHARS = 500


class RequestError(ValueError):
    """A request body that is not a valid SearchRequest; the message names the field."""


_STR_LISTS = ("brands", "exclude_brands", "features", "liked", "disliked")


def request_to_dict(request: SearchRequest) -> dict[str, Any]:
    """A SearchRequest as JSON-ready data; ``parse_request`` reverses it exactly."""
    return {
        "text": request.text, "lang": request.lang, "category": request.category,
        "price_min": request.price_min, "price_max": request.price_max,
        "brands": list(request.brands), "exclude_brands": list(request.exclude_brands),
        "exclude_ids": sorted(request.exclude_ids), "features": list(request.features),
        "similar_to": request.similar_to, "liked": list(request.liked),
        "disliked": list(request.disliked), "in_stock_only": request.in_stock_only,
        "limit": request.limit, "diverse": request.diverse, "user_key": request.user_key,
    }


def parse_request(data: Any) -> SearchRequest:
    """Validate decoded JSON and build the SearchRequest; raises RequestError naming the
    first bad field.  Absent fields (and nulls for the optional ones) take the defaults."""
    if not isinstance(data, dict):
        raise RequestError("the body must be a JSON object")
    values: dict[str, Any] = {}
    if "text" in data:
        values["text"] = _string(data, "text", MAX_TEXT_CHARS)
    if "lang" in data:
        lang = _string(data, "lang", 16)
        if not lang:
            raise RequestError("lang must not be empty")
        values["lang"] = lang
    for name in ("category", "similar_to"):
        if data.get(name) is not None:
            values[name] = _string(data, name, MAX_ITEM_CHARS)
    if data.get("user_key") is not None:
        values["user_key"] = _string(data, "user_key", MAX_ITEM_CHARS)
    for name in ("price_min", "price_max"):
        if data.get(name) is not None:
            values[name] = _number(data, name)
    for name in _STR_LISTS:
        if name in data:
            values[name] = tuple(_string_list(data, name))
    if "exclude_ids" in data:
        values["exclude_ids"] = frozenset(_string_list(data, "exclude_ids"))
    for name in ("in_stock_only", "diverse"):
        if name in data:
            if not isinstance(data[name], bool):
                raise RequestError(f"{name} must be true or false")
            values[name] = data[name]
    if "limit" in data:
        limit = data["limit"]
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise RequestError(f"limit must be a whole number from 1 to {MAX_LIMIT}")
        if not 1 <= limit <= MAX_LIMIT:
            raise RequestError(f"limit must be from 1 to {MAX_LIMIT}, got {limit}")
        values["limit"] = limit
    return SearchRequest(**values)


def _string(data: Mapping[str, Any], name: str, max_chars: int) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise RequestError(f"{name} must be a string")
    if len(value) > max_chars:
        raise RequestError(f"{name} is longer than {max_chars} characters")
    return value


def _number(data: Mapping[str, Any], name: str) -> float:
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RequestError(f"{name} must be a finite number or null")
    return float(value)


def _string_list(data: Mapping[str, Any], name: str) -> list[str]:
    value = data[name]
    if not isinstance(value, list):
        raise RequestError(f"{name} must be a list of strings")
    if len(value) > MAX_LIST_ITEMS:
        raise RequestError(f"{name} has more than {MAX_LIST_ITEMS} items")
    for item in value:
        if not isinstance(item, str):
            raise RequestError(f"{name} must be a list of strings")
        if len(item) > MAX_ITEM_CHARS:
            raise RequestError(f"an item of {name} is longer than {MAX_ITEM_CHARS} characters")
    return value


def decode_json(body: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN or Infinity; raises RequestError."""
    if not body.strip():
        raise RequestError("the body is empty; send a JSON object")
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise RequestError("the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise RequestError(f"the body is not valid JSON: {exc}") from None


def _reject_constant(name: str) -> Any:
    raise RequestError(f"the body is not valid JSON: {name} is not a number")


def hit_to_dict(hit: Hit) -> dict[str, Any]:
    return {
        "product": hit.product.to_dict(), "score": hit.score,
        "matched_terms": list(hit.matched_terms), "matched_features": list(hit.matched_features),
        "model": hit.model,
    }


# -- the application --------------------------------------------------------------------
