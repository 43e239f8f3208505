"""Recurring work on APScheduler, given as a plain list of jobs (name, period, coroutine)."""

from __future__ import annotations

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
        for job in jobs:
            self._add(job)

    def _add(self, job: Job) -> None:
        async def run() -> None:
            try:
                await job.run()
            except Exception:
                log.exception("scheduled job '%s' failed", job.name)

        self._scheduler.add_job(
            run, "interval", seconds=job.every_s, name=job.name, max_instances=1, coalesce=True
        )

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        self._scheduler.shutdown(wait=False)
