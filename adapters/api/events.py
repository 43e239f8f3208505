"""`GET /runs/{id}/events`: a run's life as Server-Sent Events
(https://html.spec.whatwg.org/multipage/server-sent-events.html).

The stream opens with the run's current state (so a client that reconnects is up to date at
once), then sends an `event: status` each time it changes (status, progress, place in line),
and ends after one `event: result`: the run as `GET /runs/{id}` shows it once its result is
recorded. Each event's data is that same JSON. The stream wakes when this process shows the
run's progress or result, and looks again every few seconds for changes made elsewhere; a
comment line keeps idle connections open through proxies.

While the run is unfinished, a backend that streams previews (Comfy API v2) also shows up as
`event: preview` with data `{"mime": ..., "data": <base64 image>}`: at most one a second per
stream (on the clock), only the newest (those in between are skipped), never after the result.
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from adapters.api.auth import KeyRing
from adapters.api.bodies import language
from adapters.api.config import ApiConfig
from adapters.api.errors import api_handler
from adapters.api.run_access import RunAccess
from adapters.api.signals import RunSignals
from adapters.api.views import RunViews
from core.ports import Clock
from core.previews import PreviewBoard

RECONNECT_MS = 2000
PREVIEW_EVERY = timedelta(seconds=1)
"""At most one preview a second per stream."""


class EventRoutes:
    def __init__(
        self,
        keys: KeyRing,
        access: RunAccess,
        views: RunViews,
        signals: RunSignals,
        config: ApiConfig,
        previews: PreviewBoard,
        clock: Clock,
    ) -> None:
        self._keys = keys
        self._access = access
        self._views = views
        self._signals = signals
        self._config = config
        self._previews = previews
        self._clock = clock

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
            fresh = asyncio.Event()
            pacer = _PreviewPacer(self._previews, run_id, self._clock, fresh)
            async with self._signals.listening(run_id) as bell:
                last: Any = None
                number = 0
                quiet_s = 0.0
                read = True
                with self._previews.following(run_id, fresh.set), pacer:
                    while not self._signals.closing.is_set():
                        if read:
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
                        fresh.clear()
                        shown = pacer.due()
                        if shown is not None:
                            number += 1
                            await response.write(_event(number, "preview", shown))
                        woken = await _woken((bell, fresh), self._config.events_recheck_s)
                        read = bell.is_set() or not woken
                        if woken:
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


class _PreviewPacer:
    """Which preview a stream may send now: the newest one not sent yet, once a second at
    most; one held back wakes the stream (`fresh`) when its turn comes."""

    def __init__(
        self, board: PreviewBoard, run_id: str, clock: Clock, fresh: asyncio.Event
    ) -> None:
        self._board = board
        self._run_id = run_id
        self._clock = clock
        self._fresh = fresh
        self._sent = 0
        self._sent_at: datetime | None = None
        self._timer: asyncio.Task[None] | None = None

    def due(self) -> dict[str, str] | None:
        preview = self._board.latest(self._run_id)
        if preview is None or preview.number <= self._sent:
            return None
        now = self._clock.now()
        if self._sent_at is not None and now - self._sent_at < PREVIEW_EVERY:
            if self._timer is None or self._timer.done():
                self._timer = asyncio.get_running_loop().create_task(self._ring_when_due())
            return None
        self._sent, self._sent_at = preview.number, now
        return {"mime": preview.mime, "data": base64.b64encode(preview.data).decode("ascii")}

    async def _ring_when_due(self) -> None:
        """Measured when the task runs, so a clock moved meanwhile is seen."""
        assert self._sent_at is not None
        wait = (self._sent_at + PREVIEW_EVERY - self._clock.now()).total_seconds()
        if wait > 0:
            await self._clock.sleep(wait)
        self._fresh.set()

    def __enter__(self) -> _PreviewPacer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()


async def _woken(bells: tuple[asyncio.Event, ...], within_s: float) -> bool:
    """Whether one of `bells` rang within `within_s`."""
    waits = [asyncio.ensure_future(bell.wait()) for bell in bells]
    try:
        done, _ = await asyncio.wait(waits, timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
    return bool(done)


def _event(number: int, kind: str, data: dict[str, Any]) -> bytes:
    text = json.dumps(data, ensure_ascii=False)
    return f"id: {number}\nevent: {kind}\ndata: {text}\n\n".encode()
