"""The chat platforms whose tokens are set: built, attached to the engine, started and stopped."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from adapters.discord import DiscordAdapter, DiscordConfig
from adapters.telegram import TelegramAdapter
from bot.container import Container
from bot.settings import Settings
from core.chat.commands import DISCORD_RULES, TELEGRAM_RULES

log = logging.getLogger(__name__)


@dataclass
class Platforms:
    routes: list[web.RouteDef] = field(default_factory=list)
    starters: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    stoppers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def start(self) -> None:
        for start in self.starters:
            await start()

    async def stop(self) -> None:
        for stop in reversed(self.stoppers):
            try:
                await stop()
            except Exception:
                log.exception("platform failed to stop cleanly")


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
        platforms.starters.append(telegram.start)
        platforms.stoppers.append(telegram.stop)
    if settings.discord_bot_token is not None:
        discord = DiscordAdapter(
            discord_config(settings),
            container.chat_service(DISCORD_RULES),
            container.kv,
            container.clock,
        )
        container.delivery.add_notifier(discord.notifier)
        container.catalog.on_change(discord.on_catalog_change)
        platforms.starters.append(discord.start)
        platforms.stoppers.append(discord.stop)
    if not platforms.starters:
        log.warning("no chat platform token is set: only webhooks and the scheduler will run")
    return platforms


def discord_config(settings: Settings) -> DiscordConfig:
    token = settings.discord_bot_token
    assert token is not None
    return DiscordConfig(
        token=token.get_secret_value(),
        guild_ids=settings.discord_guild_ids,
        api_base_url=settings.discord_api_base_url,
        gateway_url=settings.discord_gateway_url,
    )
