"""The fake Bot API's state, shared by the server and its method handlers.

Holds what the bot registered (commands, webhook), every message in every chat and its
history, the users tests act as, stored files, pending and past updates, injected faults and
stalls, flood control and Stars payments; hands out message, file and update ids.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import Counter
from typing import Any

from tests.fakes.telegram_calls import ApiError, Call, PollConflict, StoredFile, WebhookAttempt
from tests.fakes.telegram_history import HistoryBook
from tests.fakes.telegram_limits import Clock, FloodControl, FloodLimits
from tests.fakes.telegram_objects import JsonDict, bot_user_json, user_json
from tests.fakes.telegram_payments_state import StarLedger

NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
"""Update types sent only when asked for in `allowed_updates`
(https://core.telegram.org/bots/api#getupdates)."""


class Stall:
    """A request the fake accepts (its effect is real) but answers only once released."""

    def __init__(self, method: str, drop: bool = False) -> None:
        self.method = method
        self.drop = drop
        self.accepted = asyncio.Event()
        """Set once the request was carried out and the response is being held back."""
        self.released = asyncio.Event()
        self.call: Call | None = None

    def release(self) -> None:
        """Let the held response go (to a client that has most likely given up)."""
        self.released.set()


class FakeTelegramState:
    def __init__(
        self,
        token: str = "123456:TEST-token_abc",
        username: str = "comfy_test_bot",
        *,
        limits: FloodLimits | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.username = username
        self.bot_user = bot_user_json(self.bot_id, username)
        self.clock: Clock = clock or time.monotonic
        """The fake's sense of time for flood limits and answer deadlines."""
        self.calls: list[Call] = []
        self.commands: dict[str, list[JsonDict]] = {}
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_error: tuple[int, str] | None = None
        """(date, message) of the latest failed webhook delivery, for getWebhookInfo."""
        self.webhook_log: list[WebhookAttempt] = []
        self.messages: dict[tuple[int, int], JsonDict] = {}
        self.history_book = HistoryBook()
        self.users: dict[int, JsonDict] = {}
        self.not_started: set[int] = set()
        """Users who never opened a private chat with the bot (`never_started`): the bot may
        not write to them there until they do."""
        self.flood = None if limits is None else FloodControl(limits, self.clock)
        self.flood_429s: Counter[int | str | None] = Counter()
        """Every 429 sent (flood control's and `fail_next`'s), per chat_id of the request."""
        self.stars = StarLedger()
        self.update_log: dict[int, JsonDict] = {}
        """Every update ever queued, by update_id, for delivering one again."""
        self.allowed_updates: frozenset[str] | None = None
        """The update types the bot asked for (getUpdates or setWebhook `allowed_updates`);
        None: not asked, or an empty list, so every type but `NOT_BY_DEFAULT`."""
        self.unwanted: list[JsonDict] = []
        """Updates of a type the bot did not ask for: never queued, never sent."""
        self._files: dict[str, StoredFile] = {}
        self._updates: list[JsonDict] = []
        self._again: list[JsonDict] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._file_ids = itertools.count(1)
        self._faults: dict[str, list[ApiError]] = {}
        self._stalls: dict[str, list[Stall]] = {}
        self._held: list[Stall] = []
        self._changed = asyncio.Condition()
        self._closing = asyncio.Event()
        self.poll_conflicts: list[PollConflict] = []
        """Long polls cut short by another getUpdates (telegram_service)."""
        self._polls: list[Any] = []
        """The long polls waiting now."""

    def add_file(self, data: bytes, path_hint: str = "photos/file.jpg") -> str:
        """Store a file the bot may fetch with getFile; returns its file_id."""
        file_id = f"F{next(self._file_ids):04d}{secrets.token_hex(4)}"
        stem, _, ext = path_hint.rpartition(".")
        self._files[file_id] = StoredFile(f"{stem}_{file_id}.{ext}", data)
        return file_id

    def user(self, user_id: int, first_name: str | None = None) -> JsonDict:
        """The User object for `user_id`: as registered with `add_user`, else a plain one."""
        known = self.users.get(user_id)
        if known is None:
            return user_json(user_id, first_name or "Ann")
        return known if first_name is None else {**known, "first_name": first_name}

    def push_update(self, body: JsonDict) -> int:
        """Queue an update (`body` without update_id) for getUpdates or the webhook; its id.
        An update of a type the bot did not ask for goes to `unwanted` instead: "the update
        types you want your bot to receive" (https://core.telegram.org/bots/api#getupdates,
        `allowed_updates`); a change affects only updates created after it."""
        update = self._new_update(body)
        if self.wants(update):
            self._updates.append(update)
        else:
            self.unwanted.append(update)
        self._notify()
        return int(update["update_id"])

    def wants(self, update: JsonDict) -> bool:
        kinds = set(update) - {"update_id"}
        if self.allowed_updates is None:
            return not kinds & NOT_BY_DEFAULT
        return bool(kinds & self.allowed_updates)

    def ask_for(self, allowed_updates: object) -> None:
        """`allowed_updates` as getUpdates and setWebhook take it: a list of update types;
        an empty list means the default; not given, "the previous setting will be used"."""
        if isinstance(allowed_updates, list):
            self.allowed_updates = frozenset(map(str, allowed_updates)) or None

    def _new_update(self, body: JsonDict) -> JsonDict:
        update = {"update_id": next(self._update_ids), **body}
        self.update_log[update["update_id"]] = update
        return update

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def _notify(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        asyncio.get_running_loop().create_task(notify())
