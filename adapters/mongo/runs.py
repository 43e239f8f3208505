"""`RunStore` on MongoDB. Every state change is one conditional `update_one`: the database decides.

`find_one_and_update` is avoided on purpose: on the embedded server it is ~20x slower. A run's end
is an update pipeline (https://www.mongodb.com/docs/manual/tutorial/update-documents-with-
aggregation-pipeline/), so the cost is computed from the stored rate and timestamps in that same
conditional update: whoever records the end records the cost, once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.mongo.database import RUNS, Collection, Database, Document
from adapters.mongo.run_codec import document_to_run, outputs_to_documents, run_to_document
from core.models import (
    TERMINAL_RANK,
    DeliveryState,
    Run,
    RunEvent,
    RunStatus,
    Submission,
    run_stage,
)

_STARTED_RANK = RunStatus.STARTED.rank
_NOT_TERMINAL = {"status_rank": {"$lt": TERMINAL_RANK}}


def _delivery_due(now: datetime) -> Document:
    return {
        "$or": [
            {"delivery": DeliveryState.PENDING.value, "delivery_due_at": {"$lte": now}},
            {"delivery": DeliveryState.CLAIMED.value, "delivery_lease_until": {"$lt": now}},
        ]
    }


def _run_key(run_id: str, event: RunEvent) -> Document:
    """The run, and only if the event is about the backend run recorded on it."""
    key: Document = {"_id": run_id}
    if event.backend_run_id:
        key["backend_run_id"] = event.backend_run_id
    return key


def _forward_filter(run_id: str, event: RunEvent) -> Document:
    """Matches the run only when `event` moves it forward: one range condition on `stage`."""
    stage = run_stage(event.status, event.progress, event.queue_position)
    return {**_run_key(run_id, event), "stage": {"$lt": stage}}


_BILLED_FROM: Document = {"$ifNull": ["$queued_at", {"$ifNull": ["$started_at", "$submitted_at"]}]}
"""Where billing starts, as `Run.duration_s` reads it: queued, else started, else submitted."""
_COST: Document = {
    "$cond": [
        {"$and": [{"$isNumber": "$rate_usd_per_s"}, {"$ne": [_BILLED_FROM, None]}]},
        {
            "$round": [
                {
                    "$multiply": [
                        "$rate_usd_per_s",
                        {
                            "$max": [
                                0,
                                {"$divide": [{"$subtract": ["$ended_at", _BILLED_FROM]}, 1000]},
                            ]
                        },
                    ]
                },
                6,
            ]
        },
        None,
    ]
}


def _terminal_pipeline(event: RunEvent, changes: Document) -> list[Document]:
    """Set the end (values as literals: a `$` in an error text is not a field path), keep stored
    timestamps the event does not carry, then cost the run from what is now stored."""
    kept = {"queued_at": event.queued_at, "started_at": event.started_at}
    literal = {k: {"$literal": v} for k, v in changes.items() if k not in kept}
    for key, value in kept.items():
        literal[key] = {"$ifNull": [{"$literal": value}, f"${key}"]}
    return [{"$set": literal}, {"$set": {"cost_usd": _COST}}]


def _event_update(
    event: RunEvent, now: datetime, next_poll_at: datetime | None, claim_until: datetime | None
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
        if claim_until is None:
            changes["delivery"] = DeliveryState.PENDING.value
        else:
            changes["delivery"] = DeliveryState.CLAIMED.value
            changes["delivery_lease_until"] = claim_until
    else:
        if event.ended_at is not None:
            changes["ended_at"] = event.ended_at
        if next_poll_at is not None:
            changes["next_poll_at"] = next_poll_at
    return {"$set": changes}


class MongoRunStore:
    def __init__(self, db: Database) -> None:
        self._runs: Collection = db[RUNS]

    async def insert(self, run: Run) -> None:
        await self._runs.insert_one(run_to_document(run))

    async def get(self, run_id: str) -> Run | None:
        doc = await self._runs.find_one({"_id": run_id})
        return None if doc is None else document_to_run(doc)

    async def mark_submitted(self, run_id: str, submission: Submission) -> bool:
        status = RunStatus.NOT_STARTED
        result = await self._runs.update_one(
            {"_id": run_id, "status": RunStatus.PENDING.value},
            {
                "$set": {
                    **submission.model_dump(mode="python"),
                    "status": status.value,
                    "status_rank": status.rank,
                    "stage": run_stage(status, 0.0, None),
                    "updated_at": submission.submitted_at,
                }
            },
        )
        return result.modified_count == 1

    async def apply_event(
        self,
        run_id: str,
        event: RunEvent,
        now: datetime,
        next_poll_at: datetime | None,
        claim_until: datetime | None = None,
    ) -> bool:
        if event.status.terminal:
            changes = _event_update(event, now, next_poll_at, claim_until)["$set"]
            if event.outputs:
                changes["outputs"] = outputs_to_documents(event.outputs)
                changes["output_count"] = len(event.outputs)
            pipeline = _terminal_pipeline(event, changes)
            result = await self._runs.update_one(_forward_filter(run_id, event), pipeline)
            return result.modified_count == 1
        # Outputs first, and only while the run is unfinished: once terminal, the run is final.
        outputs_changed = False
        if event.outputs:
            count = len(event.outputs)
            result = await self._runs.update_one(
                {**_run_key(run_id, event), **_NOT_TERMINAL, "output_count": {"$lt": count}},
                {
                    "$set": {
                        "outputs": outputs_to_documents(event.outputs),
                        "output_count": count,
                        "updated_at": now,
                    }
                },
            )
            outputs_changed = result.modified_count == 1
        result = await self._runs.update_one(
            _forward_filter(run_id, event), _event_update(event, now, next_poll_at, None)
        )
        return outputs_changed or result.modified_count == 1

    async def note_poll(self, run_id: str, next_poll_at: datetime, failed: bool) -> None:
        update: Document = {"$set": {"next_poll_at": next_poll_at}}
        if failed:
            update["$inc"] = {"poll_failures": 1}
        await self._runs.update_one({"_id": run_id, **_NOT_TERMINAL}, update)

    async def due_for_poll(self, now: datetime, limit: int) -> list[Run]:
        query = {
            **_NOT_TERMINAL,
            "backend_run_id": {"$type": "string"},
            "next_poll_at": {"$lte": now},
        }
        return await self._find(query, [("next_poll_at", 1)], limit)

    async def unfinished(self, limit: int) -> list[Run]:
        return await self._find(dict(_NOT_TERMINAL), [("created_at", 1)], limit)

    async def claim_delivery(self, run_id: str, now: datetime, lease_until: datetime) -> bool:
        """Pending and due, else a claim whose lease ran out: two plain conditions, since an
        `$or` filter halves the update rate on the embedded server."""
        claim = {
            "$set": {"delivery": DeliveryState.CLAIMED.value, "delivery_lease_until": lease_until}
        }
        for due in (
            {"delivery": DeliveryState.PENDING.value, "delivery_due_at": {"$lte": now}},
            {"delivery": DeliveryState.CLAIMED.value, "delivery_lease_until": {"$lt": now}},
        ):
            result = await self._runs.update_one({"_id": run_id, **due}, claim)
            if result.modified_count == 1:
                return True
        return False

    async def finish_delivery(self, run_id: str, now: datetime) -> None:
        changes: Document = {
            "delivery": DeliveryState.DELIVERED.value,
            "delivered_at": now,
            "delivery_lease_until": None,
        }
        await self._runs.update_one({"_id": run_id}, {"$set": changes})

    async def retry_delivery(
        self, run_id: str, due_at: datetime | None, abandon: bool = False
    ) -> None:
        """Without `due_at` there is no time to try again at, so the delivery is abandoned."""
        state = DeliveryState.ABANDONED if abandon or due_at is None else DeliveryState.PENDING
        await self._runs.update_one(
            {"_id": run_id},
            {
                "$set": {
                    "delivery": state.value,
                    "delivery_due_at": due_at,
                    "delivery_lease_until": None,
                },
                "$inc": {"delivery_attempts": 1},
            },
        )

    async def deliveries_due(self, now: datetime, limit: int) -> list[Run]:
        return await self._find(_delivery_due(now), [("delivery_due_at", 1)], limit)

    async def set_progress_message(self, run_id: str, message_id: str) -> None:
        await self._runs.update_one({"_id": run_id}, {"$set": {"progress_message_id": message_id}})

    async def recent(
        self, limit: int, user_key: str | None = None, status: RunStatus | None = None
    ) -> list[Run]:
        query: Document = {}
        if user_key is not None:
            platform, _, user_id = user_key.partition(":")
            query["chat.platform"] = platform
            query["chat.user_id"] = user_id
        if status is not None:
            query["status"] = status.value
        return await self._find(query, [("created_at", -1)], limit)

    async def count_by_status(self) -> dict[RunStatus, int]:
        rows = await self._aggregate([{"$group": {"_id": "$status", "n": {"$sum": 1}}}])
        return {RunStatus(row["_id"]): int(row["n"]) for row in rows}

    async def total_cost(self) -> float:
        rows = await self._aggregate([{"$group": {"_id": None, "total": {"$sum": "$cost_usd"}}}])
        return float(rows[0]["total"]) if rows else 0.0

    async def _find(self, query: Document, sort: list[tuple[str, int]], limit: int) -> list[Run]:
        cursor = self._runs.find(query).sort(sort).limit(limit)
        return [document_to_run(doc) async for doc in cursor]

    async def _aggregate(self, pipeline: list[dict[str, Any]]) -> list[Document]:
        cursor = await self._runs.aggregate(pipeline)
        return await cursor.to_list()
