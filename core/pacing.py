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

Requests come in three priorities, in a chat's turn and for the overall rate alike: new
messages (results, replies, status messages) first, then edits (a status message's final
state), then background requests (progress edits). Background requests never wait for the
overall rate: while it is half used, or another request waits for it, they are refused at once
(`Busy`) and their sender tries a newer view later. So under load the overall rate goes to
results first, and a progress edit never holds its chat's turn while results wait.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Hashable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

NEW, EDIT, BACKGROUND = 0, 1, 2
"""Priorities: a new message, an edit someone waits for, a progress edit."""
BACKGROUND_SHARE = 0.5
"""Background requests go only while the overall window is used less than this."""


class Busy(Exception):
    """A background request that cannot go now: try again in `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"busy: try again in {retry_after:g}s")
        self.retry_after = retry_after


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
    """The answer times of the requests one `Rate` let through, oldest first (a list: most
    windows hold one time, and a deque is ten times the size)."""

    __slots__ = ("in_flight", "rate", "times")

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.times: list[float] = []
        self.in_flight = 0

    def wait(self, now: float) -> float | None:
        """Seconds until one more request fits (0: now); None while only an answer still
        awaited can make room."""
        old = 0
        while old < len(self.times) and self.times[old] <= now - self.rate.seconds:
            old += 1
        if old:
            del self.times[:old]
        need = len(self.times) + self.in_flight - self.rate.count + 1
        if need <= 0:
            return 0.0
        if need > len(self.times):
            return None
        return self.times[need - 1] + self.rate.seconds - now

    def expired(self, now: float) -> bool:
        return not self.in_flight and (not self.times or self.times[-1] <= now - self.rate.seconds)


class _Lane:
    """One chat: its windows, who holds its turn, who waits (by priority, then in order)."""

    __slots__ = ("busy", "held_until", "waiting", "windows")

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

    SWEEP_FROM = 256
    """Lanes kept before idle ones are forgotten (a chat's lane lives while its windows do)."""

    def __init__(self, overall: Rate | None = None, timer: Timer | None = None) -> None:
        self._timer: Timer = timer or LoopTimer()
        self._overall = [_Window(overall)] if overall else []
        self._lanes: dict[Hashable, _Lane] = {}
        self._order = itertools.count()
        self._answered: asyncio.Event | None = None
        self._sweep_at = self.SWEEP_FROM
        self._waiting_overall = [0, 0]
        """Requests of each urgent priority (NEW, EDIT) waiting for the overall window: a
        request goes only when none more urgent waits, background ones only when none does."""

    @asynccontextmanager
    async def turn(
        self, chat: Hashable, rates: Sequence[Rate], priority: int = NEW
    ) -> AsyncIterator[None]:
        """Wait until `chat` may be sent to, then hold its turn while the request runs. A
        BACKGROUND request raises `Busy` instead of waiting for the overall rate."""
        lane = self._lanes.get(chat)
        if lane is None:
            self._sweep()
            lane = self._lanes[chat] = _Lane(rates)
        if priority >= BACKGROUND:
            self._check_room_for_background()
        rank = (priority, next(self._order))
        await self._queue(lane, rank)
        while True:
            try:
                await self._wait_for_room(lane, priority)
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

    def waiting(self, chat: Hashable) -> list[int]:
        """The priorities of the requests waiting for `chat`'s turn, most urgent first."""
        lane = self._lanes.get(chat)
        return sorted(priority for priority, _, _ in lane.waiting) if lane is not None else []

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

    def _check_room_for_background(self) -> None:
        if not self._overall:
            return
        window = self._overall[0]
        now = self._timer.monotonic()
        window.wait(now)  # forget what has left the window
        used = len(window.times) + window.in_flight
        if any(self._waiting_overall) or used >= window.rate.count * BACKGROUND_SHARE:
            raise Busy(window.rate.seconds)

    async def _wait_for_room(self, lane: _Lane, priority: int) -> None:
        while True:
            now = self._timer.monotonic()
            own = max([lane.held_until - now, *(w.wait(now) or 0.0 for w in lane.windows)])
            overall = [w.wait(now) for w in self._overall]
            if priority >= BACKGROUND:
                if own <= 0:
                    self._check_room_for_background()
            elif own <= 0 and any(self._waiting_overall[:priority]):
                await self._answer()  # a more urgent request waits for the overall window
                continue
            if None in overall or any(w and w > max(own, 0) for w in overall):
                if priority < BACKGROUND:
                    self._waiting_overall[priority] += 1
                try:
                    await self._wait_for_overall(overall)
                finally:
                    if priority < BACKGROUND:
                        self._waiting_overall[priority] -= 1
                continue
            if own <= 0:
                return
            await self._timer.sleep(own)

    async def _answer(self) -> None:
        """Until the next request is answered."""
        if self._answered is None:
            self._answered = asyncio.Event()
        await self._answered.wait()

    async def _wait_for_overall(self, waits: list[float | None]) -> None:
        """Until an answer comes back (None: only in-flight requests fill the window) or the
        oldest request leaves the window."""
        timed = [w for w in waits if w is not None]
        if None in waits or not timed:
            await self._answer()
            return
        await self._timer.sleep(max(timed))

    def _sweep(self) -> None:
        if len(self._lanes) < self._sweep_at:
            return
        now = self._timer.monotonic()
        for chat in [c for c, lane in self._lanes.items() if lane.idle(now)]:
            del self._lanes[chat]
        self._sweep_at = max(self.SWEEP_FROM, 2 * len(self._lanes))
