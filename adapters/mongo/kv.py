"""`KeyValueStore` on MongoDB: one document per key, the key as `_id`."""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from adapters.mongo.database import KV, Collection, Database


class MongoKeyValueStore:
    def __init__(self, db: Database) -> None:
        self._kv: Collection = db[KV]

    async def get(self, key: str) -> str | None:
        doc = await self._kv.find_one({"_id": key})
        return None if doc is None else str(doc["value"])

    async def set(self, key: str, value: str) -> None:
        await self._kv.update_one({"_id": key}, {"$set": {"value": value}}, upsert=True)

    async def set_if_absent(self, key: str, value: str) -> str:
        """Race-safe: the unique `_id` decides which of several writers wins."""
        while True:
            try:
                await self._kv.insert_one({"_id": key, "value": value})
            except DuplicateKeyError:
                stored = await self.get(key)
                if stored is not None:
                    return stored
                continue  # deleted between our insert and read: try again
            return value
