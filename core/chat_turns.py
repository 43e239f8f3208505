"""One delivery at a time per chat.

A platform takes a chat's messages one at a time at its pace (core/pacing.py), so a second
delivery to the same chat would only wait there while holding one of the slots
(`DeliveryPolicy.max_concurrent`) that deliveries to other chats could use. Deliveries wait for
their chat's turn first, then for a slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class ChatTurns:
    def __init__(self) -> None:
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._waiting: dict[Hashable, int] = {}

    @asynccontextmanager
    async def turn(self, chat: Hashable) -> AsyncIterator[None]:
        lock = self._locks.setdefault(chat, asyncio.Lock())
        self._waiting[chat] = self._waiting.get(chat, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[chat] -= 1
            if not self._waiting[chat]:
                del self._waiting[chat], self._locks[chat]

    def __len__(self) -> int:
        """Chats with a delivery posting or waiting."""
        return len(self._locks)
