"""`DeploymentSlots` on MongoDB: one document per deployment listing the runs sent to it and not
ended; a slot is taken by a conditional push on that list's length, so the cap holds across
processes."""

from __future__ import annotations

from datetime import datetime

from pymongo.errors import DuplicateKeyError

from adapters.mongo.cursor_reads import read_all
from adapters.mongo.database import DEPLOYMENT_SLOTS, Collection, Database


class MongoDeploymentSlots:
    def __init__(self, db: Database) -> None:
        self._slots: Collection = db[DEPLOYMENT_SLOTS]

    async def take(self, deployment: str, run_id: str, cap: int, now: datetime) -> bool:
        try:
            # A full list fails the filter, and the upsert's insert then collides on `_id`.
            result = await self._slots.update_one(
                {
                    "_id": deployment,
                    f"running.{cap - 1}": {"$exists": False},
                    "running.run": {"$ne": run_id},
                },
                {"$push": {"running": {"run": run_id, "at": now}}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return result.modified_count == 1 or result.upserted_id is not None

    async def give(self, run_id: str) -> None:
        await self._slots.update_many(
            {"running.run": run_id}, {"$pull": {"running": {"run": run_id}}}
        )

    async def held_before(self, before: datetime, limit: int) -> list[str]:
        cursor = self._slots.find({"running.at": {"$lt": before}}).limit(limit)
        found = []
        for doc in await read_all(cursor):
            found += [slot["run"] for slot in doc["running"] if slot["at"] < before]
        return found[:limit]
