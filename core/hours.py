"""Business hours of the human agents: when a handoff can be answered at once, and when not.

The handoff opens a ticket at any hour; outside these hours the customer is told when
agents are back, and the ticket's SLA clock starts then.  The setting is plain text a shop
owner can write, in English or Chinese:

    Mon-Fri 09:00-18:00
    Mon-Fri 09:00-12:00 13:30-18:00; Sat 10:00-16:00
    周一至周五 09:00-18:00；周六 10:00-14:00
    daily 08:00-22:00            每天 08:00-22:00
    Fri 22:00-02:00              (past midnight: the span runs into Saturday)
    always   24/7   (empty)      (agents are always there)

Days are listed with commas and ranges (``Mon-Wed,Fri``, ``Sat-Mon`` wraps past Sunday);
several time ranges may follow the days; ``24:00`` ends a day.  Segments are separated by
``;``.  ``parse_spans`` raises ValueError with the offending segment named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY = 24 * 60
_DAYS_EN = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAYS_ZH = "一二三四五六日"
_ALWAYS = {"", "always", "24/7", "24x7", "全天", "全天候"}
_EVERY_DAY = {"daily", "everyday", "every day", "每天", "每日", "天天"}
_TIME_RANGE = re.compile(r"(\d{1,2}):(\d{2})\s*[-–~到至]\s*(\d{1,2}):(\d{2})")
_DAY_RANGE = re.compile(r"\s*(?:-|–|~|到|至)\s*")

Span = tuple[int, int, int]  # weekday (Monday 0), start minute, end minute (exclusive, at most 1440)


def _day(word: str) -> int:
    word = word.strip().lower()
    for prefix in ("周", "星期", "礼拜"):
        if word.startswith(prefix) and len(word) == len(prefix) + 1:
            char = word[-1].replace("天", "日").replace("七", "日")
            if char in _DAYS_ZH:
                return _DAYS_ZH.index(char)
    if len(word) >= 3 and word[:3] in _DAYS_EN and word.isalpha():
        return _DAYS_EN.index(word[:3])
    raise ValueError(f"unknown day {word!r}")


def _days(text: str) -> list[int]:
    text = text.strip().lower()
    if not text or text in _EVERY_DAY:  # "09:00-18:00" alone: every day
        return list(range(7))
    days: list[int] = []
    for part in re.split(r"[,，、]", text):
        ends = _DAY_RANGE.split(part.strip())
        if len(ends) == 1:
            days.append(_day(ends[0]))
        elif len(ends) == 2:
            first, last = _day(ends[0]), _day(ends[1])
            days.extend((first + n) % 7 for n in range((last - first) % 7 + 1))
        else:
            raise ValueError(f"bad day range {part!r}")
    return days


def parse_spans(text: str) -> tuple[Span, ...]:
    """The weekly opening spans ``text`` describes; empty means always open."""
    if text.strip().lower() in _ALWAYS:
        return ()
    spans: list[Span] = []
    for segment in re.split(r"[;；\n]", text):
        segment = segment.strip()
        if not segment:
            continue
        first = _TIME_RANGE.search(segment)
        if not first:
            raise ValueError(f"no HH:MM-HH:MM time range in {segment!r}")
        days = _days(segment[: first.start()])
        rest = _TIME_RANGE.sub("", segment[first.start():])
        if rest.strip(" ,，、"):
            raise ValueError(f"cannot read {rest.strip()!r} in {segment!r}")
        for match in _TIME_RANGE.finditer(segment):
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
                raise ValueError(f"bad time in {match.group()!r}")
            start, end = h1 * 60 + m1, h2 * 60 + m2
            if start == end:
                raise ValueError(f"empty time range {match.group()!r}")
            for day in days:
                if end > start:
                    spans.append((day, start, end))
                else:  # past midnight: the rest of this day and the start of the next
                    spans.append((day, start, DAY))
                    if end:
                        spans.append(((day + 1) % 7, 0, end))
    if not spans:
        raise ValueError("no opening hours given")
    return tuple(sorted(set(spans)))


@dataclass(frozen=True)
class BusinessHours:
    """Weekly opening spans in one time zone.  Built once per process from the settings."""

    spans: tuple[Span, ...]
    tz: ZoneInfo

    @classmethod
    def parse(cls, text: str, timezone: str) -> BusinessHours:
        """Raises ValueError for unreadable hours, and ZoneInfoNotFoundError (a KeyError) for
        an unknown zone; both are checked when the settings load."""
        return cls(parse_spans(text), ZoneInfo(timezone))

    @property
    def always(self) -> bool:
        return not self.spans

    def local(self, timestamp: float) -> datetime:
        return datetime.fromtimestamp(timestamp, self.tz)

    def is_open(self, timestamp: float) -> bool:
        if self.always:
            return True
        now = self.local(timestamp)
        minute = now.hour * 60 + now.minute
        return any(day == now.weekday() and start <= minute < end for day, start, end in self.spans)

    def next_open(self, timestamp: float) -> datetime | None:
        """When agents are next in, as local time; None while they are in now."""
        if self.is_open(timestamp):
            return None
        now = self.local(timestamp)
        for offset in range(8):
            day: date = now.date() + timedelta(days=offset)
            for weekday, start, _end in self.spans:
                if weekday != day.weekday():
                    continue
                opens = datetime.combine(day, time(start // 60, start % 60), tzinfo=self.tz)
                if opens > now:
                    return opens
        raise AssertionError("a weekly schedule with spans always opens within 8 days")
