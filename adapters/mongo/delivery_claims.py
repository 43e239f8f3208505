"""The delivery side of `RunStore`: fenced claims on finished runs and the record of each message
sent. Every change after the claim names its owner, so a process that lost the claim (its lease
ran out, another took over) changes nothing."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from adapters.mongo.cursor_reads import read_all
from adapters.mongo.database import Collection as MongoCollection
from adapters.mongo.database import Document
from adapters.mongo.run_codec import document_to_run
from core.journal import Claim
from core.models import TERMINAL_RANK, DeliveryState, PartState, Run

_CLAIMED = DeliveryState.CLAIMED.value


def _owned(run_id: str, owner: str) -> Document:
    return {"_id": run_id, "delivery": _CLAIMED, "delivery_owner": owner}


def _part_field(part: str) -> str:
    """`delivery_parts.<part>`, with characters a field name may not hold replaced."""
    return "delivery_parts." + part.replace(".", "_").replace("$", "_")


class DeliveryClaims:
    _runs: MongoCollection

    async def claim_delivery(self, run_id: str, now: datetime, claim: Claim) -> bool:
        """Pending and due, else a claim whose lease ran out: two plain conditions, since an
        `$or` filter halves the update rate on the embedded server."""
        take = {
            "$set": {
                "delivery": _CLAIMED,
                "delivery_owner": claim.owner,
                "delivery_lease_until": claim.until,
            }
        }
        for due in (
            {"delivery": DeliveryState.PENDING.value, "delivery_due_at": {"$lte": now}},
            {"delivery": _CLAIMED, "delivery_lease_until": {"$lt": now}},
        ):
            result = await self._runs.update_one({"_id": run_id, **due}, take)
            if result.modified_count == 1:
                return True
        return False

    async def renew_claim(self, run_id: str, claim: Claim) -> bool:
        result = await self._runs.update_one(
            _owned(run_id, claim.owner), {"$set": {"delivery_lease_until": claim.until}}
        )
        return result.matched_count == 1

    async def set_part(self, run_id: str, owner: str, part: str, state: PartState | None) -> bool:
        field = _part_field(part)
        change = {"$unset": {field: ""}} if state is None else {"$set": {field: state.value}}
        result = await self._runs.update_one(_owned(run_id, owner), change)
        return result.matched_count == 1

    async def finish_delivery(self, run_id: str, owner: str, now: datetime) -> bool:
        done = {
            "delivery": DeliveryState.DELIVERED.value,
            "delivered_at": now,
            "delivery_owner": None,
            "delivery_lease_until": None,
        }
        result = await self._runs.update_one(_owned(run_id, owner), {"$set": done})
        return result.matched_count == 1

    async def retry_delivery(
        self, run_id: str, owner: str, due_at: datetime | None, *, count: bool = True
    ) -> bool:
        state = DeliveryState.ABANDONED if due_at is None else DeliveryState.PENDING
        update: Document = {
            "$set": {
                "delivery": state.value,
                "delivery_due_at": due_at,
                "delivery_owner": None,
                "delivery_lease_until": None,
            }
        }
        if count:
            update["$inc"] = {"delivery_attempts": 1}
        result = await self._runs.update_one(_owned(run_id, owner), update)
        return result.matched_count == 1

    async def deliveries_due(
        self, now: datetime, limit: int, platforms: Collection[str]
    ) -> list[Run]:
        """Two plain queries rather than one `$or` (see `claim_delivery`), merged by due time."""
        served = {"chat.platform": {"$in": list(platforms)}}
        found: dict[str, Run] = {}
        for due in (
            {"delivery": DeliveryState.PENDING.value, "delivery_due_at": {"$lte": now}},
            {"delivery": _CLAIMED, "delivery_lease_until": {"$lt": now}},
        ):
            cursor = self._runs.find({**due, **served}).sort("delivery_due_at", 1).limit(limit)
            for doc in await read_all(cursor):
                found.setdefault(doc["_id"], document_to_run(doc))
        ordered = sorted(found.values(), key=lambda run: run.delivery_due_at or now)
        return ordered[:limit]

    async def redeliver(self, run_id: str, now: datetime, fresh: bool) -> bool:
        settled = [DeliveryState.DELIVERED.value, DeliveryState.ABANDONED.value]
        update: Document = {
            "$set": {
                "delivery": DeliveryState.PENDING.value,
                "delivery_due_at": now,
                "delivery_owner": None,
                "delivery_lease_until": None,
            }
        }
        if fresh:
            update["$unset"] = {"delivery_parts": ""}
        for idle in (
            {"delivery": {"$in": [*settled, DeliveryState.PENDING.value]}},
            {"delivery": _CLAIMED, "delivery_lease_until": {"$lt": now}},
        ):
            result = await self._runs.update_one(
                {"_id": run_id, "status_rank": TERMINAL_RANK, **idle}, update
            )
            if result.matched_count == 1:
                return True
        return False
