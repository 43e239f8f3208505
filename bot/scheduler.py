"""Recurring engine work on APScheduler: polls, timeouts, owed deliveries, catalog and prices."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.container import Container

log = logging.getLogger(__name__)


class EngineScheduler:
    def __init__(self, container: Container, settings: Settings) -> None:
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        poll_every = min(settings.poll_interval_seconds, settings.poll_after_seconds, 5.0)
        self._every(poll_every, "poll quiet runs", container.watch.poll_due)
        self._every(30, "time out overdue runs", container.watch.expire_overdue)
        self._every(10, "deliver owed results", container.delivery.deliver_due)
        self._every(settings.catalog_refresh_seconds, "refresh catalog", container.catalog.refresh)
        self._every(3600, "refresh GPU prices", container.costs.refresh)

    def _every(self, seconds: float, name: str, job: Callable[[], Awaitable[Any]]) -> None:
        async def run() -> None:
            try:
                await job()
            except Exception:
                log.exception("scheduled job '%s' failed", name)

        self._scheduler.add_job(
            run, "interval", seconds=seconds, name=name, max_instances=1, coalesce=True
        )

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        self._scheduler.shutdown(wait=False)
