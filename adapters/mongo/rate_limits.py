"""`RateLimiter` on MongoDB: one small document per user and minute, counted with a conditional
upsert (past the limit the filter fails and the insert collides), forgotten by a TTL index
(https://www.mongodb.com/docs/manual/core/index-ttl/)."""

from __future__ import annotations

from datetime import datetime

from pymongo.errors import DuplicateKeyError

from adapters.mongo.database import RATE_WINDOWS, Collection, Database
from core.rate_limit import Pace


class MongoRateLimiter:
    def __init__(self, db: Database) -> None:
        self._windows: Collection = db[RATE_WINDOWS]

    async def hit(self, key: str, limit: int, window: str, expires: datetime) -> Pace:
        name = f"{key}:{window}"
        try:
            await self._windows.update_one(
                {"_id": name, "count": {"$lt": limit}},
                {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": expires}},
                upsert=True,
            )
            return Pace.OK
        except DuplicateKeyError:
            pass
        told = await self._windows.update_one(
            {"_id": name, "told": {"$ne": True}}, {"$set": {"told": True}}
        )
        return Pace.SLOW_DOWN if told.modified_count else Pace.IGNORED
