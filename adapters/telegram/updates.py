"""Telegram updates taken in once each, in order per chat (core/intake.py), whether pushed to our
webhook or fetched by long polling, by whichever instance gets them.

An update's key is the bot's id and its `update_id`; its order is the update_id ("Update
identifiers start from a certain positive number and increase sequentially",
https://core.telegram.org/bots/api#update); order is kept per chat (per user for updates
without one, such as a pre-checkout query).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from telegram import Update

from core.inbound import UpdateEntry
from core.intake import Outcome, Ticket, UpdateIntake

log = logging.getLogger(__name__)

Process = Callable[[Update], Awaitable[None]]
Parse = Callable[[Mapping[str, Any]], Update]


def update_entry(bot_id: str, update: Update, payload: Mapping[str, Any]) -> UpdateEntry:
    chat = update.effective_chat
    user = update.effective_user
    if chat is not None:
        where = f"telegram:{chat.id}"
    elif user is not None:
        where = f"telegram:user:{user.id}"
    else:
        where = "telegram:-"
    return UpdateEntry(f"telegram:{bot_id}:{update.update_id}", where, update.update_id, payload)


class UpdateFeed:
    """Hands each update to `process` once; without an intake (a lone process in tests), as
    it comes."""

    def __init__(
        self, bot_id: str, intake: UpdateIntake | None, process: Process, parse: Parse
    ) -> None:
        self._bot_id = bot_id
        self._intake = intake
        self._process = process
        self._parse = parse
        self._handling: set[asyncio.Task[object]] = set()

    async def pushed(self, body: Mapping[str, Any]) -> Outcome:
        """A webhook's update, handled before the answer: BUSY when another process is still
        on it (answer so that Telegram sends it again)."""
        update = self._parse(body)
        if self._intake is None:
            await self._process(update)
            return Outcome.HANDLED
        entry = update_entry(self._bot_id, update, body)
        return await self._intake.accept(entry, lambda: self._process(update))

    async def polled(self, update: Update) -> bool:
        """A fetched update: recorded now, handled in the background; False when it could not
        be recorded (it must not be confirmed)."""
        if self._intake is None:
            self._spawn(self._process(update))
            return True
        entry = update_entry(self._bot_id, update, update.to_dict())
        try:
            ticket = await self._intake.take(entry, wait=False)
        except Exception as error:
            log.warning("telegram: update %d not recorded: %s", update.update_id, error)
            return False
        if isinstance(ticket, Ticket):
            self._spawn(self._intake.handle(ticket, lambda: self._process(update)))
        return True

    async def resume(self) -> int:
        """Handle the updates whose handler died before finishing; how many."""
        if self._intake is None:
            return 0

        def work_for(entry: UpdateEntry) -> Callable[[], Awaitable[None]]:
            update = self._parse(entry.payload)
            return lambda: self._process(update)

        return await self._intake.resume(work_for)

    async def drain(self, timeout_s: float) -> None:
        """Let the updates being handled finish; past `timeout_s`, stop them (their claims are
        given up, so another process handles them)."""
        running = list(self._handling)
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=timeout_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    def _spawn(self, work: Awaitable[object]) -> None:
        async def run() -> object:
            try:
                return await work
            except Exception:
                log.exception("telegram: handling an update failed")
                return None

        task = asyncio.create_task(run())
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)
