"""``daogou model status|promote|rollback|ab``: ship a trained encoder, take it back, test it.

Each command reads or writes the registry in DAOGOU_MODELS_DIR (``core.models``); every
process that ranks in-process picks the change up within DAOGOU_MODEL_POLL_S seconds
(``core.model_router``), without a restart.

- ``promote CANDIDATE``: compare the candidate with the serving model (``core.model_compare``)
  and promote it only when it reaches ``serving * (1 + margin)`` on ``--metric``; else exit 1,
  registry untouched.  ``--force`` skips the gate (and says so).  Before writing the registry
  it encodes the shop's catalog (DAOGOU_CATALOG) with the candidate into DAOGOU_VECTOR_CACHE,
  so the processes that swap it in find the vectors ready.
- ``rollback``: the previous serving model serves again (exit 1 when there is none).
- ``ab CANDIDATE [--share 0.5]``: a share of the customers (a stable hash of each) get the
  candidate; ``ab --stop`` ends it.  Results land in the event stream: each ``shown`` event
  names its ``model``.
- ``status``: the serving model, the history, the A/B test.

CANDIDATE is a directory directly inside DAOGOU_MODELS_DIR (its name or its path), or
"default" for DAOGOU_ENCODER (the bundled MiniLM when unset).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from core.models import ModelRegistry, RegistryError, Serving, model_name
from core.settings import Settings, SettingsError

DEFAULT_MARGIN = 0.01
DEFAULT_METRIC = "ndcg@10"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommands of ``daogou model``; bots/cli.py mounts them."""
    from core.evaluate import add_data_arguments
    from core.model_compare import METRICS

    commands = parser.add_subparsers(dest="model_command", required=True)
    status = commands.add_parser("status", help="the serving model, the earlier ones, the A/B test")
    status.add_argument("--json", action="store_true", help="print the registry as JSON")

    promote = commands.add_parser(
        "promote", help="compare a candidate with the serving model; serve it if it is better by --margin")
    promote.add_argument("candidate", help="a model directory inside DAOGOU_MODELS_DIR (name or path), or default")
    promote.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                         help=f"relative gain the candidate needs on --metric (default: {DEFAULT_MARGIN:g}, i.e. +1%%)")
    promote.add_argument("--metric", choices=METRICS, default=DEFAULT_METRIC,
                         help=f"the figure that decides (default: {DEFAULT_METRIC})")
    promote.add_argument("--force", action="store_true", help="promote whatever the comparison says")
    promote.add_argument("--no-warm", action="store_true",
                         help="do not encode the shop catalog with the candidate before promoting it")
    add_data_arguments(promote.add_argument_group(
        "evaluation data (default: the validation set of the candidate's training.json)"), default_mode="hybrid")

    commands.add_parser("rollback", help="serve the previous model again")

    ab = commands.add_parser("ab", help="A/B test a candidate on a share of the customers, or stop the test")
    ab.add_argument("candidate", nargs="?", help="a model directory inside DAOGOU_MODELS_DIR (name or path)")
    ab.add_argument("--share", type=float, default=0.5, help="share of customers who get the candidate (default: 0.5)")
    ab.add_argument("--experiment", help="experiment id, the key of the split (default: ab-<model>-<time>)")
    ab.add_argument("--stop", action="store_true", help="end the running test: everyone gets the serving model")
    ab.add_argument("--report", action="store_true",
                    help="how each model's lists did, from the event stream (needs REDIS_URL)")
    ab.add_argument("--since", help="with --report: events from this ISO date or time on "
                    "(default: the running test's start)")
    ab.add_argument("--json", action="store_true", help="with --report: print one JSON object")


