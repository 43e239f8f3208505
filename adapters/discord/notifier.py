"""core.ports.ChatNotifier for Discord: a run's status in the command's response, and its result
as new messages in the channel the command came from.

Status: the (ephemeral) response to the command, edited through the interaction token while the
token is young (https://discord.com/developers/docs/interactions/receiving-and-responding
#edit-original-interaction-response); edits stop a minute before the 15 minutes are up, and a
token Discord refuses (401, code 50027) is never tried again. Neither stops the result.

Result: `POST /channels/{channel.id}/messages`
(https://discord.com/developers/docs/resources/message#create-message), which needs no token,
so it arrives after ten seconds or an hour. It mentions the user (`allowed_mentions` lets only
that user through). Each message is one part of the delivery journal and carries a `nonce`
derived from the run and the part with `enforce_nonce`, so Discord itself drops a repeat: a
message whose send timed out is sent again, never posted twice. Discord checks nonces over "the
past few minutes", so an admin's redelivery after that posts the result anew.

A repost (`/show`, the 🖼 button) is the same messages in the channel that asked, with nonces of
their own (the asking interaction's), pinging nobody: whoever asked is looking already.
Everything is written in the language of the run's chat (the user's Discord locale).
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.discord.buttons import action_view
from adapters.discord.chat_refs import PLATFORM, nonce
from adapters.discord.errors import UNKNOWN_MESSAGE, sending, token_expired, too_large
from adapters.discord.library import discord
from adapters.discord.render import DiscordRenderer
from adapters.discord.result_plan import ResultPart, plan_result
from adapters.discord.tokens import InteractionTokens, TokenHandle
from core.actions import Action, ActionKind
from core.chat.reposts import repost_journal
from core.errors import SendFailed
from core.journal import DeliveryJournal, send_once
from core.models import ProgressView, ResultFile, Run, RunResult, RunStatus

log = logging.getLogger(__name__)

EDIT_TIMEOUT_S = 15.0
SEND_TIMEOUT_S = 120.0
"""A message with files: uploads of up to 25 MiB."""


class DiscordNotifier:
    platform = PLATFORM

    def __init__(
        self,
        client: discord.Client,
        tokens: InteractionTokens,
        renderer: DiscordRenderer,
        *,
        edit_timeout_s: float = EDIT_TIMEOUT_S,
        send_timeout_s: float = SEND_TIMEOUT_S,
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._renderer = renderer
        self._edit_timeout_s = edit_timeout_s
        self._send_timeout_s = send_timeout_s
        self.ready = False
        """Set by the adapter once logged in; sends fail (and are retried) before and after."""

    # -- status ----------------------------------------------------------------------------

    async def show_progress(self, view: ProgressView) -> str | None:
        run = view.run
        handle = self._tokens.usable(run.chat.message_id)
        if handle is None or not self.ready:
            return None  # no young token here: the result will still come as a message
        words = self._renderer.for_chat(run.chat).words
        cancel = action_view([Action(ActionKind.CANCEL, run.id)], words)
        message_id = await self._edit(handle, run, words.progress(view), cancel)
        return str(message_id) if message_id is not None else None

    async def end_status(self, ending: RunResult) -> None:
        """Best effort: the command's response in the run's final state, without buttons (they
        are on the result), pointing at the result when it was posted from here. A run that
        did not succeed is announced once, by its channel message (which pings the user and
        says why): the response then only points there. A token lives
        15 minutes, so a failed edit is not tried again later."""
        run = ending.run
        handle = self._tokens.usable(run.chat.message_id)
        if handle is None or not self.ready:
            return
        renderer = self._renderer.for_chat(run.chat)
        link = f" {ending.link}" if ending.link is not None else ""
        if run.status is RunStatus.SUCCESS:
            text = renderer.words.result_summary(run, ending.balance)
            if link:
                text += f"\n{renderer.phrase('finished_see_below')}{link}"
        else:
            text = renderer.phrase("ended_see_below") + link
        try:
            await self._edit(handle, run, text, None)
        except SendFailed as failure:
            log.info("run %s: final status edit failed: %s", run.id, failure)

    async def _edit(
        self, handle: TokenHandle, run: Run, text: str, view: discord.ui.View | None
    ) -> int | None:
        """Edit the command's response; None (and the token is dropped) when Discord no
        longer takes the token or the message is gone."""
        try:
            async with sending(f"run {run.id} status", self._edit_timeout_s):
                message = await handle.interaction.edit_original_response(
                    content=text, embeds=[], view=view
                )
        except SendFailed as failure:
            cause = failure.__cause__
            gone = isinstance(cause, discord.NotFound) and cause.code == UNKNOWN_MESSAGE
            if cause is not None and (token_expired(cause) or gone):
                handle.alive = False
                log.info("run %s: its response can no longer be edited (%s)", run.id, failure)
                return None
            raise
        handle.message_id = message.id
        return message.id

    # -- results ---------------------------------------------------------------------------

    async def post_result(self, result: RunResult, journal: DeliveryJournal) -> RunResult | None:
        return await self._deliver(result, journal, _Delivery(result.run.id, ping=True))

    async def repost_result(self, result: RunResult) -> None:
        """Post a finished run's result again where `result.run.chat` says (see
        core/chat/reposts.py: `shown_here`), recording nothing on the run; the response of the
        interaction that asked then points at it."""
        run = result.run
        delivery = _Delivery(f"{run.id}/{run.chat.message_id}", ping=False)
        ending = await self._deliver(result, repost_journal(run.id), delivery)
        await self.end_status(ending)

    async def _deliver(
        self, result: RunResult, journal: DeliveryJournal, delivery: _Delivery
    ) -> RunResult:
        self._check_ready()
        run = result.run
        words = self._renderer.for_chat(run.chat).words
        parts = plan_result(
            f"<@{run.chat.user_id}> {words.result_summary(run, result.balance)}",
            result.files,
            result.texts,
            self._upload_limit(run.chat.chat_id),
            words.text("run.too_large"),
        )
        posted: discord.Message | None = None
        for part in parts:
            send = functools.partial(self._post, run, part, result.actions, delivery)
            message = await send_once(journal, part.key, send, resend_uncertain=True)
            if part.lead and message is not None:
                posted = message
        link = posted.jump_url if posted is not None else None
        return RunResult(run=run, link=link, balance=result.balance)

    async def _post(
        self, run: Run, part: ResultPart, actions: tuple[Action, ...], delivery: _Delivery
    ) -> discord.Message:
        """One message of the result; files Discord refuses as too large go again as links."""
        try:
            return await self._send(run, part, actions, delivery)
        except SendFailed as failure:
            if not part.files or failure.__cause__ is None or not too_large(failure.__cause__):
                raise
        log.info("run %s: Discord refused %s as too large; sending links", run.id, part.key)
        too_large_words = self._renderer.for_chat(run.chat).words.text("run.too_large")
        return await self._send(run, part.as_links(too_large_words), actions, delivery)

    async def _send(
        self, run: Run, part: ResultPart, actions: tuple[Action, ...], delivery: _Delivery
    ) -> discord.Message:
        channel = self._client.get_partial_messageable(int(run.chat.chat_id))
        words = self._renderer.for_chat(run.chat).words
        view = action_view(actions, words) if part.lead else None
        mentions = discord.AllowedMentions.none()
        if part.lead and delivery.ping:
            mentions.users = [discord.Object(int(run.chat.user_id))]
        files = [await _attachment(file) for file in part.files]
        extra: dict[str, Any] = {"view": view} if view is not None else {}
        async with sending(f"run {run.id} {part.key}", self._send_timeout_s):
            return await channel.send(
                part.text or None,
                files=files,
                allowed_mentions=mentions,
                nonce=nonce(delivery.nonce_scope, part.key),
                **extra,
            )

    def _upload_limit(self, channel_id: str) -> int:
        channel = self._client.get_channel(int(channel_id))
        guild = getattr(channel, "guild", None)
        guild_limit = guild.filesize_limit if isinstance(guild, discord.Guild) else None
        return self._tokens.upload_limit(channel_id, guild_limit)

    def _check_ready(self) -> None:
        if not self.ready or self._client.is_closed():
            raise SendFailed("the Discord adapter is not running", platform_down=True)


@dataclass(frozen=True)
class _Delivery:
    """How one posting of a result differs: a delivery, or a repost someone asked for."""

    nonce_scope: str
    """What every message's nonce derives from, with its part: the run for its delivery (the
    same on every attempt), the run and the asking interaction for a repost."""
    ping: bool
    """Whether the mention of the run's maker notifies them."""


async def _attachment(file: ResultFile) -> discord.File:
    assert file.path is not None
    data = await asyncio.to_thread(Path(file.path).read_bytes)
    return discord.File(io.BytesIO(data), filename=file.filename)
