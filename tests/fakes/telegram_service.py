"""Bot API handlers for everything but sending: getMe, updates, webhook, commands, files."""

from __future__ import annotations

import asyncio
import json
import re

from tests.fakes.telegram_calls import DOWNLOAD_LIMIT, ApiError, Call, truthy
from tests.fakes.telegram_objects import JsonDict
from tests.fakes.telegram_state import FakeTelegramState

COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


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
        offset = int(params.get("offset", 0) or 0)
        limit = int(params.get("limit", 100) or 100)
        timeout = float(params.get("timeout", 0) or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            try:
                async with asyncio.timeout(timeout), self._changed:
                    await self._changed.wait_for(
                        lambda: bool(self._updates) or self._closing.is_set()
                    )
            except TimeoutError:
                pass
        return self._updates[:limit]

    def _m_deletewebhook(self, call: Call) -> bool:
        self.webhook_url = None
        self.webhook_secret = None
        if truthy(call.params.get("drop_pending_updates")):
            self._updates.clear()
        return True

    def _m_setwebhook(self, call: Call) -> bool:
        self.webhook_url = str(call.params["url"])
        secret = call.params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook_secret = None if secret is None else str(secret)
        return True

    def _m_getwebhookinfo(self, call: Call) -> JsonDict:
        return {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }

    def _m_setmycommands(self, call: Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        for command in commands:
            if not COMMAND_NAME.match(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[_scope_key(call.params)] = commands
        return True

    def _m_getmycommands(self, call: Call) -> list[JsonDict]:
        return self.commands.get(_scope_key(call.params), [])

    def _m_deletemycommands(self, call: Call) -> bool:
        self.commands.pop(_scope_key(call.params), None)
        return True

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


def _scope_key(params: JsonDict) -> str:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps([scope, params.get("language_code", "")], sort_keys=True)
