"""Interaction handlers, kept thin: acknowledge at once, translate the interaction into one
operation, make one core call, render the content.

Discord fails an interaction not answered within 3 seconds ("The application did not
respond"), so the first thing done, before any database or backend work, is a deferred
response (https://discord.com/developers/docs/interactions/receiving-and-responding
#responding-to-an-interaction: type 5, "thinking"). It is ephemeral: what a command answers
(help, problems with its options, a refusal, a run's live status) is for the asker; the result
of a run is posted in the channel for everyone, mentioning them. A result asked for again
(`/show`, the 🖼 button) is posted again the same way, with its files and buttons, and the
response points at it. Answers are in the user's language (the interaction's `locale`).

Buttons are the same operations as the commands (core/chat/buttons.py); like a command, a press
that starts a run carries the interaction as its origin, so one press makes one run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from adapters.discord.buttons import action_view
from adapters.discord.chat_refs import chat_ref, manages_guild
from adapters.discord.door import InteractionDoor
from adapters.discord.errors import sending
from adapters.discord.library import discord
from adapters.discord.render import DiscordRenderer
from adapters.discord.tokens import InteractionTokens
from core.actions import Action
from core.chat import buttons
from core.chat.content import Content, Message, RunShown, Silent
from core.chat.operations import Operation, from_origin
from core.chat.reposts import shown_here
from core.chat.service import ChatService
from core.errors import SendFailed
from core.models import ChatRef, RunResult
from core.notices import Notice

log = logging.getLogger(__name__)

DEFER_TIMEOUT_S = 5.0
REPLY_TIMEOUT_S = 15.0

Repost = Callable[[RunResult], Awaitable[None]]
"""Post a result again where its chat says (`DiscordNotifier.repost_result`)."""


class InteractionHandlers:
    def __init__(
        self,
        chat: ChatService,
        door: InteractionDoor,
        renderer: DiscordRenderer,
        tokens: InteractionTokens,
        repost: Repost,
    ) -> None:
        self._chat = chat
        self._door = door
        self._renderer = renderer
        self._tokens = tokens
        self._repost = repost
        self._running: set[asyncio.Task[Any]] = set()
        self.accepting = True
        """False once the bot stops taking commands (shutting down): interactions are left
        unanswered, for another instance to take."""

    async def on_command(self, interaction: discord.Interaction[Any]) -> None:
        """A slash command (or its autocomplete)."""
        if not self.accepting:
            return
        async with self._tracked():
            if interaction.type is discord.InteractionType.autocomplete:
                await self._autocomplete(interaction)
            elif await self._defer(interaction):
                await self._answer(interaction, self._door.operation(interaction.data or {}))

    async def on_button(self, interaction: discord.Interaction[Any], action: Action) -> None:
        """Any run button (Cancel, Reroll, Same seed, Upscale, Vary, Recipe, Show …): the same
        operation as the command."""
        if not self.accepting:
            return
        async with self._tracked():
            if await self._defer(interaction):
                await self._answer(interaction, buttons.operation_for(action))

    async def drain(self, timeout_s: float) -> None:
        """Let the interactions being handled finish (a clean stop), for up to `timeout_s`."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=timeout_s)

    @contextlib.asynccontextmanager
    async def _tracked(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._running.discard(task)

    async def _defer(self, interaction: discord.Interaction[Any]) -> bool:
        try:
            async with sending(f"interaction {interaction.id} defer", DEFER_TIMEOUT_S):
                response = await interaction.response.defer(ephemeral=True, thinking=True)
        except SendFailed as error:
            log.warning("discord: interaction %s not acknowledged: %s", interaction.id, error)
            return False
        self._tokens.remember(interaction, response.message_id if response else None)
        return True

    async def _answer(self, interaction: discord.Interaction[Any], operation: Operation) -> None:
        chat = chat_ref(interaction)
        content = await self._chat.execute(
            from_origin(operation, f"discord:{interaction.id}"),
            chat,
            place_admin=manages_guild(interaction),
        )
        if isinstance(content, RunShown):
            apology = await self._show_again(content.result, chat)
            if apology is None:
                return  # posted: the response now points at it
            content = apology
        if isinstance(content, Silent):  # a flood past its warning: not even "thinking…"
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
            return
        await self._reply(interaction, self._renderer.for_chat(chat), content)

    async def _show_again(self, result: RunResult, chat: ChatRef) -> Message | None:
        """The result posted again in the asking channel; None once posted, else an apology."""
        try:
            await self._repost(shown_here(result, chat))
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("run %s: showing it again failed (ref %s)", result.run.id, reference)
            return Message(notice=Notice.of("failure", reference=reference))
        return None

    async def _reply(
        self, interaction: discord.Interaction[Any], renderer: DiscordRenderer, content: Content
    ) -> None:
        reply = renderer.render(content)
        if reply is None:
            return  # a run: its live status takes the response over
        view = action_view(reply.actions, renderer.words)
        try:
            async with sending(f"interaction {interaction.id} reply", REPLY_TIMEOUT_S):
                await interaction.edit_original_response(
                    content=reply.content or None, embeds=list(reply.embeds), view=view
                )
        except SendFailed as error:
            log.warning("discord: reply to interaction %s failed: %s", interaction.id, error)

    async def _autocomplete(self, interaction: discord.Interaction[Any]) -> None:
        """Choices as the user types: from the compiled commands in memory, no I/O."""
        names = self._door.choices(interaction.data or {})
        choices = [discord.app_commands.Choice(name=name, value=name) for name in names]
        try:
            async with sending(f"interaction {interaction.id} choices", DEFER_TIMEOUT_S):
                await interaction.response.autocomplete(choices)
        except SendFailed as error:
            log.info("discord: autocomplete %s not answered: %s", interaction.id, error)
