"""Who may run workflows, and how many at once: the limits that keep one user from flooding
the GPUs or a stranger from spending the operator's money."""

from __future__ import annotations

from dataclasses import dataclass

from core.models import ChatRef


@dataclass(frozen=True)
class RunLimits:
    max_running_per_user: int = 2
    """Runs of one user on the backends at once; more wait in the fair queue."""
    max_queued_per_user: int = 5
    """Runs of one user waiting beyond those; more are refused."""
    max_running_per_deployment: int = 0
    """Runs the bot sends to one deployment at once (0: no cap)."""
    rate_per_minute: int = 0
    """Commands one user may send per minute (0: no limit)."""
    allowed_users: frozenset[str] = frozenset()
    """`platform:user_id`s that may run workflows (with `allowed_chats`; both empty: anyone)."""
    allowed_chats: frozenset[str] = frozenset()
    """`platform:chat_id`s where anyone may run workflows."""

    @property
    def max_active(self) -> int:
        """Runs of one user admitted and not ended: running plus waiting."""
        return self.max_running_per_user + self.max_queued_per_user

    def may_run(self, chat: ChatRef) -> bool:
        if not self.allowed_users and not self.allowed_chats:
            return True
        place = f"{chat.platform}:{chat.chat_id}"
        return chat.user_key in self.allowed_users or place in self.allowed_chats
