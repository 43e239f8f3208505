"""`GET /runs/{id}/events`: a run's life as Server-Sent Events
(https://html.spec.whatwg.org/multipage/server-sent-events.html).

The stream opens with the run's current state (so a client that reconnects is up to date at
once), then sends an `event: status` each time it changes (status, progress, place in line),
and ends after one `event: result`: the run as `GET /runs/{id}` shows it once its result is
recorded. Each event's data is that same JSON. The stream wakes when this process shows the
run's progress or result, and looks again every few seconds for changes made elsewhere; a
comment line keeps idle connections open through proxies.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from adapters.api.auth import KeyRing
from adapters.api.bodies import language
from adapters.api.config import ApiConfig
from adapters.api.errors import api_handler
from adapters.api.run_access import RunAccess
from adapters.api.signals import RunSignals
from adapters.api.views import RunViews

RECONNECT_MS = 2000


class EventRoutes:
    def __init__(
        self,
        keys: KeyRing,
        access: RunAccess,
        views: RunViews,
        signals: RunSignals,
        config: ApiConfig,
    ) -> None:
        self._keys = keys
        self._access = access
        self._views = views
        self._signals = signals
        self._config = config

    def routes(self, prefix: str) -> list[web.RouteDef]:
        return [web.get(f"{prefix}/runs/{{id}}/events", api_handler(self.stream))]

    async def stream(self, request: web.Request) -> web.StreamResponse:
        key = await self._keys.caller(request.headers.get("Authorization"))
        run_id = request.match_info["id"]
        await self._access.run(run_id, key)  # 404 before the stream starts
        base = self._config.base(request)
        tongue = language(request)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        try:
            await response.write(f"retry: {RECONNECT_MS}\n\n".encode())
            async with self._signals.listening(run_id) as bell:
                last: Any = None
                number = 0
                quiet_s = 0.0
                while not self._signals.closing.is_set():
                    bell.clear()
                    state = await self._access.state(run_id, key)
                    view = self._views.view(
                        state.run, state.result, base, place=state.place, language=tongue
                    )
                    if view != last:
                        number += 1
                        kind = "result" if view["final"] else "status"
                        await response.write(_event(number, kind, view))
                        last = view
                    if view["final"]:
                        break
                    if await _woken(bell, self._config.events_recheck_s):
                        quiet_s = 0.0
                        continue
                    quiet_s += self._config.events_recheck_s
                    if quiet_s >= self._config.heartbeat_s:
                        await response.write(b": keep-alive\n\n")
                        quiet_s = 0.0
            await response.write_eof()
        except ConnectionResetError:  # the client went away
            pass
        return response


async def _woken(bell: asyncio.Event, within_s: float) -> bool:
    try:
        async with asyncio.timeout(within_s):
            await bell.wait()
    except TimeoutError:
        return False
    return True


def _event(number: int, kind: str, data: dict[str, Any]) -> bytes:
    text = json.dumps(data, ensure_ascii=False)
    return f"id: {number}\nevent: {kind}\ndata: {text}\n\n".encode()
