"""Fusing lexical and dense relevance over one set of candidates.

``core.lexical.LexicalRecommender`` calls ``fuse`` once per hybrid search; ``FUSIONS``
names the normalizations a setting may choose.  ``scripts/tune_fusion.py`` picked the
default (min-max, dense weight 0.45) on homedepot-dev.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["FUSIONS", "RRF_K", "fuse"]

FUSIONS = ("minmax", "max", "zscore", "rrf")
RRF_K = 60


def fuse(lexical: np.ndarray, dense: np.ndarray, dense_weight: float, method: str) -> np.ndarray:
    """``dense_weight * norm(dense) + (1 - dense_weight) * norm(lexical)`` over one set of
    candidates (float64, not negative).

    ``method``: "minmax" scales each side to [0, 1] over the candidates; "max" divides by
    the side's best (negative cosines count 0); "zscore" standardizes each side and then
    shifts the sum so the worst candidate has 0; "rrf" replaces each side by
    1 / (RRF_K + rank), lexical non-matches contributing nothing.
    """
    lexical = np.asarray(lexical, dtype=np.float64)
    dense = np.asarray(dense, dtype=np.float64)
    if method == "rrf":
        lex_part = np.where(lexical > 0, _rrf(lexical), 0.0)
        return dense_weight * _rrf(dense) + (1 - dense_weight) * lex_part
    norm = _NORMALIZERS[method]
    fused = dense_weight * norm(dense) + (1 - dense_weight) * norm(lexical)
    if method == "zscore" and len(fused):
        fused -= fused.min()
    return fused


def _minmax(x: np.ndarray) -> np.ndarray:
    if not len(x):
        return x
    lo, hi = float(x.min()), float(x.max())
    if hi > lo:
        return (x - lo) / (hi - lo)
    return np.full(len(x), 1.0 if hi > 0 else 0.0)


def _by_max(x: np.ndarray) -> np.ndarray:
    hi = float(x.max()) if len(x) else 0.0
    return np.clip(x, 0.0, None) / hi if hi > 0 else np.zeros(len(x))


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = float(x.std()) if len(x) else 0.0
    return (x - x.mean()) / sd if sd > 0 else np.zeros(len(x))


def _rrf(x: np.ndarray) -> np.ndarray:
    """1 / (RRF_K + rank), rank 1 the best; ties share the better rank."""
    ordered = np.sort(-x)
    return 1.0 / (RRF_K + 1 + np.searchsorted(ordered, -x, side="left"))


_NORMALIZERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "minmax": _minmax, "max": _by_max, "zscore": _zscore,
}
