"""The Discord front end: a discord.py client wired to the chat layer and to delivery.

Start: point discord.py at the configured endpoints, log in (the token is checked here), open
the gateway session, then register the commands if they changed. Stop: close the session and
put discord.py's endpoints back.

A bot has one gateway session that gets its interactions; with several instances, `comfybot
run` opens it only in the one holding the gateway lease (`start(connect=False)`, then
`connect_gateway` / `disconnect_gateway`). Every instance sends results over REST.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.discord.attachments import AttachmentFetcher
from adapters.discord.client import BotClient
from adapters.discord.command_sync import CommandSync
from adapters.discord.door import InteractionDoor
from adapters.discord.endpoints import DEFAULT_API_BASE, Endpoints
from adapters.discord.handlers import InteractionHandlers
from adapters.discord.log_redaction import redact_token
from adapters.discord.notifier import DiscordNotifier
from adapters.discord.render import DiscordRenderer
from adapters.discord.slash_commands import SlashCommands
from adapters.discord.tokens import InteractionTokens
from core.catalog import CatalogView
from core.chat.service import ChatService
from core.errors import SendFailed
from core.models import RunResult
from core.ports import Clock, KeyValueStore

log = logging.getLogger(__name__)

LOGIN_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class DiscordConfig:
    token: str
    guild_ids: Sequence[int] = ()
    """Register the commands in these guilds (instant); none: globally."""
    api_base_url: str = DEFAULT_API_BASE
    gateway_url: str | None = None
    ready_timeout_s: float = 30.0
    """How long start waits for the gateway session; past it, start goes on (REST works)."""
    guild_ready_timeout_s: float = 2.0


class DiscordAdapter:
    def __init__(
        self, config: DiscordConfig, chat: ChatService, kv: KeyValueStore, clock: Clock
    ) -> None:
        redact_token(config.token)
        self._config = config
        self._endpoints = Endpoints(config.api_base_url, config.gateway_url)
        self._tokens = InteractionTokens(clock)
        self._fetcher = AttachmentFetcher(self._endpoints.api_origin)
        renderer = DiscordRenderer(chat.book, chat.default_language)
        self._handlers = InteractionHandlers(
            chat,
            InteractionDoor(chat.book, self._fetcher),
            renderer,
            self._tokens,
            self._repost,
        )
        self.client = BotClient(
            self._handlers, self._endpoints, guild_ready_timeout_s=config.guild_ready_timeout_s
        )
        self.commands = SlashCommands(chat.book, renderer.words)
        self._sync = CommandSync(self.client, self.commands, kv, config.guild_ids)
        self.notifier = DiscordNotifier(self.client, self._tokens, renderer)
        self._session: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, *, connect: bool = True, sync_commands: bool = True) -> None:
        """Log in (REST works from here on); open the gateway session and wait for it (unless
        `connect` is False: then `connect_gateway` when this process may); register the
        commands (unless `sync_commands` is False: one process does it for all)."""
        self._endpoints.apply()
        try:
            async with asyncio.timeout(LOGIN_TIMEOUT_S):
                await self.client.login(self._config.token)
            if connect:
                await self.connect_gateway()
                await self._wait_ready()
        except BaseException:
            await self.stop()
            raise
        self.notifier.ready = True
        user = self.client.user
        log.info("discord: %s started", user.name if user else "bot")
        if sync_commands:
            try:
                await self.sync_commands()
            except SendFailed as error:
                log.warning("discord: commands not registered yet: %s", error)

    async def connect_gateway(self) -> None:
        """Open the gateway session in the background (resuming and reconnecting by itself)."""
        if self._session is None and not self.client.is_closed():
            self._session = asyncio.create_task(self.client.connect(reconnect=True))
            log.info("discord: gateway session opening")

    async def disconnect_gateway(self) -> None:
        """Close the gateway session for good (close code 1000: Discord ends the session, so
        the next holder identifies anew); REST keeps working."""
        session, self._session = self._session, None
        if session is None:
            return
        session.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await session
        ws = self.client.ws
        if ws is not None and ws.open:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await ws.close(code=1000)
        log.info("discord: gateway session closed")

    async def _wait_ready(self) -> None:
        assert self._session is not None
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait(
            {self._session, ready},
            timeout=self._config.ready_timeout_s,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if ready not in done:
            ready.cancel()
            if self._session in done:
                self._session.result()  # the session ended: raise why
            log.warning("discord: gateway not ready yet; results are still sent over REST")

    async def stop_receiving(self) -> None:
        """Take no more interactions (another instance may), finish the ones being handled;
        results can still be sent."""
        self._handlers.accepting = False
        await self._handlers.drain(CLOSE_TIMEOUT_S)

    async def stop(self) -> None:
        self.notifier.ready = False
        try:
            await self.stop_receiving()
            await self.client.close()
            if self._session is not None:
                with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
                    async with asyncio.timeout(CLOSE_TIMEOUT_S):
                        await self._session
        finally:
            self._session = None
            await self._fetcher.close()
            self._endpoints.restore()

    async def _repost(self, result: RunResult) -> None:
        await self.notifier.repost_result(result)

    # -- commands --------------------------------------------------------------------------

    async def sync_commands(self) -> bool:
        """Register the commands where they changed; True when Discord was called."""
        return await self._sync.sync()

    async def on_catalog_change(self, view: CatalogView) -> None:
        """A catalog change listener (`Catalog.on_change`): new workflows become commands,
        removed ones go, without a restart."""
        try:
            await self.sync_commands()
        except (SendFailed, RuntimeError) as error:
            log.warning("discord: command update failed: %s", error)
