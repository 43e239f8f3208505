"""`comfybot doctor`: check each part of the set-up and say plainly what is wrong."""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from adapters.comfydeploy.client import ComfyDeployClient
from adapters.discord.health import check_discord
from adapters.mongo.database import create_client
from adapters.mongo.embedded import EmbeddedMongoError, find_executable
from adapters.mongo.folder_report import database_folder_status
from bot.backends import NO_BACKEND, build_backends
from bot.config_files import load_catalog_file, load_routing_file
from bot.menu_check import discover, menu_checks
from bot.preflight import data_dir_problem, missing_files, port_problem
from bot.settings import Settings, SettingsError
from core.errors import BackendError
from core.workflow import Discovery

CHECK_TIMEOUT_S = 15.0


@runtime_checkable
class SelfChecking(Protocol):
    """A backend that can check its own reachability and credentials."""

    @property
    def name(self) -> str: ...

    async def check(self) -> str:
        """What it found (raises BackendError when it cannot be used)."""
        ...


async def run_doctor(settings: Settings) -> list[str]:
    """Print one line per check; return the problems found."""
    problems: list[str] = []

    def report(ok: bool, what: str, detail: str) -> None:
        print(f"{'ok ' if ok else 'BAD'} {what}: {detail}", flush=True)
        if not ok:
            problems.append(f"{what}: {detail}")

    missing = missing_files(settings)
    for what, path in (
        ("catalog file", settings.catalog_file),
        ("routing file", settings.routing_file),
    ):
        if any(problem.endswith(f" {path} does not exist") for problem in missing):
            continue  # named once, below, as the setting that points nowhere
        try:
            load_catalog_file(path) if what == "catalog file" else load_routing_file(path)
            state = "read" if path.exists() else "absent (defaults)"
            report(True, what, f"{path} {state}")
        except SettingsError as error:
            report(False, what, str(error))
    found = [*missing, data_dir_problem(settings), port_problem(settings)]
    for problem in filter(None, found):
        setting, _, detail = problem.partition(": ")
        report(False, setting.lower(), detail)
    report(*await _check_database(settings))
    backends = build_backends(settings)
    if not backends:
        report(False, "backend", NO_BACKEND)
    if settings.comfydeploy_api_key is not None:
        report(*await _check_backend(settings))
    paths = []
    platforms = settings.telegram_bot_token or settings.discord_bot_token
    discoveries: list[Discovery] = []
    for backend in backends:
        try:
            if isinstance(backend, SelfChecking):
                report(*await _check_other(backend))
            if backend.webhook_path:
                paths.append(backend.webhook_path)
            discovery = await discover(backend, CHECK_TIMEOUT_S) if platforms else None
            if discovery is not None:
                discoveries.append(discovery)
        finally:
            await backend.close()
    if settings.public_base_url is None:
        report(True, "webhooks", "PUBLIC_BASE_URL unset: every run is polled")
    elif not settings.public_base_url.startswith("https://"):
        report(False, "webhooks", "PUBLIC_BASE_URL should be https:// so backends can reach it")
    else:
        urls = ", ".join(f"{settings.public_base_url}{path}" for path in paths) or "none needed"
        report(True, "webhooks", urls)
    report(*await _check_telegram(settings))
    for check in menu_checks(settings, discoveries, backends[0].name if backends else ""):
        report(*check)
    if settings.discord_bot_token is None:
        report(True, "discord", "DISCORD_BOT_TOKEN unset: disabled")
    else:
        for check in await check_discord(
            settings.discord_bot_token.get_secret_value(),
            settings.discord_guild_ids,
            settings.discord_api_base_url,
        ):
            report(*check)
    print("all good" if not problems else f"{len(problems)} problem(s)", flush=True)
    return problems


async def _check_database(settings: Settings) -> tuple[bool, str, str]:
    if settings.mongodb_uri is None:
        try:
            find_executable()
        except EmbeddedMongoError as error:
            return False, "database", f"embedded server cannot start: {error}"
        ok, detail = database_folder_status(settings.data_dir / "mongo")
        return ok, "database", detail
    client = create_client(
        settings.mongodb_uri.get_secret_value(), server_selection_timeout_ms=5000
    )
    try:
        await client[settings.mongodb_db].command("ping")
    except Exception as error:
        return False, "database", f"MONGODB_URI does not answer ({type(error).__name__})"
    finally:
        await client.close()
    return True, "database", f"MONGODB_URI answers, database {settings.mongodb_db}"


async def _check_backend(settings: Settings) -> tuple[bool, str, str]:
    if settings.comfydeploy_api_key is None:
        return False, "backend", "COMFYDEPLOY_API_KEY is not set"
    key = settings.comfydeploy_api_key.get_secret_value()
    async with ComfyDeployClient(settings.comfydeploy_api_url, key, retries=0) as client:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                workflows, deployments = await client.list_workflows()
        except (BackendError, TimeoutError) as error:
            return False, "backend", f"{settings.comfydeploy_api_url}: {error or 'timed out'}"
    return True, "backend", f"{len(workflows)} workflows on {len(deployments)} deployments"


async def _check_telegram(settings: Settings) -> tuple[bool, str, str]:
    """getMe with the token: Telegram says whether it is valid (the token is never shown)."""
    if settings.telegram_bot_token is None:
        return True, "telegram", "TELEGRAM_BOT_TOKEN unset: disabled"
    token = settings.telegram_bot_token.get_secret_value()
    base = settings.telegram_api_base_url.rstrip("/")
    bot = Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot")
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            me = await bot.get_me()
    except InvalidToken:
        return False, "telegram", "TELEGRAM_BOT_TOKEN: Telegram rejected the token"
    except (TelegramError, TimeoutError) as error:
        return False, "telegram", f"{base} does not answer ({type(error).__name__})"
    finally:
        await bot.shutdown()
    return True, "telegram", f"enabled as @{me.username}"


async def _check_other(backend: SelfChecking) -> tuple[bool, str, str]:
    what = f"backend {backend.name}"
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return True, what, await backend.check()
    except (BackendError, TimeoutError) as error:
        return False, what, str(error) or "timed out"
