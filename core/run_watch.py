"""Runs followed from our side: poll the quiet ones, end the overdue ones, and settle what a
previous process left behind. Every status found goes through the run manager's `apply`."""

from __future__ import annotations

import logging
from datetime import timedelta

from core.backends import BackendRegistry
from core.errors import BackendError, RunNotFound
from core.models import EventSource, Run, RunEvent, RunStatus
from core.policy import RunPolicy
from core.ports import Clock, RunAddress, RunFollower, RunStore
from core.tracker import RunTracker

log = logging.getLogger(__name__)

PENDING_GRACE = timedelta(minutes=2)
"""A run still `pending` this long after it was recorded was cut off mid-submit by a restart."""


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

    async def poll_due(self, limit: int = 50) -> int:
        """Poll runs that went quiet (or all runs, without webhooks). Returns how many."""
        runs = await self._store.due_for_poll(self._clock.now(), limit)
        for run in runs:
            await self._poll(run)
        return len(runs)

    async def _poll(self, run: Run) -> None:
        assert run.backend_run_id is not None
        now = self._clock.now()
        if now - (run.submitted_at or run.created_at) > self._policy.run_timeout:
            await self._time_out(run)
            return
        try:
            backend = self._backends.get(run.backend)
            event = await backend.get_run(RunAddress(run.deployment_id, run.backend_run_id))
        except RunNotFound:
            event = RunEvent(
                backend_run_id=run.backend_run_id,
                status=RunStatus.FAILED,
                source=EventSource.POLL,
                error="The backend no longer knows this run.",
            )
        except BackendError as error:
            delay = min(
                self._policy.quiet_poll_delay * (2 ** min(run.poll_failures + 1, 10)),
                self._policy.poll_max_backoff,
            )
            log.warning("run %s: poll failed (%s); next in %s", run.id, error, delay)
            await self._store.note_poll(run.id, now + delay, failed=True)
            return
        if not await self._runs.apply(run.id, event) and not event.status.terminal:
            await self._store.note_poll(run.id, now + self._policy.quiet_poll_delay, failed=False)

    async def expire_overdue(self, limit: int = 200) -> int:
        """Time out runs older than the run timeout, including ones never polled."""
        now = self._clock.now()
        expired = 0
        for run in await self._store.unfinished(limit):
            started = run.submitted_at or run.created_at
            if run.status is not RunStatus.PENDING and now - started > self._policy.run_timeout:
                await self._time_out(run)
                expired += 1
        return expired

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
        """After a restart: fail runs cut off before submission, poll the rest, deliver results."""
        now = self._clock.now()
        for run in await self._store.unfinished(1000):
            if run.status is RunStatus.PENDING:
                if now - run.created_at > PENDING_GRACE:
                    await self._runs.end(
                        run.id,
                        "",
                        RunStatus.FAILED,
                        EventSource.SUBMIT,
                        "The bot restarted before this run was queued; run it again.",
                    )
            elif run.backend_run_id:
                await self._poll(run)
        await self._delivery.deliver_due()
