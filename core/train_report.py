"""The report of a training run: ``report.md`` and its images beside ``training.json``.

``daogou train encoder`` calls :func:`write_report` on the model directory it has just
written; ``daogou train report MODEL_DIR`` regenerates it from ``training.json`` alone.

The report holds the run's facts and settings, ``loss.png`` (every step's training loss with a
moving average, epoch boundaries, and validation after each epoch when the run measured it),
``metrics.png`` with the same base vs fine-tuned table as the Markdown, and the validation
queries that gained and lost most.  Keys a run did not record are left out of the report, so
the records of older runs still render.

matplotlib is imported inside the drawing functions, so that processes importing ``core``
(the bots) do not load it; figures are drawn on ``matplotlib.figure.Figure`` with the Agg
canvas, never through pyplot, so nothing needs a display nor touches pyplot's global state.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

__all__ = ["ReportError", "add_arguments", "load_record", "query_changes", "run", "write_report"]

METRICS = (("ndcg@10", "nDCG@10"), ("recall@100", "Recall@100"))
TOP_QUERIES = 10
_DPI = 110


class ReportError(ValueError):
    """``training.json`` is missing or is not a training record."""


def load_record(model_dir: Path) -> dict[str, Any]:
    """The parsed ``model_dir/training.json``; :class:`ReportError` says what is wrong with it."""
    path = Path(model_dir) / "training.json"
    from core.evaluate import json_file

    try:
        record = json_file(path, ReportError)
    except FileNotFoundError:
        raise ReportError(f"no training.json in {model_dir}") from None
    if not isinstance(record, dict):
        raise ReportError(f"{path} is not a training record (a JSON object)")
    return record


def write_report(model_dir: Path, out: Path | None = None, *, hide_queries: bool = False) -> Path:
    """Write ``report.md``, ``loss.png`` and ``metrics.png`` into ``out`` (default:
    ``model_dir``) from ``model_dir/training.json`` and return the path of ``report.md``.  An
    image with nothing to show (no steps, no validation) is not written, and a stale one is
    removed.  ``hide_queries`` names validation queries by qid only: a report to share
    without what customers typed."""
    model_dir = Path(model_dir)
    out = Path(out) if out is not None else model_dir
    record = load_record(model_dir)
    if hide_queries:
        record = {**record, "queries": {}}
    out.mkdir(parents=True, exist_ok=True)
    images = {
        "loss.png": _draw_loss(record, out / "loss.png"),
        "metrics.png": _draw_metrics(record, out / "metrics.png"),
    }
    for name, drawn in images.items():
        if not drawn:
            (out / name).unlink(missing_ok=True)
    target = out / "report.md"
    target.write_text(_markdown(record, images), encoding="utf-8")
    return target


# -- reading the record defensively ------------------------------------------------------------

def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _losses(record: dict[str, Any]) -> list[float]:
    return [v if (v := _number(x)) is not None else math.nan for x in _list(record.get("losses"))]


def _epoch_validation(record: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [_dict(r) for r in _list(record.get("epoch_validation"))]
    return [r for r in rows if _number(r.get("epoch")) is not None]


def query_changes(record: dict[str, Any]) -> list[tuple[str, float, float, float]]:
    """``(qid, base, fine_tuned, delta)`` of every validation query with an nDCG on both
    sides, by delta (largest gain first; ties by qid)."""
    per_query = _dict(record.get("per_query"))
    base, tuned = _dict(per_query.get("base")), _dict(per_query.get("fine_tuned"))
    rows = []
    for qid in base.keys() & tuned.keys():
        before, after = _number(base[qid]), _number(tuned[qid])
        if before is not None and after is not None:
            rows.append((str(qid), before, after, after - before))
    rows.sort(key=lambda r: (-r[3], r[0]))
    return rows


# -- Markdown ----------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    """Text for a table cell: one line, ``|`` escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if value == "":
        return '""'
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _score(value: Any) -> str:
    """A metric or a loss, to 4 decimals."""
    number = _number(value)
    return "–" if number is None else f"{number:.4f}"


def _change(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return "–"
    relative = f" ({(after - before) / before:+.1%})" if before else ""
    return f"{after - before:+.4f}{relative}"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(_fmt(v)) for v in row) + " |" for row in rows]
    return lines


