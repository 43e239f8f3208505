"""`RunStore` on MongoDB. Every state change is one conditional `update_one`: the database decides.

`find_one_and_update` is avoided on purpose: on the embedded server it is ~20x slower. A run's end
is an update pipeline (see run_updates.py), so the cost is computed from the stored rate and
timestamps in that same conditional update: whoever records the end records the cost, once.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from adapters.mongo.cursor_reads import read_all
from adapters.mongo.database import RUNS, WAITING_INDEX, Database, Document
from adapters.mongo.database import Collection as MongoCollection
from adapters.mongo.delivery_claims import DeliveryClaims
from adapters.mongo.run_codec import document_to_run, outputs_to_documents, run_to_document
from adapters.mongo.run_updates import (
    NOT_TERMINAL,
    event_update,
    forward_filter,
    run_key,
    terminal_pipeline,
)
from adapters.mongo.run_usage import breakdown_from, usage_pipeline
from core.journal import Claim
from core.models import (
    TERMINAL_RANK,
    BackendTotals,
    Run,
    RunEvent,
    RunStatus,
    Submission,
    SubmitAttempt,
    UsageBreakdown,
    run_stage,
)


class MongoRunStore(DeliveryClaims):
    def __init__(self, db: Database) -> None:
        self._runs: MongoCollection = db[RUNS]

    async def insert(self, run: Run) -> bool:
        try:
            await self._runs.insert_one(run_to_document(run))
        except DuplicateKeyError:
            if run.origin is None:
                raise
            return False
        return True

    async def by_origin(self, origin: str) -> Run | None:
        doc = await self._runs.find_one({"origin": origin})
        return None if doc is None else document_to_run(doc)

    async def get(self, run_id: str) -> Run | None:
        doc = await self._runs.find_one({"_id": run_id})
        return None if doc is None else document_to_run(doc)

    async def begin_submit(
        self, run_id: str, owner: str, attempt: SubmitAttempt, now: datetime
    ) -> bool:
        mine = {"$in": [None, owner]}
        result = await self._runs.update_one(
            {"_id": run_id, "status": RunStatus.PENDING.value, "submit_owner": mine},
            {
                "$set": {
                    **attempt.model_dump(mode="python"),
                    "submit_owner": owner,
                    "submit_started_at": now,
                }
            },
        )
        return result.matched_count == 1

    async def pending(self, limit: int) -> list[Run]:
        return await self._find({"status": RunStatus.PENDING.value}, [("created_at", 1)], limit)

    async def waiting(self, limit: int) -> list[Run]:
        """Named index: the embedded server plans no query on a partial index by itself, and
        the queue is read on every pump (the query implies the index's filter, so MongoDB may
        use it: https://www.mongodb.com/docs/manual/core/index-partial/#query-coverage)."""
        query = {"status": RunStatus.PENDING.value, "submit_started_at": None}
        return await self._find(query, [("created_at", 1)], limit, hint=WAITING_INDEX)

    async def by_ids(self, run_ids: Collection[str]) -> list[Run]:
        if not run_ids:
            return []
        return await self._find({"_id": {"$in": list(run_ids)}}, [("_id", 1)], len(run_ids))

    async def recent_durations(self, workflow: str, limit: int) -> list[float]:
        fields = {f: 1 for f in ("queued_at", "started_at", "submitted_at", "ended_at")}
        cursor = (
            self._runs.find({"workflow": workflow, "status": RunStatus.SUCCESS.value}, fields)
            .sort([("ended_at", -1)])
            .limit(limit)
        )
        durations = []
        for doc in await read_all(cursor):
            start = doc.get("queued_at") or doc.get("started_at") or doc.get("submitted_at")
            if start is not None and doc.get("ended_at") is not None:
                durations.append(max(0.0, (doc["ended_at"] - start).total_seconds()))
        return durations

    async def mark_submitted(self, run_id: str, submission: Submission) -> bool:
        """Moves `pending` to `not-started`. A run that ended meanwhile (cancelled during its
        submit) still gets the backend's run id recorded, so it can be cancelled there."""
        status = RunStatus.NOT_STARTED
        fields = submission.model_dump(mode="python")
        result = await self._runs.update_one(
            {"_id": run_id, "status": RunStatus.PENDING.value},
            {
                "$set": {
                    **fields,
                    "status": status.value,
                    "status_rank": status.rank,
                    "stage": run_stage(status, 0.0, None),
                    "updated_at": submission.submitted_at,
                }
            },
        )
        if result.modified_count == 1:
            return True
        known = {k: fields[k] for k in ("backend_run_id", "backend", "deployment_id")}
        await self._runs.update_one(
            {"_id": run_id, "backend_run_id": {"$exists": False}}, {"$set": known}
        )
        return False

    async def apply_event(
        self,
        run_id: str,
        event: RunEvent,
        now: datetime,
        next_poll_at: datetime | None,
        claim: Claim | None = None,
    ) -> bool:
        if event.status.terminal:
            changes = event_update(event, now, next_poll_at, claim)["$set"]
            if event.outputs:
                changes["outputs"] = outputs_to_documents(event.outputs)
                changes["output_count"] = len(event.outputs)
            pipeline = terminal_pipeline(event, changes)
            result = await self._runs.update_one(forward_filter(run_id, event), pipeline)
            return result.modified_count == 1
        # Outputs first, and only while the run is unfinished: once terminal, the run is final.
        outputs_changed = False
        if event.outputs:
            count = len(event.outputs)
            result = await self._runs.update_one(
                {**run_key(run_id, event), **NOT_TERMINAL, "output_count": {"$lt": count}},
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
            forward_filter(run_id, event), event_update(event, now, next_poll_at, None)
        )
        return outputs_changed or result.modified_count == 1

    async def note_poll(self, run_id: str, next_poll_at: datetime, failed: bool) -> None:
        update: Document = {"$set": {"next_poll_at": next_poll_at}}
        if failed:
            update["$inc"] = {"poll_failures": 1}
        await self._runs.update_one({"_id": run_id, **NOT_TERMINAL}, update)

    async def due_for_poll(self, now: datetime, limit: int) -> list[Run]:
        query = {
            **NOT_TERMINAL,
            "backend_run_id": {"$type": "string"},
            "next_poll_at": {"$lte": now},
        }
        return await self._find(query, [("next_poll_at", 1)], limit)

    async def unfinished(self, limit: int) -> list[Run]:
        return await self._find(dict(NOT_TERMINAL), [("created_at", 1)], limit)

    async def is_finished(self, run_id: str) -> bool:
        found = await self._runs.find_one(
            {"_id": run_id, "status_rank": TERMINAL_RANK}, {"_id": 1}
        )
        return found is not None

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

    async def totals_by_backend(self) -> dict[str, BackendTotals]:
        # Runs stored before several backends existed ran on ComfyDeploy (see `Run.backend`).
        backend = {"$ifNull": ["$backend", Run.model_fields["backend"].default]}
        group = {"_id": backend, "runs": {"$sum": 1}, "cost": {"$sum": "$cost_usd"}}
        rows = await self._aggregate([{"$group": group}])
        return {
            str(row["_id"]): BackendTotals(runs=int(row["runs"]), cost_usd=float(row["cost"]))
            for row in rows
        }

    async def usage_breakdown(self, since: datetime, top: int) -> UsageBreakdown:
        [facets] = await self._aggregate(usage_pipeline(since, top))
        return breakdown_from(since, facets)

    async def _find(
        self, query: Document, sort: list[tuple[str, int]], limit: int, hint: str | None = None
    ) -> list[Run]:
        cursor = self._runs.find(query).sort(sort).limit(limit)
        if hint is not None:
            cursor = cursor.hint(hint)
        return [document_to_run(doc) for doc in await read_all(cursor)]

    async def _aggregate(self, pipeline: list[dict[str, Any]]) -> list[Document]:
        cursor = await self._runs.aggregate(pipeline)
        return await read_all(cursor)
