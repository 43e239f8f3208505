"""In-process news of runs for the event streams: the API's notifier rings a run's bell when its
progress or result is shown, and every stream open on that run wakes to read it. Changes made by
another process ring nothing here; streams also look again every few seconds for those."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class RunSignals:
    def __init__(self) -> None:
        self._bells: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self.closing = asyncio.Event()
        """Set when the server stops: every stream ends."""

    def ring(self, run_id: str) -> None:
        for bell in self._bells.get(run_id, ()):
            bell.set()

    @asynccontextmanager
    async def listening(self, run_id: str) -> AsyncIterator[asyncio.Event]:
        """A bell for one stream on `run_id`; clear it before reading the run."""
        bell = asyncio.Event()
        self._bells[run_id].add(bell)
        try:
            yield bell
        finally:
            bells = self._bells.get(run_id)
            if bells is not None:
                bells.discard(bell)
                if not bells:
                    del self._bells[run_id]

    def close(self) -> None:
        self.closing.set()
        for bells in self._bells.values():
            for bell in bells:
                bell.set()
