"""The chat platforms whose tokens are set: built, attached to the engine, started and stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from telegram.error import InvalidToken

from adapters.api import ApiConfig, ApiPlatform, ApiStores
from adapters.api.callbacks import Sleep
from adapters.discord import DiscordAdapter, DiscordConfig, LoginFailure
from adapters.telegram import TelegramAdapter
from adapters.telegram.chat_refs import PLATFORM
from bot.container import Container
from bot.settings import Settings, SettingsError
from core.chat.commands import API_RULES, DISCORD_RULES, TELEGRAM_RULES

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
            request_timeout_s=settings.telegram_timeout_seconds,
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
            # Whether or not CREDIT_PACKS sells anything now: past payments stay refundable.
            container.payment_gateways[PLATFORM] = telegram.payment_gateway

        platforms.starters.append(start_telegram)
        platforms.quieters.append(telegram.stop_receiving)
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

        async def start_discord() -> None:
            try:
                await discord.start()
            except LoginFailure:
                raise SettingsError("DISCORD_BOT_TOKEN: Discord rejected the token") from None

        platforms.starters.append(start_discord)
        platforms.quieters.append(discord.stop_receiving)
        platforms.stoppers.append(discord.stop)
    if not platforms.starters:
        log.warning("no chat platform token is set: only webhooks and the scheduler will run")
    if settings.api_enabled:
        api = api_platform(container)
        container.delivery.add_notifier(api.notifier)
        platforms.routes += api.routes()
        platforms.quieters.append(api.stop_receiving)
        platforms.stoppers.append(api.stop)
    return platforms


def api_platform(container: Container, callback_sleep: Sleep = asyncio.sleep) -> ApiPlatform:
    """The HTTP run API on the container's engine (its routes go on the HTTP server).
    `callback_sleep`: what callback retries wait with (tests record the waits)."""
    settings = container.settings
    return ApiPlatform(
        chat=container.chat_service(API_RULES),
        stores=ApiStores(
            keys=container.api_keys,
            requests=container.api_requests,
            uploads=container.uploads,
            runs=container.runs_store,
            finder=container.finder,
            users=container.users,
        ),
        catalog=container.catalog,
        prices=container.prices,
        line=container.queue.line,
        clock=container.clock,
        config=api_config(settings, container.files.outputs_dir),
        callback_sleep=callback_sleep,
    )


def api_config(settings: Settings, outputs_dir: Path) -> ApiConfig:
    return ApiConfig(
        outputs_dir=outputs_dir,
        public_base_url=settings.public_base_url,
        allow_private_callbacks=settings.callback_allow_private,
        callback_timeout_s=settings.callback_timeout_seconds,
        max_body_bytes=settings.api_max_body_kb * 1000,
        max_upload_bytes=int(settings.max_input_image_mb * 1_000_000),
        max_prompt_chars=settings.max_prompt_chars,
    )


def discord_config(settings: Settings) -> DiscordConfig:
    token = settings.discord_bot_token
    assert token is not None
    return DiscordConfig(
        token=token.get_secret_value(),
        guild_ids=settings.discord_guild_ids,
        api_base_url=settings.discord_api_base_url,
        gateway_url=settings.discord_gateway_url,
    )
