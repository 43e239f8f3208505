"""Route-level fault injection for tests: canned error replies and held (delayed) answers."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from aiohttp import web
from aiohttp.typedefs import Handler

from adapters.simulator.wire import JsonDict


class Route(StrEnum):
    """Names of the simulator's routes, as used by `RouteFaults`."""

    DEPLOYMENTS = "deployments"
    DEPLOYMENT = "deployment"
    DEPLOYMENT_RUNS = "deployment_runs"
    MACHINES = "machines"
    MACHINE = "machine"
    QUEUE = "queue"
    GET_RUN = "get_run"
    CANCEL = "cancel"
    UPLOAD = "upload"
    GPU_PRICING = "gpu_pricing"
    INPUT_FILE = "input_file"
    OUTPUT_FILE = "output_file"


@dataclass
class _Failure:
    status: int
    remaining: int
    body: JsonDict
    headers: dict[str, str]


@dataclass
class _Hold:
    gate: asyncio.Event
    remaining: int | None


class RouteFaults:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        """Requests seen per route name (counted before any fault applies)."""
        self.waiting: Counter[str] = Counter()
        """Requests currently held per route name."""
        self._held = asyncio.Condition()
        self._failures: dict[str, list[_Failure]] = {}
        self._holds: dict[str, list[_Hold]] = {}
        self._late_replies: dict[str, list[asyncio.Event]] = {}

    def fail_next(
        self,
        route: str,
        status: int,
        count: int = 1,
        *,
        detail: str = "Simulated fault",
        retry_after: float | None = None,
    ) -> None:
        """The next `count` requests to `route` get `status` with `{"detail": detail}`."""
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        failure = _Failure(status, count, {"detail": detail}, headers)
        self._failures.setdefault(route, []).append(failure)

    def hold(
        self, route: str, gate: asyncio.Event | None = None, count: int | None = 1
    ) -> asyncio.Event:
        """The next `count` requests to `route` (all, if None) wait for `gate` before answering.

        Returns the gate; set it to let the held requests through.
        """
        gate = gate or asyncio.Event()
        self._holds.setdefault(route, []).append(_Hold(gate, count))
        return gate

    def hold_reply(self, route: str, gate: asyncio.Event | None = None) -> asyncio.Event:
        """The next request to `route` is carried out at once, but its reply waits for `gate`:
        a client that times out meanwhile cannot know it worked (a lost answer)."""
        gate = gate or asyncio.Event()
        self._late_replies.setdefault(route, []).append(gate)
        return gate

    async def wait_held(self, route: str, count: int = 1) -> None:
        """Return once `count` requests to `route` are being held."""
        async with self._held:
            await self._held.wait_for(lambda: self.waiting[route] >= count)

    def clear(self) -> None:
        """Forget every fault and let held requests through."""
        for holds in self._holds.values():
            for hold in holds:
                hold.gate.set()
        for gates in self._late_replies.values():
            for gate in gates:
                gate.set()
        self._holds.clear()
        self._late_replies.clear()
        self._failures.clear()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.name
        if route is None:
            return await handler(request)
        self.hits[route] += 1
        hold = next((h for h in self._holds.get(route, []) if h.remaining != 0), None)
        if hold is not None:
            if hold.remaining is not None:
                hold.remaining -= 1
            async with self._held:
                self.waiting[route] += 1
                self._held.notify_all()
            try:
                await hold.gate.wait()
            finally:
                self.waiting[route] -= 1
        failures = self._failures.get(route, [])
        if failures:
            failure = failures[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                failures.pop(0)
            return web.json_response(failure.body, status=failure.status, headers=failure.headers)
        late = self._late_replies.get(route)
        if late:
            gate = late.pop(0)
            response = await handler(request)
            await gate.wait()
            return response
        return await handler(request)
