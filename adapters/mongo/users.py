"""`UserStore` on MongoDB: one document per user the bot has seen or banned, keyed by
`platform:user_id`, with the username it was last seen under (`username_lower` is indexed)."""

from __future__ import annotations

from datetime import datetime

from pymongo.errors import DuplicateKeyError

from adapters.mongo.database import USERS, Collection, Database


class MongoUserStore:
    def __init__(self, db: Database) -> None:
        self._users: Collection = db[USERS]

    async def remember(
        self, user_key: str, username: str | None, name: str, now: datetime
    ) -> None:
        platform, _, user_id = user_key.partition(":")
        fields: dict[str, object] = {
            "platform": platform,
            "user_id": user_id,
            "name": name,
            "seen_at": now,
        }
        unset: dict[str, str] = {}
        if username:
            fields["username"] = username
            fields["username_lower"] = username.lower()
        else:
            unset = {"username": "", "username_lower": ""}
        update: dict[str, object] = {"$set": fields}
        if unset:
            update["$unset"] = unset
        await self._users.update_one({"_id": user_key}, update, upsert=True)

    async def find_user(self, platform: str, name: str) -> str | None:
        wanted = name.removeprefix("@")
        by_name = await self._users.find_one(
            {"platform": platform, "username_lower": wanted.lower()},
            sort=[("seen_at", -1)],
        )
        if by_name is not None:
            return str(by_name["_id"])
        by_id = await self._users.find_one({"_id": f"{platform}:{wanted}"})
        return str(by_id["_id"]) if by_id is not None else None

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