def _markdown(record: dict[str, Any], images: dict[str, bool]) -> str:
    name = record.get("name") or "(unnamed run)"
    data, data_hash = record.get("data"), record.get("data_hash")
    lines = [f"# Training report: {name}", ""]
    facts: list[list[Any]] = [
        ["base model", record.get("base_model")],
        ["data", data],
        ["data hash", data_hash],
        ["device", f"{record.get('device') or '–'} (torch {record.get('torch') or '–'})"],
        ["run hash", record.get("run_hash")],
        ["train examples", record.get("train_examples")],
        ["products", record.get("products")],
        ["steps", f"{record.get('steps', '–')} ({record.get('steps_per_epoch', '–')} per epoch)"],
        ["epochs", len(_list(record.get("epochs")))],
        ["examples/s", record.get("examples_per_s")],
        ["seconds per epoch", record.get("seconds_per_epoch")],
        ["mining and base eval (s)", record.get("mining_and_base_eval_seconds")],
    ]
    lines += _table(["run", ""], [f for f in facts if f[1] is not None]) + [""]

    settings = _dict(record.get("settings"))
    if settings:
        lines += ["## Settings", ""]
        lines += _table(["setting", "value"], [[k, v] for k, v in sorted(settings.items())]) + [""]

    lines += ["## Training loss", ""]
    if images.get("loss.png"):
        lines += ["![Training loss per step, moving average and validation per epoch](loss.png)", ""]
    else:
        lines += ["No per-step losses recorded.", ""]
    epochs = [_dict(e) for e in _list(record.get("epochs"))]
    validated = {_number(v.get("epoch")): v for v in _epoch_validation(record)}
    if epochs:
        rows = []
        for e in epochs:
            v = validated.get(_number(e.get("epoch")), {})
            rows.append([e.get("epoch"), e.get("steps"), e.get("examples"), _score(e.get("train_loss")),
                         e.get("seconds"), e.get("examples_per_s"), "yes" if e.get("complete") else "no",
                         _score(v.get("ndcg@10")), _score(v.get("recall@100"))])
        lines += _table(["epoch", "steps", "examples", "train loss", "seconds", "examples/s", "complete",
                         "valid nDCG@10", "valid Recall@100"], rows) + [""]

    validation = _dict(record.get("validation"))
    base, tuned = _dict(validation.get("base")), _dict(validation.get("fine_tuned"))
    lines += ["## Validation", ""]
    if base or tuned:
        if images.get("metrics.png"):
            lines += ["![Base vs fine-tuned on the validation queries](metrics.png)", ""]
        rows = [[label, _score(base.get(key)), _score(tuned.get(key)), _change(_number(base.get(key)), _number(tuned.get(key)))]
                for key, label in METRICS]
        rows.append(["queries", base.get("queries"), tuned.get("queries"), None])
        lines += _table(["metric", "base", "fine-tuned", "change"], rows) + [""]
    else:
        lines += ["No validation recorded.", ""]

    changes = query_changes(record)
    if changes:
        lines += _query_sections(changes, _dict(record.get("queries")))
    return "\n".join(lines).rstrip("\n") + "\n"


def _query_sections(changes: list[tuple[str, float, float, float]], texts: dict[str, Any]) -> list[str]:
    """Counts of improved / unchanged / worse queries, then the largest gains and losses.
    A change that rounds to 0.0000 (as the tables print it) counts as unchanged."""
    improved = [c for c in changes if round(c[3], 4) > 0]
    worse = [c for c in changes if round(c[3], 4) < 0]
    unchanged = len(changes) - len(improved) - len(worse)
    lines = ["## Validation queries", "",
             (f"Of {len(changes)} queries with an nDCG@10 before and after: {len(improved)} improved, "
              f"{unchanged} unchanged, {len(worse)} worse."), ""]
    header = ["#", "query", "qid", "base nDCG@10", "fine-tuned nDCG@10", "change"]
    for title, rows in ((f"Largest gains (top {TOP_QUERIES})", improved[:TOP_QUERIES]),
                        (f"Largest losses (top {TOP_QUERIES})", worse[::-1][:TOP_QUERIES])):
        lines += [f"### {title}", ""]
        if not rows:
            lines += ["None.", ""]
            continue
        table = [[i, texts.get(qid, qid), qid, _score(before), _score(after), f"{delta:+.4f}"]
                 for i, (qid, before, after, delta) in enumerate(rows, 1)]
        if not texts:  # hidden (or never recorded): the qid alone names the query
            lines += _table(header[:1] + header[2:], [row[:1] + row[2:] for row in table]) + [""]
            continue
        lines += _table(header, table) + [""]
    return lines


# -- images ------------------------------------------------------------------------------------

