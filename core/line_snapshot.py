"""The line as one process last read it, shared by every reader for a moment.

A waiting run's place depends on the whole queue (core/fair_order.py: round robin across users,
so no count over one index gives it), and API clients poll their waiting runs: each `GET
/runs/{id}` or event-stream tick reading the whole queue would load the database in step with
the number of pollers. Instead the line is read at most once per `ttl_s` per process (readers
arriving while a read is under way share it, https://docs.python.org/3/library/asyncio-task.html#shielding-from-cancellation
keeps one reader's cancellation from ending everyone's read) and dropped at once when this
process changes the queue, so its own changes show on the next read as before; changes made by
other processes show within `ttl_s`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from core.models import Run
from core.ports import Clock

TTL_S = 1.0
"""How long one read of the line serves every reader, by default."""


@dataclass(frozen=True)
class Place:
    run: Run
    place: int
    starts_in_s: float | None


@dataclass(frozen=True)
class Snapshot:
    places: tuple[Place, ...]
    by_run: dict[str, Place]
    taken_at: datetime
    complete: bool
    """Every waiting run is in it (the read was not cut at its limit)."""


class SharedLine:
    def __init__(
        self,
        read: Callable[[], Awaitable[Sequence[Place]]],
        *,
        clock: Clock,
        limit: int,
        ttl_s: float = TTL_S,
    ) -> None:
        self._read = read
        self._clock = clock
        self._limit = limit
        self._ttl_s = ttl_s
        self._snapshot: Snapshot | None = None
        self._reading: asyncio.Task[Snapshot] | None = None
        self._generation = 0

    def drop(self) -> None:
        """The queue changed here: the next reader reads it again."""
        self._generation += 1
        self._snapshot = None
        self._reading = None

    async def fresh(self) -> Snapshot:
        """A snapshot read after this call began (shared with readers arriving meanwhile)."""
        self.drop()
        return await self._shared_read()

    async def recent(self) -> Snapshot:
        """A snapshot at most `ttl_s` old."""
        snapshot = self._snapshot
        if snapshot is not None:
            age = (self._clock.now() - snapshot.taken_at).total_seconds()
            if 0 <= age < self._ttl_s:
                return snapshot
        return await self._shared_read()

    async def _shared_read(self) -> Snapshot:
        if self._reading is None:
            self._reading = asyncio.create_task(self._take(self._generation))
            self._reading.add_done_callback(_retrieve)
        return await asyncio.shield(self._reading)

    async def _take(self, generation: int) -> Snapshot:
        started = self._clock.now()
        try:
            places = tuple(await self._read())
        finally:
            if self._generation == generation:
                self._reading = None
        snapshot = Snapshot(
            places=places,
            by_run={place.run.id: place for place in places},
            taken_at=started,
            complete=len(places) < self._limit,
        )
        if self._generation == generation:
            self._snapshot = snapshot
        return snapshot


def _retrieve(task: asyncio.Task[Snapshot]) -> None:
    """A read whose every reader was cancelled: its error is theirs, not the loop's to log."""
    if not task.cancelled():
        task.exception()
