"""Updates from a chat platform handled once each, in order per chat, by whichever process
receives them.

Telegram may send an update more than once: a webhook is retried until it gets a 2XX, and
getUpdates returns an update again until it is confirmed, to whichever instance asks. Its
update_id "allows you to ignore repeated updates or to restore the correct update sequence,
should they get out of order" (https://core.telegram.org/bots/api#update). So before an update
is handled it is claimed in the update log under its key, by this process, for a lease renewed
while it is handled:

- a repeat of an update handled before is ignored (DUPLICATE);
- a repeat that arrives while another process handles it waits for that one to finish (then it
  is a DUPLICATE) or for its claim to run out (its process died: this one takes it over);
- updates of one chat are handled one at a time in this process, in the order they were
  claimed, and after every earlier update of the chat another process was handling when this
  one was claimed (for as long as that one's claim runs, at most `max_wait_s`). The claim and
  that look at the chat's earlier updates are one round trip, side by side.

A handler that fails or is cancelled gives its claim up, so the update's next delivery is
handled at once. The log keeps each update's payload, so updates whose handler died after they
were confirmed (long polling) are found by `resume` and handled by another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from core.inbound import Arrival, UpdateClaim, UpdateEntry
from core.lease import LeaseTiming
from core.ports import Clock, UpdateLog

log = logging.getLogger(__name__)

FIRST_WAIT_S = 0.02
LONGEST_WAIT_S = 0.5
Work = Callable[[], Awaitable[object]]


class Outcome(Enum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    """Handled before (or meanwhile, by another process): nothing done."""
    BUSY = "busy"
    """Another process is still handling it: ask again later."""


@dataclass(frozen=True)
class Ticket:
    """An update this process has claimed and must handle (or give up)."""

    entry: UpdateEntry
    after: datetime | None = None
    """When claimed, an earlier update of its chat was being handled elsewhere, its claim
    running until then: wait for it."""


class UpdateIntake:
    def __init__(
        self,
        log_: UpdateLog,
        owner: str,
        clock: Clock,
        timing: LeaseTiming,
        *,
        max_wait_s: float | None = None,
    ) -> None:
        self._log = log_
        self._owner = owner
        self._clock = clock
        self._timing = timing
        self._max_wait_s = timing.seconds if max_wait_s is None else max_wait_s
        self._locks: dict[str, asyncio.Lock] = {}
        self._queued: dict[str, int] = {}

    async def accept(self, entry: UpdateEntry, work: Work) -> Outcome:
        """Claim `entry` (waiting for another process's claim on it, if need be), then handle
        it with `work`."""
        taken = await self.take(entry, wait=True)
        if not isinstance(taken, Ticket):
            return taken
        return await self.handle(taken, work)

    async def take(self, entry: UpdateEntry, *, wait: bool) -> Ticket | Outcome:
        """Claim `entry`. With `wait`, a claim another process holds is waited out (it finishes:
        DUPLICATE; it runs out: ours) for at most `max_wait_s`; without, that is BUSY at once.
        Raises when the log cannot be reached: the update was not taken."""
        deadline = self._seconds_from_now(self._max_wait_s)
        pause = FIRST_WAIT_S
        while True:
            now = self._clock.now()
            claim, after = await _both(
                self._log.claim(entry, self._owner, now, now + self._timing.term),
                self._log.blocker(entry.chat, entry.seq, self._owner, now),
            )
            if claim.arrival is Arrival.NEW:
                return Ticket(entry, after)
            if claim.arrival is Arrival.DONE:
                return Outcome.DUPLICATE
            if not wait or self._clock.now() >= deadline:
                return Outcome.BUSY
            pause = await self._pause(pause, deadline, claim.until)

    async def handle(self, ticket: Ticket, work: Work) -> Outcome:
        """Handle a claimed update: in this chat's turn, after the chat's earlier updates other
        processes are handling, with the claim renewed meanwhile."""
        entry = ticket.entry
        try:
            async with self._turn(entry.chat):
                if ticket.after is not None:
                    await self._wait_for_earlier(entry)
                keeper = asyncio.create_task(self._keep(entry.key))
                try:
                    await work()
                finally:
                    keeper.cancel()
        except BaseException:
            await self._give_up(entry.key)
            raise
        await self._log.finish(entry.key, self._owner, self._clock.now())
        return Outcome.HANDLED

    async def resume(self, work_for: Callable[[UpdateEntry], Work], limit: int = 50) -> int:
        """Handle the updates whose handler died before finishing (their claims ran out);
        returns how many this process took over."""
        taken = 0
        for entry in await self._log.abandoned(self._clock.now(), limit):
            ticket = await self.take(entry, wait=False)
            if isinstance(ticket, Ticket):
                log.info("update %s: handled again (its first handler stopped)", entry.key)
                await self.handle(ticket, work_for(entry))
                taken += 1
        return taken

    @contextlib.asynccontextmanager
    async def _turn(self, chat: str) -> AsyncIterator[None]:
        """One update of `chat` at a time in this process, first claimed first (asyncio's
        locks wake their waiters in order)."""
        lock = self._locks.setdefault(chat, asyncio.Lock())
        self._queued[chat] = self._queued.get(chat, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._queued[chat] -= 1
            if not self._queued[chat]:
                del self._queued[chat], self._locks[chat]

    async def _wait_for_earlier(self, entry: UpdateEntry) -> None:
        deadline = self._seconds_from_now(self._max_wait_s)
        pause = FIRST_WAIT_S
        while True:
            now = self._clock.now()
            until = await self._log.blocker(entry.chat, entry.seq, self._owner, now)
            if until is None:
                return
            if now >= deadline:
                log.warning("update %s: handled before an earlier one of its chat", entry.key)
                return
            pause = await self._pause(pause, deadline, until)

    async def _pause(self, pause: float, deadline: datetime, until: datetime | None) -> float:
        """Wait a little (growing) while another process works, never past `deadline` nor
        much past the end of its claim; the next pause."""
        limit = min(deadline, until) if until is not None else deadline
        left = (limit - self._clock.now()).total_seconds()
        await self._clock.sleep(max(FIRST_WAIT_S, min(pause, left)))
        return min(pause * 2, LONGEST_WAIT_S)

    async def _keep(self, key: str) -> None:
        while True:
            await self._clock.sleep(self._timing.renew_every_s)
            until = self._clock.now() + self._timing.term
            try:
                if not await self._log.renew(key, self._owner, until):
                    log.warning("update %s: its claim was taken over while handled", key)
                    return
            except Exception:
                log.exception("update %s: could not renew its claim", key)

    async def _give_up(self, key: str) -> None:
        try:
            async with asyncio.timeout(self._timing.renew_every_s):
                await self._log.release(key, self._owner)
        except Exception:
            log.warning("update %s: claim not given up; it runs out by itself", key)

    def _seconds_from_now(self, seconds: float) -> datetime:
        return self._clock.now() + timedelta(seconds=seconds)


async def _both(
    claim: Awaitable[UpdateClaim], blocker: Awaitable[datetime | None]
) -> tuple[UpdateClaim, datetime | None]:
    """Both answers, side by side; the first failure raised once both are done."""
    claimed, blocked = await asyncio.gather(claim, blocker, return_exceptions=True)
    if isinstance(claimed, BaseException):
        raise claimed
    if isinstance(blocked, BaseException):
        raise blocked
    return claimed, blocked
