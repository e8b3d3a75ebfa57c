"""A recording HTTP server on 127.0.0.1 (port 0) for tests: a stand-in for a webhook receiver or
a platform's REST API.  Every request is kept (method, path, headers, raw body); answers come from
a script of status codes (then 200), or from a handler."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Recorder:
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    calls: list[Call] = field(default_factory=list)
    respond: Callable[[Call], Any] | None = None  # JSON body of a 2xx answer
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Recorder:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        status = self.statuses.pop(0) if self.statuses else 200
        call = Call(request.method, request.path_qs, dict(request.headers), await request.read(), status)
        self.calls.append(call)
        body = self.respond(call) if self.respond and status < 300 else {"ok": status < 300}
        return web.json_response(body, status=status)

    def posts(self, suffix: str = "") -> list[Call]:
        return [c for c in self.calls if c.method == "POST" and c.path.endswith(suffix)]

    async def wait_for(self, count: int, suffix: str = "", timeout: float = 5.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while len(self.posts(suffix)) < count:
            assert time.monotonic() < deadline, f"expected {count} POST ...{suffix}, got {len(self.posts(suffix))}"
            await asyncio.sleep(0.01)
        return self.posts(suffix)
