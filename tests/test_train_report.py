"""``core.train_report``: report.md and its charts from a synthetic ``training.json``, the
record's optional keys left out one by one, and ``daogou train report`` on the command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bots.cli import main
from core.train_report import ReportError, query_changes, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_record(steps: int = 300, epochs: int = 3, queries: int = 30) -> dict[str, Any]:
    """A run of ``steps`` steps over ``epochs`` epochs: the loss falls from 2.0 with noise;
    query ``q{i}`` moves by ``(i - 12) / 100`` (q0 loses most, q29 gains most, q12 is unchanged)
    and q30 has no gain (null nDCG)."""
    rng = np.random.default_rng(0)
    losses = [float(2.0 * np.exp(-3 * s / max(steps, 1)) + 0.1 + rng.normal(0, 0.08)) for s in range(steps)]
    per_epoch = -(-steps // epochs) if epochs else 0
    base = {f"q{i}": 0.3 + i / 100 for i in range(queries)}
    tuned = {f"q{i}": 0.3 + i / 100 + (i - 12) / 100 for i in range(queries)}
    base["q-none"] = None
    tuned["q-none"] = None
    texts = {f"q{i}": f"query number {i}" for i in range(queries)}
    texts["q29"] = "red | blue shoes"
    return {
        "name": "minilm-20250101-000000-abc123", "data": "/data/shop", "data_hash": "f" * 64,
        "base_model": "/models/minilm", "settings": {"epochs": epochs, "lr": 2e-05, "batch_size": 32,
                                                     "query_prefix": "", "out": "/models"},
        "device": "cpu", "torch": "2.4.0", "run_hash": "abc123", "train_examples": 9600, "products": 1200,
        "steps": steps, "steps_per_epoch": per_epoch,
        "epochs": [{"epoch": e + 1, "steps": per_epoch, "examples": per_epoch * 32, "train_loss": 1.0 - e / 10,
                    "seconds": 12.5, "examples_per_s": 256.0, "complete": True} for e in range(epochs)],
        "examples_per_s": 256.0, "seconds_per_epoch": 12.5, "mining_and_base_eval_seconds": 3.2,
        "validation": {"base": {"queries": queries + 1, "ndcg@10": 0.4123, "recall@100": 0.7,
                                "recall_queries": queries},
                       "fine_tuned": {"queries": queries + 1, "ndcg@10": 0.4567, "recall@100": 0.77,
                                      "recall_queries": queries}},
        "losses": losses,
        "epoch_validation": [{"epoch": e + 1, "ndcg@10": 0.42 + e / 100, "recall@100": 0.72 + e / 50}
                             for e in range(epochs)],
        "per_query": {"base": base, "fine_tuned": tuned},
        "queries": texts,
    }


def write_record(directory: Path, record: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "training.json").write_text(json.dumps(record), encoding="utf-8")
    return directory


def assert_png(path: Path, min_side: int = 300) -> tuple[int, ...]:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    assert image.shape[0] >= min_side and image.shape[1] >= min_side
    assert float(image[..., :3].std()) > 0.01  # something is drawn, not a blank canvas
    return tuple(image.shape)


def section(text: str, title: str) -> str:
    """The Markdown under heading ``title`` up to the next heading."""
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#|\Z)", text, flags=re.DOTALL | re.MULTILINE)
    assert match, f"no section {title!r}"
    return match.group(1)


def table_rows(text: str) -> list[list[str]]:
    rows = [line for line in text.splitlines() if line.startswith("|")][2:]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def test_report_has_the_numbers_the_charts_and_the_queries_in_order(tmp_path: Path) -> None:
    model = write_record(tmp_path / "model", make_record())
    report = write_report(model)
    assert report == model / "report.md"
    text = report.read_text(encoding="utf-8")

    assert text.startswith("# Training report: minilm-20250101-000000-abc123\n")
    assert "(loss.png)" in text and "(metrics.png)" in text  # relative paths beside report.md
    assert "| device | cpu (torch 2.4.0) |" in text
    assert "| steps | 300 (100 per epoch) |" in text
    assert "| lr | 2e-05 |" in section(text, "Settings")

    metrics = table_rows(section(text, "Validation"))
    assert metrics[0] == ["nDCG@10", "0.4123", "0.4567", "+0.0444 (+10.8%)"]
    assert metrics[1] == ["Recall@100", "0.7000", "0.7700", "+0.0700 (+10.0%)"]
    assert metrics[2][:3] == ["queries", "31", "31"]

    epochs = table_rows(section(text, "Training loss"))
    assert [row[0] for row in epochs] == ["1", "2", "3"]
    assert epochs[2][-2:] == ["0.4400", "0.7600"]  # the validation after epoch 3

    queries = section(text, "Validation queries")
    assert "Of 30 queries with an nDCG@10 before and after: 17 improved, 1 unchanged, 12 worse." in queries
    gains = table_rows(section(text, "Largest gains (top 10)"))
    assert [row[2] for row in gains] == [f"q{i}" for i in range(29, 19, -1)]
    assert gains[0] == ["1", "red \\| blue shoes", "q29", "0.5900", "0.7600", "+0.1700"]
    losses = table_rows(section(text, "Largest losses (top 10)"))
    assert [row[2] for row in losses] == [f"q{i}" for i in range(10)]
    assert losses[0][1:] == ["query number 0", "q0", "0.3000", "0.1800", "-0.1200"]

    loss_shape = assert_png(model / "loss.png")
    assert_png(model / "metrics.png")
    assert loss_shape[0] > loss_shape[1] * 0.7  # two panels: the loss and the validation per epoch


def test_query_changes_skip_queries_without_gain() -> None:
    changes = query_changes(make_record(queries=5))
    assert [c[0] for c in changes] == ["q4", "q3", "q2", "q1", "q0"]
    assert changes[0][3] == pytest.approx(-0.08)


@pytest.mark.parametrize("drop", ["per_query", "epoch_validation", "losses", "validation", "everything"])
def test_optional_keys_may_be_missing(tmp_path: Path, drop: str) -> None:
    record = make_record()
    if drop == "everything":
        record = {"name": "bare"}
    else:
        del record[drop]
    model = write_record(tmp_path / "model", record)
    (model / "loss.png").write_bytes(b"stale")  # from an earlier report; must not survive one without steps
    text = write_report(model).read_text(encoding="utf-8")

    assert ("## Validation queries" in text) == (drop not in ("per_query", "everything"))
    assert ((model / "loss.png").exists()) == (drop not in ("losses", "everything"))
    assert ("(loss.png)" in text) == (model / "loss.png").exists()
    assert ((model / "metrics.png").exists()) == (drop not in ("validation", "everything"))
    if drop == "epoch_validation":
        shape = assert_png(model / "loss.png")
        assert shape[0] < shape[1] * 0.7  # the loss panel alone
    if drop == "validation":
        assert "No validation recorded." in text


def test_zero_steps_and_a_single_step(tmp_path: Path) -> None:
    empty = make_record(steps=0, epochs=0)
    empty["epoch_validation"] = []
    text = write_report(write_record(tmp_path / "zero", empty)).read_text(encoding="utf-8")
    assert "No per-step losses recorded." in text
    assert not (tmp_path / "zero" / "loss.png").exists()

    one = make_record(steps=1, epochs=1)
    write_report(write_record(tmp_path / "one", one))
    assert_png(tmp_path / "one" / "loss.png")


def test_the_cli_regenerates_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = write_record(tmp_path / "model", make_record())
    assert main(["train", "report", str(model)]) == 0
    assert capsys.readouterr().out.strip() == str(model / "report.md")
    assert (model / "report.md").is_file() and (model / "metrics.png").is_file()
    # A copy to share elsewhere, without what customers typed.
    record = json.loads((model / "training.json").read_text())
    assert main(["train", "report", str(model), "--out", str(tmp_path / "shared"), "--hide-queries"]) == 0
    shared = (tmp_path / "shared" / "report.md").read_text()
    assert (tmp_path / "shared" / "loss.png").is_file() and "| # | qid |" in shared
    assert not any(text in shared for text in record["queries"].values())
    assert any(qid in shared for qid in record["queries"])


@pytest.mark.parametrize("content", [None, "{not json", "[1, 2]"])
def test_the_cli_says_what_is_wrong_with_training_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None) -> None:
    model = tmp_path / "model"
    model.mkdir()
    if content is not None:
        (model / "training.json").write_text(content, encoding="utf-8")
    assert main(["train", "report", str(model)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    expected = {None: "no training.json in", "{not json": "not valid JSON", "[1, 2]": "is not a training record"}
    assert captured.err.startswith("daogou train report: ") and expected[content] in captured.err
    assert not (model / "report.md").exists()
    with pytest.raises(ReportError):
        write_report(model)


def test_importing_the_cli_does_not_load_matplotlib() -> None:
    code = "import sys, bots.cli, core.train_report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[1]).stdout
    assert out.strip() == "False"
