"""`RunFinder` on MongoDB: runs by a prefix of their id, as a range on `_id` (the primary index),
so no regular expression is needed: ids starting with `abc` are those >= `abc` and < `abd`.
A user's runs page by page, on the `user_created_at` index, by keyset: each page starts after
the last run of the one before (keyset pagination, https://use-the-index-luke.com/no-offset),
so it costs the same however deep it is."""

from __future__ import annotations

from datetime import datetime

from adapters.mongo.cursor_reads import read_all
from adapters.mongo.database import RUNS, Collection, Database, Document
from adapters.mongo.run_codec import document_to_run
from core.models import Run


class MongoRunFinder:
    def __init__(self, db: Database) -> None:
        self._runs: Collection = db[RUNS]

    async def find_by_prefix(self, prefix: str, user_key: str | None, limit: int) -> list[Run]:
        if not prefix:
            return []
        query: Document = {"_id": {"$gte": prefix, "$lt": _after(prefix)}}
        if user_key is not None:
            platform, _, user_id = user_key.partition(":")
            query["chat.platform"] = platform
            query["chat.user_id"] = user_id
        cursor = self._runs.find(query).sort([("created_at", -1)]).limit(limit)
        return [document_to_run(doc) for doc in await read_all(cursor)]

    async def page(
        self, user_key: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[Run]:
        platform, _, user_id = user_key.partition(":")
        query: Document = {"chat.platform": platform, "chat.user_id": user_id}
        if after is not None:
            created, run_id = after
            query["$or"] = [
                {"created_at": {"$lt": created}},
                {"created_at": created, "_id": {"$lt": run_id}},
            ]
        cursor = self._runs.find(query).sort([("created_at", -1), ("_id", -1)]).limit(limit)
        return [document_to_run(doc) for doc in await read_all(cursor)]


def _after(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
