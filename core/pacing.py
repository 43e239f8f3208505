"""Sending at a platform's pace: one request at a time per chat, each chat's rates and one
overall rate kept as sliding windows, urgent requests first, and a chat told to wait (a 429)
waiting alone while every other chat goes on.

Telegram states its limits as "no more than one message per second in a particular chat",
"no more than 20 messages per minute to the same group" and "not more than 30 messages per
second or so" overall (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-
avoid-this); a request over one is refused with 429 and `retry_after`
(https://core.telegram.org/bots/api#responseparameters).

A window counts a request from the moment its answer came back (the platform counted it no
later than that), so two requests of a chat are never closer at the platform than the rate
allows, however long the network took. Requests still in flight count in the overall window
until answered. Time is a `Timer`, so tests move it without waiting.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import AsyncIterator, Hashable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Rate:
    """At most `count` requests in any `seconds`."""

    count: int
    seconds: float


class Timer(Protocol):
    def monotonic(self) -> float:
        """Seconds from any fixed point."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class LoopTimer:
    """The event loop's clock (`time.monotonic`)."""

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _Window:
    """The answer times of the requests one `Rate` let through, oldest first."""

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.times: deque[float] = deque()
        self.in_flight = 0

    def wait(self, now: float) -> float | None:
        """Seconds until one more request fits (0: now); None while only an answer still
        awaited can make room."""
        while self.times and self.times[0] <= now - self.rate.seconds:
            self.times.popleft()
        need = len(self.times) + self.in_flight - self.rate.count + 1
        if need <= 0:
            return 0.0
        if need > len(self.times):
            return None
        return self.times[need - 1] + self.rate.seconds - now

    def expired(self, now: float) -> bool:
        return not self.in_flight and (not self.times or self.times[-1] <= now - self.rate.seconds)


class _Lane:
    """One chat: its windows, who holds its turn, who waits (urgent first, then in order)."""

    def __init__(self, rates: Sequence[Rate]) -> None:
        self.windows = [_Window(rate) for rate in rates]
        self.busy = False
        self.waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self.held_until = 0.0

    def idle(self, now: float) -> bool:
        return (
            not self.busy
            and not self.waiting
            and self.held_until <= now
            and all(w.expired(now) for w in self.windows)
        )


class ChatPacer:
    """`async with pacer.turn(chat, rates):` around each request to a chat."""

    SWEEP_FROM = 1024
    """Lanes kept before idle ones are forgotten (a chat's lane lives while its windows do)."""

    def __init__(self, overall: Rate | None = None, timer: Timer | None = None) -> None:
        self._timer: Timer = timer or LoopTimer()
        self._overall = [_Window(overall)] if overall else []
        self._lanes: dict[Hashable, _Lane] = {}
        self._order = itertools.count()
        self._answered: asyncio.Event | None = None
        self._sweep_at = self.SWEEP_FROM

    @asynccontextmanager
    async def turn(
        self, chat: Hashable, rates: Sequence[Rate], urgent: bool = True
    ) -> AsyncIterator[None]:
        """Wait until `chat` may be sent to, then hold its turn while the request runs."""
        lane = self._lanes.get(chat)
        if lane is None:
            self._sweep()
            lane = self._lanes[chat] = _Lane(rates)
        rank = (0 if urgent else 1, next(self._order))
        await self._queue(lane, rank)
        while True:
            try:
                await self._wait_for_room(lane)
            except BaseException:
                self._pass_on(lane)
                raise
            if not lane.waiting or lane.waiting[0][0] >= rank[0]:
                break
            self._pass_on(lane)  # something more urgent came while we waited: it goes first
            await self._queue(lane, rank)
        windows = [*lane.windows, *self._overall]
        for window in windows:
            window.in_flight += 1
        try:
            yield
        finally:
            now = self._timer.monotonic()
            for window in windows:
                window.in_flight -= 1
                window.times.append(now)
            if self._answered is not None:
                self._answered.set()
                self._answered = None
            self._pass_on(lane)

    def hold(self, chat: Hashable, seconds: float) -> None:
        """The platform said to wait: nothing goes to `chat` for `seconds`."""
        lane = self._lanes.get(chat)
        if lane is not None:
            lane.held_until = max(lane.held_until, self._timer.monotonic() + seconds)

    @property
    def chats(self) -> int:
        """Chats whose lane is kept (tests, memory)."""
        return len(self._lanes)

    async def _queue(self, lane: _Lane, rank: tuple[int, int]) -> None:
        """Wait for the lane's turn: the most urgent first, then in order of arrival."""
        if not lane.busy and not lane.waiting:
            lane.busy = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (*rank, future)
        heapq.heappush(lane.waiting, entry)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._pass_on(lane)  # handed the turn as we were cancelled: pass it on
            else:
                lane.waiting.remove(entry)
                heapq.heapify(lane.waiting)
            raise

    def _pass_on(self, lane: _Lane) -> None:
        while lane.waiting:
            _, _, future = heapq.heappop(lane.waiting)
            if not future.done():
                future.set_result(None)  # the lane stays busy: its turn is handed over
                return
        lane.busy = False

    async def _wait_for_room(self, lane: _Lane) -> None:
        while True:
            now = self._timer.monotonic()
            waits = [w.wait(now) for w in (*lane.windows, *self._overall)]
            if None in waits:
                if self._answered is None:
                    self._answered = asyncio.Event()
                await self._answered.wait()
                continue
            longest = max([lane.held_until - now, *(w for w in waits if w is not None)])
            if longest <= 0:
                return
            await self._timer.sleep(longest)

    def _sweep(self) -> None:
        if len(self._lanes) < self._sweep_at:
            return
        now = self._timer.monotonic()
        for chat in [c for c, lane in self._lanes.items() if lane.idle(now)]:
            del self._lanes[chat]
        self._sweep_at = max(self.SWEEP_FROM, 2 * len(self._lanes))
