"""Run state: every status change, from a webhook, a poll, a cancel or a timeout, goes through
`apply`, one conditional update in the database, so late, duplicate and out-of-order events
change nothing. The terminal update, which only one caller can win, also records the cost;
its winner then tells the `on_end` listeners (credits settled, slots freed), and the result's
delivery starts meanwhile: it fetches the files while the credits settle, and waits for them
only to show the balance left."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from cachetools import TTLCache

from core.backends import BackendRegistry
from core.errors import BackendError, NotAllowed, RunNotFound, UnknownRun, UserFacingError
from core.journal import Claim
from core.metrics import Metrics
from core.models import ChatRef, EventSource, Run, RunEvent, RunStatus
from core.policy import RunPolicy
from core.ports import Clock, RunAddress, RunFollower, RunStore
from core.run_heads import HEAD_CACHE_SIZE, HEAD_CACHE_TTL_S, RunHead

log = logging.getLogger(__name__)

EndListener = Callable[[Run], Awaitable[None]]


class RunTracker:
    def __init__(
        self,
        *,
        store: RunStore,
        backends: BackendRegistry,
        delivery: RunFollower,
        clock: Clock,
        policy: RunPolicy,
        metrics: Metrics,
    ) -> None:
        self._store = store
        self._backends = backends
        self._delivery = delivery
        self._clock = clock
        self._policy = policy
        self._metrics = metrics
        self._heads: TTLCache[str, RunHead] = TTLCache(
            maxsize=HEAD_CACHE_SIZE, ttl=HEAD_CACHE_TTL_S
        )
        self._end_listeners: list[EndListener] = []
        self._cancelling: dict[str, str] = {}
        """Run id -> why, while its cancel is asked of the backend: the backend's own
        `cancelled` event (a webhook that may come before the answer) carries the reason."""

    def on_end(self, listener: EndListener) -> None:
        """Called once per run, by the process whose update recorded its end."""
        self._end_listeners.append(listener)

    async def apply(
        self, run_id: str, event: RunEvent, next_poll_at: datetime | None = None
    ) -> bool:
        """Record an event if it moves the run forward, then show the change. True if applied.
        `next_poll_at`: when to poll next if it is not over (default: a quiet delay from now)."""
        now = self._clock.now()
        reason = self._cancelling.get(run_id)
        if reason and event.status is RunStatus.CANCELLED and not event.error:
            event = event.model_copy(update={"error": reason})
        terminal = event.status.terminal
        next_poll = None if terminal else next_poll_at or now + self._policy.quiet_poll_delay
        claim = Claim.new(now + self._policy.delivery_lease) if terminal else None
        changed = await self._store.apply_event(run_id, event, now, next_poll, claim)
        self._metrics.count_event(event.source.value, "applied" if changed else "ignored")
        if not changed:
            return False
        run = await self._current(run_id, event)
        if run is None:
            return True
        log.info("run %s -> %s (%s)", run_id, run.status.value, event.source.value)
        if run.status.terminal:
            # The caller (a webhook's reply) waits for the settling, not for the delivery.
            settled = asyncio.ensure_future(self._settle(run))
            await self._delivery.run_changed(run, claim, settled)
            await settled
            return True
        await self._delivery.run_changed(run)  # only queued for its chat's sender
        return True

    async def _settle(self, run: Run) -> None:
        for listener in self._end_listeners:
            try:
                await listener(run)
            except Exception:  # repaired later (FairQueue.repair); the result still goes
                log.exception("run %s: settling its end failed", run.id)

    async def _current(self, run_id: str, event: RunEvent) -> Run | None:
        """The run after `event`. A progress event is laid over the cached head of the run
        (what never changes once its status message exists), sparing a read per event; an
        end reads the whole run, outputs, timestamps and cost included."""
        head = None if event.status.terminal else self._heads.get(run_id)
        if head is None:
            run = await self._store.get(run_id)
            if run is None or run.status.terminal:
                self._heads.pop(run_id, None)
            elif run.progress_message_id is not None:
                self._heads[run_id] = RunHead.of(run)
            return run
        return head.with_event(run_id, event)

    async def end(
        self, run_id: str, backend_run_id: str, status: RunStatus, source: EventSource, error: str
    ) -> None:
        """End a run on our side (submit failure, cancel, timeout, lost run) with a reason."""
        event = RunEvent(backend_run_id=backend_run_id, status=status, source=source, error=error)
        await self.apply(run_id, event)

    async def cancel(self, run_id: str, by: ChatRef, is_admin: bool) -> Run:
        run = await self._store.get(run_id)
        if run is None:
            raise UnknownRun("unknown_run", run=run_id)
        if run.chat.user_key != by.user_key and not is_admin:
            raise NotAllowed("cancel_not_owner")
        if run.status.terminal:
            raise UserFacingError("run_already_ended", run=run_id, status=run.status.value)
        reason = f"Cancelled by {by.user_name or by.user_key}."
        if run.backend_run_id:
            address = RunAddress(run.deployment_id, run.backend_run_id)
            self._cancelling[run_id] = reason
            try:
                await self._backends.get(run.backend).cancel(address)
            except RunNotFound:
                log.info("run %s: backend no longer knows it; cancelling locally", run_id)
            except BackendError as error:
                log.warning("run %s: cancel failed: %s", run_id, error)
                raise UserFacingError("cancel_refused") from error
            finally:
                self._cancelling.pop(run_id, None)
        await self.end(
            run_id, run.backend_run_id or "", RunStatus.CANCELLED, EventSource.CANCEL, reason
        )
        return await self._store.get(run_id) or run
