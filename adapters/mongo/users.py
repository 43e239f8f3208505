"""`UserStore` on MongoDB: one document per user ever banned, keyed by `platform:user_id`."""

from __future__ import annotations

from datetime import datetime

from pymongo.errors import DuplicateKeyError

from adapters.mongo.database import USERS, Collection, Database


class MongoUserStore:
    def __init__(self, db: Database) -> None:
        self._users: Collection = db[USERS]

    async def is_banned(self, user_key: str) -> bool:
        return await self._users.find_one({"_id": user_key, "banned": True}) is not None

    async def ban(self, user_key: str, by: str, now: datetime) -> bool:
        try:
            # Matches only a user not banned yet; for an already banned user the upsert's
            # insert collides with the existing `_id`.
            result = await self._users.update_one(
                {"_id": user_key, "banned": {"$ne": True}},
                {"$set": {"banned": True, "banned_by": by, "banned_at": now}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return result.modified_count == 1 or result.upserted_id is not None

    async def unban(self, user_key: str) -> bool:
        result = await self._users.update_one(
            {"_id": user_key, "banned": True},
            {"$set": {"banned": False}, "$unset": {"banned_by": "", "banned_at": ""}},
        )
        return result.modified_count == 1
