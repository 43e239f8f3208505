"""The fair queue: recorded runs wait here (in the database, so they survive restarts and every
process shares them) until their user has a running slot (MAX_RUNNING_PER_USER) and a
deployment has room (MAX_RUNNING_PER_DEPLOYMENT), and are then handed to the dispatcher in
round-robin order across users (core/fair_order.py).

Slots are taken with conditional updates, so the caps hold across processes; a run's end frees
its slots, settles its credits (core/credits.py) in that same account update, and pumps the
queue again. Waiting users see their place in line and an estimated start, updated as they
move. What a crash leaves half-done (a slot taken for a run that never went, an admission
whose run was never recorded, an end whose settlement was cut off) is repaired by `repair`.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Protocol

from core.catalog import Catalog
from core.credits import charge_for
from core.dispatch import Dispatcher
from core.fair_order import fair_order
from core.limits import RunLimits
from core.line_snapshot import Place, SharedLine
from core.models import Run
from core.ports import AccountStore, Clock, DeploymentSlots, RunStore
from core.quotes import Quoter
from core.workflow import DeploymentRef

log = logging.getLogger(__name__)

SCAN_LIMIT = 5000
"""Waiting runs considered per pass (the oldest)."""
EXACT_PLACES = 20
"""Places in line shown exactly; further back they are rounded to tens, so a long queue moving
by one does not edit every status message."""
REPAIR_AFTER = timedelta(seconds=60)
"""How old a slot or an admission must be before a repair may touch it, by default
(QUEUE_REPAIR_AFTER_SECONDS)."""
SETTLE_AFTER = timedelta(seconds=5)
"""An ended run still holding credits this long after its end: its settlement was cut off (the
process that ended it settles within moments)."""


class LineDisplay(Protocol):
    async def show_waiting(self, run: Run, place: int, starts_in_s: float | None) -> None: ...


def shown_place(place: int) -> int:
    return place if place <= EXACT_PLACES else math.ceil(place / 10) * 10


class _Gate:
    """Deployment slots, when MAX_RUNNING_PER_DEPLOYMENT caps them."""

    def __init__(self, slots: DeploymentSlots, cap: int, clock: Clock) -> None:
        self._slots = slots
        self._cap = cap
        self._clock = clock

    async def take(self, ref: DeploymentRef, run_id: str) -> bool:
        if not self._cap:
            return True
        return await self._slots.take(ref.key, run_id, self._cap, self._clock.now())

    async def give(self, run_id: str) -> None:
        if self._cap:
            await self._slots.give(run_id)


class FairQueue:
    def __init__(
        self,
        *,
        store: RunStore,
        accounts: AccountStore,
        slots: DeploymentSlots,
        dispatcher: Dispatcher,
        catalog: Catalog,
        quoter: Quoter,
        limits: RunLimits,
        clock: Clock,
        display: LineDisplay,
        open_account: Callable[[str], Awaitable[None]],
        repair_after: timedelta = REPAIR_AFTER,
    ) -> None:
        self._store = store
        self._repair_after = repair_after
        self._accounts = accounts
        self._slots = slots
        self._dispatcher = dispatcher
        self._catalog = catalog
        self._quoter = quoter
        self._limits = limits
        self._clock = clock
        self._display = display
        self._open_account = open_account
        """Runs recorded without an admission (by an older version) still need an account."""
        self._gate = _Gate(slots, limits.max_running_per_deployment, clock)
        self._lock = asyncio.Lock()
        self._asked = 0
        self._covered = 0
        self._submitting: dict[str, asyncio.Task[None]] = {}
        """Runs this process is handing to the dispatcher now."""
        self._background: set[asyncio.Task[None]] = set()
        self._shown: dict[str, tuple[int, int | None]] = {}
        self._line = SharedLine(self._read_line, clock=clock, limit=SCAN_LIMIT)
        """The line as last read, for pollers (`place_of`); dropped whenever this process
        changes the queue."""

    # -- pumping -------------------------------------------------------------------------------

    async def pump(self, run_id: str | None = None) -> None:
        """Hand every run that may go now to the dispatcher, and wait for the submits this
        process has under way (only `run_id`'s when given: a command waits for its own run,
        not for someone else's slow backend). Callers arriving while a pass runs share the
        next pass. A caller that is cancelled leaves the submits running."""
        self._asked += 1
        wanted = self._asked
        self._line.drop()  # a run was recorded or ended: readers read the line again
        async with self._lock:
            if self._covered < wanted:
                self._covered = self._asked
                try:
                    await self._pass()
                finally:
                    self._line.drop()
        if run_id is None:
            waits = list(self._submitting.values())
        else:
            waits = [self._submitting[run_id]] if run_id in self._submitting else []
        await asyncio.shield(asyncio.gather(*waits))

    def pump_soon(self) -> None:
        """Pump in the background (after a run's end: a webhook's answer does not wait)."""
        task = asyncio.create_task(self._pump_logged())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _pump_logged(self) -> None:
        try:
            await self.pump()
        except Exception:
            log.exception("pumping the run queue failed")

    async def _pass(self) -> None:
        waiting = [
            r for r in await self._store.waiting(SCAN_LIMIT) if r.id not in self._submitting
        ]
        if not waiting:
            return
        users = {run.chat.user_key for run in waiting}
        running = dict(await self._accounts.running_counts(users))
        for user in users - running.keys():
            await self._open_account(user)
        full: set[str] = set()
        left = []
        cap = self._limits.max_running_per_user
        blocked = {user for user, count in running.items() if count >= cap}
        for run in fair_order(waiting, running):
            chosen = await self._take_slots(run, blocked, full)
            if chosen is None:
                left.append(run)
                continue
            running[run.chat.user_key] = running.get(run.chat.user_key, 0) + 1
            self._submitting[run.id] = asyncio.create_task(self._submit(run, chosen))
        await self._show_line(left, await self._accounts.running_total())

    async def _take_slots(
        self, run: Run, blocked: set[str], full: set[str]
    ) -> list[DeploymentRef] | None:
        """The user's slot and a deployment's for `run`: the deployments to try, the first
        one's slot taken; None when it must wait."""
        user = run.chat.user_key
        workflow = self._catalog.view.get(run.workflow)
        if user in blocked or workflow is None:
            if workflow is None:
                log.warning("run %s waits for workflow %s, which is gone", run.id, run.workflow)
            return None
        candidates = [
            ref for ref in self._dispatcher.candidates_for(run, workflow) if ref.key not in full
        ]
        if not candidates:
            return None
        now = self._clock.now()
        if not await self._accounts.take_slot(
            user, run.id, self._limits.max_running_per_user, now
        ):
            blocked.add(user)
            return None
        for index, ref in enumerate(candidates):
            if await self._gate.take(ref, run.id):
                return candidates[index:]
            full.add(ref.key)
        await self._accounts.give_slot(user, run.id)
        return None

    async def _submit(self, run: Run, candidates: list[DeploymentRef]) -> None:
        try:
            await self._hand_over(run, candidates)
        finally:
            self._submitting.pop(run.id, None)
            self._line.drop()

    async def _hand_over(self, run: Run, candidates: list[DeploymentRef]) -> None:
        try:
            fresh = await self._store.get(run.id)
            workflow = self._catalog.view.get(run.workflow)
            began = False
            if fresh is not None and workflow is not None:
                began = await self._dispatcher.submit(fresh, workflow, candidates, self._gate)
            if not began:
                await self._gate.give(run.id)
                await self._accounts.give_slot(run.chat.user_key, run.id)
        except Exception:
            log.exception("run %s: submitting it failed", run.id)

    # -- the end of a run ----------------------------------------------------------------------

    async def run_ended(self, run: Run) -> None:
        """Settle the ended run's credits and free its slots (once, however often called),
        then let the next runs go."""
        held = run.credits.held if run.credits else 0
        await self._accounts.finish(
            run.chat.user_key, run.id, held, charge_for(run), self._clock.now()
        )
        await self._gate.give(run.id)
        self._shown.pop(run.id, None)
        self._line.drop()
        self.pump_soon()

    # -- places in line ------------------------------------------------------------------------

    async def line(self, user: str | None = None) -> list[Place]:
        """Waiting runs in the order they will go (only `user`'s when given), with estimates,
        read now."""
        snapshot = await self._line.fresh()
        return [p for p in snapshot.places if user is None or p.run.chat.user_key == user]

    async def place_of(self, run: Run) -> Place | None:
        """`run`'s place in line and estimate, from the line as read at most a second ago by
        this process (however many ask); None when it does not wait in our queue. A waiting
        run missing from a complete snapshot was recorded since: the line is read again."""
        snapshot = await self._line.recent()
        found = snapshot.by_run.get(run.id)
        if found is None and snapshot.complete:
            found = (await self._line.fresh()).by_run.get(run.id)
        return found

    async def _read_line(self) -> list[Place]:
        waiting = await self._store.waiting(SCAN_LIMIT)
        running = await self._accounts.running_counts({r.chat.user_key for r in waiting})
        ordered = fair_order(waiting, running)
        return self._places(ordered, await self._accounts.running_total())

    def _places(self, ordered: Sequence[Run], running_now: int) -> list[Place]:
        parallel = max(1, running_now)
        places = []
        for index, run in enumerate(ordered):
            typical = self._quoter.known_seconds(self._catalog.view.get(run.workflow))
            starts_in = math.ceil((index + 1) / parallel) * typical
            places.append(Place(run, index + 1, starts_in))
        return places

    async def _show_line(self, left: Sequence[Run], running_now: int) -> None:
        for place in self._places(left, running_now):
            minutes = math.ceil(place.starts_in_s / 60) if place.starts_in_s else None
            shown = (shown_place(place.place), minutes)
            if self._shown.get(place.run.id) == shown:
                continue
            self._shown[place.run.id] = shown
            await self._display.show_waiting(place.run, shown[0], place.starts_in_s)

    # -- crash leftovers -----------------------------------------------------------------------

    async def repair(self, limit: int = 500) -> int:
        """Finish what a crashed process left half-done; returns how many were repaired:
        ended runs whose settlement was cut off (once `SETTLE_AFTER` has passed: settling is
        conditional, so the live process that ended it settling too changes nothing), and,
        after `repair_after` (a live process may be between two steps), admissions whose run
        was never recorded (hold given back) and slots held by runs that never went or that
        ended (a pump that took one from a stale view, cut off before giving it back)."""
        now = self._clock.now()
        before = now - self._repair_after
        admitted = await self._accounts.admitted_before(now, limit)
        old = set(await self._accounts.admitted_before(before, limit))
        user_slots = await self._accounts.slots_before(before, limit)
        slotted = await self._slots.held_before(before, limit)
        wanted = {r for _, r in admitted} | {r for _, r in user_slots} | set(slotted)
        runs = {r.id: r for r in await self._store.by_ids(wanted)}
        repaired = 0
        for user, run_id in admitted:
            run = runs.get(run_id)
            if run is not None and run.status.terminal:
                ended = run.ended_at or run.updated_at
                if ended < now - SETTLE_AFTER:
                    await self.run_ended(run)
                    repaired += 1
            elif run is None and (user, run_id) in old:
                repaired += await self._accounts.release(user, run_id, self._clock.now())
        for user, run_id in user_slots:
            run = runs.get(run_id)
            if run is None or run.status.terminal or run.submit_started_at is None:
                await self._accounts.give_slot(user, run_id, taken_before=before)
                repaired += 1
        for run_id in slotted:
            run = runs.get(run_id)
            if run is None or run.status.terminal or run.submit_started_at is None:
                await self._slots.give(run_id)
                repaired += 1
        if repaired:
            log.info("repaired %d queue or credit records left by a crash", repaired)
            self.pump_soon()
        return repaired

    async def stop(self, grace_s: float = 5.0) -> None:
        """No more pumps; submits under way get `grace_s` to finish (one cut off stays
        pending with its submit begun, and is looked for on the backend later)."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        submitting = list(self._submitting.values())
        if submitting:
            _, late = await asyncio.wait(submitting, timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
