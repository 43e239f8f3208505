"""Validation of application command payloads, as Discord checks them on create and overwrite.

Rules from https://discord.com/developers/docs/interactions/application-commands
(naming, structure, option structure, option types, choices, localization, the 8000-character
size limit). Errors come back as a form-error tree (see `discord_errors`). The error codes for
invalid names (`APPLICATION_COMMAND_INVALID_NAME`), locales and choices (`BASE_TYPE_CHOICES`),
lengths (`BASE_TYPE_BAD_LENGTH`/`BASE_TYPE_MAX_LENGTH`), size (`APPLICATION_COMMAND_TOO_LARGE`)
and duplicates (`APPLICATION_COMMANDS_DUPLICATE_NAME`) are the ones Discord answers; the codes
for the rarer structural mistakes are this fake's own, under the same 50035 envelope.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from tests.fakes.discord_errors import FormErrors, length_error

LOCALES = (
    "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl",
    "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi",
    "th", "zh-CN", "ja", "zh-TW", "ko",
)  # fmt: skip
"""https://discord.com/developers/docs/reference#locales"""

CHAT_INPUT, USER, MESSAGE, PRIMARY_ENTRY_POINT = 1, 2, 3, 4
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER_OPTION, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(
    3, 12
)
OPTION_TYPES = tuple(range(1, 12))
CHOICE_TYPES = (STRING, INTEGER, NUMBER)
MAX_SAFE = 2**53
MAX_OPTIONS = 25
MAX_CHOICES = 25
MAX_SIZE = 8000
COMMAND_LIMITS = {CHAT_INPUT: 100, USER: 15, MESSAGE: 15, PRIMARY_ENTRY_POINT: 1}

Path = list[str | int]


def is_valid_chat_input_name(name: object) -> bool:
    """`^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$`, lowercase where a lowercase exists."""
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        return False
    for char in name:
        category = unicodedata.category(char)
        script_ok = "\u0900" <= char <= "\u097f" or "\u0e00" <= char <= "\u0e7f"
        if not (char in "-_'" or category[0] in "LN" or script_ok):
            return False
        if char.lower() != char:
            return False
    return True


def _choices_message(values: Sequence[object]) -> str:
    return f"Value must be one of ({', '.join(repr(v) for v in values)})."


