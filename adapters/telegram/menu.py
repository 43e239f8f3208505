"""The bot's command menu: compiled from the catalog, sent with setMyCommands only when it
differs from what was last registered (kept in the key-value store)."""

from __future__ import annotations

import asyncio
import json
import logging

from telegram import Bot, BotCommand

from core.chat.book import CommandBook
from core.chat.text_render import TextRenderer
from core.ports import KeyValueStore

log = logging.getLogger(__name__)


class CommandMenu:
    def __init__(
        self, bot: Bot, book: CommandBook, words: TextRenderer, kv: KeyValueStore, key: str
    ) -> None:
        self._bot = bot
        self._book = book
        self._words = words
        self._kv = kv
        self._key = key
        self._lock = asyncio.Lock()

    def compile(self) -> list[tuple[str, str]]:
        return [(s.name, self._words.command_description(s)) for s in self._book.menu()]

    async def sync(self) -> bool:
        """Register the menu if it changed; True when setMyCommands was called."""
        async with self._lock:
            commands = self.compile()
            encoded = json.dumps(commands, ensure_ascii=False)
            if await self._kv.get(self._key) == encoded:
                return False
            await self._bot.set_my_commands([BotCommand(name, about) for name, about in commands])
            await self._kv.set(self._key, encoded)
        log.info("telegram command menu registered: %d commands", len(commands))
        return True
