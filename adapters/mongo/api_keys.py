"""`ApiKeyStore` on MongoDB: one document per key, its id as `_id`. Active keys carry
`active: true`, and a partial unique index on their name keeps one active key per name
(https://www.mongodb.com/docs/manual/core/index-partial/)."""

from __future__ import annotations

from datetime import datetime

from pymongo.errors import DuplicateKeyError

from adapters.mongo.cursor_reads import read_all
from adapters.mongo.database import API_KEYS, Collection, Database, Document
from core.api_keys import ApiKey


class MongoApiKeyStore:
    def __init__(self, db: Database) -> None:
        self._keys: Collection = db[API_KEYS]

    async def add(self, key: ApiKey) -> bool:
        doc = key.model_dump(mode="python", exclude={"id"})
        try:
            await self._keys.insert_one({"_id": key.id, **doc, "active": True})
        except DuplicateKeyError:
            return False
        return True

    async def get(self, key_id: str) -> ApiKey | None:
        doc = await self._keys.find_one({"_id": key_id})
        return None if doc is None else _key(doc)

    async def revoke(self, name: str, now: datetime) -> ApiKey | None:
        doc = await self._keys.find_one({"name": name, "active": True})
        if doc is None:
            return None
        result = await self._keys.update_one(
            {"_id": doc["_id"], "active": True},
            {"$set": {"revoked_at": now}, "$unset": {"active": ""}},
        )
        if result.modified_count != 1:
            return None  # revoked by someone else meanwhile
        return _key({**doc, "revoked_at": now})

    async def all(self) -> list[ApiKey]:
        cursor = self._keys.find({}).sort([("created_at", 1), ("_id", 1)])
        return [_key(doc) for doc in await read_all(cursor)]


def _key(doc: Document) -> ApiKey:
    fields = {name: value for name, value in doc.items() if name in ApiKey.model_fields}
    return ApiKey.model_validate({**fields, "id": doc["_id"]})
