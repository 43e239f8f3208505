"""The discord.py client: a gateway session for interactions, REST for everything else.

No CommandTree: the commands are compiled from the catalog (see slash_commands.py) and every
application command interaction goes to the handlers, which find the command by name. Run
buttons are a DynamicItem registered in `setup_hook`, so a press on any message, old or new,
is understood. Mentions are off for every message unless one says otherwise
(https://discord.com/developers/docs/resources/message#allowed-mentions-object). A rate limit
longer than `max_ratelimit_timeout` raises at once instead of being slept on (a daily command
create limit would otherwise hold the call for hours).
"""

from __future__ import annotations

import logging
from typing import Any

from adapters.discord.buttons import RunButton
from adapters.discord.endpoints import Endpoints
from adapters.discord.handlers import InteractionHandlers
from adapters.discord.library import discord
from core.actions import Action

log = logging.getLogger(__name__)

MAX_RATELIMIT_WAIT_S = 30.0
"""The shortest discord.py accepts; a longer 429 is given back to delivery to retry later."""
_COMMANDS = (discord.InteractionType.application_command, discord.InteractionType.autocomplete)


class BotClient(discord.Client):
    def __init__(
        self,
        handlers: InteractionHandlers,
        endpoints: Endpoints,
        *,
        guild_ready_timeout_s: float = 2.0,
    ) -> None:
        super().__init__(
            intents=discord.Intents(guilds=True),
            allowed_mentions=discord.AllowedMentions.none(),
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT_S,
            chunk_guilds_at_startup=False,
            guild_ready_timeout=guild_ready_timeout_s,
        )
        self._interactions = handlers
        self._endpoints = endpoints

    async def setup_hook(self) -> None:
        self.add_dynamic_items(RunButton)

    async def on_connect(self) -> None:
        """Every READY: resumes go through the configured gateway, if there is one."""
        self._endpoints.keep_gateway(self)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.type in _COMMANDS:
            try:
                await self._interactions.on_command(interaction)
            except Exception:
                log.exception("discord: handling interaction %s failed", interaction.id)

    async def on_run_button(self, interaction: discord.Interaction[Any], action: Action) -> None:
        try:
            await self._interactions.on_button(interaction, action)
        except Exception:
            log.exception("discord: handling button %s:%s failed", action.kind, action.run_id)
