"""Every message in every language: each catalog has every key of the English one with the same
fields, says it in its own words, every key the code uses exists, and each text platform has
its phrases in every language too."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from adapters.api.wording import SYNTAX as API
from adapters.console.wording import SYNTAX as CONSOLE
from adapters.discord.wording import PHRASES as DISCORD_PHRASES
from adapters.discord.wording import SYNTAX as DISCORD
from adapters.telegram.wording import SYNTAX as TELEGRAM
from core.actions import ActionKind
from core.chat.commands import ADMIN_SPECS, BUILTIN_COMMANDS
from core.chat.text_render import HINT_KEYS, TextRenderer, TextSyntax
from core.locales import CATALOGS, DEFAULT_LANGUAGE, LANGUAGES, messages_for, pick_language
from core.models import OutputKind, RunStatus
from core.workflow import InputType

ROOT = Path(__file__).resolve().parents[2]
ENGLISH = CATALOGS["en"]
OTHERS = [language for language in LANGUAGES if language != "en"]
SYNTAXES: dict[str, TextSyntax] = {
    "telegram": TELEGRAM,
    "console": CONSOLE,
    "discord": DISCORD,
    "api": API,
}
_KEY_USE = re.compile(
    r"""(?:Notice\.of|Problem\.of|UserFacingError|NotAllowed|UnknownRun|UnknownWorkflow|"""
    r"""FileRejected|\.text|text)\(\s*['"]([a-z_]+(?:[.-][a-z_]+)*)['"]"""
)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_there_are_at_least_three_complete_languages() -> None:
    assert {"en", "ru", "es"} <= set(LANGUAGES)


@pytest.mark.parametrize("language", OTHERS)
def test_each_catalog_has_exactly_the_english_keys(language: str) -> None:
    catalog = CATALOGS[language]
    assert sorted(set(ENGLISH) - set(catalog)) == [], "missing"
    assert sorted(set(catalog) - set(ENGLISH)) == [], "not in English"


@pytest.mark.parametrize("language", OTHERS)
def test_each_message_has_the_english_fields(language: str) -> None:
    catalog = CATALOGS[language]
    wrong = {
        key: fields(catalog[key])
        for key in ENGLISH
        if fields(catalog[key]) != fields(ENGLISH[key])
    }
    assert wrong == {}


@pytest.mark.parametrize("language", OTHERS)
def test_each_catalog_is_a_translation_not_a_copy(language: str) -> None:
    words = [key for key, text in ENGLISH.items() if len(re.findall(r"[A-Za-z]{3,}", text)) >= 2]
    same = [key for key in words if CATALOGS[language][key] == ENGLISH[key]]
    assert len(same) <= len(words) // 20, same


def test_every_key_the_code_uses_is_in_the_catalog() -> None:
    used: set[str] = set()
    for folder in ("core", "adapters"):
        for path in (ROOT / folder).rglob("*.py"):
            if "simulator" in path.parts or "locales" in path.parts:
                continue
            used |= set(_KEY_USE.findall(path.read_text(encoding="utf-8")))
    used |= {f"status.{status.value}" for status in RunStatus}
    used |= {f"button.{kind.value}" for kind in ActionKind}
    used |= {f"kind.{kind.value}" for kind in InputType if kind is not InputType.CHOICE}
    used |= {f"output.{kind.value}" for kind in OutputKind}
    specs = [*BUILTIN_COMMANDS, *ADMIN_SPECS]
    used |= {spec.description for spec in specs}
    used |= {option.description for spec in specs for option in spec.options}
    used |= {f"arg.{option.name}" for spec in specs for option in spec.options}
    assert len(used) > 120
    assert sorted(used - set(ENGLISH)) == []


@pytest.mark.parametrize("platform", sorted(SYNTAXES))
@pytest.mark.parametrize("language", LANGUAGES)
def test_each_text_platform_has_its_phrases_in_every_language(
    platform: str, language: str
) -> None:
    hints = SYNTAXES[platform].hints(language)
    english = SYNTAXES[platform].hints("en")
    assert set(hints) == HINT_KEYS
    assert {k: fields(v) for k, v in hints.items()} == {k: fields(v) for k, v in english.items()}
    if language != "en":
        translated = [
            k for k in HINT_KEYS if hints[k] != english[k] and re.search("[a-z]{4}", english[k])
        ]
        assert len(translated) >= len(HINT_KEYS) - 2


@pytest.mark.parametrize("language", LANGUAGES)
def test_discords_own_phrases_are_in_every_language(language: str) -> None:
    english = DISCORD_PHRASES["en"]
    assert set(DISCORD_PHRASES[language]) == set(english)
    for key, text in DISCORD_PHRASES[language].items():
        assert fields(text) == fields(english[key])
        assert language == "en" or text != english[key]


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("ru", "ru"),
        ("ru-RU", "ru"),
        ("es-419", "es"),
        ("es_ES", "es"),
        ("pt-br", "en"),
        (None, "en"),
    ],
)
def test_a_users_language_tag_picks_a_catalog_or_the_default(
    tag: str | None, language: str
) -> None:
    assert pick_language(tag) == language
    assert messages_for(tag) is CATALOGS[language]
    assert pick_language("pt-br", default="es") == "es"


def test_a_renderer_answers_in_the_chats_language_and_falls_back() -> None:
    words = TextRenderer(TELEGRAM, language=DEFAULT_LANGUAGE)
    assert words.for_language("ru").text("list.title") == "Сценарии:"
    assert words.for_language("es-MX").text("list.title") == "Flujos:"
    assert words.for_language("de").text("list.title") == "Workflows:"
    spanish_default = TextRenderer(TELEGRAM, language="es")
    assert spanish_default.for_language("de").text("list.title") == "Flujos:"
