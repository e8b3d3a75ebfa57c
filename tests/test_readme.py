"""The README documents every setting, so the table cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

from core.settings import describe

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [var for var, *_ in describe() if f"`{var}`" not in text]
    assert missing == []


def test_the_readme_gives_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text
