"""discord.py's errors turned into core's SendFailed, so delivery retries the right way.

Codes: https://discord.com/developers/docs/topics/opcodes-and-status-codes#json. Rate limits:
https://discord.com/developers/docs/topics/rate-limits — discord.py waits out a 429 itself (the
body's `retry_after`) unless it is longer than the client's `max_ratelimit_timeout`; then it
raises `RateLimited` at once and delivery comes back later instead of holding a slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from adapters.discord.library import discord
from core.errors import SendFailed

INVALID_WEBHOOK_TOKEN = 50027
"""The interaction token expired (15 minutes) or is unknown."""
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
MISSING_ACCESS = 50001
CANNOT_MESSAGE_USER = 50007
"""The user blocked the bot or closed their DMs."""
TOO_LARGE = 40005
"""Request entity too large: a file over the upload limit."""
DEFAULT_RETRY_S = 5.0


def token_expired(error: BaseException) -> bool:
    return isinstance(error, discord.HTTPException) and (
        error.code == INVALID_WEBHOOK_TOKEN or error.status == 401
    )


def too_large(error: BaseException) -> bool:
    return isinstance(error, discord.HTTPException) and (
        error.status == 413 or error.code == TOO_LARGE
    )


def _retry_after(error: discord.HTTPException) -> float:
    header = error.response.headers.get("Retry-After") if error.response is not None else None
    try:
        return float(header) if header else DEFAULT_RETRY_S
    except ValueError:
        return DEFAULT_RETRY_S


@asynccontextmanager
async def sending(what: str, timeout_s: float) -> AsyncIterator[None]:
    """Run a Discord call within `timeout_s`; raise SendFailed for whatever goes wrong:
    `retry_after` for rate limits, `permanent` when the same request cannot succeed (channel
    gone, no access, DMs closed, a bad request), `maybe_sent` when it may have gone through
    (a timeout or a dropped connection after the request left, a 5xx)."""
    try:
        async with asyncio.timeout(timeout_s):
            yield
    except discord.RateLimited as error:
        raise SendFailed(
            f"{what}: rate limited for {error.retry_after:g}s", retry_after=error.retry_after
        ) from error
    except discord.DiscordServerError as error:
        raise SendFailed(f"{what}: Discord error {error.status}", maybe_sent=True) from error
    except discord.HTTPException as error:
        if error.status == 429:
            seconds = _retry_after(error)
            raise SendFailed(f"{what}: rate limited", retry_after=seconds) from error
        raise SendFailed(
            f"{what}: {error.status} {error.code} {error.text}", permanent=True
        ) from error
    except (aiohttp.ClientConnectorError, ConnectionRefusedError) as error:
        raise SendFailed(f"{what}: cannot reach Discord", platform_down=True) from error
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        raise SendFailed(f"{what}: no answer ({type(error).__name__})", maybe_sent=True) from error
    except RuntimeError as error:
        if "Session is closed" not in str(error):  # aiohttp, once the client has stopped
            raise
        raise SendFailed(f"{what}: the Discord client is closed", platform_down=True) from error
