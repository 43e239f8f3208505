"""Bot API handlers for everything but sending: getMe, updates, webhook, callbacks, files.

getUpdates as https://core.telegram.org/bots/api#getupdates describes it: an update is
confirmed by calling with a higher `offset`, and long polling waits up to `timeout`. An update
a test asks to deliver again (`redeliver`) comes first in the next answer, whatever the offset.
`allowed_updates` (getUpdates, setWebhook) picks the update types the bot gets from then on.
"""

from __future__ import annotations

import asyncio
import re

from tests.fakes.telegram_calls import DOWNLOAD_LIMIT, ApiError, Call, truthy
from tests.fakes.telegram_objects import JsonDict
from tests.fakes.telegram_state import FakeTelegramState


class ServiceMethods(FakeTelegramState):
    """`_m_{method}` handlers, found by the lowercased Bot API method name."""

    def _m_getme(self, call: Call) -> JsonDict:
        return self.bot_user

    async def _m_getupdates(self, params: JsonDict) -> list[JsonDict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
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
                        lambda: bool(self._updates or self._again) or self._closing.is_set()
                    )
            except TimeoutError:
                pass
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
