"""`ApiRequestStore` on MongoDB: requests keyed by their origin, and idempotency keys in their own
collection, each with an expiry (a TTL index deletes them within a minute of it; until then an
expired claim is replaced by a conditional update, so expiry never waits for that sweep)."""

from __future__ import annotations

import contextlib
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from adapters.mongo.cursor_reads import read_all
from adapters.mongo.database import API_IDEMPOTENCY, API_REQUESTS, Collection, Database, Document
from core.api_requests import ApiRequest, ApiResult, IdempotencyClaim

CLAIM_TRIES = 3


class MongoApiRequestStore:
    def __init__(self, db: Database) -> None:
        self._requests: Collection = db[API_REQUESTS]
        self._keys: Collection = db[API_IDEMPOTENCY]

    async def claim_key(
        self, scope: str, claim: IdempotencyClaim, now: datetime, until: datetime
    ) -> IdempotencyClaim:
        fresh = {"origin": claim.origin, "fingerprint": claim.fingerprint, "expires_at": until}
        for _ in range(CLAIM_TRIES):
            try:
                await self._keys.insert_one({"_id": scope, **fresh})
                return claim
            except DuplicateKeyError:
                pass
            doc = await self._keys.find_one({"_id": scope})
            if doc is None:
                continue  # deleted by the TTL sweep between the insert and the read
            if doc["expires_at"] > now:
                return IdempotencyClaim(str(doc["origin"]), str(doc["fingerprint"]))
            replaced = await self._keys.update_one(
                {"_id": scope, "expires_at": doc["expires_at"]}, {"$set": fresh}
            )
            if replaced.modified_count == 1:
                return claim
        raise RuntimeError(f"idempotency key {scope!r}: no claim after {CLAIM_TRIES} tries")

    async def remember(self, request: ApiRequest) -> None:
        doc = request.model_dump(mode="python", exclude={"origin", "result"})
        with contextlib.suppress(DuplicateKeyError):  # the same request twice at once
            await self._requests.update_one(
                {"_id": request.origin}, {"$setOnInsert": doc}, upsert=True
            )

    async def get(self, origin: str) -> ApiRequest | None:
        doc = await self._requests.find_one({"_id": origin})
        return None if doc is None else _request(doc)

    async def results(self, origins: list[str]) -> dict[str, ApiResult]:
        cursor = self._requests.find(
            {"_id": {"$in": origins}, "result": {"$exists": True}}, {"result": 1}
        )
        docs = await read_all(cursor)
        return {str(doc["_id"]): ApiResult.model_validate(doc["result"]) for doc in docs}

    async def record_result(self, origin: str, result: ApiResult) -> None:
        await self._requests.update_one(
            {"_id": origin, "result": {"$exists": False}},
            {"$set": {"result": _result_document(result)}},
        )


def _result_document(result: ApiResult) -> Document:
    """JSON values (enums as their words), but the time as a BSON date."""
    return {**result.model_dump(mode="json"), "recorded_at": result.recorded_at}


def _request(doc: Document) -> ApiRequest:
    fields = {name: value for name, value in doc.items() if name in ApiRequest.model_fields}
    return ApiRequest.model_validate({**fields, "origin": doc["_id"]})
