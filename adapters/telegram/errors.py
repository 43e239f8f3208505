"""python-telegram-bot's errors turned into core's SendFailed, so delivery retries correctly."""

from __future__ import annotations

import os
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from core.errors import SendFailed


def use_timedelta_durations() -> None:
    """Opt into PTB's announced behaviour (durations as timedelta, e.g. RetryAfter.retry_after).
    Without it PTB 22 warns on every 429, inside its own request code. PTB reads only this
    environment variable for the switch."""
    os.environ.setdefault("PTB_TIMEDELTA", "true")


def retry_seconds(error: RetryAfter) -> float:
    """Seconds Telegram asked us to wait (PTB 22 returns int or timedelta, with a warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def is_not_modified(error: BadRequest) -> bool:
    return "not modified" in error.message.lower()


def is_message_gone(error: BadRequest) -> bool:
    text = error.message.lower()
    return "message to edit not found" in text or "message can't be edited" in text


_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures before the request left this machine: the message surely did not go out."""


def maybe_sent(error: TelegramError) -> bool:
    """Whether Telegram may have taken the message although we got no answer (a timeout or a
    dropped connection after the upload). PTB keeps the HTTP client's error as the cause; an
    error answer (5xx) has none: Telegram answered, and did not take it."""
    cause = error.__cause__
    return isinstance(cause, httpx.HTTPError) and not isinstance(cause, _NEVER_SENT)


@asynccontextmanager
async def sending(what: str) -> AsyncIterator[None]:
    """Raise SendFailed for any Telegram error inside: `retry_after` on 429, `permanent` when
    sending the same request again cannot succeed (blocked, chat gone, bad request), and
    `maybe_sent` when no answer came after the request went out."""
    try:
        yield
    except RetryAfter as error:
        seconds = retry_seconds(error)
        raise SendFailed(f"{what}: rate limited for {seconds:g}s", retry_after=seconds) from error
    except (Forbidden, ChatMigrated, BadRequest) as error:
        raise SendFailed(f"{what}: {error.message}", permanent=True) from error
    except TelegramError as error:
        raise SendFailed(f"{what}: {error.message}", maybe_sent=maybe_sent(error)) from error
