"""Bot API handlers for everything but sending: getMe, updates, webhook, callbacks, files.

getUpdates as https://core.telegram.org/bots/api#getupdates describes it: an update is
confirmed by calling with a higher `offset`, and long polling waits up to `timeout`. An update
a test asks to deliver again (`redeliver`) comes first in the next answer, whatever the offset.
Like Telegram, one consumer at a time: a getUpdates arriving while a long poll waits ends that
poll with 409 Conflict ("terminated by other getUpdates request"), recorded in
`poll_conflicts` (`live`: whether the poll cut short still had a client to answer).
`allowed_updates` (getUpdates, setWebhook) picks the update types the bot gets from then on.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.telegram_calls import DOWNLOAD_LIMIT, ApiError, Call, PollConflict, truthy
from tests.fakes.telegram_objects import JsonDict
from tests.fakes.telegram_state import FakeTelegramState

TERMINATED = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


@dataclass
class _Poll:
    call: Call
    request: web.Request
    cut_short: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def live(self) -> bool:
        transport = self.request.transport
        return transport is not None and not transport.is_closing()


class ServiceMethods(FakeTelegramState):
    """`_m_{method}` handlers, found by the lowercased Bot API method name."""

    @property
    def live_polls(self) -> int:
        """Long polls waiting now whose client is still connected."""
        return sum(1 for poll in self._polls if poll.live)

    def _m_getme(self, call: Call) -> JsonDict:
        return self.bot_user

    async def _m_getupdates(
        self, params: JsonDict, call: Call, request: web.Request
    ) -> list[JsonDict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        for waiting in self._polls:  # one consumer at a time: the older poll is cut short
            self.poll_conflicts.append(PollConflict(waiting.call.peer, call.peer, waiting.live))
            waiting.cut_short.set()
        self._notify()
        poll = _Poll(call, request)
        self._polls.append(poll)
        try:
            return await self._poll(params, poll)
        finally:
            self._polls.remove(poll)

    async def _poll(self, params: JsonDict, poll: _Poll) -> list[JsonDict]:
        self.ask_for(params.get("allowed_updates"))
        offset = int(params.get("offset", 0) or 0)
        limit = int(params.get("limit", 100) or 100)
        timeout = float(params.get("timeout", 0) or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and not self._again and timeout > 0:
            try:
                async with asyncio.timeout(timeout), self._changed:
                    await self._changed.wait_for(
                        lambda: (
                            bool(self._updates or self._again)
                            or self._closing.is_set()
                            or poll.cut_short.is_set()
                        )
                    )
            except TimeoutError:
                pass
        if poll.cut_short.is_set():
            raise ApiError(409, TERMINATED)
        again, self._again = self._again[:limit], self._again[limit:]
        return again + self._updates[: limit - len(again)]

    def _m_deletewebhook(self, call: Call) -> bool:
        self.webhook_url = None
        self.webhook_secret = None
        if truthy(call.params.get("drop_pending_updates")):
            self._updates.clear()
        return True

    def _m_setwebhook(self, call: Call) -> bool:
        secret = call.params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook_url = str(call.params.get("url", "")) or None  # an empty url removes it
        connections = call.params.get("max_connections")
        self.webhook_max_connections = int(connections) if connections else None
        self.ask_for(call.params.get("allowed_updates"))
        self.webhook_secret = None if secret is None else str(secret)
        if truthy(call.params.get("drop_pending_updates")):
            self._updates.clear()
        self._notify()
        return True

    def _m_getwebhookinfo(self, call: Call) -> JsonDict:
        info: JsonDict = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates) + len(self._again),
        }
        if self.webhook_error is not None:
            info["last_error_date"], info["last_error_message"] = self.webhook_error
        return info

    def _m_answercallbackquery(self, call: Call) -> bool:
        if len(str(call.params.get("text", ""))) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    def _m_getfile(self, call: Call) -> JsonDict:
        file_id = str(call.params.get("file_id", ""))
        stored = self._files.get(file_id)
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.data) > DOWNLOAD_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(stored.data),
            "file_path": stored.path,
        }
