"""`comfybot doctor`'s look at the command menus: with more workflows than a platform lists,
which are left out (Telegram: at most 100 commands in a menu; Discord: 100 commands)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from adapters.discord.slash_commands import SlashCommands
from adapters.discord.wording import SYNTAX as DISCORD_SYNTAX
from bot.config_files import load_catalog_file
from bot.settings import Settings, SettingsError
from core.catalog import CatalogView, merge_backends, merge_catalog
from core.chat.book import CommandBook, FixedView
from core.chat.commands import DISCORD_RULES, TELEGRAM_RULES
from core.chat.menu_report import left_out_line
from core.chat.text_render import TextRenderer
from core.errors import BackendError
from core.ports import WorkflowBackend
from core.workflow import Discovery

log = logging.getLogger(__name__)

Check = tuple[bool, str, str]


async def discover(backend: WorkflowBackend, timeout_s: float) -> Discovery | None:
    """The backend's workflows, or None when it cannot say now (its own check says why)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await backend.discover()
    except (BackendError, TimeoutError) as error:
        log.info("doctor: no workflows from %s: %s", backend.name, error)
        return None


def menu_checks(
    settings: Settings, discoveries: Sequence[Discovery], default_backend: str
) -> list[Check]:
    """One line per platform whose token is set: how many workflows its menu holds, and which
    it leaves out."""
    if not discoveries:
        return []
    try:
        catalog_file = load_catalog_file(settings.catalog_file)
    except SettingsError:  # reported as the catalog file's own problem
        return []
    workflows = merge_catalog(merge_backends(discoveries), catalog_file, default_backend)
    view = FixedView(
        CatalogView(workflows, [d for found in discoveries for d in found.deployments])
    )
    checks: list[Check] = []
    if settings.telegram_bot_token is not None:
        book = CommandBook(view, TELEGRAM_RULES)
        left_out = [s.workflow or s.name for s in book.left_out()]
        held = sum(1 for s in book.menu() if not s.builtin)
        typed = "they still run when typed"
        checks.append((True, "telegram menu", left_out_line("the menu", held, left_out, typed)))
    if settings.discord_bot_token is not None:
        slash = SlashCommands(CommandBook(view, DISCORD_RULES), TextRenderer(DISCORD_SYNTAX))
        checks.append((True, "discord commands", slash.left_out_line()))
    return checks
