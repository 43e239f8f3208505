"""`CatalogStore` on MongoDB: one document per backend with what it offered last."""

from __future__ import annotations

from pydantic import ValidationError

from adapters.mongo.cursor_reads import read_all
from adapters.mongo.database import CATALOG, Collection, Database
from core.workflow import Discovery

_KIND = "backend"


class MongoCatalogStore:
    def __init__(self, db: Database) -> None:
        self._snapshots: Collection = db[CATALOG]

    async def load_snapshots(self) -> dict[str, Discovery]:
        """Snapshots by backend; one that no longer fits the model (an older version's) is
        skipped: the next discovery replaces it."""
        found: dict[str, Discovery] = {}
        for doc in await read_all(self._snapshots.find({"kind": _KIND})):
            try:
                found[doc["backend"]] = Discovery.model_validate(doc["discovery"])
            except (KeyError, ValidationError):
                continue
        return found

    async def save_snapshot(self, backend: str, discovery: Discovery) -> None:
        await self._snapshots.replace_one(
            {"_id": f"{_KIND}:{backend}"},
            {"kind": _KIND, "backend": backend, "discovery": discovery.model_dump(mode="json")},
            upsert=True,
        )
