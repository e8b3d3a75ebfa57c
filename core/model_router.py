"""Hot model swaps and A/B tests for an in-process ranker.

``ModelRouter`` is the ``Recommender`` that ``core.app.build_ranker`` returns for the hybrid
and dense modes: one ``LexicalRecommender`` (its BM25 index and arrays built once) and, per
model in use, a copy of it with that model's dense retriever (``LexicalRecommender.with_dense``
shares everything else).  The registry (``core.models``) says which model serves and which
A/B candidate runs; every ``poll_s`` seconds ``start()``'s task stats registry.json and, when
it changed, builds the retrievers it now needs in a worker thread while the current ones keep
answering, then swaps them in with one assignment.  A model that fails to load is logged and
counted (``daogou_model_loads_total{result="failed"}``) and the previous one keeps serving; an
unreadable registry.json likewise (``result="bad_registry"``).  A retired model's encoder
threads stop once its last search has finished.

While an A/B test runs, a request whose ``user_key`` hashes (sha256 of the experiment id and
the key) under the test's ``share`` is ranked by the candidate, every other one by the serving
model; requests without a key (evaluation) always get the serving model.  Each hit names the
model that ranked it (``Hit.model``: the model directory's name, or "default").
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from core import metrics
from core.catalog import Catalog
from core.dense_api import DenseRetriever
from core.lexical import LexicalRecommender
from core.models import ABTest, ModelRegistry, RegistryError, RegistryState, model_name
from core.recommender import Hit, SearchRequest

log = logging.getLogger(__name__)

LoadRetriever = Callable[[Path | None], DenseRetriever]
"""Builds the dense retriever of a model directory (None: the configured default). Blocking."""


def ab_bucket(experiment: str, user_key: str) -> float:
    """Where ``user_key`` falls in [0, 1) for ``experiment``: the same in every process."""
    digest = hashlib.sha256(f"{experiment}\0{user_key}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class _Slot:
    """One loaded model: its ranker and the searches using it now."""

    def __init__(self, ref: str, ranker: LexicalRecommender, retriever: DenseRetriever) -> None:
        self.ref = ref
        self.name = model_name(ref)
        self.ranker = ranker
        self.retriever = retriever
        self.in_flight = 0
        self.retired = False

    def retire(self) -> None:
        self.retired = True
        if not self.in_flight:
            self.close()

    def close(self) -> None:
        close = getattr(getattr(self.retriever, "encoder", None), "close", None)
        if close is not None:
            close()


@dataclass(frozen=True)
class _Route:
    """What searches use now; replaced whole, so a search sees one consistent pair."""

    serving: _Slot
    candidate: _Slot | None = None
    ab: ABTest | None = None


class ModelRouter:
    """A ``Recommender`` whose dense model follows the registry (see the module doc).

    ``base`` is the lexical ranker with the fusion settings of the mode (its own dense side is
    ignored); ``load`` builds a model's retriever.  The constructor loads the models the
    registry names now, blocking, as building a ranker always has: the serving model (the
    default when there is no registry, or when the one named cannot be loaded) and the A/B
    candidate.  ``start()``/``stop()`` run the watcher when ``poll_s`` > 0.
    """

    def __init__(self, base: LexicalRecommender, load: LoadRetriever, registry: ModelRegistry | None = None,
                 *, poll_s: float = 5.0) -> None:
        self._base = base
        self._load = load
        self._registry = registry
        self._poll_s = poll_s
        self._task: asyncio.Task[None] | None = None
        self._checking = asyncio.Lock()
        self._stamp = registry.stamp() if registry is not None else None
        state = self._read_now()
        try:
            serving = self._slot(state.serving_ref)
        except Exception as exc:  # a broken promotion must not stop the shop from starting
            if not state.serving_ref:
                raise
            self._failed(state.serving_ref, exc)
            serving = self._slot("")
        self._route = _Route(serving)
        self._version = state.version
        if state.ab is not None and state.ab.candidate != serving.ref:
            self._route = self._with_candidate(self._route, state.ab, self._try_slot(state.ab.candidate))
        metrics.MODEL_VERSION.set(state.version)

    # -- the Recommender ----------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        return self._base.catalog

    @property
    def serving(self) -> str:
        """The name of the model serving now ("default" for the configured one)."""
        return self._route.serving.name

    @property
    def candidate(self) -> str | None:
        """The A/B candidate's name while a test runs with it loaded, else None."""
        return self._route.candidate.name if self._route.candidate is not None else None

    def model_for(self, request: SearchRequest) -> str:
        """The name of the model that would rank ``request`` now."""
        return self._pick(self._route, request).name

    async def search(self, request: SearchRequest) -> list[Hit]:
        slot = self._pick(self._route, request)
        slot.in_flight += 1
        try:
            hits = await slot.ranker.search(request)
        finally:
            slot.in_flight -= 1
            if slot.retired and not slot.in_flight:
                slot.close()
        name = slot.name
        return [replace(hit, model=name) for hit in hits]

    @staticmethod
    def _pick(route: _Route, request: SearchRequest) -> _Slot:
        if (route.candidate is not None and route.ab is not None and request.user_key
                and ab_bucket(route.ab.experiment, request.user_key) < route.ab.share):
            return route.candidate
        return route.serving

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Watch the registry (every ``poll_s`` seconds; not at all when 0 or without one)."""
        if self._task is None and self._registry is not None and self._poll_s > 0:
            self._task = asyncio.get_running_loop().create_task(self._watch(), name="model-registry-watch")

    async def stop(self) -> None:
        """Stop watching; the models loaded keep answering searches."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                await self.check()
            except Exception:  # the watcher must outlive any one bad check
                log.exception("checking the model registry failed")

    async def check(self) -> bool:
        """Apply the registry if registry.json changed since the last look; True when the
        models in use changed.  The watcher calls it; tests call it to skip the wait."""
        if self._registry is None:
            return False
        async with self._checking:
            stamp = self._registry.stamp()
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            try:
                state = await asyncio.to_thread(self._registry.read)
            except RegistryError as exc:
                metrics.MODEL_LOADS.labels("bad_registry").inc()
                log.error("model registry unusable (%s); %s keeps serving", exc, self.serving)
                return False
            return await self._apply(state)

    async def _apply(self, state: RegistryState) -> bool:
        route = self._route
        loaded = {route.serving.ref: route.serving}
        if route.candidate is not None:
            loaded[route.candidate.ref] = route.candidate
        serving = loaded.get(state.serving_ref)
        if serving is None:
            serving = await self._try_slot_async(state.serving_ref)
            if serving is None:
                serving = route.serving  # the model that failed never serves; the old one stays
        new = _Route(serving)
        if state.ab is not None and state.ab.candidate != serving.ref:
            candidate = loaded.get(state.ab.candidate) or await self._try_slot_async(state.ab.candidate)
            new = self._with_candidate(new, state.ab, candidate)
        self._route = new
        self._version = state.version
        metrics.MODEL_VERSION.set(state.version)
        kept = {id(new.serving), id(new.candidate)}
        for slot in loaded.values():
            if id(slot) not in kept:
                slot.retire()
        changed = (new.serving is not route.serving or new.candidate is not route.candidate
                   or new.ab != route.ab)
        if changed:
            log.info("model registry version %d: %s serves%s", state.version, new.serving.name,
                     f"; A/B test {new.ab.experiment}: {new.candidate.name} for {new.ab.share:.0%} of users"
                     if new.ab is not None and new.candidate is not None else "")
        return changed

    @staticmethod
    def _with_candidate(route: _Route, ab: ABTest, candidate: _Slot | None) -> _Route:
        if candidate is None:
            return route  # the candidate would not load: everyone keeps the serving model
        return replace(route, candidate=candidate, ab=ab)

    # -- loading --------------------------------------------------------------------------

    def _read_now(self) -> RegistryState:
        if self._registry is None:
            return RegistryState()
        try:
            return self._registry.read()
        except RegistryError as exc:
            metrics.MODEL_LOADS.labels("bad_registry").inc()
            log.error("model registry unusable (%s); the default model serves until it is fixed", exc)
            return RegistryState()

    def _slot(self, ref: str) -> _Slot:
        """Load ``ref`` (blocking); raises what resolving or loading raises."""
        path = self._registry.resolve(ref) if self._registry is not None else None
        retriever = self._load(path)
        metrics.MODEL_LOADS.labels("ok").inc()
        return _Slot(ref, self._base.with_dense(retriever), retriever)

    def _try_slot(self, ref: str) -> _Slot | None:
        try:
            return self._slot(ref)
        except Exception as exc:  # noqa: BLE001 - any failure: log, count, keep what serves
            self._failed(ref, exc)
            return None

    async def _try_slot_async(self, ref: str) -> _Slot | None:
        try:
            return await asyncio.to_thread(self._slot, ref)
        except Exception as exc:  # noqa: BLE001 - as _try_slot
            self._failed(ref, exc)
            return None

    def _failed(self, ref: str, exc: BaseException) -> None:
        metrics.MODEL_LOADS.labels("failed").inc()
        serving = getattr(self, "_route", None)
        log.error("model %s could not be loaded (%s); %s keeps serving", model_name(ref),
                  exc if isinstance(exc, (RegistryError, FileNotFoundError)) else repr(exc),
                  serving.serving.name if serving is not None else "the default model",
                  exc_info=not isinstance(exc, (RegistryError, FileNotFoundError)))

