"""An immutable BM25F index over documents made of weighted fields, stored as a sparse matrix.

Built once and never changed, so any number of searches may read it at once; the lexical
recommender (``core.lexical``) builds one over the catalog and scores every query with
:meth:`BM25Index.score_array`.
"""

from __future__ import annotations

from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
from scipy import sparse

from core.textproc import tokenize

FieldText = str | Sequence[str]

# Documents are turned into matrix rows this many at a time, which bounds the memory a
# million-product catalog needs while its index is built.
_CHUNK_DOCS = 200_000


class BM25Index:
    """An immutable BM25F index: per-field weights and length normalization, one IDF.

    ``docs`` are ``(doc_id, {field: text or tokens})``; a text is tokenized with
    ``tokenizer``, a sequence is taken as tokens already.  A term's frequency in a
    document is the sum over fields of ``weight * tf / (1 - b + b * len / avg_len)``, then
    saturated with ``k1`` as in BM25 (Robertson & Zaragoza's "simple BM25F").

    Every query-independent part is computed here: the index is a term x document CSR
    matrix (float32) whose entry is the term's whole contribution to the document's score,
    ``idf * tf * (k1 + 1) / (k1 + tf)``.  Scoring a query is then a weighted sum of a few
    rows into a dense array over all documents (:meth:`score_array`).  Column indexes are
    sorted within each row, so membership tests are binary searches.
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
        vocab: defaultdict[str, int] = defaultdict()
        vocab.default_factory = vocab.__len__  # a new term gets the next number
        fields: dict[str, int] = {}
        ids: list[str] = []
        # Term numbers of every token, and per (document, field) how many tokens it has:
        # 4 bytes a token, nothing per-token in Python objects.
        term_ids = array("i")
        slot_field = array("i")  # field number of each (document, field) slot
        slot_len = array("i")
        slot_doc = array("i")
        number = vocab.__getitem__
        for doc_id, doc_fields in docs:
            doc = len(ids)
            ids.append(doc_id)
            for name, value in doc_fields.items():
                tokens = (tokenizer(value) if value.strip() else []) if isinstance(value, str) \
                    else list(value)
                f = fields.setdefault(name, len(fields))
                slot_doc.append(doc)
                slot_field.append(f)
                slot_len.append(len(tokens))
                term_ids.extend(map(number, tokens))
        n = len(ids)
        self.doc_ids: tuple[str, ...] = tuple(ids)
        self._index_of = {doc_id: i for i, doc_id in enumerate(ids)}
        vocab.default_factory = None  # look-ups must not add terms
        self._row_of: dict[str, int] = vocab
        self._terms = tuple(vocab)
        self.matrix = self._build(
            n, len(vocab), fields,
            np.frombuffer(term_ids, dtype=np.int32),
            np.frombuffer(slot_doc, dtype=np.int32),
            np.frombuffer(slot_field, dtype=np.int32),
            np.frombuffer(slot_len, dtype=np.int32),
        )
        self._indptr: np.ndarray = self.matrix.indptr
        self._indices: np.ndarray = self.matrix.indices
        self._data: np.ndarray = self.matrix.data
        for arr in (self._indptr, self._indices, self._data):
            arr.flags.writeable = False  # shared by every concurrent search

    def _build(
        self,
        n: int,
        n_terms: int,
        fields: Mapping[str, int],
        term_ids: np.ndarray,
        slot_doc: np.ndarray,
        slot_field: np.ndarray,
        slot_len: np.ndarray,
    ) -> sparse.csr_matrix:
        """The term x document matrix of final contributions."""
        k1, b = self.k1, self.b
        if n == 0 or n_terms == 0:
            return sparse.csr_matrix((n_terms, n), dtype=np.float32)
        weight = np.array(
            [self.field_weights.get(name, 1.0) for name in fields], dtype=np.float64
        )
        total = np.bincount(slot_field, weights=slot_len, minlength=len(fields))
        avg_len = total / n
        safe_avg = np.where(avg_len > 0, avg_len, 1.0)
        norm = weight[slot_field] / (1 - b + b * slot_len / safe_avg[slot_field])
        norm[(weight[slot_field] <= 0) | (slot_len == 0)] = 0.0
        # Slots come in document order; cut them into chunks of documents.
        token_end = np.cumsum(slot_len, dtype=np.int64)
        token_start = token_end - slot_len
        blocks = []
        for lo in range(0, n, _CHUNK_DOCS):
            hi = min(n, lo + _CHUNK_DOCS)
            s0, s1 = np.searchsorted(slot_doc, [lo, hi])
            if s0 == s1:
                blocks.append(sparse.csr_matrix((hi - lo, n_terms), dtype=np.float64))
                continue
            t0, t1 = int(token_start[s0]), int(token_end[s1 - 1])
            lens = slot_len[s0:s1]
            docs = np.repeat(slot_doc[s0:s1] - lo, lens)
            values = np.repeat(norm[s0:s1], lens)
            keep = values > 0
            # Duplicate (document, term) pairs are summed by the conversion: that is the
            # weighted term frequency across fields.
            block = sparse.coo_matrix(
                (values[keep], (docs[keep], term_ids[t0:t1][keep])),
                shape=(hi - lo, n_terms),
            ).tocsr()
            block.sum_duplicates()
            blocks.append(block)
        by_doc = sparse.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]
        matrix = by_doc.T.tocsr()  # term x document, columns sorted within each row
        matrix.sum_duplicates()
        matrix.sort_indices()
        df = np.diff(matrix.indptr)
        idf = np.log1p((n - df + 0.5) / (df + 0.5)) * (k1 + 1)
        tf = matrix.data
        matrix.data = (np.repeat(idf, df) * tf / (k1 + tf)).astype(np.float32)
        matrix.indices = matrix.indices.astype(np.int32, copy=False)
        return matrix

    def __len__(self) -> int:
        return len(self.doc_ids)

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.df(term) > 0

    def index_of(self, doc_id: str) -> int | None:
        return self._index_of.get(doc_id)

    def df(self, term: str) -> int:
        row = self._row_of.get(term)
        return 0 if row is None else int(self._indptr[row + 1] - self._indptr[row])

    def vocabulary(self) -> Iterator[tuple[str, int]]:
        """Every term with its document frequency, in the order terms were first seen."""
        counts = np.diff(self._indptr).tolist()
        return zip(self._terms, counts)

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers, ascending; contributions) of ``term``: read-only views."""
        row = self._row_of.get(term)
        if row is None:
            return _NO_DOCS, _NO_VALUES
        lo, hi = self._indptr[row], self._indptr[row + 1]
        return self._indices[lo:hi], self._data[lo:hi]

    def has_term(self, term: str, idx: int) -> bool:
        """Whether document number ``idx`` contains ``term``."""
        docs, _ = self.postings(term)
        j = int(np.searchsorted(docs, idx))
        return j < len(docs) and int(docs[j]) == idx

    def contains(self, term: str, docs: np.ndarray) -> np.ndarray:
        """For each document number in ``docs``, whether it contains ``term`` (bool array)."""
        return _member(docs, self.postings(term)[0])

    def score_array(
        self,
        query: Iterable[str] | Mapping[str, float],
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """BM25F scores of every document (float32, zero where no term matched).

        ``query`` is tokens (a repeated token counts again) or token -> weight.  With
        ``out`` the scores are added to it.  Every contribution is positive, so a document
        matched some term exactly when its score went up.
        """
        weights: Mapping[str, float] = query if isinstance(query, Mapping) else Counter(query)
        scores = np.zeros(len(self.doc_ids), dtype=np.float32) if out is None else out
        for term, weight in weights.items():
            if not weight:
                continue
            docs, values = self.postings(term)
            if len(docs):
                # Column indexes are unique within a row, so fancy += adds each once.
                scores[docs] += values if weight == 1 else values * np.float32(weight)
        return scores

    def all_of(self, terms: Sequence[str], weight: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Documents containing every one of ``terms`` (ascending) and ``weight`` times the
        sum of the terms' contributions."""
        # A repeated term meets itself in the intersection and so counts again.
        entries = [self.postings(t) for t in terms]
        if not entries or any(not len(docs) for docs, _ in entries):
            return _NO_DOCS, _NO_VALUES
        entries.sort(key=lambda e: len(e[0]))
        docs, values = entries[0]
        acc = values.astype(np.float64)
        for other, other_values in entries[1:]:
            j = np.searchsorted(other, docs)
            j[j == len(other)] = 0
            hit = other[j] == docs
            docs, acc = docs[hit], acc[hit] + other_values[j[hit]]
            if not len(docs):
                break
        return docs, acc * weight

    # -- dictionaries, for callers that want few documents by number or id -----------------

    def scores_by_index(self, query: Iterable[str] | Mapping[str, float]) -> dict[int, float]:
        """BM25F score of every document sharing a term with ``query``, by document number."""
        scores = self.score_array(query)
        hit = np.flatnonzero(scores)
        return dict(zip(hit.tolist(), scores[hit].astype(np.float64).tolist()))

    def scores_all_of(self, terms: Sequence[str], weight: float = 1.0) -> dict[int, float]:
        """:meth:`all_of` as a dictionary by document number."""
        docs, values = self.all_of(terms, weight)
        return dict(zip(docs.tolist(), values.tolist()))

    def scores(self, query_tokens: Iterable[str] | Mapping[str, float]) -> dict[str, float]:
        """BM25F score of every document sharing a term with the query, by doc id."""
        ids = self.doc_ids
        return {ids[i]: s for i, s in self.scores_by_index(query_tokens).items()}


_NO_DOCS = np.zeros(0, dtype=np.int32)
_NO_VALUES = np.zeros(0, dtype=np.float32)


def _member(docs: np.ndarray, sorted_docs: np.ndarray) -> np.ndarray:
    """For each of ``docs``, whether it is in ``sorted_docs`` (ascending, unique)."""
    if not len(sorted_docs) or not len(docs):
        return np.zeros(len(docs), dtype=bool)
    j = np.searchsorted(sorted_docs, docs)
    j[j == len(sorted_docs)] = 0
    return sorted_docs[j] == docs
