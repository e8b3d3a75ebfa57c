"""When a conversation should go to a person: explicit requests, a stuck bot, frustration, routing words.

Called by ``core.handoff`` after the policy answered a turn (so the session already counts
this turn's misses and dislikes and holds this message in its history).  Everything here is
pure: it reads the session and the text and returns a ``Trigger`` or None.

- An explicit request ("转人工", "/human", the button) always opens a ticket.
- A routing rule ("退货", "refund", "投诉") opens a ticket in that rule's queue: the shopping
  bot cannot handle returns or complaints, and a shopping adviser is the wrong person too.
- A stuck bot (``handoff_no_result_turns`` turns in a row without a result,
  ``handoff_dislikes`` dislikes without a like, the same message ``handoff_repeats`` times
  while nothing new was shown) and frustration cues ("垃圾", "useless") either offer a person
  with a button or open a ticket at once (``handoff_implicit``).  Offering is the default: a
  customer who did not ask for a person should not find the bot suddenly silent.  An offer
  is not repeated within ``handoff_offer_gap`` turns.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from core.session import Session
from core.settings import Settings
from core.ticket import MAX_PRIORITY

DEFAULT_QUEUE = "shopping"

_QUEUE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_ACTION_ENTRY = re.compile(r"^\[.*\]$", re.DOTALL)  # how the dialogue records a button press in history

# Frustration in both languages.  Conservative: "垃圾桶" is a product, "没用过" is "never used".
FRUSTRATION = re.compile(
    r"(?<![a-z])(?:useless|stupid|dumb|idiot\w*|wtf|ffs|terrible|awful|ridiculous|pathetic|"
    r"not\s+helpful|unhelpful|no\s+help|waste\s+of\s+(?:my\s+)?time|"
    r"(?:you|it|this)\s+(?:don'?t|doesn'?t|do\s+not|does\s+not|never)\s+(?:understand|get\s+it|listen)|"
    r"not\s+what\s+i\s+(?:asked|said|want(?:ed)?)|are\s+you\s+(?:even\s+)?(?:a\s+)?(?:bot|robot|real)|"
    r"(?:so|very|really)\s+annoying|i\s+hate\s+(?:this|you))(?![a-z])"
    r"|垃圾(?!桶|袋|篓|分类|处理|箱|车)|没用(?!过)|没有用|气死|太差|真差|烦死|烦人|无语|废物|智障|"
    r"什么破|搞什么|听不懂|看不懂我|答非所问|不是我要的|浪费时间|坑人|骗人|有病",
    re.IGNORECASE,
)

# Leaving the handoff: the whole message, so "cancel my order" still reaches the agent.
CANCEL = re.compile(
    r"/bot(?:@\w+)?|/cancel(?:@\w+)?|cancel|never\s*mind|back\s+to\s+(?:the\s+)?bot|return\s+to\s+(?:the\s+)?bot|"
    r"(?:i\s+don'?t\s+need\s+(?:a\s+|an\s+)?(?:human|person|agent)(?:\s+any\s*more)?)|"
    r"取消|取消人工|不用人工了?|不用了|回到机器人|返回机器人|回到导购|继续购物|算了",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Rule:
    """Messages with any of ``words`` go to agents of ``queue`` at ``priority`` (0-9, higher first)."""

    words: tuple[str, ...]
    queue: str
    priority: int = 0

    def match(self, text: str) -> str:
        """The first of this rule's words in ``text``, or "".  Latin words match at the start
        of a word ("refund" in "refunded", not in "prefund"); Chinese ones anywhere."""
        low = text.lower()
        for word in self.words:
            if word.isascii():
                if re.search(r"(?<![a-z0-9])" + re.escape(word), low):
                    return word
            elif word in low:
                return word
        return ""


def parse_rules(text: str) -> tuple[Rule, ...]:
    """``"退货,refund=after_sales; 投诉,complaint=complaints@1"`` → rules, in order.

    Segments are separated by ";" (or "；" or a newline), words by "," "，" "、" or "|".  A
    queue name is lower-case letters, digits, "_" and "-".  Raises ValueError naming the
    segment that cannot be read.
    """
    rules = []
    for segment in re.split(r"[;；\n]", text):
        segment = segment.strip()
        if not segment:
            continue
        words_part, sep, target = segment.rpartition("=")
        if not sep:
            raise ValueError(f"{segment!r} has no '=queue'")
        queue, _, priority_text = target.strip().partition("@")
        queue = queue.strip().lower()
        if not _QUEUE_NAME.fullmatch(queue):
            raise ValueError(f"bad queue name {queue!r} in {segment!r}")
        priority = 0
        if priority_text.strip():
            if not priority_text.strip().isdigit() or int(priority_text) > MAX_PRIORITY:
                raise ValueError(f"priority must be 0-{MAX_PRIORITY} in {segment!r}")
            priority = int(priority_text)
        words = tuple(dict.fromkeys(w.strip().lower() for w in re.split(r"[,，、|]", words_part) if w.strip()))
        if not words:
            raise ValueError(f"no words before '=' in {segment!r}")
        rules.append(Rule(words, queue, priority))
    return tuple(rules)


@dataclass(frozen=True)
class Trigger:
    """Why and how to hand a conversation over.

    ``action`` is "open" (open a ticket now) or "offer" (offer a person with a button).
    ``reason``: customer_request, keyword, no_results, dislikes, repeats or frustration.
    """

    reason: str
    action: str
    queue: str = DEFAULT_QUEUE
    priority: int = 0
    tags: tuple[str, ...] = ()


def normalized(text: str) -> str:
    """Text for comparing messages: case, width, spaces and punctuation ignored."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


