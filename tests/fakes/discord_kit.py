"""discord.py on the fake Discord: where to point it, and a client running for a test.

discord.py 2.7 has no setting for the API base or the gateway URL: `Route.BASE` (read when a
Route is built, by the bot's HTTP client and by its interaction webhooks alike) and
`DiscordWebSocket.DEFAULT_GATEWAY` (the non-sharded client's first connection) are class
attributes. `pointed_at` sets both for the duration of a test and puts them back.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

import yarl

with warnings.catch_warnings():
    # discord.py imports the standard library's audioop (voice), deprecated in Python 3.11+.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

from tests.fakes.discord_api import FakeDiscord

__all__ = ["GUILD_READY_TIMEOUT", "discord", "make_client", "pointed_at", "running"]

ClientT = TypeVar("ClientT", bound=discord.Client)

GUILD_READY_TIMEOUT = 0.05
"""discord.py waits this long after the last GUILD_CREATE before `on_ready` (default 2 s)."""


@contextlib.contextmanager
def pointed_at(fake: FakeDiscord) -> Iterator[None]:
    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = fake.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway


def make_client(**options: object) -> discord.Client:
    """A plain client with default intents and a short guild-ready wait."""
    options.setdefault("intents", discord.Intents.default())
    options.setdefault("guild_ready_timeout", GUILD_READY_TIMEOUT)
    return discord.Client(**options)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running(client: ClientT, fake: FakeDiscord) -> AsyncIterator[ClientT]:
    """Log in, connect and wait for READY; always close the client and its task."""
    with pointed_at(fake):
        await client.login(fake.token)
        task = asyncio.get_running_loop().create_task(client.connect(reconnect=True))
        try:
            ready = asyncio.get_running_loop().create_task(client.wait_until_ready())
            done, _ = await asyncio.wait(
                {task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED
            )
            if ready not in done:
                ready.cancel()
                if task in done:
                    task.result()
                raise TimeoutError("the client did not become ready")
            yield client
        finally:
            await client.close()
            with contextlib.suppress(asyncio.CancelledError):
                async with asyncio.timeout(5):
                    await task
