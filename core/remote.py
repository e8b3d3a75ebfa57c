"""The client of the recommender service: a ``Recommender`` that asks ``daogou serve
recommender`` over HTTP and answers from a local recommender when it cannot.

A bot process builds one ``RemoteRecommender`` with its own ``Catalog`` (understanding
reads the shop's brand and category names from it, and every product shown is the local
``Product`` of that id) and a local fallback recommender (the lexical one: no encoder to
load, ready at once).  ``start()`` opens one shared HTTP client, ``stop()`` closes it.

The client is an ``aiohttp.ClientSession``, not an ``httpx.AsyncClient``: side by side on
a 2-core machine, against a server that answers at once, httpx spent 2.4-6.8 ms of CPU
per call and, with 16 calls in flight, had a p99 of 1.4 s (encode/httpx#3215); aiohttp
spent 0.3-0.7 ms with a p99 of 38 ms.  A bot process with many customers would have
timed out on its own client.

The customer never sees a failure of the service: a refused connection, a timeout, a
5xx, an answer that is not the agreed JSON all end in the fallback's answer and a logged
warning.  After ``failure_threshold`` consecutive failures the service is skipped for
``cooldown`` seconds (a circuit breaker, so a dead service costs no timeouts); then one
request at a time probes it until one succeeds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from core import metrics
from core.catalog import Catalog, Product
from core.recommender import Hit, Recommender, SearchRequest
from core.wire import RECOMMEND_PATH, request_to_dict

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """The service did not give a usable answer; ``counts`` says whether it is the
    service's fault (and so counts towards opening the circuit)."""

    def __init__(self, message: str, *, counts: bool = True) -> None:
        super().__init__(message)
        self.counts = counts


