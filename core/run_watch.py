"""Runs followed from our side: poll the quiet ones, end the overdue ones, and settle what a
previous process left behind. Every status found goes through the tracker's `apply`.

Polls keep their rhythm: a run polled late (the check for due runs comes every
`check_every_s`) is next due one delay after it was due, not after it was polled, so the
delays between polls average POLL_INTERVAL_SECONDS and each is off by at most a check's
period, instead of adding it every time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from core.backends import BackendRegistry
from core.errors import BackendError, RunNotFound
from core.models import EventSource, Run, RunEvent, RunStatus
from core.policy import RunPolicy
from core.ports import Clock, RunAddress, RunFollower, RunStore
from core.tracker import RunTracker

log = logging.getLogger(__name__)


class RunWatch:
    def __init__(
        self,
        *,
        tracker: RunTracker,
        store: RunStore,
        backends: BackendRegistry,
        delivery: RunFollower,
        clock: Clock,
        policy: RunPolicy,
    ) -> None:
        self._runs = tracker
        self._store = store
        self._backends = backends
        self._delivery = delivery
        self._clock = clock
        self._policy = policy

    @property
    def check_every_s(self) -> float:
        """How often `poll_due` should be called (the scheduler's period for it)."""
        return self._policy.poll_check_every_s

    async def poll_due(self, limit: int = 200) -> int:
        """Poll runs that went quiet (or all runs, without webhooks). Returns how many."""
        runs = await self._store.due_for_poll(self._clock.now(), limit)
        await self._each(runs, self._poll)
        return len(runs)

    async def _each(self, runs: Iterable[Run], work: Callable[[Run], Awaitable[None]]) -> None:
        """At most `poll_concurrency` at once: a slow backend does not hold up the others."""
        slots = asyncio.Semaphore(self._policy.poll_concurrency)

        async def one(run: Run) -> None:
            async with slots:
                try:
                    await work(run)
                except Exception:
                    log.exception("run %s: following it up failed", run.id)

        await asyncio.gather(*(one(run) for run in runs))

    async def _poll(self, run: Run) -> None:
        """Ask the backend; a run past the run timeout is asked once more, then ended."""
        assert run.backend_run_id is not None
        now = self._clock.now()
        overdue = now - (run.submitted_at or run.created_at) > self._policy.run_timeout
        try:
            backend = self._backends.get(run.backend)
            event = await backend.get_run(RunAddress(run.deployment_id, run.backend_run_id))
        except RunNotFound:
            # Billed up to the last time the backend spoke of it, never for our downtime.
            event = RunEvent(
                backend_run_id=run.backend_run_id,
                status=RunStatus.FAILED,
                source=EventSource.POLL,
                ended_at=run.last_event_at or run.submitted_at,
                error="run.lost",
            )
        except BackendError as error:
            if overdue:
                await self._time_out(run)
                return
            delay = min(
                self._policy.quiet_poll_delay * (2 ** min(run.poll_failures + 1, 10)),
                self._policy.poll_max_backoff,
            )
            log.warning("run %s: poll failed (%s); next in %s", run.id, error, delay)
            await self._store.note_poll(run.id, now + delay, failed=True)
            return
        if overdue and not event.status.terminal:
            await self._time_out(run)
            return
        next_at = self._next_poll(run, now)
        if not await self._runs.apply(run.id, event, next_at) and not event.status.terminal:
            await self._store.note_poll(run.id, next_at, failed=False)

    def _next_poll(self, run: Run, now: datetime) -> datetime:
        """One delay after this poll was due; from now if it was due longer ago than that (a
        run asked for at once, a backlog: no burst of polls to catch up)."""
        delay = self._policy.quiet_poll_delay
        due = run.next_poll_at
        if due is None or not now - delay < due <= now:
            return now + delay
        return due + delay

    async def expire_overdue(self, limit: int = 200) -> int:
        """Runs older than the run timeout, including ones never polled: asked once more, then
        timed out."""
        now = self._clock.now()
        overdue = [
            run
            for run in await self._store.unfinished(limit)
            if run.backend_run_id is not None
            and now - (run.submitted_at or run.created_at) > self._policy.run_timeout
        ]
        await self._each(overdue, self._poll)
        return len(overdue)

    async def _time_out(self, run: Run) -> None:
        """Record the timeout first: the backend's cancel sends a `cancelled` webhook itself."""
        limit = int(self._policy.run_timeout.total_seconds())
        await self._runs.end(
            run.id,
            run.backend_run_id or "",
            RunStatus.TIMEOUT,
            EventSource.TIMEOUT,
            f"The run took longer than {limit} seconds.",
        )
        if run.backend_run_id:
            address = RunAddress(run.deployment_id, run.backend_run_id)
            try:
                await self._backends.get(run.backend).cancel(address)
            except BackendError as error:
                log.info("run %s: cancel after timeout failed: %s", run.id, error)

    async def reconcile(self) -> None:
        """After a restart: poll every unfinished run, deliver what is owed (runs still pending
        are the dispatcher's: `Dispatcher.settle_pending`)."""
        submitted = [r for r in await self._store.unfinished(1000) if r.backend_run_id]
        await self._each(submitted, self._poll)
        await self._delivery.deliver_due()
