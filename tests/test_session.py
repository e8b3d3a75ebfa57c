"""Sessions read back whatever an earlier version wrote, and refuse garbage clearly."""

from __future__ import annotations

import pytest

from core.session import MAX_SHOWN, SCHEMA_VERSION, CorruptSession, Session


def test_round_trip() -> None:
    session = Session(user="tg:1", lang="zh")
    session.prefs.price_max = 500
    session.mark_shown(["a", "b"])
    again = Session.from_dict(session.to_dict())
    assert again == session


def test_version_1_layout_is_migrated() -> None:
    old = {"user": "tg:1", "schema_version": 1, "lang": "en",
           "prefs": {"query": "earbuds", "budget": [100, 300]}, "seen": ["x", "y"]}
    session = Session.from_dict(old)
    assert session.schema_version == SCHEMA_VERSION
    assert (session.prefs.price_min, session.prefs.price_max) == (100, 300)
    assert session.shown == ["x", "y"] and session.prefs.query == "earbuds"


def test_missing_fields_default_and_unknown_fields_are_ignored() -> None:
    session = Session.from_dict({"user": "tg:1", "schema_version": SCHEMA_VERSION, "mood": "happy",
                                 "prefs": {"category": "Audio", "colour": "red"}})
    assert session.prefs.category == "Audio" and session.liked == [] and session.state == "browsing"


@pytest.mark.parametrize("data", [
    None, [], "text", {"lang": "en"}, {"user": 5},
    {"user": "tg:1", "schema_version": "two"},
    {"user": "tg:1", "shown": "abc"},
    {"user": "tg:1", "state": "dancing"},
    {"user": "tg:1", "lang": "fr"},
    {"user": "tg:1", "prefs": {"price_max": "cheap"}},
    {"user": "tg:1", "prefs": "nope"},
])
def test_garbage_is_refused(data: object) -> None:
    with pytest.raises(CorruptSession):
        Session.from_dict(data)


def test_shown_and_history_stay_bounded() -> None:
    session = Session(user="tg:1")
    for n in range(MAX_SHOWN + 50):
        session.mark_shown([f"p{n}"])
        session.remember("user", "x" * 1000, 10)
    assert len(session.shown) == MAX_SHOWN and session.shown[-1] == f"p{MAX_SHOWN + 49}"
    assert len(session.history) == 10 and len(session.history[0]["text"]) == 500
