"""The message catalogs: one module per language, each mapping every message key to its text.

`messages_for(language)` is the one way in: it takes a language as platforms report it (an
IETF tag such as `ru`, `es-419`, `pt-BR`, or Discord's `es-ES`), matches it to a catalog by
the tag and then by its primary language, and falls back to the default language.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from core.locales import en, es, ru

DEFAULT_LANGUAGE = "en"
CATALOGS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"en": en.MESSAGES, "ru": ru.MESSAGES, "es": es.MESSAGES}
)
"""Language -> its messages; every catalog has every key of the English one."""
LANGUAGES: tuple[str, ...] = tuple(CATALOGS)


def supported_language(tag: str | None) -> str | None:
    """The catalog for a language tag (`pt-BR` -> `pt` if there is one), or None."""
    if not tag:
        return None
    normal = tag.strip().replace("_", "-").lower()
    if normal in CATALOGS:
        return normal
    primary = normal.split("-", 1)[0]
    return primary if primary in CATALOGS else None


def pick_language(tag: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The language to answer someone in: theirs if there is a catalog, else `default`."""
    return supported_language(tag) or supported_language(default) or DEFAULT_LANGUAGE


def messages_for(language: str | None, default: str = DEFAULT_LANGUAGE) -> Mapping[str, str]:
    """The messages to answer in `language`, falling back to `default`, then English."""
    return CATALOGS[pick_language(language, default)]
