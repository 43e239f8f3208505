"""The chat platforms whose tokens are set: built, attached to the engine, started and stopped.

With several instances on one database, the work only one may do is held under leases
(core/leadership.py): Telegram long polling under `telegram:polling`, the Discord gateway
session under `discord:gateway`, command syncs with the sweeps. Every instance logs in and
sends results over REST.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from telegram.error import InvalidToken, TelegramError

from adapters.api import ApiConfig, ApiPlatform, ApiStores
from adapters.discord import DiscordAdapter, DiscordConfig, LoginFailure
from adapters.telegram import TelegramAdapter
from adapters.telegram.chat_refs import PLATFORM
from bot.container import Container
from bot.scheduler import Job
from bot.settings import Settings, SettingsError
from core.chat.commands import API_RULES, DISCORD_RULES, TELEGRAM_RULES
from core.errors import SendFailed
from core.retrying import Sleep

log = logging.getLogger(__name__)


Step = Callable[[], Awaitable[None]]


@dataclass
class Platforms:
    routes: list[web.RouteDef] = field(default_factory=list)
    starters: list[Step] = field(default_factory=list)
    quieters: list[Step] = field(default_factory=list)
    """Stop taking updates (commands, button presses) but keep sending."""
    stoppers: list[Step] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    """Periodic work of the platforms (for the scheduler)."""
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def in_background(self, step: Step, what: str) -> Step:
        """`step` started as a task (a lease's heartbeat must not wait for it)."""

        async def run() -> None:
            try:
                await step()
            except Exception:
                log.exception("%s failed", what)

        async def start() -> None:
            task = asyncio.create_task(run())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

        return start

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
        _add_telegram(platforms, container, settings)
    if settings.discord_bot_token is not None:
        _add_discord(platforms, container, settings)
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
        line=container.queue.place_of,
        clock=container.clock,
        config=api_config(settings, container.files.outputs_dir),
        previews=container.previews,
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


def _add_telegram(platforms: Platforms, container: Container, settings: Settings) -> None:
    assert settings.telegram_bot_token is not None
    secret = settings.telegram_webhook_secret
    telegram = TelegramAdapter(
        settings.telegram_bot_token.get_secret_value(),
        settings.telegram_api_base_url,
        container.chat_service(TELEGRAM_RULES),
        container.kv,
        settings.telegram_webhook_url,
        secret.get_secret_value() if secret else None,
        request_timeout_s=settings.telegram_timeout_seconds,
        intake=container.update_intake,
    )
    container.delivery.add_notifier(telegram.notifier)
    container.catalog.on_change(container.while_leading(telegram.on_catalog_change))
    if settings.telegram_webhook_url:
        platforms.routes += telegram.routes()

    async def start_telegram() -> None:
        try:
            await telegram.start(poll=False, sync_commands=False)
        except InvalidToken:  # its message holds the token: never shown
            raise SettingsError("TELEGRAM_BOT_TOKEN: Telegram rejected the token") from None
        # Whether or not CREDIT_PACKS sells anything now: past payments stay refundable.
        container.payment_gateways[PLATFORM] = telegram.payment_gateway

    async def sync_menu() -> None:
        try:
            await telegram.sync_commands()
        except TelegramError as error:
            log.warning("telegram: command menu not registered yet: %s", error.message)

    container.sweeps.when_gained(platforms.in_background(sync_menu, "telegram: menu sync"))
    if telegram.polls:
        polling = container.lease("telegram:polling")

        async def poll() -> None:
            await telegram.start_polling(lambda: polling.held)

        polling.when_gained(poll)
        polling.when_lost(telegram.stop_polling)
    sweep = settings.sweep_seconds
    platforms.jobs.append(
        Job("resume telegram updates", sweep * 3, container.leading(telegram.resume_abandoned))
    )
    platforms.starters.append(start_telegram)
    platforms.quieters.append(telegram.stop_receiving)
    platforms.stoppers.append(telegram.stop)


def _add_discord(platforms: Platforms, container: Container, settings: Settings) -> None:
    discord = DiscordAdapter(
        discord_config(settings),
        container.chat_service(DISCORD_RULES),
        container.kv,
        container.clock,
    )
    container.delivery.add_notifier(discord.notifier)
    container.catalog.on_change(container.while_leading(discord.on_catalog_change))

    async def start_discord() -> None:
        try:
            await discord.start(connect=False, sync_commands=False)
        except LoginFailure:
            raise SettingsError("DISCORD_BOT_TOKEN: Discord rejected the token") from None

    async def sync_commands() -> None:
        try:
            await discord.sync_commands()
        except (SendFailed, RuntimeError) as error:
            log.warning("discord: commands not registered yet: %s", error)

    container.sweeps.when_gained(platforms.in_background(sync_commands, "discord: command sync"))
    gateway = container.lease("discord:gateway")
    gateway.when_gained(discord.connect_gateway)
    gateway.when_lost(discord.disconnect_gateway)
    platforms.starters.append(start_discord)
    platforms.quieters.append(discord.stop_receiving)
    platforms.stoppers.append(discord.stop)


def discord_config(settings: Settings) -> DiscordConfig:
    token = settings.discord_bot_token
    assert token is not None
    return DiscordConfig(
        token=token.get_secret_value(),
        guild_ids=settings.discord_guild_ids,
        api_base_url=settings.discord_api_base_url,
        gateway_url=settings.discord_gateway_url,
    )
