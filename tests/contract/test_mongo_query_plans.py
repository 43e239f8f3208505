"""The lookups on the hot path of every command are planned on an index, not a collection scan,
on the embedded server as on MongoDB (its `explain` shows the winning plan)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from adapters.mongo.database import RUNS, Database
from adapters.mongo.runs import MongoRunStore
from core.models import RunStatus
from tests.contract.runs_data import NOW, make_run


def stages(plan: dict[str, Any]) -> list[str]:
    found = [str(plan.get("stage"))]
    for child in ("inputStage", "inputStages"):
        inner = plan.get(child)
        for stage in inner if isinstance(inner, list) else [inner] if inner else []:
            found += stages(stage)
    return found


async def test_a_run_is_found_by_its_origin_through_an_index(mongo_db: Database) -> None:
    store = MongoRunStore(mongo_db)
    for n in range(20):
        await store.insert(make_run(id=f"run{n:09d}", origin=f"api:{n}" if n % 2 else None))
    assert (await store.by_origin("api:7")) is not None
    explained = await mongo_db[RUNS].find({"origin": "api:7"}).explain()
    plan = stages(explained["queryPlanner"]["winningPlan"])
    assert "COLLSCAN" not in plan and "IXSCAN" in plan, plan


async def test_the_queue_is_read_through_its_index(mongo_db: Database) -> None:
    store = MongoRunStore(mongo_db)
    for n in range(20):
        status = RunStatus.PENDING if n % 3 == 0 else RunStatus.SUCCESS
        at = NOW + timedelta(seconds=20 - n)  # the newest inserted first
        await store.insert(make_run(id=f"run{n:09d}", status=status, created_at=at))
    waiting = await store.waiting(limit=5)
    assert [r.id for r in waiting] == [f"run{n:09d}" for n in (18, 15, 12, 9, 6)]
    query = {"status": RunStatus.PENDING.value, "submit_started_at": None}
    explained = await mongo_db[RUNS].find(query).sort("created_at", 1).hint("waiting").explain()
    plan = stages(explained["queryPlanner"]["winningPlan"])
    assert "COLLSCAN" not in plan and "IXSCAN" in plan, plan