def is_frustrated(text: str) -> bool:
    return bool(FRUSTRATION.search(text))


def is_cancel(text: str) -> bool:
    """Whether a message sent while waiting for an agent asks to go back to the bot."""
    core = " ".join(text.strip().strip("!.。！?？~").split())
    return bool(CANCEL.fullmatch(core))


class Triggers:
    """The handoff triggers of one process, built from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rules = parse_rules(settings.handoff_rules)

    def route(self, *texts: str) -> tuple[Rule, str] | None:
        """The first rule whose words appear in the first text that has any, with the word."""
        for text in texts:
            for rule in self.rules:
                word = rule.match(text)
                if word:
                    return rule, word
        return None

    def detect_direct(self, session: Session, text: str, *, explicit: bool) -> Trigger | None:
        """An explicit request (``explicit``: words or the button) or a routing word; checked
        before the policy runs, so "I want to return these" does not replace the shopping need.

        An explicit request is routed by the words of this message or the customer's last few.
        """
        frustrated = is_frustrated(text)
        mood = ("frustrated",) if frustrated else ()
        if explicit:
            routed = self.route(text, *reversed(_recent_customer_texts(session, 4)))
            queue, priority = DEFAULT_QUEUE, 0
            tags: tuple[str, ...] = ()
            if routed:
                rule, word = routed
                queue, priority, tags = rule.queue, rule.priority, (f"keyword:{word}",)
            offered = (f"offered:{session.offered_reason}",) if session.offered_reason else ()
            return Trigger("customer_request", "open", queue, _clamp(priority + frustrated),
                           ("customer_request", *tags, *offered, *mood))
        routed = self.route(text)
        if routed:
            rule, word = routed
            return Trigger("keyword", "open", rule.queue, _clamp(rule.priority + frustrated),
                           ("keyword", f"keyword:{word}", *mood))
        return None

    def detect_implicit(self, session: Session, text: str, *, showed_products: bool) -> Trigger | None:
        """A stuck bot or a frustrated customer, after the policy answered this turn.

        ``showed_products``: this turn's answer showed products (repeating a message that keeps
        bringing new products, like "cheaper", is browsing, not being stuck).
        """
        if not self._may_offer(session):
            return None
        frustrated = self.detect_frustration(session, text)
        if frustrated:
            return frustrated
        action = self.settings.handoff_implicit
        if session.misses >= self.settings.handoff_no_result_turns:
            return Trigger("no_results", action, tags=("stuck", "no_results"))
        if session.dislike_streak >= self.settings.handoff_dislikes:
            return Trigger("dislikes", action, tags=("stuck", "dislikes"))
        if not showed_products and _repeats(session) >= self.settings.handoff_repeats:
            return Trigger("repeats", action, tags=("stuck", "repeats"))
        return None


    def detect_frustration(self, session: Session, text: str, *, only_frustration: bool = False) -> Trigger | None:
        """Frustration cues in ``text``, unless the bot offered a person only a few turns ago.

        ``only_frustration``: the message asks for nothing else ("wtf", "这也太垃圾了"); then the
        offer is made again whenever it comes, since nothing else would be a fitting answer.
        """
        if not is_frustrated(text) or not (only_frustration or self._may_offer(session)):
            return None
        return Trigger("frustration", self.settings.handoff_implicit, priority=1, tags=("frustration", "frustrated"))

    def _may_offer(self, session: Session) -> bool:
        this_turn = session.turns + 1
        return not session.offered_turn or this_turn - session.offered_turn >= self.settings.handoff_offer_gap


def without_frustration(text: str) -> str:
    """``text`` with its frustration cues blanked out, for understanding what is still asked:
    "this is useless, show me cheaper ones" still asks for cheaper ones."""
    return " ".join(FRUSTRATION.sub(" ", text).split())


def _recent_customer_texts(session: Session, count: int) -> list[str]:
    texts = [h["text"] for h in session.history if h.get("role") == "user" and not _ACTION_ENTRY.match(h["text"])]
    return texts[-count:]


def _repeats(session: Session) -> int:
    """How many of the customer's last messages in a row say the same thing (button presses break it)."""
    count, last = 0, None
    for entry in reversed(session.history):
        if entry.get("role") != "user":
            continue
        text = str(entry.get("text", ""))
        key = None if _ACTION_ENTRY.match(text) else normalized(text)
        if not key or (last is not None and key != last):
            break
        count, last = count + 1, key
    return count


def _clamp(priority: int) -> int:
    return max(0, min(MAX_PRIORITY, priority))
