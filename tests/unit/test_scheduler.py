"""The scheduler's stop: a job under way finishes within the grace (APScheduler alone would
cancel it at shutdown), one that outlasts the grace is cut short with a warning, not an error
with a traceback, and no job starts after the stop began."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.scheduler import Job, Scheduler


async def test_a_job_under_way_finishes_within_the_grace(caplog: pytest.LogCaptureFixture) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []
    runs = 0

    async def sweep() -> None:
        nonlocal runs
        runs += 1
        started.set()
        await release.wait()
        finished.append("sweep")

    scheduler = Scheduler([Job("sweep", 0.01, sweep)])
    scheduler.start()
    await asyncio.wait_for(started.wait(), 10)
    stopping = asyncio.create_task(scheduler.stop(grace_s=30))
    await asyncio.sleep(0)  # the stop has begun: no new run from here on
    release.set()
    await asyncio.wait_for(stopping, 10)
    assert finished == ["sweep"] and runs == 1
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_job_past_the_grace_is_cut_short_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = asyncio.Event()

    async def stuck() -> None:
        started.set()
        await asyncio.Event().wait()

    scheduler = Scheduler([Job("stuck", 0.01, stuck)])
    scheduler.start()
    await asyncio.wait_for(started.wait(), 10)
    await asyncio.wait_for(scheduler.stop(grace_s=0), 10)
    loud = [(r.levelno, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [(logging.WARNING, "scheduled job 'stuck' was cut short by the stop")]
