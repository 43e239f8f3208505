"""Reading a cursor to its end in a task of its own, so that a caller's timeout or cancellation
ends the caller's wait at once, whatever the driver does on its way out.

PyMongo's async cursor (4.20) answers a cancellation that lands while it waits for a `getMore`
by closing itself first (https://pymongo.readthedocs.io/en/stable/api/pymongo/asynchronous/cursor.html,
`close`): it sends `killCursors` and awaits the answer, then re-raises. Against a
database that stopped answering, `asyncio.timeout(1.5)` around such a read ended after
9-13.5 s (when the driver's monitor gave the server up) or after `socketTimeoutMS`
(bench/cancel_bench.py); the client's `timeoutMS` does not bound that cleanup either. A single
command (`find_one`, `update_one`, a cursor's first batch) ends at the caller's bound: it has
no server cursor to close.

Here the read runs in a task; the caller awaits it through `asyncio.shield`
(https://docs.python.org/3/library/asyncio-task.html#shielding-from-cancellation), so a
cancelled caller is released at once, and the read is cancelled in turn and lets its cursor go
in the background, within the client's own socket timeout.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)

D = TypeVar("D")

_closing: set[asyncio.Task[object]] = set()
"""Reads whose callers left: kept until their cursor is closed."""


class Listable(Protocol[D]):
    async def to_list(self, length: int | None = None) -> list[D]: ...


async def read_all(cursor: Listable[D]) -> list[D]:
    """Every document of `cursor` (already limited by its query)."""
    task: asyncio.Task[list[D]] = asyncio.create_task(cursor.to_list())
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.cancel()
        _closing.add(task)
        task.add_done_callback(_closed)
        raise


def _closed(task: asyncio.Task[object]) -> None:
    _closing.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.debug("a cursor left by its caller ended with %r", task.exception())
