"""Registering the commands only when they changed.

Discord allows 200 command creates a day per scope
(https://discord.com/developers/docs/interactions/application-commands#registering-a-command),
so a bulk overwrite (`PUT /applications/{id}/commands`, or `…/guilds/{guild}/commands`) is sent
only when the compiled command set differs from the last one registered in that scope: a hash
of the JSON sent, kept in the key-value store (MongoDB). A restart with an unchanged catalog
makes no command call at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence

from adapters.discord.errors import sending
from adapters.discord.library import discord
from adapters.discord.slash_commands import JsonDict, SlashCommands
from core.ports import KeyValueStore

log = logging.getLogger(__name__)

SYNC_TIMEOUT_S = 60.0


def payload_hash(payload: list[JsonDict]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class CommandSync:
    def __init__(
        self,
        client: discord.Client,
        commands: SlashCommands,
        kv: KeyValueStore,
        guild_ids: Sequence[int] = (),
    ) -> None:
        self._client = client
        self._commands = commands
        self._kv = kv
        self._guild_ids = tuple(guild_ids)
        self._lock = asyncio.Lock()
        self._reported: list[str] = []

    async def sync(self) -> bool:
        """Overwrite the commands of every scope whose set changed; True if any was sent.
        Raises SendFailed when Discord refused (a scope left unsynced is tried again at the
        next change or start)."""
        application_id = self._client.application_id
        if application_id is None:
            raise RuntimeError("the Discord client has not logged in")
        async with self._lock:
            self._report_left_out()
            payload = self._commands.payload()
            digest = payload_hash(payload)
            sent = False
            scopes: Sequence[int | None] = self._guild_ids or (None,)
            for guild_id in scopes:
                key = f"discord:commands:{application_id}:{guild_id or 'global'}"
                if await self._kv.get(key) == digest:
                    continue
                await self._overwrite(application_id, guild_id, payload)
                await self._kv.set(key, digest)
                sent = True
                log.info(
                    "discord: %d commands registered %s",
                    len(payload),
                    f"in guild {guild_id}" if guild_id else "globally",
                )
            return sent

    def _report_left_out(self) -> None:
        left_out = self._commands.left_out()
        if left_out != self._reported:
            self._reported = left_out
            if left_out:
                log.warning("discord: %s", self._commands.left_out_line(names_shown=None))

    async def _overwrite(
        self, application_id: int, guild_id: int | None, payload: list[JsonDict]
    ) -> None:
        http = self._client.http
        async with sending("command registration", SYNC_TIMEOUT_S):
            if guild_id is None:
                await http.bulk_upsert_global_commands(application_id, payload=payload)
            else:
                await http.bulk_upsert_guild_commands(application_id, guild_id, payload=payload)