def run(args: argparse.Namespace, *, environ: dict[str, str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        settings = Settings.from_env(dict(os.environ if environ is None else environ))
    except SettingsError as exc:
        print(f"daogou: {exc}", file=sys.stderr)
        return 2
    registry = ModelRegistry(settings.models_dir)
    command = args.model_command
    try:
        if command == "status":
            return _status(registry, args, out)
        if command == "promote":
            return _promote(registry, settings, args, out)
        if command == "rollback":
            state = registry.rollback()
            print(f"rolled back: {model_name(state.serving_ref)} serves again "
                  f"(registry version {state.version})", file=out)
            return 0
        return _ab(registry, args, out, settings)
    except RegistryError as exc:
        print(f"daogou model {command}: {exc}", file=sys.stderr)
        return 1


def _status(registry: ModelRegistry, args: argparse.Namespace, out: TextIO) -> int:
    state = registry.read()
    if args.json:
        print(json.dumps({"registry": str(registry.path), "serving_model": model_name(state.serving_ref),
                          **state.to_dict()}, ensure_ascii=False), file=out)
        return 0
    print(f"registry: {registry.path}" + ("" if state.version else " (none yet: the default model serves)"),
          file=out)
    print(f"serving:  {_line(state.serving or Serving(''))}", file=out)
    if state.ab is not None:
        print(f"A/B test: {model_name(state.ab.candidate)} for {state.ab.share:.0%} of customers "
              f"(experiment {state.ab.experiment}, since {state.ab.started})", file=out)
    else:
        print("A/B test: none", file=out)
    if state.history:
        print("history (newest first; rollback goes to the first):", file=out)
        for entry in reversed(state.history):
            print(f"  {_line(entry)}", file=out)
    return 0


def _line(entry: Serving) -> str:
    figures = ", ".join(f"{k} {entry.metrics[k]:.4f}" for k in ("ndcg@10", "recall@100", "mrr@10")
                        if isinstance(entry.metrics.get(k), (int, float)))
    since = f" since {entry.since}" if entry.since else ""
    return f"{model_name(entry.ref)}{since}" + (f" ({figures})" if figures else "")


def _promote(registry: ModelRegistry, settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    from core.evaluate import EvalError, data_from_args
    from core.model_compare import compare, trained_on

    try:
        ref = registry.ref_of(args.candidate)
    except RegistryError as exc:
        print(f"daogou model promote: {exc}", file=sys.stderr)
        return 2
    if args.margin < 0:
        print("daogou model promote: --margin must be >= 0", file=sys.stderr)
        return 2
    state = registry.read()
    serving_ref = state.serving_ref
    if ref == serving_ref:
        print(f"{model_name(ref)} is already the serving model; nothing to do", file=out)
        return 0
    candidate_dir, serving_dir = registry.resolve(ref), registry.resolve(serving_ref)
    try:
        data = data_from_args(args, trained_on(candidate_dir) if candidate_dir is not None else None)
        result = compare(settings, data, serving_dir, candidate_dir, mode=args.mode,
                         relevant_threshold=args.relevant_threshold,
                         serving_name=model_name(serving_ref), candidate_name=model_name(ref))
    except EvalError as exc:
        if not args.force:
            print(f"daogou model promote: {exc}", file=sys.stderr)
            return 2
        # A shop without validation data yet can still ship a model it trusts, on its word.
        print(f"--force: promoting without a comparison ({exc})", file=out)
        return _serve(registry, settings, args, out, ref, serving_ref, candidate_dir,
                      {"forced": True, "unmeasured": str(exc)})
    print(result.table(), file=out)
    before = result.value(result.serving, args.metric)
    after = result.value(result.candidate, args.metric)
    needed = before * (1 + args.margin)
    verdict = (f"{args.metric}: candidate {after:.4f}, serving {before:.4f}, "
               f"needed {needed:.4f} (serving x (1 + {args.margin:g}))")
    if not after >= needed:  # NaN (no scored query) never passes
        if not args.force:
            print(f"not promoted: {verdict}", file=out)
            return 1
        print(f"--force: promoting although {verdict}", file=out)
    metrics: dict[str, Any] = {
        **{k: v for k, v in result.candidate.as_json().items() if k in (*_FIGURES, "latency_ms")},
        "metric": args.metric, "margin": args.margin, "mode": args.mode, "queries": result.candidate.queries,
        "forced": bool(args.force and not after >= needed),
        "against": {"model": result.serving_model,
                    **{k: v for k, v in result.serving.as_json().items() if k in _FIGURES}},
    }
    return _serve(registry, settings, args, out, ref, serving_ref, candidate_dir, metrics)


def _serve(registry: ModelRegistry, settings: Settings, args: argparse.Namespace, out: TextIO, ref: str,
           serving_ref: str, candidate_dir: Path | None, metrics: dict[str, Any]) -> int:
    """Warm the catalog's vectors (unless --no-warm), then write the promotion."""
    if not args.no_warm:
        _warm(settings, candidate_dir, out)
    new = registry.promote(ref, metrics, expect_serving=serving_ref)
    print(f"promoted: {model_name(ref)} serves (was {model_name(serving_ref)}; registry version {new.version}); "
          f"running rankers notice within {settings.model_poll_s:g} s and swap it in once loaded", file=out)
    return 0


_FIGURES = ("ndcg@10", "ndcg@10_condensed", "recall@100", "mrr@10")


def _warm(settings: Settings, model_dir: Path | None, out: TextIO) -> None:
    """Encode the shop's catalog with the model into the vector cache the rankers load from."""
    from core.catalog import load_catalog
    from core.dense_setup import retriever_for

    started = time.perf_counter()
    catalog = load_catalog(settings.catalog, currency=settings.currency)
    retriever = retriever_for(settings, catalog, model_dir)
    retriever.encoder.close()  # type: ignore[attr-defined]
    print(f"catalog vectors ready: {len(catalog)} products in {time.perf_counter() - started:.1f} s", file=out)


def _ab(registry: ModelRegistry, args: argparse.Namespace, out: TextIO, settings: Settings) -> int:
    if args.report:
        return _ab_report(registry, settings, args, out)
    if args.stop:
        if args.candidate:
            print("daogou model ab: give a candidate or --stop, not both", file=sys.stderr)
            return 2
        state = registry.stop_ab()
        print(f"A/B test stopped: everyone gets {model_name(state.serving_ref)}", file=out)
        return 0
    if not args.candidate:
        print("daogou model ab: give a candidate model (or --stop)", file=sys.stderr)
        return 2
    try:
        ref = registry.ref_of(args.candidate)
    except RegistryError as exc:
        print(f"daogou model ab: {exc}", file=sys.stderr)
        return 2
    started = registry.start_ab(ref, args.share, args.experiment)
    test = started.ab
    assert test is not None
    print(f"A/B test {test.experiment}: {model_name(ref)} for {test.share:.0%} of customers, "
          f"{model_name(started.serving_ref)} for the rest", file=out)
    return 0


def _ab_report(registry: ModelRegistry, settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    """``ab --report``: the arms' lists, reactions and engagement (``core.ab_report``)."""
    import asyncio

    from redis.exceptions import RedisError

    from core.ab_report import report, table
    from core.redis_conn import connect_from
    from core.training_data import DataError
    from core.training_export import read_events

    if not settings.redis_url:
        print("daogou model ab --report: REDIS_URL is not set: the event stream lives in the Redis the bots share",
              file=sys.stderr)
        return 2
    state = registry.read()
    since = args.since or (state.ab.started if state.ab else None)
    candidate = model_name(state.ab.candidate) if state.ab else None

    async def events() -> list[Any]:
        redis = connect_from(settings)
        try:
            return await read_events(redis, f"{settings.key_prefix}:events", since=since)
        finally:
            await redis.aclose()

    try:
        found = report(asyncio.run(events()), serving=model_name(state.serving_ref), candidate=candidate)
    except DataError as exc:
        print(f"daogou model ab --report: {exc}", file=sys.stderr)
        return 2
    except (RedisError, OSError) as exc:
        print(f"daogou model ab --report: cannot read the event stream: {exc}", file=sys.stderr)
        return 1
    found["since"] = since
    if args.json:
        print(json.dumps(found), file=out)
    else:
        print(f"events since {since or 'the start of the stream'}", file=out)
        print(table(found), file=out)
    return 0