class CommandRules:
    """Checks one command (or a list) and fills a FormErrors tree."""

    def __init__(self) -> None:
        self.errors = FormErrors()

    def check_list(self, payload: object) -> None:
        if not isinstance(payload, list):
            self.errors.add([], "BASE_TYPE_ARRAY", "Must be an array.")
            return
        seen: dict[tuple[int, str], int] = {}
        for index, command in enumerate(payload):
            self.check_command(command, [index])
            if isinstance(command, dict):
                key = (int(command.get("type", CHAT_INPUT)), str(command.get("name")))
                if key in seen:
                    self.errors.add(
                        [index, "name"],
                        "APPLICATION_COMMANDS_DUPLICATE_NAME",
                        "Application command names must be unique",
                    )
                seen[key] = index
        counts: dict[int, int] = {}
        for kind, _ in seen:
            counts[kind] = counts.get(kind, 0) + 1
        for kind, count in counts.items():
            if count > COMMAND_LIMITS.get(kind, 0):
                code, message = length_error(0, COMMAND_LIMITS.get(kind, 0))
                self.errors.add([], code, message)

    def check_command(self, command: object, path: Path) -> None:
        if not isinstance(command, dict):
            self.errors.add(
                path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"
            )
            return
        kind = command.get("type", CHAT_INPUT)
        if kind not in COMMAND_LIMITS:
            self.errors.add([*path, "type"], "BASE_TYPE_CHOICES", _choices_message((1, 2, 3, 4)))
            return
        name = command.get("name")
        if name is None:
            self.errors.add([*path, "name"], "BASE_TYPE_REQUIRED", "This field is required")
        elif kind == CHAT_INPUT:
            self._check_name(name, [*path, "name"])
        elif not isinstance(name, str) or not 1 <= len(name) <= 32:
            self.errors.add([*path, "name"], *length_error(1, 32))
        self._check_localizations(command, path, chat_input=kind == CHAT_INPUT)
        description = command.get("description")
        if kind == CHAT_INPUT:
            self._check_description(description, [*path, "description"])
        elif description not in (None, ""):
            self.errors.add(
                [*path, "description"],
                "APPLICATION_COMMAND_DESCRIPTION_NOT_EMPTY",
                "Description must be empty for this command type",
            )
        options = command.get("options")
        if options not in (None, []) and kind != CHAT_INPUT:
            self.errors.add(
                [*path, "options"],
                "APPLICATION_COMMAND_OPTIONS_NOT_ALLOWED",
                "Options are only allowed for CHAT_INPUT commands",
            )
        elif options is not None:
            self._check_options(options, [*path, "options"], level=0)
        permissions = command.get("default_member_permissions")
        if permissions is not None and not str(permissions).isdigit():
            self.errors.add(
                [*path, "default_member_permissions"],
                "NUMBER_TYPE_COERCE",
                f'Value "{permissions}" is not snowflake.',
            )
        self._check_int_list(command.get("contexts"), (0, 1, 2), [*path, "contexts"])
        self._check_int_list(
            command.get("integration_types"), (0, 1), [*path, "integration_types"]
        )
        if kind == CHAT_INPUT and name is not None and command_size(command) > MAX_SIZE:
            self.errors.add(
                path, "APPLICATION_COMMAND_TOO_LARGE", f"Command exceeds maximum size ({MAX_SIZE})"
            )

    # -- pieces ----------------------------------------------------------------------------

    def _check_name(self, name: object, path: Path) -> None:
        if not is_valid_chat_input_name(name):
            self.errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")

    def _check_description(self, description: object, path: Path) -> None:
        if description is None:
            self.errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        elif not isinstance(description, str) or not 1 <= len(description) <= 100:
            self.errors.add(path, *length_error(1, 100))

    def _check_localizations(self, item: dict[str, Any], path: Path, *, chat_input: bool) -> None:
        for key in ("name_localizations", "description_localizations"):
            values = item.get(key)
            if values is None:
                continue
            if not isinstance(values, dict):
                self.errors.add([*path, key], "DICT_TYPE_CONVERT", "Must be a dictionary.")
                continue
            for locale, value in values.items():
                if locale not in LOCALES:
                    self.errors.add(
                        [*path, key, locale], "BASE_TYPE_CHOICES", _choices_message(LOCALES)
                    )
                elif key == "description_localizations":
                    self._check_description(value, [*path, key, locale])
                elif chat_input and not is_valid_chat_input_name(value):
                    # Discord reports an invalid localized name on the dictionary itself.
                    self.errors.add(
                        [*path, key], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
                    )

    def _check_int_list(self, values: object, allowed: tuple[int, ...], path: Path) -> None:
        if values is None:
            return
        if not isinstance(values, list):
            self.errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
            return
        for index, value in enumerate(values):
            if value not in allowed:
                self.errors.add([*path, index], "BASE_TYPE_CHOICES", _choices_message(allowed))

    def _check_options(self, options: object, path: Path, *, level: int) -> None:
        if not isinstance(options, list):
            self.errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
            return
        if len(options) > MAX_OPTIONS:
            self.errors.add(path, *length_error(0, MAX_OPTIONS))
        names: set[str] = set()
        seen_optional = False
        kinds: set[bool] = set()
        for index, option in enumerate(options):
            here = [*path, index]
            if not isinstance(option, dict):
                self.errors.add(here, "DICT_TYPE_CONVERT", "Only dictionaries may be used")
                continue
            kind = option.get("type")
            if kind not in OPTION_TYPES:
                self.errors.add(
                    [*here, "type"], "BASE_TYPE_CHOICES", _choices_message(OPTION_TYPES)
                )
                continue
            is_sub = kind in (SUB_COMMAND, SUB_COMMAND_GROUP)
            kinds.add(is_sub)
            if is_sub and (level >= 2 or (level == 1 and kind == SUB_COMMAND_GROUP)):
                self.errors.add(
                    [*here, "type"],
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Subcommands cannot be nested this deep",
                )
            name = option.get("name")
            self._check_name(name, [*here, "name"])
            if isinstance(name, str):
                if name in names:
                    self.errors.add(
                        [*here, "name"],
                        "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS",
                        "Option names must be unique",
                    )
                names.add(name)
            self._check_description(option.get("description"), [*here, "description"])
            self._check_localizations(option, here, chat_input=True)
            if not is_sub:
                if option.get("required"):
                    if seen_optional:
                        self.errors.add(
                            [*here, "required"],
                            "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                            "Required options must be placed before non-required options",
                        )
                else:
                    seen_optional = True
            self._check_option_details(option, here, int(kind), level)
        if len(kinds) > 1:
            self.errors.add(
                path,
                "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                "Sub-command and sub-command group option types are mutually exclusive to all "
                "other types",
            )

    def _check_option_details(
        self, option: dict[str, Any], path: Path, kind: int, level: int
    ) -> None:
        nested = option.get("options")
        if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
            if nested is not None:
                self._check_options(nested, [*path, "options"], level=level + 1)
            return
        if nested:
            self.errors.add(
                [*path, "options"],
                "APPLICATION_COMMAND_OPTION_OPTIONS_INVALID",
                "Only sub-command options may have nested options",
            )
        choices = option.get("choices")
        if choices is not None:
            self._check_choices(choices, [*path, "choices"], kind)
            if choices and option.get("autocomplete"):
                self.errors.add(
                    [*path, "autocomplete"],
                    "AUTOCOMPLETE_AND_CHOICES_INVALID",
                    "Autocomplete cannot be enabled on options with choices",
                )
        if option.get("autocomplete") and kind not in CHOICE_TYPES:
            self.errors.add(
                [*path, "autocomplete"],
                "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID",
                "Autocomplete is only allowed on STRING, INTEGER and NUMBER options",
            )
        for key in ("min_value", "max_value"):
            value = option.get(key)
            if value is None:
                continue
            if kind not in (INTEGER, NUMBER) or not _is_number(value, integer=kind == INTEGER):
                self.errors.add([*path, key], "NUMBER_TYPE_COERCE", "Value is not a number.")
        for key, low in (("min_length", 0), ("max_length", 1)):
            value = option.get(key)
            if value is None:
                continue
            if kind != STRING or not isinstance(value, int) or not low <= value <= 6000:
                self.errors.add(
                    [*path, key], "NUMBER_TYPE_MAX", f"Int value must be between {low} and 6000."
                )

    def _check_choices(self, choices: object, path: Path, kind: int) -> None:
        if kind not in CHOICE_TYPES:
            self.errors.add(
                path,
                "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
                "Choices are only allowed on STRING, INTEGER and NUMBER options",
            )
            return
        if not isinstance(choices, list):
            self.errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
            return
        if len(choices) > MAX_CHOICES:
            self.errors.add(path, *length_error(0, MAX_CHOICES))
        for index, choice in enumerate(choices):
            check_choice(choice, [*path, index], kind, self.errors)


