"""Discord's locales and the engine's languages.

An interaction carries the user's client language as `locale`
(https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object,
values from https://discord.com/developers/docs/reference#locales: `ru`, `es-ES`, `es-419`,
`en-US` ...); the engine picks its catalog from it as from any language tag. A command's
description is registered in the default language with `description_localizations` for every
Discord locale another catalog speaks
(https://discord.com/developers/docs/interactions/application-commands#localization), so a user
sees the command menu in their language.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.discord.library import discord
from core.chat.text_render import TextRenderer
from core.locales import supported_language

LOCALES: tuple[str, ...] = tuple(locale.value for locale in discord.Locale)
"""Every locale Discord has (discord.py's `Locale` lists exactly Discord's)."""


def interaction_language(interaction: discord.Interaction[Any]) -> str | None:
    """The user's client language, as Discord tags it."""
    locale = getattr(interaction, "locale", None)
    value = getattr(locale, "value", locale)
    return value if isinstance(value, str) and value else None


def localizations(words: TextRenderer, say: Callable[[TextRenderer], str]) -> dict[str, str]:
    """`say` in every Discord locale another catalog than `words`' speaks (only where it reads
    differently): a command's `description_localizations`."""
    base = say(words)
    found: dict[str, str] = {}
    for locale in LOCALES:
        language = supported_language(locale)
        if language is None or language == words.language:
            continue
        text = say(words.for_language(language))
        if text != base:
            found[locale] = text
    return found
