"""The conditional updates that move a run forward: one range condition on the monotonic `stage`,
and for the end, an update pipeline that also costs the run
(https://www.mongodb.com/docs/manual/tutorial/update-documents-with-aggregation-pipeline/)."""

from __future__ import annotations

from datetime import datetime

from adapters.mongo.database import Document
from core.journal import Claim
from core.models import TERMINAL_RANK, DeliveryState, RunEvent, RunStatus, run_stage

_STARTED_RANK = RunStatus.STARTED.rank
NOT_TERMINAL = {"status_rank": {"$lt": TERMINAL_RANK}}


def run_key(run_id: str, event: RunEvent) -> Document:
    """The run, and only if the event is about the backend run recorded on it."""
    key: Document = {"_id": run_id}
    if event.backend_run_id:
        key["backend_run_id"] = event.backend_run_id
    return key


def forward_filter(run_id: str, event: RunEvent) -> Document:
    """Matches the run only when `event` moves it forward: one range condition on `stage`."""
    stage = run_stage(event.status, event.progress, event.queue_position)
    return {**run_key(run_id, event), "stage": {"$lt": stage}}


_BILLED_FROM: Document = {"$ifNull": ["$queued_at", {"$ifNull": ["$started_at", "$submitted_at"]}]}
"""Where billing starts, as `Run.duration_s` reads it: queued, else started, else submitted."""
BILLED_SECONDS: Document = {
    "$max": [0, {"$divide": [{"$subtract": ["$ended_at", _BILLED_FROM]}, 1000]}]
}
"""`Run.duration_s`: billed start to end, never negative; 0 while either is unknown (`$max`
ignores the null a missing date makes)."""
_COST: Document = {
    "$cond": [
        {"$and": [{"$isNumber": "$rate_usd_per_s"}, {"$ne": [_BILLED_FROM, None]}]},
        {"$round": [{"$multiply": ["$rate_usd_per_s", BILLED_SECONDS]}, 6]},
        None,
    ]
}


def terminal_pipeline(event: RunEvent, changes: Document) -> list[Document]:
    """Set the end (values as literals: a `$` in an error text is not a field path), keep stored
    timestamps the event does not carry, then cost the run from what is now stored."""
    kept = {"queued_at": event.queued_at, "started_at": event.started_at}
    literal = {k: {"$literal": v} for k, v in changes.items() if k not in kept}
    for key, value in kept.items():
        literal[key] = {"$ifNull": [{"$literal": value}, f"${key}"]}
    return [{"$set": literal}, {"$set": {"cost_usd": _COST}}]


def event_update(
    event: RunEvent, now: datetime, next_poll_at: datetime | None, claim: Claim | None
) -> Document:
    status = event.status
    changes: Document = {
        "status": status.value,
        "status_rank": status.rank,
        "stage": run_stage(status, event.progress, event.queue_position),
        "last_event_at": now,
        "updated_at": now,
    }
    if event.progress is not None:
        changes["progress"] = event.progress
    if event.queue_position is not None:
        changes["queue_position"] = event.queue_position
    elif status.rank >= _STARTED_RANK:
        changes["queue_position"] = None
    optional = {
        "live_status": event.live_status,
        "queued_at": event.queued_at,
        "started_at": event.started_at,
        "gpu": event.gpu,
        "error": event.error,
    }
    changes.update({k: v for k, v in optional.items() if v is not None})
    if status.terminal:
        changes.update(ended_at=event.ended_at or now, delivery_due_at=now, next_poll_at=None)
        if claim is None:
            changes["delivery"] = DeliveryState.PENDING.value
        else:
            changes["delivery"] = DeliveryState.CLAIMED.value
            changes["delivery_owner"] = claim.owner
            changes["delivery_lease_until"] = claim.until
    else:
        if event.ended_at is not None:
            changes["ended_at"] = event.ended_at
        if next_poll_at is not None:
            changes["next_poll_at"] = next_poll_at
    return {"$set": changes}
