"""Holding one named lease for as long as this process runs, and the work that goes with it.

A `LeaseKeeper` tries to take its lease, renews it while it holds it and gives it up on
`release()` (core/lease.py has the timing). Work tied to the lease comes in two shapes:

- roles, started when the lease is gained and stopped when it is lost or released (Telegram
  long polling, the Discord gateway): `when_gained` / `when_lost`. They must return quickly,
  since the heartbeat waits for them; long work goes in a task of their own.
- units of work checked one by one (the periodic sweeps): `only_while_held(keeper, work)`
  runs `work` only while the lease is trusted, so a holder that lost it learns so before it
  does more (it stops trusting its grant before the store would give it to another).

Leases with an owner, a heartbeat and a fencing token, as in
https://martin.kleppmann.com/2016/02/08/how-to-do-distributed-locking.html.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from core.lease import LeaseGrant, LeaseTiming
from core.ports import Clock, LeaseStore

log = logging.getLogger(__name__)

T = TypeVar("T")
Step = Callable[[], Awaitable[None]]
_LOST = object()
"""The store said the grant is no longer the current term."""


class LeaseKeeper:
    def __init__(
        self, store: LeaseStore, name: str, owner: str, clock: Clock, timing: LeaseTiming
    ) -> None:
        self.name = name
        self.owner = owner
        self._store = store
        self._clock = clock
        self._timing = timing
        self._grant: LeaseGrant | None = None
        self._active = False
        """The roles are running (they were started and not stopped since)."""
        self._gained: list[Step] = []
        self._lost: list[Step] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def held(self) -> bool:
        """True while this process holds the lease and may trust it."""
        grant = self._grant
        return grant is not None and self._clock.now() < self._timing.trusted_until(grant)

    @property
    def grant(self) -> LeaseGrant | None:
        return self._grant

    def when_gained(self, step: Step) -> None:
        self._gained.append(step)

    def when_lost(self, step: Step) -> None:
        """Also run on `release()`, before the lease is given up."""
        self._lost.append(step)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"lease {self.name}")

    async def release(self) -> None:
        """Stop the heartbeat and the roles, then give the lease up so another process takes
        it over at once (within `retry_every_s`)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._stop_roles()
        grant, self._grant = self._grant, None
        if grant is None:
            return
        try:
            async with asyncio.timeout(self._timing.renew_every_s):
                await self._store.release(grant)
        except Exception:
            log.warning("lease %s: could not be given up; it runs out by itself", self.name)
        else:
            log.info("lease %s: given up by %s", self.name, self.owner)

    async def _run(self) -> None:
        while True:
            await self.beat()
            await self._clock.sleep(self._pause())

    async def beat(self) -> None:
        """One heartbeat: take or renew the lease, then start or stop the roles to match."""
        now = self._clock.now()
        until = now + self._timing.term
        if self._grant is None:
            taken = await self._attempt(self._store.acquire(self.name, self.owner, now, until))
            if isinstance(taken, LeaseGrant):
                self._grant = taken
                log.info("lease %s: taken by %s (term %d)", self.name, self.owner, taken.token)
        else:
            renewed = await self._attempt(self._store.renew(self._grant, until))
            if isinstance(renewed, LeaseGrant):
                self._grant = renewed
            elif renewed is _LOST:
                log.warning("lease %s: lost by %s (another holds it)", self.name, self.owner)
                self._grant = None
        if self.held and not self._active:
            await self._start_roles()
        elif not self.held and self._active:
            log.warning("lease %s: not renewed in time; %s stops its work", self.name, self.owner)
            await self._stop_roles()

    def _pause(self) -> float:
        grant = self._grant
        if grant is None or not self.held:
            return self._timing.retry_every_s
        left = (self._timing.trusted_until(grant) - self._clock.now()).total_seconds()
        return max(0.0, min(self._timing.renew_every_s, left))

    async def _attempt(self, call: Awaitable[LeaseGrant | None]) -> Any:
        """The store's answer (a grant, or `_LOST` when it said no); None when it did not
        answer in time. An acquire refused is None too: try again later."""
        try:
            async with asyncio.timeout(self._timing.renew_every_s):
                answer = await call
        except Exception as error:
            log.warning("lease %s: the database did not answer (%s)", self.name, error)
            return None
        if answer is None and self._grant is not None:
            return _LOST
        return answer

    async def _start_roles(self) -> None:
        self._active = True
        for step in self._gained:
            try:
                await step()
            except Exception:
                log.exception("lease %s: starting its work failed", self.name)

    async def _stop_roles(self) -> None:
        if not self._active:
            return
        self._active = False
        for step in reversed(self._lost):
            try:
                await step()
            except Exception:
                log.exception("lease %s: stopping its work failed", self.name)


def only_while_held(
    keeper: LeaseKeeper, work: Callable[[], Awaitable[T]]
) -> Callable[[], Awaitable[T | None]]:
    """`work`, done only by the process holding `keeper`'s lease (checked each time)."""

    async def run() -> T | None:
        if not keeper.held:
            return None
        return await work()

    return run
