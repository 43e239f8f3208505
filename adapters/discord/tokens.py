"""What this process knows of recent interactions: their tokens (to edit the response a
command got, for 15 minutes) and the upload limit Discord gave for each channel.

Nothing here is persisted: after a restart there is no token, so no more progress edits of old
responses; the result still comes as a channel message, which needs none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.discord.library import discord
from adapters.discord.limits import DEFAULT_FILE_LIMIT, TOKEN_LIFETIME, TOKEN_MARGIN
from core.ports import Clock


@dataclass
class TokenHandle:
    """An interaction whose response this process may still edit."""

    interaction: discord.Interaction[Any]
    created_at: datetime
    message_id: int | None
    """The response message, once known (the defer's answer, or the first edit's)."""
    alive: bool = True
    """False once Discord refused the token (expired, unknown): never tried again."""

    def young(self, now: datetime) -> bool:
        return self.alive and now < self.created_at + TOKEN_LIFETIME - TOKEN_MARGIN


class InteractionTokens:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._handles: dict[str, TokenHandle] = {}
        self._upload_limits: dict[str, int] = {}

    def remember(self, interaction: discord.Interaction[Any], message_id: int | None) -> None:
        self._forget_expired(self._clock.now())
        created = discord.utils.snowflake_time(interaction.id)
        self._handles[str(interaction.id)] = TokenHandle(interaction, created, message_id)
        limit = interaction.filesize_limit
        if limit > 0 and interaction.channel_id is not None:
            self._upload_limits[str(interaction.channel_id)] = limit

    def _forget_expired(self, now: datetime) -> None:
        """Handles are kept in arrival order: the expired ones are at the front."""
        while self._handles:
            key, oldest = next(iter(self._handles.items()))
            if now < oldest.created_at + TOKEN_LIFETIME:
                return
            del self._handles[key]

    def usable(self, interaction_id: str | None) -> TokenHandle | None:
        """The handle of a young, working token; None when there is none (any more)."""
        handle = self._handles.get(interaction_id or "")
        if handle is None or not handle.young(self._clock.now()):
            return None
        return handle

    def upload_limit(self, channel_id: str, guild_limit: int | None = None) -> int:
        """The largest file Discord accepts in a channel: what its last interaction said, else
        what the guild's boost allows, else everyone's 10 MiB."""
        return self._upload_limits.get(channel_id) or guild_limit or DEFAULT_FILE_LIMIT
