"""Long polling (https://core.telegram.org/bots/api#getupdates) as a loop of our own, run by one
process at a time: the holder of the polling lease.

Telegram allows one getUpdates consumer per bot: a second request terminates the first with
409 "Conflict: terminated by other getUpdates request". So the loop runs only while
`may_poll()` (the lease is trusted) and is cancelled, its request with it, when the lease goes.

An update counts as received once the next call names a higher `offset`. Each update is first
taken in by `take` (recorded in the update log, then handled in the background) and only then
confirmed; one that cannot be recorded (the database is away) is asked for again, from there,
after a pause. Errors are retried as python-telegram-bot's own updater does: a timed-out long
poll at once, flood control after `retry_after`, network errors and conflicts with a pause
growing to `MAX_PAUSE_S`; a rejected token ends the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from telegram import Bot, Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError, TimedOut

from adapters.telegram.errors import retry_seconds

log = logging.getLogger(__name__)

FIRST_PAUSE_S = 0.5
MAX_PAUSE_S = 30.0
Take = Callable[[Update], Awaitable[bool]]
"""Takes one update in; False when it could not be recorded (ask for it again later)."""
Sleep = Callable[[float], Awaitable[None]]


class Poller:
    def __init__(
        self,
        bot: Bot,
        take: Take,
        *,
        timeout_s: float,
        allowed_updates: Sequence[str],
        may_poll: Callable[[], bool],
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._bot = bot
        self._take = take
        self._timeout = timedelta(seconds=timeout_s)
        self._allowed = list(allowed_updates)
        self._may_poll = may_poll
        self._sleep = sleep
        self._pause = FIRST_PAUSE_S

    async def run(self) -> None:
        """Poll until `may_poll()` turns False (or the task is cancelled)."""
        await self._drop_webhook()
        offset: int | None = None
        while self._may_poll():
            updates = await self._fetch(offset)
            if updates is None:
                continue
            for update in updates:
                if not self._may_poll():
                    return  # the rest stay unconfirmed, for the next holder
                if not await self._take(update):
                    log.warning("telegram: an update could not be recorded; asking again")
                    await self._wait()
                    break
                offset = update.update_id + 1
            else:
                self._pause = FIRST_PAUSE_S

    async def _fetch(self, offset: int | None) -> tuple[Update, ...] | None:
        """One long poll; None after an error (already waited for)."""
        try:
            return await self._bot.get_updates(
                offset=offset, timeout=self._timeout, allowed_updates=self._allowed
            )
        except TimedOut:
            return None
        except RetryAfter as error:
            await self._sleep(retry_seconds(error))
        except Conflict as error:
            log.warning("telegram: getUpdates refused (%s); is another bot polling?", error)
            await self._wait()
        except InvalidToken:
            raise
        except TelegramError as error:
            log.warning("telegram: getUpdates failed: %s", error)
            await self._wait()
        return None

    async def _drop_webhook(self) -> None:
        """getUpdates answers 409 while a webhook is set: remove one left from webhook mode
        (its pending updates stay)."""
        try:
            await self._bot.delete_webhook(drop_pending_updates=False)
        except InvalidToken:
            raise
        except TelegramError as error:
            log.warning("telegram: deleteWebhook failed (%s); polling anyway", error)

    async def _wait(self) -> None:
        await self._sleep(self._pause)
        self._pause = min(self._pause * 2, MAX_PAUSE_S)