def check_choice(choice: object, path: Path, kind: int, errors: FormErrors) -> None:
    """One choice: a 1–100 character name and a value of the option's type."""
    if not isinstance(choice, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used")
        return
    name = choice.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        errors.add([*path, "name"], *length_error(1, 100))
    value = choice.get("value")
    if kind == STRING:
        if not isinstance(value, str) or len(value) > 100:
            errors.add([*path, "value"], *length_error(0, 100))
    elif not _is_number(value, integer=kind == INTEGER):
        errors.add([*path, "value"], "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')


def _is_number(value: object, *, integer: bool) -> bool:
    if isinstance(value, bool):
        return False
    if integer:
        return isinstance(value, int) and -MAX_SAFE < value < MAX_SAFE
    return isinstance(value, int | float) and -MAX_SAFE <= value <= MAX_SAFE


def command_size(command: dict[str, Any]) -> int:
    """Characters counted toward the 8000 limit: names, descriptions and choice names and
    values, each counted at its longest localization."""

    def longest(item: dict[str, Any], key: str) -> int:
        values = [str(item.get(key) or "")]
        localized = item.get(f"{key}_localizations")
        if isinstance(localized, dict):
            values.extend(str(v) for v in localized.values())
        return max(len(v) for v in values)

    def walk(item: dict[str, Any]) -> int:
        total = longest(item, "name") + longest(item, "description")
        for choice in item.get("choices") or []:
            if isinstance(choice, dict):
                total += longest(choice, "name") + len(str(choice.get("value", "")))
        for option in item.get("options") or []:
            if isinstance(option, dict):
                total += walk(option)
        return total

    return walk(command)
