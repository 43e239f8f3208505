"""The chat platforms whose tokens are set: built, attached to the engine, started and stopped."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from telegram.error import InvalidToken

from adapters.telegram import TelegramAdapter
from bot.container import Container
from bot.settings import SettingsError
from core.chat.commands import TELEGRAM_RULES

log = logging.getLogger(__name__)


Step = Callable[[], Awaitable[None]]


@dataclass
class Platforms:
    routes: list[web.RouteDef] = field(default_factory=list)
    starters: list[Step] = field(default_factory=list)
    quieters: list[Step] = field(default_factory=list)
    """Stop taking updates (commands, button presses) but keep sending."""
    stoppers: list[Step] = field(default_factory=list)

    async def start(self) -> None:
        for start in self.starters:
            await start()

    async def stop_receiving(self) -> None:
        await self._each(self.quieters, "stop receiving")

    async def stop(self) -> None:
        await self._each(self.stoppers, "stop")

    async def _each(self, steps: list[Step], what: str) -> None:
        for step in reversed(steps):
            try:
                await step()
            except Exception:
                log.exception("a platform failed to %s cleanly", what)


async def start_platforms(container: Container) -> Platforms:
    """Build every platform adapter whose token is set and hand its notifier to delivery.

    Call before the engine starts, so results owed from before a restart find their platform.
    """
    platforms = Platforms()
    settings = container.settings
    if settings.telegram_bot_token is not None:
        secret = settings.telegram_webhook_secret
        telegram = TelegramAdapter(
            settings.telegram_bot_token.get_secret_value(),
            settings.telegram_api_base_url,
            container.chat_service(TELEGRAM_RULES),
            container.kv,
            settings.telegram_webhook_url,
            secret.get_secret_value() if secret else None,
        )
        container.delivery.add_notifier(telegram.notifier)
        container.catalog.on_change(telegram.on_catalog_change)
        if settings.telegram_webhook_url:
            platforms.routes += telegram.routes()

        async def start_telegram() -> None:
            try:
                await telegram.start()
            except InvalidToken:  # its message holds the token: never shown
                raise SettingsError("TELEGRAM_BOT_TOKEN: Telegram rejected the token") from None

        platforms.starters.append(start_telegram)
        platforms.quieters.append(telegram.stop_receiving)
        platforms.stoppers.append(telegram.stop)
    if not platforms.starters:
        log.warning("no chat platform token is set: only webhooks and the scheduler will run")
    return platforms
