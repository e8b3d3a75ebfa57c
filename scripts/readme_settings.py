"""Rewrite the settings table in README.md from core.settings (run after adding a setting)."""

from __future__ import annotations

import re
from pathlib import Path

from core.settings import describe

README = Path(__file__).resolve().parents[1] / "README.md"


def table() -> str:
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for var, default, expects, doc in describe():
        shown = f"`{default}`" if default else "(unset)"
        rows.append(f"| `{var}` | {shown} | {doc[0].upper() + doc[1:]} ({expects}) |")
    rows.append("| `DAOGOU_CONFIG` | (unset) | A TOML file with any of the settings above (a path) |")
    return "\n".join(rows)


if __name__ == "__main__":
    text = README.read_text(encoding="utf-8")
    start, end = "<!-- settings -->", "<!-- /settings -->"
    if start not in text:
        text = re.sub(r"\| Variable \| Default \| Meaning \|.*?\| `DAOGOU_CONFIG` \|[^\n]*\n",
                      f"{start}\n{table()}\n{end}\n", text, flags=re.S)
    else:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), f"{start}\n{table()}\n{end}", text, flags=re.S)
    README.write_text(text, encoding="utf-8")