class RemoteRecommender:
    """``Recommender`` backed by the recommender service, with a local fallback.

    Safe to call concurrently; called by the dialogue manager once per turn that needs
    products.  ``url`` is the service's base URL (``http://recommender:8765``).
    """

    def __init__(
        self,
        url: str,
        catalog: Catalog,
        fallback: Recommender,
        *,
        timeout: float = 1.5,
        connect_timeout: float = 0.5,
        failure_threshold: int = 3,
        cooldown: float = 10.0,
        max_connections: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout <= 0 or connect_timeout <= 0 or cooldown < 0 or failure_threshold < 1:
            raise ValueError("timeouts must be > 0, cooldown >= 0 and failure_threshold >= 1")
        self._base = url.rstrip("/")
        self._url = self._base + RECOMMEND_PATH
        self._catalog = catalog
        self._fallback = fallback
        self._timeout = timeout
        self._connect_timeout = min(connect_timeout, timeout)
        self._failure_threshold = failure_threshold
        self._cooldown = cooldown
        self._max_connections = max_connections
        self._clock = clock
        self._client: aiohttp.ClientSession | None = None
        self._failures = 0  # consecutive
        self._open_until = 0.0  # while the circuit is open, the service is not asked
        self._probing = False  # after the cool-down, one request at a time tries the service

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @property
    def circuit_open(self) -> bool:
        """True while requests skip the service (for health reports and tests)."""
        return self._failures >= self._failure_threshold and self._clock() < self._open_until

    async def start(self) -> None:
        """Open the shared HTTP client; call once, inside the event loop, before the first search."""
        if self._client is None:
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                # The whole call is bounded in ``_ask``; only the connect has a bound of its own.
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout),
                trust_env=False,  # a proxy from the environment must not sit between us and the service
            )

    async def ready(self) -> tuple[bool, str]:
        """Whether the service answers its ``/readyz`` now (for this process's own ``/readyz``)."""
        if self._client is None:
            return False, "not started"
        try:
            async with self._client.get(self._base + "/readyz",
                                        timeout=aiohttp.ClientTimeout(total=2)) as response:
                return response.status == 200, f"HTTP {response.status}"
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return False, _describe(exc)

    async def stop(self) -> None:
        """Close the HTTP client; call once when the process shuts down."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def search(self, request: SearchRequest) -> list[Hit]:
        """The service's answer when it gives one in time, else the fallback's."""
        if self._client is None:
            raise RuntimeError("RemoteRecommender.start() was not called")
        probe = False
        if self._failures >= self._failure_threshold:
            if self._clock() < self._open_until or self._probing:
                return await self._fallback.search(request)
            probe = self._probing = True
        try:
            hits = await self._ask(self._client, request)
        except Exception as exc:  # noqa: BLE001 - any failure at all: the customer still gets an answer
            reason = _describe(exc)
            if getattr(exc, "counts", True):
                already_open = self.circuit_open  # calls in flight when it opened fail too
                self._failures += 1
                if already_open:
                    log.debug("recommender service at %s failed (%s)", self._url, reason)
                elif self._failures >= self._failure_threshold:
                    self._open_until = self._clock() + self._cooldown
                    log.warning(
                        "recommender service at %s failed %d times in a row (last: %s); "
                        "using the local recommender for %.0f s",
                        self._url, self._failures, reason, self._cooldown,
                    )
                else:
                    log.warning(
                        "recommender service at %s failed (%s); answering from the local recommender",
                        self._url, reason,
                    )
            else:
                log.warning(
                    "recommender service at %s refused a request (%s); answering from the local recommender",
                    self._url, reason,
                )
            metrics.error("recommender")
            return await self._fallback.search(request)
        finally:
            if probe:
                self._probing = False
        if self._failures >= self._failure_threshold:
            log.info("recommender service at %s answers again", self._url)
        self._failures = 0
        return hits

    async def _ask(self, client: aiohttp.ClientSession, request: SearchRequest) -> list[Hit]:
        async with asyncio.timeout(self._timeout):  # connect, send, wait and read, all together
            async with client.post(self._url, json=request_to_dict(request)) as response:
                status = response.status
                body = await response.read()
        if status != 200:
            detail = body[:200].decode("utf-8", "replace")
            # A 4xx other than 429 is this request's fault, not the service's health.
            own_fault = 400 <= status < 500 and status != 429
            raise ServiceError(f"HTTP {status}: {detail}", counts=not own_fault)
        return self._decode(json.loads(body), request)

    def _decode(self, data: Any, request: SearchRequest) -> list[Hit]:
        """Hits from the service's JSON, each with this process's own Product.

        A product the local catalog does not know is dropped (never show what the shop
        does not sell), as is one the local catalog says breaks a hard filter (the
        service may run a different version of the catalog).  Raises ServiceError on
        any deviation from the wire format.
        """
        if not isinstance(data, dict) or not isinstance(data.get("hits"), list):
            raise ServiceError("the answer has no list of hits")
        hits: list[Hit] = []
        dropped: list[str] = []
        for row in data["hits"]:
            try:
                pid = row["product"]["id"]
                score = row["score"]
                terms = tuple(row.get("matched_terms", ()))
                features = tuple(row.get("matched_features", ()))
                model = row.get("model") or ""  # absent from services older than the A/B tests
            except (KeyError, TypeError, AttributeError):
                raise ServiceError("a hit is not {product: {id}, score, ...}") from None
            if not isinstance(pid, str) or isinstance(score, bool) or not isinstance(score, (int, float)):
                raise ServiceError("a hit's product id or score has the wrong type")
            if not all(isinstance(t, str) for t in terms + features) or not isinstance(model, str):
                raise ServiceError("a hit's matched terms, features or model are not strings")
            product = self._catalog.get(pid)
            if product is None or not _passes(product, request):
                dropped.append(pid)
                continue
            hits.append(Hit(product, float(score), terms, features, model))
        if dropped:
            log.warning("dropped %d hit(s) the local catalog does not offer: %s", len(dropped), ", ".join(dropped[:5]))
        return hits[: request.limit]


def _passes(product: Product, request: SearchRequest) -> bool:
    """The hard filters that need no brand or category names: id, price, stock."""
    if product.id in request.exclude_ids or (request.in_stock_only and not product.in_stock):
        return False
    lo = -math.inf if request.price_min is None else request.price_min
    hi = math.inf if request.price_max is None else request.price_max
    return lo <= product.price <= hi


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect: {exc}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
