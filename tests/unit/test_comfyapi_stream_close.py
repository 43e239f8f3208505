"""Closing a Comfy API backend's streams ends each one, even a stream whose first cancel was
swallowed by the call it landed in (a database call cut off mid-read, under load): the e2e
catalog test once held its shutdown up for 120 s on such a stream, still reading keep-alives."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import cast

import aiohttp

from adapters.comfyapi.streams import Opener, RunStreams
from core.ingress import WebhookIngress
from core.models import RunEvent


def swallowing_first_cancel(opening: asyncio.Event) -> Opener:
    """Streams opened by a call that swallows one cancel, then waits on."""

    @contextlib.asynccontextmanager
    async def open_stream(job_id: str) -> AsyncIterator[aiohttp.ClientResponse]:
        loop = asyncio.get_running_loop()
        opening.set()
        with contextlib.suppress(asyncio.CancelledError):  # swallowed: the task goes on
            await loop.create_future()
        await loop.create_future()
        yield cast(aiohttp.ClientResponse, None)

    return open_stream


async def never_read(job_id: str) -> RunEvent:
    raise AssertionError("a closed stream reads no job")


async def test_close_ends_a_stream_whose_first_cancel_was_swallowed() -> None:
    opening = asyncio.Event()
    streams = RunStreams(swallowing_first_cancel(opening), never_read, "comfyapi")
    streams.attach(cast(WebhookIngress, object()))
    assert streams.follow("run1", "job1")
    await opening.wait()
    async with asyncio.timeout(5):
        await streams.close()
    assert streams.followed["job1"].done
