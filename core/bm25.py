"""An immutable BM25F index over documents made of weighted fields.

Built once and never changed, so any number of searches may read it at once; the lexical
recommender (``core.lexical``) builds one over the catalog.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

from core.textproc import tokenize

FieldText = str | Sequence[str]


class BM25Index:
    """An immutable BM25F index: per-field weights and length normalization, one IDF.

    ``docs`` are ``(doc_id, {field: text or tokens})``; a text is tokenized with
    ``tokenizer``, a sequence is taken as tokens already.  A term's frequency in a
    document is the sum over fields of ``weight * tf / (1 - b + b * len / avg_len)``, then
    saturated with ``k1`` as in BM25 (Robertson & Zaragoza's "simple BM25F").  Every
    query-independent part is computed here, so scoring a term is one pass over its
    postings.
    """

    def __init__(
        self,
        docs: Iterable[tuple[str, Mapping[str, FieldText]]],
        *,
        field_weights: Mapping[str, float] | None = None,
        k1: float = 1.2,
        b: float = 0.75,
        tokenizer: Callable[[str], list[str]] = tokenize,
    ) -> None:
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"need k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1 = k1
        self.b = b
        self.field_weights: dict[str, float] = dict(field_weights or {})
        ids: list[str] = []
        counted: list[dict[str, tuple[Counter[str], int]]] = []
        total_len: Counter[str] = Counter()
        for doc_id, fields in docs:
            ids.append(doc_id)
            per_field: dict[str, tuple[Counter[str], int]] = {}
            for name, value in fields.items():
                tokens = tokenizer(value) if isinstance(value, str) else list(value)
                per_field[name] = (Counter(tokens), len(tokens))
                total_len[name] += len(tokens)
            counted.append(per_field)
        n = len(ids)
        avg_len = {name: (total / n if n else 0.0) for name, total in total_len.items()}

        postings: dict[str, tuple[array[int], array[float]]] = {}
        for idx, per_field in enumerate(counted):
            weighted: dict[str, float] = {}
            get = weighted.get
            for name, (counts, length) in per_field.items():
                weight = self.field_weights.get(name, 1.0)
                if weight <= 0 or not length:
                    continue
                norm = weight / (1 - b + b * length / avg_len[name])
                for term, count in counts.items():
                    weighted[term] = get(term, 0.0) + count * norm
            for term, tf in weighted.items():
                entry = postings.get(term)
                if entry is None:
                    entry = postings[term] = (array("i"), array("d"))
                entry[0].append(idx)
                entry[1].append(tf)
        # Turn each saturated tf into its final contribution: idf * tf * (k1 + 1) / (k1 + tf).
        final: dict[str, tuple[array[int], array[float]]] = {}
        for term, (ids_arr, tfs) in postings.items():
            df = len(ids_arr)
            scale = math.log(1 + (n - df + 0.5) / (df + 0.5)) * (k1 + 1)
            final[term] = (ids_arr, array("d", [scale * tf / (k1 + tf) for tf in tfs]))
        self.doc_ids: tuple[str, ...] = tuple(ids)
        self._index_of = {doc_id: i for i, doc_id in enumerate(ids)}
        self._postings = final

    def __len__(self) -> int:
        return len(self.doc_ids)

    def __contains__(self, term: object) -> bool:
        return term in self._postings

    def index_of(self, doc_id: str) -> int | None:
        return self._index_of.get(doc_id)

    def df(self, term: str) -> int:
        entry = self._postings.get(term)
        return len(entry[0]) if entry else 0

    def has_term(self, term: str, idx: int) -> bool:
        """Whether document number ``idx`` contains ``term`` (postings are in doc order)."""
        entry = self._postings.get(term)
        if entry is None:
            return False
        ids = entry[0]
        j = bisect_left(ids, idx)
        return j < len(ids) and ids[j] == idx

    def scores_by_index(self, query: Iterable[str] | Mapping[str, float]) -> dict[int, float]:
        """BM25F score of every document sharing a term with ``query``, by document number.

        ``query`` is tokens (a repeated token counts again) or token -> weight.
        """
        weights: Mapping[str, float] = query if isinstance(query, Mapping) else Counter(query)
        entries = [
            (entry, weight)
            for term, weight in weights.items()
            if weight and (entry := self._postings.get(term)) is not None
        ]
        if not entries:
            return {}
        # The longest posting list seeds the accumulator in one C-level pass.
        entries.sort(key=lambda e: -len(e[0][0]))
        (ids, values), weight = entries[0]
        if weight == 1:
            acc = dict(zip(ids, values))
        else:
            acc = {i: v * weight for i, v in zip(ids, values)}
        get = acc.get
        for (ids, values), weight in entries[1:]:
            if weight == 1:
                for i, v in zip(ids, values):
                    acc[i] = get(i, 0.0) + v
            else:
                for i, v in zip(ids, values):
                    acc[i] = get(i, 0.0) + v * weight
        return acc

    def scores_all_of(self, terms: Sequence[str], weight: float = 1.0) -> dict[int, float]:
        """Documents containing every one of ``terms``, scored ``weight`` times the sum of
        the terms' contributions; by document number."""
        entries = [self._postings.get(t) for t in terms]
        if not entries or any(e is None for e in entries):
            return {}
        present = [e for e in entries if e is not None]
        present.sort(key=lambda e: len(e[0]))
        acc = {i: v * weight for i, v in zip(*present[0])}
        for ids, values in present[1:]:
            nxt: dict[int, float] = {}
            for i, v in zip(ids, values):
                if i in acc:
                    nxt[i] = acc[i] + v * weight
            acc = nxt
            if not acc:
                break
        return acc

    def scores(self, query_tokens: Iterable[str] | Mapping[str, float]) -> dict[str, float]:
        """BM25F score of every document sharing a term with the query, by doc id."""
        ids = self.doc_ids
        return {ids[i]: s for i, s in self.scores_by_index(query_tokens).items()}
