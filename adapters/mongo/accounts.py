"""`AccountStore` on MongoDB: one document per user, holding their balance, the holds and slots
of their runs, and the changes not yet copied to the ledger.

MongoDB changes one document atomically
(https://www.mongodb.com/docs/manual/core/write-operations-atomicity/), so every change of a
balance is a single conditional `update_one` on the account that also pushes its ledger entry
onto the account's `journal`; nothing can change the balance without recording why, and no
multi-document transaction (which a standalone server lacks) is needed. `flush_ledger` copies
journal entries into the `ledger` collection (keyed by their idempotency key, so a copy
repeated after a crash is harmless) and then removes them from the journal.

What makes each change happen once:
- a run's hold, its slots and its settlement are keyed by run id in the `holds`, `active` and
  `running` arrays: admitting pushes only if the run is not there, finishing pulls only if it is;
- any other cause (a welcome, a grant, a purchase, a refund, an expiry) is remembered in
  `applied`.
Caps are array lengths: `active.<n-1>` missing means fewer than n runs active. `last_entry_at`
is when the account's latest ledger entry was made (for CREDIT_EXPIRY_DAYS).
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection as Many
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from adapters.mongo.cursor_reads import read_all
from adapters.mongo.database import ACCOUNTS, LEDGER, Collection, Database, Document
from core.ledger import Balance, LedgerEntry, LedgerKind, Refusal

DUPLICATE_KEY = 11000
ADMIT_TRIES = 3


def _entry(
    user: str,
    key: str,
    kind: LedgerKind,
    now: datetime,
    available: int,
    reserved: int = 0,
    **refs: Any,
) -> Document:
    return {
        "key": key,
        "user": user,
        "kind": kind.value,
        "available": available,
        "reserved": reserved,
        "at": now,
        **{name: value for name, value in refs.items() if value},
    }


def _to_entry(doc: Document) -> LedgerEntry:
    fields = {k: v for k, v in doc.items() if k != "_id"}
    fields.setdefault("key", doc.get("_id"))
    return LedgerEntry.model_validate(fields)


class MongoAccountStore:
    def __init__(self, db: Database) -> None:
        self._accounts: Collection = db[ACCOUNTS]
        self._ledger: Collection = db[LEDGER]

    async def open(self, user: str, welcome: int, now: datetime) -> None:
        journal = []
        if welcome:
            journal.append(_entry(user, f"welcome:{user}", LedgerKind.WELCOME, now, welcome))
        fresh = {
            "available": welcome,
            "reserved": 0,
            "holds": [],
            "active": [],
            "running": [],
            "applied": [f"welcome:{user}"],
            "journal": journal,
            "created_at": now,
            "last_entry_at": now,
        }
        # A duplicate key: another process opened it at the same moment.
        with contextlib.suppress(DuplicateKeyError):
            await self._accounts.update_one({"_id": user}, {"$setOnInsert": fresh}, upsert=True)

    async def admit(
        self, user: str, run_id: str, hold: int, max_active: int, now: datetime
    ) -> Refusal | None:
        query: Document = {
            "_id": user,
            f"active.{max_active - 1}": {"$exists": False},
            "active.run": {"$ne": run_id},
        }
        update: Document = {"$push": {"active": {"run": run_id, "at": now}}}
        if hold:
            query["available"] = {"$gte": hold}
            update["$inc"] = {"available": -hold, "reserved": hold}
            entry = _entry(
                user, f"reserve:{run_id}", LedgerKind.RESERVE, now, -hold, hold, run_id=run_id
            )
            update["$push"].update(holds={"run": run_id, "amount": hold, "at": now}, journal=entry)
            update["$set"] = {"last_entry_at": now}
        for _ in range(ADMIT_TRIES):
            if (await self._accounts.update_one(query, update)).matched_count:
                return None
            account = await self._accounts.find_one({"_id": user}, {"available": 1, "active": 1})
            if account is None:
                raise LookupError(f"no account for {user}; open it first")
            if len(account.get("active", [])) >= max_active:
                return Refusal.QUEUE_FULL
            if hold and account.get("available", 0) < hold:
                return Refusal.NO_CREDITS
        return Refusal.QUEUE_FULL  # the account kept changing under us: busy, like a full queue

    async def release(self, user: str, run_id: str, now: datetime) -> bool:
        account = await self._accounts.find_one({"_id": user, "active.run": run_id}, {"holds": 1})
        if account is None:
            return False
        held = sum(h["amount"] for h in account.get("holds", []) if h["run"] == run_id)
        update = self._ending(run_id, now)
        if held:
            update["$inc"] = {"available": held, "reserved": -held}
            entry = _entry(
                user, f"release:{run_id}", LedgerKind.RELEASE, now, held, -held, run_id=run_id
            )
            update["$push"] = {"journal": entry}
            update["$set"]["last_entry_at"] = now
        result = await self._accounts.update_one({"_id": user, "active.run": run_id}, update)
        return result.modified_count == 1

    async def take_slot(self, user: str, run_id: str, max_running: int, now: datetime) -> bool:
        result = await self._accounts.update_one(
            {
                "_id": user,
                f"running.{max_running - 1}": {"$exists": False},
                "running.run": {"$ne": run_id},
            },
            {"$push": {"running": {"run": run_id, "at": now}}},
        )
        return result.modified_count == 1

    async def give_slot(
        self, user: str, run_id: str, taken_before: datetime | None = None
    ) -> None:
        slot: Document = {"run": run_id}
        if taken_before is not None:
            slot["at"] = {"$lt": taken_before}
        await self._accounts.update_one({"_id": user}, {"$pull": {"running": slot}})

    async def finish(self, user: str, run_id: str, held: int, charge: int, now: datetime) -> bool:
        update = self._ending(run_id, now)
        if held or charge:
            update["$inc"] = {"available": held - charge, "reserved": -held}
            entry = _entry(
                user,
                f"settle:{run_id}",
                LedgerKind.SETTLE,
                now,
                held - charge,
                -held,
                run_id=run_id,
            )
            update["$push"] = {"journal": entry}
            update["$set"]["last_entry_at"] = now
        result = await self._accounts.update_one({"_id": user, "active.run": run_id}, update)
        if result.modified_count:
            return True
        # Never admitted (recorded before accounts existed): only a slot to free, if any.
        await self.give_slot(user, run_id)
        return False

    @staticmethod
    def _ending(run_id: str, now: datetime) -> Document:
        gone = {"run": run_id}
        return {
            "$pull": {"active": gone, "running": gone, "holds": gone},
            "$set": {"updated_at": now},
        }

    async def credit(
        self,
        user: str,
        key: str,
        kind: LedgerKind,
        amount: int,
        now: datetime,
        *,
        payment_id: str | None = None,
        by: str | None = None,
    ) -> bool:
        entry = _entry(user, key, kind, now, amount, payment_id=payment_id, by=by)
        result = await self._accounts.update_one(
            {"_id": user, "applied": {"$ne": key}},
            {
                "$inc": {"available": amount},
                "$push": {"applied": key, "journal": entry},
                "$set": {"last_entry_at": now},
            },
        )
        return result.modified_count == 1

    async def take_back(
        self, user: str, key: str, kind: LedgerKind, amount: int, now: datetime, payment_id: str
    ) -> tuple[int, int] | None:
        while True:
            account = await self._accounts.find_one({"_id": user}, {"available": 1, "applied": 1})
            if account is None:
                raise LookupError(f"no account for {user}; open it first")
            if key in account.get("applied", []):
                return None
            available = int(account.get("available", 0))
            taken = min(amount, max(0, available))
            entry = _entry(
                user,
                key,
                kind,
                now,
                -taken,
                payment_id=payment_id,
                shortfall=amount - taken,
            )
            result = await self._accounts.update_one(
                {"_id": user, "available": available, "applied": {"$ne": key}},
                {
                    "$inc": {"available": -taken},
                    "$push": {"applied": key, "journal": entry},
                    "$set": {"last_entry_at": now},
                },
            )
            if result.modified_count:
                return taken, amount - taken

    async def expire_idle(self, idle_since: datetime, now: datetime, limit: int) -> int:
        """Empty up to `limit` accounts whose latest ledger entry is older than `idle_since` and
        that hold nothing for a run: one `expiry` entry each, keyed by the user and the time of
        that latest entry, so one idle stretch expires once however often this runs. Accounts
        made before `last_entry_at` existed get it now: their idle time starts here."""
        await self._accounts.update_many(
            {"last_entry_at": {"$exists": False}}, {"$set": {"last_entry_at": now}}
        )
        idle: Document = {
            "last_entry_at": {"$lt": idle_since},
            "available": {"$gt": 0},
            "reserved": 0,
            "active.0": {"$exists": False},
        }
        cursor = self._accounts.find(idle, {"available": 1, "last_entry_at": 1}).limit(limit)
        expired = 0
        for doc in await read_all(cursor):
            user, amount, last = str(doc["_id"]), int(doc["available"]), doc["last_entry_at"]
            key = f"expiry:{user}:{last.isoformat()}"
            entry = _entry(user, key, LedgerKind.EXPIRY, now, -amount)
            # Unchanged since it was read (no entry, no hold, the same balance), or left alone.
            unchanged = {**idle, "_id": user, "last_entry_at": last, "available": amount}
            result = await self._accounts.update_one(
                {**unchanged, "applied": {"$ne": key}},
                {
                    "$inc": {"available": -amount},
                    "$push": {"applied": key, "journal": entry},
                    "$set": {"last_entry_at": now},
                },
            )
            expired += result.modified_count
        return expired

    async def balance(self, user: str) -> Balance:
        account = await self._accounts.find_one(
            {"_id": user}, {"available": 1, "reserved": 1, "active": 1, "running": 1}
        )
        if account is None:
            return Balance(user=user)
        return Balance(
            user=user,
            available=int(account.get("available", 0)),
            reserved=int(account.get("reserved", 0)),
            active=len(account.get("active", [])),
            running=len(account.get("running", [])),
        )

    async def statement(self, user: str, limit: int) -> list[LedgerEntry]:
        account = await self._accounts.find_one({"_id": user}, {"journal": 1})
        pending = list(account.get("journal", [])) if account else []
        cursor = self._ledger.find({"user": user}).sort([("at", -1)]).limit(limit)
        copied = [doc for doc in await read_all(cursor)]
        # Oldest first, so entries of the same instant keep the order they were made in.
        entries = {doc.get("key", doc.get("_id")): doc for doc in [*reversed(copied), *pending]}
        ordered = sorted(enumerate(entries.values()), key=lambda p: (p[1]["at"], p[0]))
        return [_to_entry(doc) for _, doc in reversed(ordered[-limit:])]

    async def running_counts(self, users: Many[str]) -> dict[str, int]:
        cursor = self._accounts.find({"_id": {"$in": list(users)}}, {"running": 1})
        return {str(doc["_id"]): len(doc.get("running", [])) for doc in await read_all(cursor)}

    async def running_total(self) -> int:
        pipeline: list[Document] = [
            {"$match": {"running.0": {"$exists": True}}},
            {"$group": {"_id": None, "n": {"$sum": {"$size": "$running"}}}},
        ]
        rows = await read_all(await self._accounts.aggregate(pipeline))
        return int(rows[0]["n"]) if rows else 0

    async def admitted_before(self, before: datetime, limit: int) -> list[tuple[str, str]]:
        cursor = self._accounts.find({"active.at": {"$lt": before}}, {"active": 1}).limit(limit)
        found = []
        for doc in await read_all(cursor):
            found += [(str(doc["_id"]), a["run"]) for a in doc["active"] if a["at"] < before]
        return found[:limit]

    async def slots_before(self, before: datetime, limit: int) -> list[tuple[str, str]]:
        cursor = self._accounts.find({"running.at": {"$lt": before}}, {"running": 1}).limit(limit)
        found = []
        for doc in await read_all(cursor):
            found += [(str(doc["_id"]), s["run"]) for s in doc["running"] if s["at"] < before]
        return found[:limit]

    async def flush_ledger(self, limit: int) -> int:
        """Copy the journals of up to `limit` accounts to the ledger: one insert of every entry
        (an entry copied before is kept, by its key), then one bulk write taking the copied
        entries off each account. Three commands, however many accounts: the job no longer
        stalls the database with two round trips per account."""
        unflushed = {"journal.at": {"$type": "date"}}
        accounts = await read_all(self._accounts.find(unflushed, {"journal": 1}).limit(limit))
        docs = [
            {"_id": e["key"], **{k: v for k, v in e.items() if k != "key"}}
            for account in accounts
            for e in account["journal"]
        ]
        if not docs:
            return 0
        try:
            await self._ledger.insert_many(docs, ordered=False)
        except BulkWriteError as error:
            others = [e for e in error.details["writeErrors"] if e["code"] != DUPLICATE_KEY]
            if others:
                raise
        pulls = [
            UpdateOne(
                {"_id": account["_id"]},
                {"$pull": {"journal": {"key": {"$in": [e["key"] for e in account["journal"]]}}}},
            )
            for account in accounts
        ]
        await self._accounts.bulk_write(pulls, ordered=False)
        return len(docs)
