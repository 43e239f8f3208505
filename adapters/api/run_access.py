"""A key's own runs, as the API reads them: the run, its recorded result, its place in line. A run
of another key reads exactly like one that does not exist (404), as in chat."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from adapters.api.errors import not_found
from core.api_keys import ApiKey
from core.api_requests import ApiRequestStore, ApiResult
from core.line_snapshot import Place
from core.models import Run, RunStatus
from core.ports import RunStore

Line = Callable[[Run], Awaitable[Place | None]]
"""A waiting run's place in line (`FairQueue.place_of`: from a line read at most a second ago,
shared by every poller)."""


@dataclass(frozen=True)
class RunState:
    run: Run
    result: ApiResult | None
    place: int | None


class RunAccess:
    def __init__(self, store: RunStore, requests: ApiRequestStore, line: Line) -> None:
        self._store = store
        self._requests = requests
        self._line = line

    async def run(self, run_id: str, key: ApiKey) -> Run:
        run = await self._store.get(run_id) if len(run_id) <= 64 else None
        if run is None or run.chat.user_key != key.user_key:
            raise not_found(f"No run {run_id[:64]} of this key.")
        return run

    async def state(self, run_id: str, key: ApiKey) -> RunState:
        run = await self.run(run_id, key)
        result = None
        if run.status.terminal and run.origin is not None:
            request = await self._requests.get(run.origin)
            result = request.result if request else None
        place = None
        if run.status is RunStatus.PENDING and run.submit_started_at is None:
            found = await self._line(run)
            place = None if found is None else found.place
        return RunState(run, result, place)
