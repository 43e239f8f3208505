"""Waiting for a condition that other tasks (and the database) make true: checked again and
again, never longer than `within` seconds. Not a sleep for timing: it returns as soon as the
condition holds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 10.0, every: float = 0.005
) -> None:
    """`every`: how long to leave the system alone between checks (a check that queries a
    busy database is itself load)."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - the state is in the database, no event
            await asyncio.sleep(every)
