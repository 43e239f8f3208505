"""The bot's command menus: setMyCommands, getMyCommands, deleteMyCommands, per scope and
language, and the menu a given user actually sees.

https://core.telegram.org/bots/api#setmycommands: at most 100 commands, each 1-32 characters
of lowercase letters, digits and underscores with a 1-256 character description; `scope` is a
BotCommandScope (https://core.telegram.org/bots/api#botcommandscope), `language_code` a
two-letter ISO 639-1 code or empty (for users whose language has no dedicated commands).
Which list a user sees follows https://core.telegram.org/bots/api#determining-list-of-commands.
"""

from __future__ import annotations

import json
import re

from tests.fakes.telegram_calls import ApiError, Call, is_int
from tests.fakes.telegram_objects import JsonDict
from tests.fakes.telegram_state import FakeTelegramState

COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
LANGUAGE = re.compile(r"^([a-z]{2})?$")
SCOPES = {
    "default": (),
    "all_private_chats": (),
    "all_group_chats": (),
    "all_chat_administrators": (),
    "chat": ("chat_id",),
    "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}


class MenuMethods(FakeTelegramState):
    """`_m_{method}` handlers, and `menu` / `menu_for` for tests."""

    def _m_setmycommands(self, call: Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        for command in commands:
            if not COMMAND_NAME.match(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = _scope_key(call.params)
        if commands:
            self.commands[key] = commands
        else:
            self.commands.pop(key, None)
        return True

    def _m_getmycommands(self, call: Call) -> list[JsonDict]:
        return self.commands.get(_scope_key(call.params), [])

    def _m_deletemycommands(self, call: Call) -> bool:
        self.commands.pop(_scope_key(call.params), None)
        return True

    # -- what tests read ---------------------------------------------------------------------

    def menu(self, scope: JsonDict | None = None, language_code: str = "") -> list[str]:
        """Command names set for exactly this scope (default: the default scope) and language."""
        key = _scope_key({"scope": scope, "language_code": language_code})
        return [c["command"] for c in self.commands.get(key, [])]

    def menu_for(
        self,
        chat_id: int,
        user_id: int | None = None,
        language_code: str = "",
        admin: bool = False,
    ) -> list[str]:
        """The menu `user_id` sees in `chat_id`: the first list set, in Telegram's order."""
        private = chat_id > 0
        chat = {"chat_id": chat_id}
        member = {"chat_id": chat_id, "user_id": user_id if user_id is not None else chat_id}
        if private:
            order = [("chat", chat), ("all_private_chats", {})]
        else:
            order = [("chat_member", member)]
            order += [("chat_administrators", chat)] if admin else []
            order += [("chat", chat)]
            order += [("all_chat_administrators", {})] if admin else []
            order += [("all_group_chats", {})]
        order.append(("default", {}))
        for kind, fields in order:
            for language in dict.fromkeys([language_code[:2].lower(), ""]):
                names = self.menu({"type": kind, **fields}, language)
                if names:
                    return names
        return []


def _scope_key(params: JsonDict) -> str:
    """The store key: the scope, as checked and normalised, and the language."""
    scope = params.get("scope") or {"type": "default"}
    kind = str(scope.get("type", ""))
    if kind not in SCOPES:
        raise ApiError(400, f"Bad Request: unsupported bot command scope type {kind!r}")
    normal: JsonDict = {"type": kind}
    for field in SCOPES[kind]:
        value = scope.get(field)
        if value is None:
            raise ApiError(400, f"Bad Request: {field} is required for scope {kind}")
        text = str(value)
        normal[field] = int(text) if is_int(text) else text
    if kind in ("chat_administrators", "chat_member") and _is_private(normal["chat_id"]):
        raise ApiError(400, "Bad Request: the scope is for group and supergroup chats only")
    language = str(params.get("language_code") or "")
    if not LANGUAGE.match(language):
        raise ApiError(400, "Bad Request: language_code must be a two-letter ISO 639-1 code")
    return json.dumps([normal, language], sort_keys=True)


def _is_private(chat_id: int | str) -> bool:
    return isinstance(chat_id, int) and chat_id > 0
