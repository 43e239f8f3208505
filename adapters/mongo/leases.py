"""`LeaseStore` on MongoDB: one document per lease, its name as `_id`.

Taking a lease is one conditional update with `upsert`: it matches only a lease that ran out
(or was given up); when another holds it, the upsert's insert hits the unique `_id` and fails,
so of several processes trying at once exactly one wins (a unique index refuses the second
document: https://www.mongodb.com/docs/manual/core/index-unique/). A read first spares the
write while the lease is plainly held, which is most of the time for every process but one.
`token` grows by one with each new term; renewals and the release name it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError

from adapters.mongo.database import LEASES, Collection, Database, Document
from core.lease import LeaseGrant

RELEASED = datetime(1970, 1, 1, tzinfo=UTC)


class MongoLeaseStore:
    def __init__(self, db: Database) -> None:
        self._leases: Collection = db[LEASES]

    async def acquire(
        self, name: str, owner: str, now: datetime, until: datetime
    ) -> LeaseGrant | None:
        if await self.current(name, now) is not None:
            return None
        try:
            await self._leases.update_one(
                {"_id": name, "until": {"$lt": now}},
                {"$set": {"owner": owner, "until": until, "taken_at": now}, "$inc": {"token": 1}},
                upsert=True,
            )
        except DuplicateKeyError:
            return None  # held by another
        doc = await self._leases.find_one({"_id": name})
        if doc is None or doc.get("owner") != owner:
            return None
        return _grant(doc)

    async def renew(self, grant: LeaseGrant, until: datetime) -> LeaseGrant | None:
        result = await self._leases.update_one(_term(grant), {"$set": {"until": until}})
        if result.matched_count != 1:
            return None
        return LeaseGrant(grant.name, grant.owner, grant.token, until)

    async def release(self, grant: LeaseGrant) -> bool:
        result = await self._leases.update_one(
            _term(grant), {"$set": {"until": RELEASED, "owner": None}}
        )
        return result.matched_count == 1

    async def current(self, name: str, now: datetime) -> LeaseGrant | None:
        doc = await self._leases.find_one({"_id": name})
        if doc is None or doc.get("owner") is None or doc["until"] <= now:
            return None
        return _grant(doc)


def _term(grant: LeaseGrant) -> Document:
    return {"_id": grant.name, "owner": grant.owner, "token": grant.token}


def _grant(doc: Document) -> LeaseGrant:
    return LeaseGrant(str(doc["_id"]), str(doc["owner"]), int(doc["token"]), doc["until"])
