"""Status events pushed by a backend (webhooks), after the backend's own adapter has parsed them.

The adapter owns the HTTP details (body, size, its wire format); this decides what an event does
and how to answer, the same way for every backend.
"""

from __future__ import annotations

from enum import StrEnum

from core.metrics import Metrics
from core.models import RunEvent
from core.ports import RunStore
from core.tracker import RunTracker
from core.webhook_tokens import WebhookSigner


class Outcome(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    """A duplicate or late event: nothing to do, but the sender should stop retrying."""
    FORBIDDEN = "forbidden"
    UNKNOWN = "unknown"
    EARLY = "early"
    """The run is not marked submitted yet: the sender should retry."""
    MISMATCH = "mismatch"
    """The event is about another backend run than the one recorded."""


class WebhookIngress:
    def __init__(
        self, tracker: RunTracker, store: RunStore, signer: WebhookSigner, metrics: Metrics
    ) -> None:
        self._tracker = tracker
        self._store = store
        self._signer = signer
        self._metrics = metrics

    def authentic(self, run_id: str, token: str) -> bool:
        """Whether the URL's token is ours for that run (checked before reading the body)."""
        ok = bool(run_id) and self._signer.verify(run_id, token)
        if not ok:
            self.refused(Outcome.FORBIDDEN)
        return ok

    def refused(self, outcome: Outcome | str) -> None:
        """Count a webhook the adapter refused itself (malformed, oversized, forbidden)."""
        self._metrics.count_event("webhook", str(outcome))

    async def accept(self, run_id: str, event: RunEvent) -> Outcome:
        if await self._tracker.apply(run_id, event):
            return Outcome.APPLIED
        run = await self._store.get(run_id)
        if run is None:
            outcome = Outcome.UNKNOWN
        elif run.backend_run_id is None:
            outcome = Outcome.EARLY
        elif run.backend_run_id != event.backend_run_id:
            outcome = Outcome.MISMATCH
        else:
            return Outcome.UNCHANGED
        self.refused(outcome)
        return outcome
