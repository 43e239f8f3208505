"""`PaymentStore` on MongoDB: one document per payment, keyed by `<platform>:<charge id>`."""

from __future__ import annotations

import contextlib
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from adapters.mongo.database import PAYMENTS, Collection, Database, Document
from core.payments import Payment, PaymentState


class MongoPaymentStore:
    def __init__(self, db: Database) -> None:
        self._payments: Collection = db[PAYMENTS]

    async def record(self, payment: Payment) -> None:
        doc = payment.model_dump(mode="python", exclude={"id"})
        with contextlib.suppress(DuplicateKeyError):  # the same payment reported twice at once
            await self._payments.update_one(
                {"_id": payment.id}, {"$setOnInsert": doc}, upsert=True
            )

    async def find(self, charge_id: str) -> Payment | None:
        doc = await self._payments.find_one(
            {"$or": [{"_id": charge_id}, {"charge_id": charge_id}]}
        )
        return None if doc is None else _payment(doc)

    async def mark_refunded(self, payment_id: str, now: datetime) -> bool:
        result = await self._payments.update_one(
            {"_id": payment_id, "state": PaymentState.CREDITED.value},
            {"$set": {"state": PaymentState.REFUNDED.value, "refunded_at": now}},
        )
        return result.modified_count == 1


def _payment(doc: Document) -> Payment:
    """The document as a Payment: its `_id` is the id; what else it keeps (`refunded_at`) is
    the store's own."""
    fields = {name: value for name, value in doc.items() if name in Payment.model_fields}
    return Payment.model_validate({**fields, "id": doc["_id"]})
