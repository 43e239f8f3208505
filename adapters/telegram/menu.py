"""The bot's command menus: compiled from the catalog, one per language the engine speaks, and
one more per admin (their private chat gets the admin commands too). Each is sent with
setMyCommands only when it differs from what was last registered (kept in the key-value store).

Telegram picks the list a user sees by scope, then by the user's language
(https://core.telegram.org/bots/api#determining-list-of-commands): the default scope without a
language is in DEFAULT_LANGUAGE; `BotCommandScopeChat` with an admin's user id is their private
chat with the bot (https://core.telegram.org/bots/api#botcommandscopechat).

A menu holds at most 100 commands (https://core.telegram.org/bots/api#setmycommands): with more
workflows than that, `menu_priority` picks which are listed, the operator is told which are
left out (a warning each time that changes), and those still run when typed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Bot, BotCommand, BotCommandScope, BotCommandScopeChat
from telegram.error import TelegramError

from adapters.telegram.limits import fit_text
from core.chat.book import CommandBook
from core.chat.menu_report import left_out_line
from core.chat.text_render import TextRenderer
from core.locales import LANGUAGES
from core.ports import KeyValueStore

log = logging.getLogger(__name__)

DESCRIPTION_MAX = 256
"""https://core.telegram.org/bots/api#botcommand: descriptions of 1-256 characters."""


@dataclass(frozen=True)
class MenuScope:
    """One list Telegram keeps: a scope (None: the default one) and a language ("": any)."""

    chat_id: int | None
    language: str

    @property
    def suffix(self) -> str:
        parts = [f"chat{self.chat_id}" if self.chat_id is not None else "", self.language]
        return ":".join(p for p in parts if p)


class CommandMenu:
    def __init__(
        self,
        bot: Bot,
        book: CommandBook,
        words: TextRenderer,
        kv: KeyValueStore,
        key: str,
        admins: Callable[[], frozenset[str]] = frozenset,
    ) -> None:
        self._bot = bot
        self._book = book
        self._words = words
        self._kv = kv
        self._key = key
        self._admins = admins
        self._lock = asyncio.Lock()
        self._reported: list[str] = []

    def compile(self, language: str | None = None, admin: bool = False) -> list[tuple[str, str]]:
        words = self._words.for_language(language)
        return [
            (s.name, fit_text(words.command_description(s), DESCRIPTION_MAX))
            for s in self._book.menu(admin)
        ]

    def scopes(self) -> list[MenuScope]:
        """The default menu in the default language, one per other language, and the same for
        each admin's private chat."""
        others = [lang for lang in LANGUAGES if lang != self._words.language]
        chats: list[int | None] = [None]
        chats += sorted(int(admin) for admin in self._admins() if admin.lstrip("-").isdigit())
        return [MenuScope(chat, language) for chat in chats for language in ["", *others]]

    async def sync(self) -> bool:
        """Register every menu that changed; True when setMyCommands was called at all."""
        sent = False
        async with self._lock:
            self._report_left_out()
            for scope in self.scopes():
                try:
                    sent = await self._sync_one(scope) or sent
                except TelegramError as error:
                    if scope.chat_id is None:
                        raise
                    # An admin who never opened a chat with the bot has no chat to scope to.
                    log.info("telegram: admin menu for %s not set: %s", scope.chat_id, error)
        return sent

    def _report_left_out(self) -> None:
        left_out = [s.workflow or s.name for s in self._book.left_out()]
        if left_out == self._reported:
            return
        self._reported = left_out
        if left_out:
            held = sum(1 for s in self._book.menu() if not s.builtin)
            consequence = "they still run when typed"
            line = left_out_line("the menu", held, left_out, consequence, names_shown=None)
            log.warning("telegram: %s", line)

    async def _sync_one(self, scope: MenuScope) -> bool:
        commands = self.compile(scope.language or None, admin=scope.chat_id is not None)
        encoded = json.dumps(commands, ensure_ascii=False)
        key = f"{self._key}:{scope.suffix}" if scope.suffix else self._key
        if await self._kv.get(key) == encoded:
            return False
        target: BotCommandScope | None = None
        if scope.chat_id is not None:
            target = BotCommandScopeChat(scope.chat_id)
        await self._bot.set_my_commands(
            [BotCommand(name, about) for name, about in commands],
            scope=target,
            language_code=scope.language or None,
        )
        await self._kv.set(key, encoded)
        log.info(
            "telegram command menu registered (%s): %d commands",
            scope.suffix or "default",
            len(commands),
        )
        return True
