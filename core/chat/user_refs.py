"""Which user an admin means: `platform:id`, a bare id on their own platform, or the @username
(or name) of someone the bot has seen there."""

from __future__ import annotations

from core.errors import UserFacingError
from core.models import ChatRef
from core.notices import Cmd
from core.ports import UserStore


class UserRefs:
    def __init__(self, users: UserStore) -> None:
        self._users = users

    async def resolve(self, target: str, chat: ChatRef, command: str) -> tuple[str, str]:
        """(`platform:id`, how to name them); refused when it names nobody the bot could
        ever recognise."""
        target = target.strip()
        if ":" in target and not target.startswith("@"):
            return target, target
        if target.isdigit():
            return f"{chat.platform}:{target}", f"{chat.platform}:{target}"
        found = await self._users.find_user(chat.platform, target)
        if found is None:
            raise UserFacingError("ban_unknown_user", user=target, command=Cmd(command))
        return found, f"{target} ({found})" if target.startswith("@") else found
