"""`RunStore.usage_breakdown` in one aggregate round trip (stages as in
https://www.mongodb.com/docs/manual/core/aggregation-pipeline/): a `$facet` groups the window's
runs by workflow, by user and by UTC day at once.

Workflows and users are numbered by spend (`$setWindowFields` with `$documentNumber`) and
grouped again with every one past the first `top` under a null key: the fold happens in the
database, so only `top + 1` rows come back however many users there are (and the one `$facet`
document stays far below its 16 MB limit). Days are cut at UTC midnight by `$dateTrunc`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.mongo.database import Document
from adapters.mongo.run_updates import BILLED_SECONDS
from core.models import (
    TERMINAL_RANK,
    DayUsage,
    RunStatus,
    UsageBreakdown,
    UsageRow,
    UsageTable,
    UsageTotals,
)

_SUMS: Document = {
    "runs": {"$sum": "$runs"},
    "successes": {"$sum": "$successes"},
    "finished": {"$sum": "$finished"},
    "gpu_seconds": {"$sum": "$gpu_seconds"},
    "spend_usd": {"$sum": "$spend_usd"},
}
"""Sums of the per-run values `usage_pipeline` sets (and of those sums, when regrouping)."""
_ORDER: Document = {"spend_usd": -1, "runs": -1, "_id": 1}
_USER_KEY: Document = {"$concat": ["$chat.platform", ":", "$chat.user_id"]}
_NAMED: Document = {
    "$cond": [
        {"$gt": ["$chat.user_name", ""]},
        {"at": "$created_at", "name": "$chat.user_name"},
        None,
    ]
}
"""The latest stored name wins: `$max` compares these by `at` first and skips the nulls."""


def usage_pipeline(since: datetime, top: int) -> list[Document]:
    per_run = {
        "runs": {"$literal": 1},
        "successes": {"$cond": [{"$eq": ["$status", RunStatus.SUCCESS.value]}, 1, 0]},
        "finished": {"$cond": [{"$gte": ["$status_rank", TERMINAL_RANK]}, 1, 0]},
        "gpu_seconds": BILLED_SECONDS,
        "spend_usd": {"$ifNull": ["$cost_usd", 0]},
    }
    day = {"$dateTrunc": {"date": "$created_at", "unit": "day", "timezone": "UTC"}}
    return [
        {"$match": {"created_at": {"$gte": since}}},
        {"$set": per_run},
        {
            "$facet": {
                "workflows": _ranked("$workflow", top),
                "users": _ranked(_USER_KEY, top, {"named": {"$max": _NAMED}}),
                "days": [{"$group": {"_id": day, **_SUMS}}, {"$sort": {"_id": 1}}],
            }
        },
    ]


def _ranked(key: Document | str, top: int, extra: Document | None = None) -> list[Document]:
    more = extra or {}
    regroup = {name: {"$max": f"${name}"} for name in more}
    return [
        {"$group": {"_id": key, **_SUMS, **more}},
        {"$setWindowFields": {"sortBy": _ORDER, "output": {"rank": {"$documentNumber": {}}}}},
        {
            "$group": {
                "_id": {"$cond": [{"$lte": ["$rank", top]}, "$_id", None]},
                **_SUMS,
                **regroup,
                "keys": {"$sum": 1},
            }
        },
        {"$sort": _ORDER},
    ]


def breakdown_from(since: datetime, facets: Document) -> UsageBreakdown:
    days = tuple(DayUsage(day=row["_id"].date(), **_usage(row)) for row in facets["days"])
    return UsageBreakdown(
        since=since,
        workflows=_table(facets["workflows"]),
        users=_table(facets["users"]),
        days=days,
    )


def _table(rows: list[Document]) -> UsageTable:
    top = [row for row in rows if row["_id"] is not None]
    rest = [row for row in rows if row["_id"] is None]
    return UsageTable(
        rows=tuple(UsageRow(key=str(row["_id"]), name=_name(row), **_usage(row)) for row in top),
        others=UsageTotals(**_usage(rest[0])) if rest else None,
        others_count=int(rest[0]["keys"]) if rest else 0,
    )


def _name(row: Document) -> str:
    named = row.get("named")
    return str(named["name"]) if isinstance(named, dict) else ""


def _usage(row: Document) -> dict[str, Any]:
    return {
        "runs": int(row["runs"]),
        "successes": int(row["successes"]),
        "finished": int(row["finished"]),
        "gpu_seconds": round(float(row["gpu_seconds"]), 3),
        "spend_usd": round(float(row["spend_usd"]), 6),
    }
