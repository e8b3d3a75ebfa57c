"""The ``daogou`` command: ``daogou chat``, ``daogou catalog import``, ``daogou settings``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from dataclasses import replace

from core.settings import Settings, SettingsError, describe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="daogou", description="daogou — a shopping-guide assistant")
    commands = parser.add_subparsers(dest="command", required=True)

    chat = commands.add_parser("chat", help="chat in the terminal (embedded Redis unless REDIS_URL is set)")
    chat.add_argument("--jsonl", action="store_true", help="read JSON lines on stdin, answer one JSON line each")
    chat.add_argument("--user", default="local", help="user id of this conversation (default: local)")
    chat.add_argument("--catalog", help="catalog directory or JSONL file (default: DAOGOU_CATALOG or the demo)")

    catalog = commands.add_parser("catalog", help="catalog tools")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True)
    importer = catalog_commands.add_parser("import", help="import a CSV, JSONL, Shopify or Google Merchant export")
    from core import catalog_import

    catalog_import.add_arguments(importer)
    warm = catalog_commands.add_parser(
        "warm", help="encode the catalog's product vectors into DAOGOU_VECTOR_CACHE now (image builds, init containers)")
    warm.add_argument("--catalog", help="catalog directory or JSONL file (default: DAOGOU_CATALOG or the demo)")

    from core import evaluate, service

    serve = commands.add_parser("serve", help="run a shared service")
    serve_commands = serve.add_subparsers(dest="service", required=True)
    service.add_arguments(serve_commands.add_parser("recommender", help="the shared recommender over HTTP"))

    evaluation = commands.add_parser("eval", help="measure retrieval on BEIR-style data")
    evaluate.add_arguments(evaluation, default_mode="hybrid")  # measure what ships

    bench = commands.add_parser("bench", help="benchmarks that print figures")
    bench_commands = bench.add_subparsers(dest="bench", required=True)
    from core import bench as bench_module

    bench_module.add_arguments(bench_commands.add_parser("recommender", help="dense index at 10k-1M products"))
    from core import bench_dialogue

    bench_dialogue.add_arguments(bench_commands.add_parser(
        "dialogue", help="simulated customers through the dialogue manager: turns/s, latency, Redis, CPU"))

    from core import train as train_module

    train = commands.add_parser("train", help="train models from a training set")
    train_commands = train.add_subparsers(dest="train_command", required=True)
    train_module.add_arguments(train_commands.add_parser(
        "encoder", help="fine-tune the dense encoder (contrastive, hard negatives); writes a versioned model"))
    from core import train_report

    train_report.add_arguments(train_commands.add_parser(
        "report", help="regenerate a model directory's report.md and charts from its training.json"))

    from core import model_commands

    model_commands.add_arguments(commands.add_parser(
        "model", help="ship a trained encoder: status, promote (gated by evaluation), rollback, A/B test"))

    run = commands.add_parser("run", help="run a chat-platform adapter")
    run_commands = run.add_subparsers(dest="adapter", required=True)
    telegram = run_commands.add_parser("telegram", help="the Telegram bot (DAOGOU_TELEGRAM_TOKEN)")
    run_commands.add_parser("scheduler", help="SLA timers and housekeeping (APScheduler; one or more replicas)")
    run_commands.add_parser("all", help="on one server: every adapter with credentials, the agent console "
                                        "and the scheduler, in one process")
    run_commands.add_parser("http", help="the HTTP channel for web chat (/v1/messages), Chatwoot, ticket webhooks")
    telegram.add_argument("--webhook", action="store_true", help="webhook mode (default: DAOGOU_TELEGRAM_MODE)")

    outbox = commands.add_parser("outbox", help="send a proactive message, or list dead letters")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", required=True)
    send = outbox_commands.add_parser("send", help="queue a message for a user (delivered by their adapter)")
    send.add_argument("--platform", required=True, help="telegram, discord, ...")
    send.add_argument("--user", required=True, help="the user's id on that platform")
    send.add_argument("--chat", default="", help="chat id (default: the user's private chat)")
    send.add_argument("--kind", default="alert", help="agent, sla, alert, ... (default: alert)")
    send.add_argument("--text", required=True)
    dead = outbox_commands.add_parser("dead", help="list messages that could not be delivered")
    dead.add_argument("--platform", required=True)
    dead.add_argument("--count", type=int, default=20)

    discord_run = run_commands.add_parser("discord", help="the Discord bot (DAOGOU_DISCORD_TOKEN)")
    discord_run.set_defaults(webhook=False)
    run_commands.add_parser("agents", help="the agent console (web) and its JSON API")
    agents = commands.add_parser("agents", help="agent console accounts and API tokens")
    from bots.console import auth as console_auth

    console_auth.add_arguments(agents)
    discord_cmd = commands.add_parser("discord", help="Discord tools")
    discord_commands = discord_cmd.add_subparsers(dest="discord_command", required=True)
    sync = discord_commands.add_parser("sync", help="register the slash commands with Discord")
    sync.add_argument("--guild", type=int, help="a server id: commands appear there at once (default: global)")

    links = commands.add_parser("telegram-links", help="print t.me deep links that open each catalog category")
    links.add_argument("--bot", required=True, help="the bot's username, without @")

    from core import training_data

    training_data.add_arguments(commands.add_parser("data", help="training sets: export the event stream, "
                                                                 "import public relevance data"))

    commands.add_parser("settings", help="list every setting with its default")

    args = parser.parse_args(argv)
    if args.command == "settings":
        for var, default, expects, doc in describe():
            print(f"{var:28} {default or '(unset)':12} {doc} ({expects})")
        return 0
    if args.command == "catalog":
        return _warm(args) if args.catalog_command == "warm" else catalog_import.run(args)
    if args.command == "serve":
        return service.run(args)
    if args.command == "bench":
        return bench_dialogue.run(args) if args.bench == "dialogue" else bench_module.run(args)
    if args.command == "eval":
        return _eval(args)
    if args.command == "train":
        return train_report.run(args) if args.train_command == "report" else train_module.run(args)
    if args.command == "model":
        return model_commands.run(args)
    if args.command == "run":
        return _run(args)
    if args.command == "telegram-links":
        return _telegram_links(args)
    if args.command == "outbox":
        return _outbox(args)
    if args.command == "discord":
        return _discord_sync(args)
    if args.command == "agents":
        return console_auth.run(args)
    if args.command == "data":
        return training_data.run(args)
    try:
        environ = dict(os.environ)
        if args.catalog:
            environ["DAOGOU_CATALOG"] = args.catalog
        settings = Settings.from_env(environ)
    except SettingsError as exc:
        print(f"daogou: {exc}", file=sys.stderr)
        return 2
    from core.logs import configure

    # Text on stderr for the person at the terminal (stdout is the chat, or the JSON-lines protocol).
    level = settings.log_level if args.jsonl else max(logging.WARNING, logging.getLevelName(settings.log_level))
    configure(settings, format="text", stream=sys.stderr, level=level)
    return asyncio.run(_chat(settings, jsonl=args.jsonl, user=args.user))


def _warm(args: argparse.Namespace) -> int:
    """Build the recommender once, as a process would at start: the vectors land in the cache."""
    import time

    from core.app import build_recommender

    try:
        settings = Settings.from_env({**os.environ, **({"DAOGOU_CATALOG": args.catalog} if args.catalog else {})})
    except SettingsError as exc:
        print(f"daogou: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    recommender = build_recommender(settings)
    print(f"{len(recommender.catalog)} products ready for the {settings.recommender} recommender "
          f"in {time.perf_counter() - started:.1f} s (cache: {settings.vector_cache or '~/.cache/daogou/vectors'})")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from core import evaluate
    from core.app import build_ranker

    try:
        settings = Settings.from_env(dict(os.environ))
    except SettingsError as exc:
        print(f"daogou: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.candidate is not None:
        from core.model_compare import run_eval

        return run_eval(args, settings)
    return evaluate.run(args, build=lambda catalog, mode: build_ranker(settings, catalog, mode, hot_reload=False))


_TOKENS = {
    "telegram": ("telegram_token", "DAOGOU_TELEGRAM_TOKEN is not set: create a bot with @BotFather and set its token"),
    "discord": ("discord_token", ("DAOGOU_DISCORD_TOKEN is not set: create an application at "
                                  "https://discord.com/developers/applications and set its bot token")),
}


def _bot_settings(platform: str, *, redis: bool = True) -> Settings:
    settings = Settings.from_env(dict(os.environ))
    if redis and not settings.redis_url:
        raise SettingsError("REDIS_URL is not set: bots share their state through Redis")
    name, missing = _TOKENS.get(platform, ("", ""))
    if name and not getattr(settings, name):
        raise SettingsError(missing)
    from core.logs import configure

    configure(settings)  # JSON lines unless DAOGOU_LOG_FORMAT=text; also quiets httpx, which logs tokens
    return settings


def _run(args: argparse.Namespace) -> int:
    if args.adapter == "agents":
        from bots.console import run as console_run

        return console_run.main()
    if args.adapter == "scheduler":
        from core import scheduler

        return scheduler.main()
    if args.adapter == "all":
        from bots import run_all

        return run_all.main()
    try:
        settings = _bot_settings(args.adapter)
        if args.adapter == "telegram":
            from bots.telegram.run import serve

            return asyncio.run(serve(settings, webhook=True if args.webhook else None))
        if args.adapter == "http":
            from bots import http_channel

            return asyncio.run(http_channel.serve(settings))
        from bots.discord import run as discord_run

        return asyncio.run(discord_run.serve(settings))
    except SettingsError as exc:
        print(f"daogou: {exc}", file=sys.stderr)
        return 2


def _discord_sync(args: argparse.Namespace) -> int:
    from redis.asyncio import Redis

    from bots.discord import run as discord_run
    from core.app import build_app
    from core.catalog import load_catalog
    from core.lexical import LexicalRecommender

    try:
        settings = _bot_settings("discord", redis=False)
    except SettingsError as exc:
        print(f"daogou: {exc}", file=sys.stderr)
        return 2

    async def sync() -> list[str]:
        # Registering commands needs neither Redis nor the encoder: a lexical catalog will do.
        catalog = load_catalog(settings.catalog, currency=settings.currency)
        app = build_app(settings, redis=Redis.from_url("redis://127.0.0.1:1"),
                        recommender=LexicalRecommender(catalog))
        try:
            return await discord_run.sync(settings, app, args.guild)
        finally:
            await app.stop()

    try:
        names = asyncio.run(sync())
    except Exception as exc:  # noqa: BLE001 - login or sync refused: say why, not a traceback
        print(f"daogou: discord sync failed: {exc}", file=sys.stderr)
        return 1
    where = f"guild {args.guild}" if args.guild else "globally (Discord may take up to an hour to show them)"
    print(f"synced {len(names)} commands {where}: {', '.join('/' + n for n in names)}")
    return 0


def _outbox(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(dict(os.environ))
        if not settings.redis_url:
            raise SettingsError("REDIS_URL is not set: the outbox lives in the Redis the bots share")
    except SettingsError as exc:
        print(f"daogou: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_outbox_command(settings, args))


async def _outbox_command(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from redis.exceptions import RedisError

    from core.messages import Reply
    from core.outbox import Outbox
    from core.redis_conn import connect_from

    redis = connect_from(settings)
    try:
        outbox = Outbox(redis, settings, args.platform)
        if args.outbox_command == "send":
            entry = await outbox.put(args.user, args.chat or args.user, Reply(args.text, kind="notice"), kind=args.kind)
            print(entry)
        else:
            for letter in await outbox.dead_letters(args.count):
                print(json.dumps(letter, ensure_ascii=False))
        return 0
    except RedisError as exc:
        print(f"daogou: Redis: {exc}", file=sys.stderr)
        return 1
    finally:
        await redis.aclose()


def _telegram_links(args: argparse.Namespace) -> int:
    from bots.telegram.bot import category_payload
    from core.catalog import CatalogError, load_catalog

    try:
        settings = Settings.from_env(dict(os.environ))
        catalog = load_catalog(settings.catalog, currency=settings.currency)
    except (SettingsError, CatalogError) as exc:
        print(f"daogou: {exc}", file=sys.stderr)
        return 2
    for category in sorted(catalog.categories):
        print(f"https://t.me/{args.bot.lstrip('@')}?start={category_payload(category)}\t{category}")
    return 0


async def _chat(settings: Settings, *, jsonl: bool, user: str) -> int:
    from bots import terminal
    from core.app import build_app
    from core.catalog import CatalogError
    from core.outbox import Outbox
    from core.redis_conn import EmbeddedRedis

    embedded = None
    if not settings.redis_url:
        embedded = EmbeddedRedis().start()
        settings = replace(settings, redis_url=embedded.url)
    try:
        try:
            app = build_app(settings)
        except CatalogError as exc:
            print(f"daogou: cannot load the catalog: {exc}", file=sys.stderr)
            return 2
        try:
            await app.start()
            outbox = Outbox(app.redis, settings, terminal.PLATFORM)  # agents' answers, shown as they come
            if jsonl:
                await terminal.run_jsonl(app.dialogue, user=user, stdin=sys.stdin, stdout=sys.stdout, outbox=outbox)
            else:
                await terminal.run_interactive(app.dialogue, user=user, outbox=outbox)
        finally:
            await app.stop()
    finally:
        if embedded:
            embedded.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