def _draw_loss(record: dict[str, Any], path: Path) -> bool:
    """Per-step loss (raw and moving average) with epoch boundaries; below it, when the run
    validated after each epoch, nDCG@10 and Recall@100 per epoch against the base model."""
    losses = _losses(record)
    if not losses:
        return False
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    validation = _epoch_validation(record)
    figure = Figure(figsize=(9, 7.5 if validation else 4.5), dpi=_DPI, layout="constrained")
    axes = figure.subplots(2 if validation else 1, 1, squeeze=False)[:, 0]
    ax = axes[0]
    steps = np.arange(1, len(losses) + 1)
    values = np.asarray(losses, dtype=float)
    window = max(1, len(losses) // 50)
    # Without a moving average the raw line is all there is: draw it solid, with markers when short.
    ax.plot(steps, values, color="tab:blue", alpha=0.3 if window > 1 else 1.0, linewidth=0.8 if window > 1 else 1.5,
            marker="o" if len(losses) <= 50 else None, markersize=4, label="loss per step")
    if window > 1 and len(losses) >= window:
        average = np.convolve(values, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1:], average, color="tab:blue", linewidth=2,
                label=f"moving average ({window} steps)")
    per_epoch = _number(record.get("steps_per_epoch"))
    if per_epoch and per_epoch > 0:
        boundaries = np.arange(per_epoch, len(losses), per_epoch)
        for k, x in enumerate(boundaries):
            ax.axvline(x + 0.5, color="grey", linestyle=":", linewidth=1, label="epoch boundary" if k == 0 else None)
    ax.set_title("Training loss")
    ax.set_xlabel("step")
    ax.set_ylabel("contrastive loss")
    ax.set_xlim(*((0.5, len(losses) + 0.5) if len(losses) <= 50 else (1, len(losses))))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")

    if validation:
        _draw_epoch_validation(axes[1], record, validation)
    figure.savefig(path, dpi=_DPI)
    return True


def _draw_epoch_validation(ax: Any, record: dict[str, Any], validation: list[dict[str, Any]]) -> None:
    from matplotlib.ticker import MaxNLocator

    base = _dict(_dict(record.get("validation")).get("base"))
    for (key, label), colour in zip(METRICS, ("tab:orange", "tab:green")):
        points = [(float(_number(v["epoch"]) or 0), value) for v in validation
                  if (value := _number(v.get(key))) is not None]
        before = _number(base.get(key))
        if before is not None:
            ax.axhline(before, color=colour, linestyle="--", linewidth=1, label=f"base {label}")
            points.insert(0, (0.0, before))
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, color=colour, marker="o", label=label)
    ax.set_title("Validation after each epoch (epoch 0: the base model)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("score")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")


def _draw_metrics(record: dict[str, Any], path: Path) -> bool:
    """Grouped bars: base vs fine-tuned nDCG@10 and Recall@100, with the relative change."""
    validation = _dict(record.get("validation"))
    base, tuned = _dict(validation.get("base")), _dict(validation.get("fine_tuned"))
    pairs = [(label, _number(base.get(key)), _number(tuned.get(key))) for key, label in METRICS]
    pairs = [p for p in pairs if p[1] is not None or p[2] is not None]
    if not pairs:
        return False
    import numpy as np
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.5, 4.5), dpi=_DPI, layout="constrained")
    ax = figure.subplots()
    x = np.arange(len(pairs))
    width = 0.36
    for offset, column, label, colour in ((-width / 2, 1, "base", "tab:grey"),
                                          (width / 2, 2, "fine-tuned", "tab:blue")):
        heights = [p[column] or 0.0 for p in pairs]
        bars = ax.bar(x + offset, heights, width, label=label, color=colour)
        ax.bar_label(bars, labels=[_score(p[column]) if p[column] is not None else "n/a" for p in pairs],
                     padding=2, fontsize="small")
    top = max(max(p[1] or 0.0, p[2] or 0.0) for p in pairs)
    for i, (_, before, after) in enumerate(pairs):
        if before is not None and after is not None:
            ax.annotate(_change(before, after), (i, max(before, after)), xytext=(0, 16), textcoords="offset points",
                        ha="center", fontweight="bold", color="tab:green" if after >= before else "tab:red")
    ax.set_xticks(x, [p[0] for p in pairs])
    ax.set_ylim(0, top * 1.3 if top > 0 else 1.0)  # room for the change labels above the bars
    ax.set_ylabel("score on the validation queries")
    queries = base.get("queries", tuned.get("queries"))
    ax.set_title("Base vs fine-tuned" + (f" ({queries} validation queries)" if queries is not None else ""))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="best")
    figure.savefig(path, dpi=_DPI)
    return True


# -- command line ------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``daogou train report``."""
    parser.add_argument("model_dir", type=Path, metavar="MODEL_DIR",
                        help="a model directory written by daogou train encoder (holds training.json)")
    parser.add_argument("--out", type=Path, help="write the report here instead of into MODEL_DIR")
    parser.add_argument("--hide-queries", action="store_true",
                        help="name validation queries by qid only, without their text (a report to share)")


def run(args: argparse.Namespace) -> int:
    """``daogou train report MODEL_DIR``: regenerate the report and print its path."""
    try:
        target = write_report(args.model_dir, args.out, hide_queries=args.hide_queries)
    except ReportError as exc:
        print(f"daogou train report: {exc}", file=sys.stderr)
        return 2
    print(target)
    return 0
