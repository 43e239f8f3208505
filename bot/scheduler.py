"""Recurring work on APScheduler, given as a plain list of jobs (name, period, coroutine).

At a stop, jobs under way may finish within a grace period. APScheduler 3's asyncio executor
cancels every running job when the scheduler shuts down, whatever `wait` says
(https://github.com/agronholm/apscheduler/blob/3.x/apscheduler/executors/asyncio.py, `shutdown`),
so the scheduler is paused first (no new runs; https://apscheduler.readthedocs.io/en/3.x/modules/schedulers/base.html#apscheduler.schedulers.base.BaseScheduler.pause)
and shut down once they are done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every_s: float
    run: Callable[[], Awaitable[Any]]


class Scheduler:
    def __init__(self, jobs: Sequence[Job]) -> None:
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = False
        for job in jobs:
            self._add(job)

    def _add(self, job: Job) -> None:
        async def run() -> None:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await job.run()
            except Exception:
                log.exception("scheduled job '%s' failed", job.name)
            except asyncio.CancelledError:
                if not self._stopping:
                    raise
                log.warning("scheduled job '%s' was cut short by the stop", job.name)
            finally:
                if task is not None:
                    self._running.discard(task)

        self._scheduler.add_job(
            run, "interval", seconds=job.every_s, name=job.name, max_instances=1, coalesce=True
        )

    def start(self) -> None:
        self._scheduler.start()

    async def stop(self, grace_s: float | None = None) -> None:
        """No new runs; the running ones may finish within `grace_s` (None: however long)."""
        self._stopping = True
        self._scheduler.pause()
        running = list(self._running)
        if running:
            _, late = await asyncio.wait(running, timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self._scheduler.shutdown(wait=False)
