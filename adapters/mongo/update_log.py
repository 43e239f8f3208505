"""`UpdateLog` on MongoDB: one document per update, its key as `_id` (the unique index that
makes a repeated update a duplicate), kept `KEEP` after it arrived (a TTL index): Telegram
keeps an update it could not deliver for 24 hours
(https://core.telegram.org/bots/api#getting-updates), so no repeat comes later.

A document: `chat`, `seq`, `state` (`handling` or `done`), the claim's `owner` and `until`,
`owners` (every process that claimed it, in order), the `payload` until it is handled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo.errors import DuplicateKeyError

from adapters.mongo.cursor_reads import read_all
from adapters.mongo.database import UPDATES, Collection, Database
from core.inbound import Arrival, UpdateClaim, UpdateEntry

KEEP = timedelta(hours=48)
HANDLING = "handling"
DONE = "done"
GIVEN_UP = datetime(1970, 1, 1, tzinfo=UTC)


class MongoUpdateLog:
    def __init__(self, db: Database) -> None:
        self._updates: Collection = db[UPDATES]

    async def claim(
        self, entry: UpdateEntry, owner: str, now: datetime, until: datetime
    ) -> UpdateClaim:
        while True:
            try:
                await self._updates.insert_one(
                    {
                        "_id": entry.key,
                        "chat": entry.chat,
                        "seq": entry.seq,
                        "state": HANDLING,
                        "owner": owner,
                        "until": until,
                        "owners": [owner],
                        "payload": dict(entry.payload),
                        "received_at": now,
                        "expires_at": now + KEEP,
                    }
                )
                return UpdateClaim(Arrival.NEW)
            except DuplicateKeyError:
                pass
            taken = await self._updates.update_one(
                {"_id": entry.key, "state": HANDLING, "until": {"$lt": now}},
                {"$set": {"owner": owner, "until": until}, "$push": {"owners": owner}},
            )
            if taken.modified_count == 1:
                return UpdateClaim(Arrival.NEW)
            doc = await self._updates.find_one({"_id": entry.key}, {"state": 1, "until": 1})
            if doc is None:
                continue  # expired between the insert and the read: it is new again
            if doc["state"] == DONE:
                return UpdateClaim(Arrival.DONE)
            return UpdateClaim(Arrival.BUSY, doc["until"])

    async def renew(self, key: str, owner: str, until: datetime) -> bool:
        result = await self._updates.update_one(
            {"_id": key, "state": HANDLING, "owner": owner}, {"$set": {"until": until}}
        )
        return result.matched_count == 1

    async def finish(self, key: str, owner: str, now: datetime) -> bool:
        result = await self._updates.update_one(
            {"_id": key, "state": HANDLING, "owner": owner},
            {"$set": {"state": DONE, "until": None, "done_at": now}, "$unset": {"payload": ""}},
        )
        return result.matched_count == 1

    async def release(self, key: str, owner: str) -> None:
        await self._updates.update_one(
            {"_id": key, "state": HANDLING, "owner": owner}, {"$set": {"until": GIVEN_UP}}
        )

    async def blocker(self, chat: str, seq: int, owner: str, now: datetime) -> datetime | None:
        cursor = (
            self._updates.find(
                {
                    "chat": chat,
                    "seq": {"$lt": seq},
                    "state": HANDLING,
                    "until": {"$gt": now},
                    "owner": {"$ne": owner},
                },
                {"until": 1},
            )
            .sort("until", -1)
            .limit(1)
        )
        for doc in await read_all(cursor):
            until: datetime = doc["until"]
            return until
        return None

    async def abandoned(self, now: datetime, limit: int) -> list[UpdateEntry]:
        cursor = (
            self._updates.find({"state": HANDLING, "until": {"$lt": now}})
            .sort("seq", 1)
            .limit(limit)
        )
        return [
            UpdateEntry(str(doc["_id"]), str(doc["chat"]), int(doc["seq"]), doc.get("payload", {}))
            for doc in await read_all(cursor)
        ]
