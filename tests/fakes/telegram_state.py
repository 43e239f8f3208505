"""The fake Bot API's state, shared by the server and its method handlers.

Holds what the bot registered (commands, webhook), every message in every chat, stored
files, pending updates and injected faults; hands out message and file ids.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets

from tests.fakes.telegram_calls import ApiError, Call, StoredFile
from tests.fakes.telegram_objects import JsonDict, bot_user_json


class FakeTelegramState:
    def __init__(
        self, token: str = "123456:TEST-token_abc", username: str = "comfy_test_bot"
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.username = username
        self.bot_user = bot_user_json(self.bot_id, username)
        self.calls: list[Call] = []
        self.commands: dict[str, list[JsonDict]] = {}
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.messages: dict[tuple[int, int], JsonDict] = {}
        self._files: dict[str, StoredFile] = {}
        self._updates: list[JsonDict] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._file_ids = itertools.count(1)
        self._faults: dict[str, list[ApiError]] = {}
        self._changed = asyncio.Condition()
        self._closing = asyncio.Event()

    def add_file(self, data: bytes, path_hint: str = "photos/file.jpg") -> str:
        """Store a file the bot may fetch with getFile; returns its file_id."""
        file_id = f"F{next(self._file_ids):04d}{secrets.token_hex(4)}"
        stem, _, ext = path_hint.rpartition(".")
        self._files[file_id] = StoredFile(f"{stem}_{file_id}.{ext}", data)
        return file_id

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def _notify(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        asyncio.get_running_loop().create_task(notify())
