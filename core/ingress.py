"""Status events pushed by a backend (webhooks), after the backend's own adapter has parsed them.

The adapter owns the HTTP details (body, size, its wire format); this decides what an event does
and how to answer, the same way for every backend.

Screening a run's events needs where it runs (its backend and backend run id), which never
changes once the run is submitted: it is read once and remembered, so a progress event costs its
one database write and no read.
"""

from __future__ import annotations

from enum import StrEnum

from cachetools import TTLCache

from core.dispatch import Dispatcher
from core.metrics import Metrics
from core.models import Run, RunEvent, run_stage
from core.ports import Clock, RunStore
from core.tracker import RunTracker
from core.webhook_tokens import WebhookSigner

ADDRESS_CACHE_SIZE = 20_000
ADDRESS_CACHE_TTL_S = 3600


class Outcome(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    """A duplicate or late event: nothing to do, but the sender should stop retrying."""
    FORBIDDEN = "forbidden"
    UNKNOWN = "unknown"
    EARLY = "early"
    """The run is not known to be on that backend yet: the sender should retry."""
    MISMATCH = "mismatch"
    """The event is about another backend run than the one recorded."""
    UNCONFIRMED = "unconfirmed"
    """An end the backend's API could not confirm: not applied; the sender should retry."""

    @property
    def http_status(self) -> int:
        """The answer that makes a webhook sender stop (2xx) or retry (409, 503) as meant."""
        return _HTTP_STATUS[self]


_HTTP_STATUS = {
    Outcome.APPLIED: 200,
    Outcome.UNCHANGED: 200,
    Outcome.FORBIDDEN: 403,
    Outcome.UNKNOWN: 404,
    Outcome.EARLY: 409,
    Outcome.MISMATCH: 409,
    Outcome.UNCONFIRMED: 503,
}


class WebhookIngress:
    def __init__(
        self,
        tracker: RunTracker,
        dispatcher: Dispatcher,
        store: RunStore,
        signer: WebhookSigner,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self._tracker = tracker
        self._dispatcher = dispatcher
        self._store = store
        self._signer = signer
        self._metrics = metrics
        self._clock = clock
        self._where: TTLCache[str, tuple[str, str]] = TTLCache(
            maxsize=ADDRESS_CACHE_SIZE, ttl=ADDRESS_CACHE_TTL_S
        )
        """Run id -> (backend, backend run id) of submitted runs."""

    def authentic(self, run_id: str, token: str) -> bool:
        """Whether the URL's token is ours for that run (checked before reading the body)."""
        ok = bool(run_id) and self._signer.verify(run_id, token)
        if not ok:
            self.refused(Outcome.FORBIDDEN)
        return ok

    def refused(self, outcome: Outcome | str) -> None:
        """Count a webhook the adapter refused itself (malformed, oversized, forbidden)."""
        self._metrics.count_event("webhook", str(outcome))

    async def unconfirmed(self, run_id: str, event: RunEvent) -> Outcome:
        """An end that could not be confirmed: poll the run at once instead."""
        await self._store.note_poll(run_id, self._clock.now(), failed=False)
        self.refused(Outcome.UNCONFIRMED)
        return Outcome.UNCONFIRMED

    async def screen(self, run_id: str, event: RunEvent, backend: str) -> Outcome | None:
        """Refuse an event about a run we do not know, on another backend, or about another
        backend run, before anything costly (such as asking the backend) is done for it."""
        if self._where.get(run_id) == (backend, event.backend_run_id):
            if event.status.terminal:
                del self._where[run_id]
            return None
        run = await self._store.get(run_id)
        self._remember(run)
        outcome: Outcome | None = None
        if run is None:
            outcome = Outcome.UNKNOWN
        elif run.backend != backend or (
            run.backend_run_id is not None and run.backend_run_id != event.backend_run_id
        ):
            outcome = Outcome.MISMATCH
        if outcome is not None:
            self.refused(outcome)
        return outcome

    def _remember(self, run: Run | None) -> None:
        if run is None or run.backend_run_id is None:
            return
        if run.status.terminal:
            self._where.pop(run.id, None)
        else:
            self._where[run.id] = (run.backend, run.backend_run_id)

    async def accept(self, run_id: str, event: RunEvent, backend: str) -> Outcome:
        """`backend`: the backend whose route the event arrived on."""
        if await self._tracker.apply(run_id, event):
            return Outcome.APPLIED
        run = await self._store.get(run_id)
        if run is None:
            outcome = Outcome.UNKNOWN
        elif run.backend_run_id is None:
            if run.backend == backend and await self._dispatcher.adopt(run, event.backend_run_id):
                applied = await self._tracker.apply(run_id, event)
                return Outcome.APPLIED if applied else Outcome.UNCHANGED
            outcome = Outcome.EARLY
        elif run.backend_run_id != event.backend_run_id:
            outcome = Outcome.MISMATCH
        elif _stage(run) < run_stage(event.status, event.progress, event.queue_position):
            # Recorded between the first try and the read: a stream's first event may come
            # while the submit's answer is being recorded. It moves the run forward after all.
            applied = await self._tracker.apply(run_id, event)
            return Outcome.APPLIED if applied else Outcome.UNCHANGED
        else:
            return Outcome.UNCHANGED
        self.refused(outcome)
        return outcome


def _stage(run: Run) -> int:
    return run_stage(run.status, run.progress, run.queue_position)
