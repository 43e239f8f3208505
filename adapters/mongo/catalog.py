"""`CatalogStore` on MongoDB: the last discovered catalog as one document."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.mongo.database import CATALOG, Collection, Database
from core.models import Deployment, Workflow

_SNAPSHOT_ID = "current"


class MongoCatalogStore:
    def __init__(self, db: Database) -> None:
        self._snapshots: Collection = db[CATALOG]

    async def load_snapshot(self) -> tuple[list[Workflow], list[Deployment]] | None:
        doc = await self._snapshots.find_one({"_id": _SNAPSHOT_ID})
        if doc is None:
            return None
        workflows = [Workflow.model_validate(w) for w in doc["workflows"]]
        deployments = [Deployment.model_validate(d) for d in doc["deployments"]]
        return workflows, deployments

    async def save_snapshot(
        self, workflows: Sequence[Workflow], deployments: Sequence[Deployment]
    ) -> None:
        await self._snapshots.replace_one(
            {"_id": _SNAPSHOT_ID},
            {
                "workflows": [w.model_dump(mode="json") for w in workflows],
                "deployments": [d.model_dump(mode="json") for d in deployments],
            },
            upsert=True,
        )
