"""Logging for long-running processes: JSON lines (or readable text), customers kept out.

``configure(settings)`` is called once by each process entry (``daogou run ...``, ``daogou
serve recommender``, the terminal chat).  ``DAOGOU_LOG_FORMAT=json`` (the default) writes one
JSON object a line: ``ts`` (UTC, ISO 8601 with ms), ``level``, ``logger``, ``msg``, ``pid``,
every ``extra=`` field of the call (``user``, ``platform``, ``ticket``, ``kind``, ``ms``, ...)
and ``exc`` (the traceback) when there is one.  ``text`` is for a person at a terminal.

Customers stay out of the logs: a log call names a user by ``user_ref(...)``, a keyed hash that
is the same in every process with the same settings, and a message by ``text_ref(...)``, which
is the text itself only while debug logging is on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.settings import Settings

FORMATS = ("json", "text")
TEXT_CHARS = 200  # the most of a customer's message a debug line shows
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Every attribute a plain LogRecord has: whatever else a record carries came from ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}
_DEFAULT_KEY = hmac.new(b"daogou", b"daogou logs", hashlib.sha256).digest()
_key = _DEFAULT_KEY  # replaced by configure(); a process-wide choice, like the root logger


def user_ref(user: object, platform: str | None = None) -> str:
    """A short stable pseudonym of a user id for log lines: ``u_`` + 12 hex characters.

    ``user`` is a user key (``"telegram:42"``, as ``Inbound.user_key``) or, with ``platform``,
    the platform's own id, so ``user_ref(42, "telegram") == user_ref("telegram:42")`` and a
    user can be followed from the adapter's lines into the dialogue's.  Keyed with
    DAOGOU_LOG_SALT (else derived from DAOGOU_BUTTON_SECRET) once ``configure`` has run.
    """
    if user is None or user == "":
        return "-"
    key = f"{platform}:{user}" if platform else str(user)
    digest = hmac.new(_key, key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return f"u_{digest[:12]}"


def text_ref(text: str | None, logger: logging.Logger | None = None) -> str:
    """What to log in place of a customer's (or an agent's) message: the text, cut to
    TEXT_CHARS, when ``logger`` (default: the root logger) is enabled for DEBUG; else its length."""
    if not text:
        return "<empty>"
    if (logger or logging.getLogger()).isEnabledFor(logging.DEBUG):
        return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS] + "…"
    return f"<{len(text)} chars>"


def log_key(settings: Settings) -> bytes:
    """The key of ``user_ref``: DAOGOU_LOG_SALT, else one derived from DAOGOU_BUTTON_SECRET,
    else a built-in one (pseudonyms then stop nobody who has this code and guesses an id)."""
    if settings.log_salt:
        return settings.log_salt.encode()
    if settings.button_secret:
        return hmac.new(settings.button_secret.encode(), b"daogou logs", hashlib.sha256).digest()
    return _DEFAULT_KEY


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a log call passed with ``extra=``."""
    return {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line; never raises (odd values become strings)."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            return self._format(record)
        except Exception as exc:  # noqa: BLE001 - a log line must never take the process down
            return json.dumps({"ts": _ts(record.created), "level": record.levelname, "logger": record.name,
                               "msg": f"unformattable log record {record.msg!r}: {exc!r}", "pid": record.process})

    def _format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception as exc:  # noqa: BLE001 - wrong %-args in a call
            message = f"{record.msg!r} {record.args!r} (not formattable: {exc!r})"
        line: dict[str, Any] = {"ts": _ts(record.created), "level": record.levelname, "logger": record.name,
                                "msg": message, "pid": record.process}
        for name, value in extras(record).items():
            line.setdefault(name, value)  # the fixed fields win over an extra of the same name
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        try:
            return json.dumps(line, ensure_ascii=False, default=str)
        except (ValueError, TypeError):  # a circular structure, keys that are not strings, ...
            return json.dumps({k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
                               for k, v in line.items()}, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message [extra=value ...]`` for a person reading a terminal."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        try:
            text = super().format(record)
        except Exception as exc:  # noqa: BLE001 - as JsonFormatter: never raise
            return f"{_ts(record.created)} {record.levelname} {record.name}: {record.msg!r} ({exc!r})"
        fields = extras(record)
        if not fields:
            return text
        first, newline, rest = text.partition("\n")  # after the message, before any traceback
        shown = " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{first} [{shown}]{newline}{rest}"


class _Handler(logging.StreamHandler[IO[str]]):
    """The handler configure() installs; its class tells it apart from anyone else's."""


def configure(settings: Settings, *, stream: IO[str] | None = None, format: str | None = None,
              level: str | int | None = None) -> logging.Handler:
    """Set up the root logger of a long-running process; called once by each process entry.

    ``format`` (default DAOGOU_LOG_FORMAT) and ``level`` (default DAOGOU_LOG_LEVEL) override the
    settings, for the terminal chat.  Calling it again replaces the handler it installed before
    and leaves other handlers alone.  Also sets the ``user_ref`` key from the settings.
    """
    global _key
    _key = log_key(settings)
    chosen = format or settings.log_format
    if chosen not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {chosen!r}")
    handler = _Handler(sys.stderr if stream is None else stream)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(settings.log_level if level is None else level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request URL, bot tokens included
    return handler


def _ts(created: float) -> str:
    return datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
