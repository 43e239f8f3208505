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
    busy database is itself load).

    The deadline is also checked between checks: a cancellation that reaches a check in the
    middle of a database call may not come out of it at once (the fault soak once waited 32 s
    in a 1.5 s `eventually`: PyMongo closes a cursor cut off mid-read by awaiting its
    `killCursors` first; the stores' reads no longer wait for it, adapters/mongo/cursor_reads.py,
    but a check may read the database by other means)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    async with asyncio.timeout(within):
        while not await check():  # the state is in the database: no event to wait on
            if loop.time() >= deadline:
                raise TimeoutError(f"not within {within} s")
            await asyncio.sleep(every)
