"""A clock the test moves by hand; whoever sleeps on it wakes when the test moves it far enough."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        waking = [(at, f) for at, f in self._sleepers if at <= self._now]
        self._sleepers = [(at, f) for at, f in self._sleepers if at > self._now]
        for _, future in waking:
            if not future.done():
                future.set_result(None)

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + timedelta(seconds=seconds), future))
        await future

    @property
    def sleepers(self) -> int:
        """How many are waiting on this clock (a test can wait for a sleeper to arrive)."""
        return sum(1 for _, future in self._sleepers if not future.done())


class WarpTime:
    """Time for the send pacer (core.pacing.Timer) that jumps ahead instead of waiting: a paced
    send costs no real time, and the order and spacing of sends stay as they would be. Give
    `fake = FakeTelegram(limits=..., clock=warp)` the same one, and its flood limits see the
    spacing the bot kept."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept = 0.0
        """Total seconds waited (jumped)."""

    def __call__(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.now += seconds
            self.slept += seconds
        await asyncio.sleep(0)
