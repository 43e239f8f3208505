"""How long a run of a workflow is expected to take, which its price is quoted from: the
catalog's `expected_seconds`, else the median of its last successful runs, else a default."""

from __future__ import annotations

import statistics

from cachetools import TTLCache

from core.ports import Clock, RunStore
from core.workflow import Workflow

HISTORY = 20
"""Successful runs the median is taken over."""
CACHE_TTL_S = 300
"""How long a median is reused before it is read again."""


class Quoter:
    def __init__(self, store: RunStore, default_s: float, clock: Clock) -> None:
        self._store = store
        self._default_s = default_s
        self._medians: TTLCache[str, float] = TTLCache(
            maxsize=1024, ttl=CACHE_TTL_S, timer=lambda: clock.now().timestamp()
        )

    async def expected_seconds(self, workflow: Workflow) -> float:
        if workflow.expected_seconds:
            return workflow.expected_seconds
        known = self._medians.get(workflow.name)
        if known is None:
            durations = await self._store.recent_durations(workflow.name, HISTORY)
            if not durations:  # not remembered: the first runs make a history soon
                return self._default_s
            known = self._medians[workflow.name] = statistics.median(durations)
        return known

    def known_seconds(self, workflow: Workflow | None) -> float:
        """Without reading anything: what is known now (for wait estimates)."""
        if workflow is None:
            return self._default_s
        if workflow.expected_seconds:
            return workflow.expected_seconds
        return self._medians.get(workflow.name, self._default_s)
