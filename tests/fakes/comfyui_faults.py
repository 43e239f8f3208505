"""Route faults for the fake ComfyUI: canned error answers and dropped connections.

A route is named by its path template without the `/api` prefix (`"/prompt"`,
`"/history/{prompt_id}"`, `"/ws"`, `"/api/jobs/{job_id}/cancel"` keeps its own `/api`), so a
fault hits both spellings of a route, as ComfyUI serves each under `/` and `/api/`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from tests.fakes.comfyui_nodes import JsonDict

_JOB_ROUTES = ("/api/jobs",)


def route_key(request: web.Request) -> str | None:
    resource = request.match_info.route.resource
    if resource is None:
        return None
    path = resource.canonical
    if path.startswith("/api/") and not path.startswith(_JOB_ROUTES):
        path = path[4:]
    return path


@dataclass
class _Fault:
    remaining: int
    status: int | None  # None: drop the connection without an answer
    body: JsonDict | str | None
    handled: bool = False  # drop only after the handler did its work


@dataclass
class RequestRecord:
    method: str
    route: str
    path: str
    query: dict[str, str]


class RouteFaults:
    def __init__(self, changed: asyncio.Condition | None = None) -> None:
        self._changed = changed
        self.hits: Counter[str] = Counter()
        """Requests seen per route (counted before any fault applies)."""
        self.requests: list[RequestRecord] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._holds: dict[str, list[asyncio.Event]] = {}
        self.held: Counter[str] = Counter()
        """Requests waiting at a `hold_next` gate right now, per route."""

    def fail_next(
        self, route: str, status: int = 500, count: int = 1, body: JsonDict | str | None = None
    ) -> None:
        """The next `count` requests to `route` are answered `status` (body: text or JSON)."""
        self._faults.setdefault(route, []).append(_Fault(count, status, body))

    def drop_next(self, route: str, count: int = 1, *, handled: bool = False) -> None:
        """The next `count` requests to `route` have their connection cut, unanswered; with
        `handled` the request is carried out first (a prompt queued, a file stored) and only
        the answer is lost."""
        self._faults.setdefault(route, []).append(_Fault(count, None, None, handled))

    def hold_next(self, route: str) -> asyncio.Event:
        """The next request to `route` waits, unanswered, until the returned event is set."""
        gate = asyncio.Event()
        self._holds.setdefault(route, []).append(gate)
        return gate

    def clear(self) -> None:
        self._faults.clear()
        for gates in self._holds.values():
            for gate in gates:
                gate.set()
        self._holds.clear()

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = route_key(request)
        if route is None:
            return await handler(request)
        self.hits[route] += 1
        self.requests.append(
            RequestRecord(request.method, route, request.path, dict(request.rel_url.query))
        )
        await self._notify()
        holds = self._holds.get(route)
        if holds:
            gate = holds.pop(0)
            self.held[route] += 1
            await self._notify()
            try:
                await gate.wait()
            finally:
                self.held[route] -= 1
        faults = self._faults.get(route, [])
        if not faults:
            return await handler(request)
        fault = faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            faults.pop(0)
        if fault.status is None:
            if fault.handled:
                await handler(request)
            if isinstance(request.transport, asyncio.Transport):
                request.transport.abort()
            raise asyncio.CancelledError  # nothing more to say on a dead connection
        if isinstance(fault.body, dict):
            return web.json_response(fault.body, status=fault.status)
        return web.Response(status=fault.status, text=fault.body or "Simulated fault")
