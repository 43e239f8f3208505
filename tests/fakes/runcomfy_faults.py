"""Route faults for the fake RunComfy, and the record of every HTTP request it answered.

Faults: error replies (e.g. 429 with `Retry-After`, 5xx with a JSON or plain-text body), the
documented quirk of HTTP 200 with a top-level `error_code`
(https://docs.runcomfy.com/serverless/error-codes; checked for by
https://github.com/runcomfy-com/runcomfy-mcp, `runcomfy_client.py`), and held requests.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from tests.fakes.runcomfy_wire import default_error_code, error_body


@dataclass
class RecordedCall:
    """One HTTP request to the fake and its answer."""

    method: str
    path: str
    route: str | None
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0
    response: Any = None
    """The reply's JSON (or text when it was not JSON)."""

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def token(self) -> str | None:
        header = self.headers.get("Authorization", "")
        return header[7:].strip() if header.lower().startswith("bearer ") else None


@dataclass
class _Fault:
    remaining: int
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None

    def reply(self) -> web.Response:
        if self.text is not None:
            return web.Response(status=self.status, text=self.text, headers=self.headers)
        return web.json_response(self.body, status=self.status, headers=self.headers)


@dataclass
class _Hold:
    gate: asyncio.Event
    remaining: int | None


class RouteFaults:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        """Requests seen per route name, counted before any fault applies."""
        self.waiting: Counter[str] = Counter()
        self._held = asyncio.Condition()
        self._faults: dict[str, list[_Fault]] = {}
        self._holds: dict[str, list[_Hold]] = {}

    def fail_next(
        self,
        route: str,
        status: int,
        count: int = 1,
        *,
        message: str | None = None,
        error_code: int | None = None,
        retry_after: float | None = None,
        text: str | None = None,
    ) -> None:
        """The next `count` requests to `route` get `status`.

        The body is RunComfy's `{error_code, error_message}` (code = status x 1000 + 1 unless
        given), or `text` verbatim (e.g. a proxy's HTML page) when set.
        """
        code = default_error_code(status) if error_code is None else error_code
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        body = error_body(code, message or ("Too Many Requests" if status == 429 else "Error"))
        self._faults.setdefault(route, []).append(_Fault(count, status, body, headers, text))

    def error_code_next(
        self,
        route: str,
        error_code: int = 500001,
        message: str = "Internal Error",
        count: int = 1,
    ) -> None:
        """The quirk: the next `count` requests get HTTP 200 with a top-level `error_code`."""
        body = error_body(error_code, message)
        self._faults.setdefault(route, []).append(_Fault(count, 200, body))

    def hold(
        self, route: str, gate: asyncio.Event | None = None, count: int | None = 1
    ) -> asyncio.Event:
        """The next `count` requests to `route` (all, if None) wait for the returned gate."""
        gate = gate or asyncio.Event()
        self._holds.setdefault(route, []).append(_Hold(gate, count))
        return gate

    async def wait_held(self, route: str, count: int = 1) -> None:
        async with self._held:
            await self._held.wait_for(lambda: self.waiting[route] >= count)

    def clear(self) -> None:
        """Forget every fault and let held requests through."""
        for holds in self._holds.values():
            for hold in holds:
                hold.gate.set()
        self._holds.clear()
        self._faults.clear()

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
        faults = self._faults.get(route, [])
        if faults:
            fault = faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.pop(0)
            return fault.reply()
        return await handler(request)


class CallLog:
    """Records every request (outermost middleware), including faulted and refused ones."""

    def __init__(self) -> None:
        self.calls: list[RecordedCall] = []

    def to(self, route: str) -> list[RecordedCall]:
        return [c for c in self.calls if c.route == route]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        call = RecordedCall(
            method=request.method,
            path=request.path,
            route=request.match_info.route.name,
            query={k: request.query.getall(k) for k in request.query},
            headers=dict(request.headers),
            body=await request.read(),
        )
        self.calls.append(call)
        response = await handler(request)
        call.status = response.status
        if isinstance(response, web.Response) and response.body is not None:
            raw = response.body
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
            if response.content_type == "application/json":
                call.response = json.loads(text)
            elif response.content_type.startswith("text/"):
                call.response = text
        return response
