"""`RunStore.usage_breakdown`: runs, successes, billed GPU seconds and spend of the last days, by
workflow, by user and by UTC day, the biggest spenders first and the rest folded, for /stats."""

from __future__ import annotations

from datetime import date, datetime

from core.models import DayUsage, RunStatus, UsageBreakdown, UsageRow, UsageTable, UsageTotals
from core.ports import RunStore
from tests.contract.runs_data import NOW, SECOND, ended_run

SINCE = datetime(2025, 12, 26, tzinfo=NOW.tzinfo)
MIDNIGHT = datetime(2026, 1, 1, tzinfo=NOW.tzinfo)
MS = SECOND / 1000

RUNS = [
    ended_run("flux", "1", NOW.replace(hour=10), 100, 0.10, user_name="Anna"),
    ended_run("flux", "1", MIDNIGHT, 50, 0.05, user_name="Ann"),
    ended_run("flux", "2", MIDNIGHT - MS, 10, 0.01, RunStatus.FAILED),
    ended_run("sdxl", "2", MIDNIGHT - 12 * 3600 * SECOND, 200, 0.20, user_name="Bo"),
    ended_run("sdxl", "3", NOW.replace(hour=11), None, None, RunStatus.RUNNING),
    ended_run("upscale", "3", datetime(2025, 12, 28, 8, tzinfo=NOW.tzinfo), 30, 0.03),
    # Billed from its start when the backend never said it was queued.
    ended_run(
        "video",
        "4",
        SINCE,
        None,
        0.06,
        RunStatus.TIMEOUT,
        started_at=SINCE + 5 * SECOND,
        ended_at=SINCE + 65 * SECOND,
    ),
    ended_run("flux", "1", SINCE - MS, 5000, 5.0),  # before the window
]


async def stored(run_store: RunStore) -> None:
    for run in RUNS:
        assert await run_store.insert(run)


async def test_usage_by_workflow_user_and_day_with_the_rest_folded(run_store: RunStore) -> None:
    await stored(run_store)
    usage = await run_store.usage_breakdown(SINCE, top=2)
    assert usage == UsageBreakdown(
        since=SINCE,
        workflows=UsageTable(
            rows=(
                UsageRow(
                    key="sdxl", runs=2, successes=1, finished=1, gpu_seconds=200, spend_usd=0.2
                ),
                UsageRow(
                    key="flux", runs=3, successes=2, finished=3, gpu_seconds=160, spend_usd=0.16
                ),
            ),
            others=UsageTotals(runs=2, successes=1, finished=2, gpu_seconds=90, spend_usd=0.09),
            others_count=2,
        ),
        users=UsageTable(
            rows=(
                UsageRow(
                    key="telegram:2",
                    name="Bo",
                    runs=2,
                    successes=1,
                    finished=2,
                    gpu_seconds=210,
                    spend_usd=0.21,
                ),
                UsageRow(
                    key="telegram:1",
                    name="Anna",
                    runs=2,
                    successes=2,
                    finished=2,
                    gpu_seconds=150,
                    spend_usd=0.15,
                ),
            ),
            others=UsageTotals(runs=3, successes=1, finished=2, gpu_seconds=90, spend_usd=0.09),
            others_count=2,
        ),
        days=(
            DayUsage(day=date(2025, 12, 26), runs=1, finished=1, gpu_seconds=60, spend_usd=0.06),
            DayUsage(
                day=date(2025, 12, 28),
                runs=1,
                successes=1,
                finished=1,
                gpu_seconds=30,
                spend_usd=0.03,
            ),
            DayUsage(
                day=date(2025, 12, 31),
                runs=2,
                successes=1,
                finished=2,
                gpu_seconds=210,
                spend_usd=0.21,
            ),
            DayUsage(
                day=date(2026, 1, 1),
                runs=3,
                successes=2,
                finished=2,
                gpu_seconds=150,
                spend_usd=0.15,
            ),
        ),
    )
    assert [row.success_percent for row in usage.users.rows] == [50, 100]


async def test_nothing_is_folded_when_all_fit(run_store: RunStore) -> None:
    await stored(run_store)
    usage = await run_store.usage_breakdown(SINCE, top=4)
    assert [row.key for row in usage.workflows.rows] == ["sdxl", "flux", "video", "upscale"]
    assert (usage.workflows.others, usage.workflows.others_count) == (None, 0)
    assert [row.key for row in usage.users.rows] == [
        "telegram:2",
        "telegram:1",
        "telegram:4",
        "telegram:3",
    ]
    assert usage.users.rows[-1].name == ""  # never stored a name


async def test_no_runs_no_usage(run_store: RunStore) -> None:
    assert await run_store.usage_breakdown(SINCE, top=5) == UsageBreakdown(since=SINCE)
