"""What a query word the catalog never uses probably meant: typos, run-together words and
sizes written as one token.

``core.lexical`` builds one :class:`Speller` over its index's vocabulary and asks it about
every English query token the index does not hold; the suggested terms join the query at a
lower weight (the customer's own word stays, it simply matches nothing).  Customers misspell
and the catalog does not: on homedepot-dev a quarter of the queries hold a word no product
title uses ("humidifier fulters", "toung and grove", "carpot canopy 10x20").

A suggestion is, in order of preference:

- the numbers of a size: "10x20" -> "10", "20" (titles write "10 ft. x 20 ft.");
- the closest catalog word: Levenshtein distance 1, or 2 for words of 8 letters or more,
  preferring the same first letter (typos rarely hit it), then the more common word;
- two catalog words run together: "rainbird" -> "rain", "bird".

Only ASCII words of at least MIN_LENGTH letters are corrected (shorter ones have too many
neighbours to guess from), and never an English word (pyspellchecker's dictionary of
160,000): in a small shop most words a customer uses are in no product, and "chairs" must
not become "chain" nor "think" become "thanks".  Typos are not in the dictionary.  Both sides are index terms, stemmed by ``core.textproc``;
Chinese needs none of this (``core.lexical`` backs off to characters).  On homedepot-dev
(hybrid, the bundled MiniLM) spelling raised nDCG@10 from 0.407 to 0.423.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Container, Iterable

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from core.textproc import stem

__all__ = ["MIN_LENGTH", "Speller", "english_words"]

MIN_LENGTH = 4
LONG_WORD = 8  # from this length on, two edits
MIN_PART = 3  # each half of a run-together word
_SIZE = re.compile(r"\d+(?:\.\d+)?(?:x\d+(?:\.\d+)?)+")
_CACHE = 4096


@functools.cache
def english_words() -> Container[str]:
    """The English dictionary, loaded once (a quarter of a second) on first use."""
    from spellchecker import SpellChecker

    # WordFrequency.__contains__ is typed for a key, not for any object as Container's.
    words: Container[str] = SpellChecker(language="en", distance=1).word_frequency  # type: ignore[assignment]
    return words


class Speller:
    """Suggestions for words outside a vocabulary of ``(term, document frequency)`` pairs.

    ``known`` holds the words that are right as written (default: :func:`english_words`).
    Immutable once built and safe to share between threads; answers are memoized.
    """

    def __init__(self, vocabulary: Iterable[tuple[str, int]],
                 known: Callable[[], Container[str]] = english_words) -> None:
        self._known = known
        self._df: dict[str, int] = {}
        self._numbers: set[str] = set()
        for term, df in vocabulary:
            if term.isdecimal() or _is_decimal(term):
                self._numbers.add(term)
            elif df > 0 and len(term) >= MIN_PART and term.isascii() and term.isalpha():
                self._df[term] = df
        self._words = list(self._df)
        self.suggest = functools.lru_cache(maxsize=_CACHE)(self._suggest)

    def __len__(self) -> int:
        return len(self._words)

    def _suggest(self, token: str, written: str = "") -> tuple[str, ...]:
        """Catalog terms ``token`` probably meant, best first; () when there is no good guess.
        ``token`` is an index term (normalized and stemmed) the index does not hold;
        ``written`` the word as the customer wrote it, normalized (default: ``token``)."""
        if _SIZE.fullmatch(token):
            return tuple(dict.fromkeys(p for p in token.split("x") if p in self._numbers))
        if len(token) < MIN_LENGTH or not (token.isascii() and token.isalpha()):
            return ()
        if (written or token) in self._known():
            return ()
        closest = self._closest(token)
        if closest:
            return (closest,)
        return self._split(token)

    def _closest(self, token: str) -> str | None:
        limit = 2 if len(token) >= LONG_WORD else 1
        found = process.extract(token, self._words, scorer=Levenshtein.distance,
                                score_cutoff=limit, limit=None)
        if not found:
            return None
        best = min(distance for _, distance, _ in found)
        first = token[0]
        word, _, _ = max(
            (f for f in found if f[1] == best),
            key=lambda f: (f[0][0] == first, self._df[f[0]], f[0]),
        )
        return str(word)

    def _split(self, token: str) -> tuple[str, ...]:
        df = self._df
        best: tuple[int, str, str] | None = None
        for cut in range(MIN_PART, len(token) - MIN_PART + 1):
            left, right = stem(token[:cut]), stem(token[cut:])
            if left in df and right in df:
                support = min(df[left], df[right])
                if best is None or support > best[0]:
                    best = (support, left, right)
        return best[1:] if best else ()


def _is_decimal(term: str) -> bool:
    head, dot, tail = term.partition(".")
    return bool(dot) and head.isdecimal() and tail.isdecimal()
