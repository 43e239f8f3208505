"""The application commands the bot registers: the compiled command book as Discord JSON.

https://discord.com/developers/docs/interactions/application-commands: chat input commands
(type 1) named `^[-_a-z0-9]{1,32}$` with 1-100 character descriptions; options (string 3,
integer 4, boolean 5, number 10, attachment 11; subcommand 1) with the required ones first,
`min_value`/`max_value`, up to 25 `choices` (or `autocomplete`); at most 100 global commands
and 8,000 characters of names, descriptions and choices per command. Names, option order and
collisions come from the core's compilation (DISCORD_RULES); this module adds the built-ins
Discord gets, the `/comfy` admin group, and keeps every command within the limits, the same
way for the same catalog: past 100 commands, `menu_priority` picks the workflows registered.

The built-ins' and the admin group's descriptions (theirs and their options') are ours, so they
are registered in the default language with `description_localizations` in every Discord
locale another catalog speaks
(https://discord.com/developers/docs/interactions/application-commands#localization). Names
stay the same everywhere (see adapters/discord/wording.py); a workflow's description is the
catalog's, in whatever language it was written.
"""

from __future__ import annotations

import math
from typing import Any

from adapters.discord.locales import localizations
from adapters.discord.wording import SYNTAX
from core.chat.book import CommandBook
from core.chat.commands import (
    ADMIN_COMMANDS,
    ADMIN_GROUP,
    ADMIN_SPECS,
    CommandSpec,
    by_menu_priority,
)
from core.chat.menu_report import NAMES_SHOWN, left_out_line
from core.chat.options import OptionKind, OptionSpec
from core.chat.text_render import TextRenderer

JsonDict = dict[str, Any]

BUILTINS = (
    "workflows",
    "help",
    "status",
    "cancel",
    "runs",
    "show",
    "recipe",
    "balance",
    "usage",
    "queue",
)
"""The built-in commands on Discord (no /start: Discord has no such convention; no /buy:
Discord takes no payments here)."""
MAX_COMMANDS = 100
COMMAND_SIZE_MAX = 8000
CHOICE_MAX = 100
LIMIT_MAX = 20
"""`/runs count:` and `/comfy runs count:` at most (a list of runs must fit one message)."""
ADMIN_SUBCOMMANDS = (*ADMIN_COMMANDS, "runs")
ADMIN_OPTIONS: dict[str, tuple[str, ...]] = {
    spec.name: tuple(option.name for option in spec.options)
    for spec in ADMIN_SPECS
    if spec.options
}
"""Each admin subcommand's text options, as the core declares them."""
"""`/comfy …`: the admin commands, and everybody's runs (`/runs all` in text)."""


def admin_description(name: str) -> str:
    """The message key describing `/comfy <name>`."""
    return "cmd.runs_all" if name == "runs" else f"cmd.{name}"


SAFE_INTEGER = 2**53
CHAT_INPUT = 1
SUB_COMMAND = 1
STRING, INTEGER, BOOLEAN, NUMBER, ATTACHMENT = 3, 4, 5, 10, 11
_TYPES = {
    OptionKind.STRING: STRING,
    OptionKind.INTEGER: INTEGER,
    OptionKind.BOOLEAN: BOOLEAN,
    OptionKind.NUMBER: NUMBER,
    OptionKind.ATTACHMENT: ATTACHMENT,
}
_AUTOCOMPLETED_BUILTINS = frozenset({("help", "command")})
_COUNT: JsonDict = {"type": INTEGER, "min_value": 1, "max_value": LIMIT_MAX}
"""How many runs to list, typed so Discord checks it (the core's built-ins take text)."""


class SlashCommands:
    def __init__(self, book: CommandBook, words: TextRenderer) -> None:
        self._book = book
        self._words = words

    def specs(self) -> list[CommandSpec]:
        """The commands registered on Discord, built-ins first, within the command limit (the
        admin group takes one place); workflows past it have no command here."""
        specs = self._book.specs()
        builtins = [s for s in specs if s.builtin and s.name in BUILTINS]
        return (builtins + by_menu_priority(specs))[: MAX_COMMANDS - 1]

    def left_out(self) -> list[str]:
        """Workflows with no room for a slash command (by `menu_priority`, then name)."""
        registered = {s.workflow for s in self.specs()}
        return [
            s.workflow
            for s in by_menu_priority(self._book.specs())
            if s.workflow is not None and s.workflow not in registered
        ]

    def left_out_line(self, names_shown: int | None = NAMES_SHOWN) -> str:
        held = sum(1 for s in self.specs() if not s.builtin)
        consequence = "they cannot be run on Discord"
        left_out = self.left_out()
        return left_out_line("the Discord command list", held, left_out, consequence, names_shown)

    def command_for(self, workflow: str) -> str | None:
        """The slash command that runs `workflow`, or None when it has none on Discord."""
        return next((s.name for s in self.specs() if s.workflow == workflow), None)

    def option_for(self, workflow: str, input_name: str) -> str | None:
        for spec in self.specs():
            if spec.workflow == workflow:
                return next((o.name for o in spec.options if o.input == input_name), None)
        return None

    def payload(self) -> list[JsonDict]:
        """What a bulk overwrite sends: one JSON object per command."""
        commands = [self._command(spec) for spec in self.specs()]
        commands.append(self._admin_group())
        return [fit_size(command) for command in commands]

    def _command(self, spec: CommandSpec) -> JsonDict:
        command: JsonDict = {"type": CHAT_INPUT, "name": spec.name}
        if spec.builtin:
            command.update(self._described(spec.description))
        else:
            command["description"] = spec.description
        options = [self._option(spec, option) for option in spec.options]
        if options:
            command["options"] = options
        return command

    def _described(self, key: str) -> JsonDict:
        """`description` (message `key` in the default language) and its localizations."""
        described: JsonDict = {"description": self._words.text(key)}
        localized = localizations(self._words, lambda words: words.text(key))
        if localized:
            described["description_localizations"] = localized
        return described

    def _option(self, spec: CommandSpec, option: OptionSpec) -> JsonDict:
        data: JsonDict = {"type": _TYPES[option.kind], "name": option.name}
        if spec.builtin:
            data.update(self._described(option.description))
        else:
            data["description"] = option.description
        data["required"] = option.required
        data.update(_bounds(option))
        if spec.builtin and option.name == "count":
            data.update(_COUNT)
        choices = option.choices
        usable = choices is not None and all(1 <= len(c) <= CHOICE_MAX for c in choices)
        if usable and choices and option.autocomplete:
            data["autocomplete"] = True
        elif usable and choices:
            data["choices"] = [{"name": choice, "value": choice} for choice in choices]
        if spec.builtin and (spec.name, option.name) in _AUTOCOMPLETED_BUILTINS:
            data["autocomplete"] = True
        return data

    def _admin_group(self) -> JsonDict:
        subcommands: list[JsonDict] = []
        for name in ADMIN_SUBCOMMANDS:
            sub: JsonDict = {"type": SUB_COMMAND, "name": name}
            sub.update(self._described(admin_description(name)))
            if name == "runs":
                count: JsonDict = {"type": INTEGER, "name": "count"}
                count.update(self._described("opt.count"))
                count.update(_COUNT, required=False)
                sub["options"] = [count]
            elif name in ADMIN_OPTIONS:
                sub["options"] = []
                for argument in ADMIN_OPTIONS[name]:
                    option: JsonDict = {"type": STRING, "name": argument}
                    option.update(self._described(f"opt.{argument}"))
                    option["required"] = True
                    sub["options"].append(option)
            subcommands.append(sub)
        group: JsonDict = {
            "type": CHAT_INPUT,
            "name": ADMIN_GROUP,
            "description": SYNTAX.phrase("admin_group", self._words.language),
        }
        localized = localizations(
            self._words, lambda words: SYNTAX.phrase("admin_group", words.language)
        )
        if localized:
            group["description_localizations"] = localized
        group["options"] = subcommands
        return group


def _bounds(option: OptionSpec) -> JsonDict:
    """`min_value`/`max_value` Discord accepts: whole numbers for integer options, within
    ±2^53 (Discord's number range)."""
    if option.kind not in (OptionKind.INTEGER, OptionKind.NUMBER):
        return {}
    low, high = option.min, option.max
    if option.kind is OptionKind.INTEGER:
        low = math.ceil(low) if low is not None else None
        high = math.floor(high) if high is not None else None
    bounds: JsonDict = {}
    if low is not None and abs(low) <= SAFE_INTEGER:
        bounds["min_value"] = low
    if high is not None and abs(high) <= SAFE_INTEGER:
        bounds["max_value"] = high
    if low is not None and high is not None and low > high:
        return {}
    return bounds


def command_size(item: JsonDict) -> int:
    """Characters Discord counts toward a command's 8,000: names, descriptions, choices, each
    at its longest localization."""
    total = _longest(item, "name") + _longest(item, "description")
    for choice in item.get("choices") or []:
        total += len(str(choice["name"])) + len(str(choice["value"]))
    return total + sum(command_size(option) for option in item.get("options") or [])


def _longest(item: JsonDict, key: str) -> int:
    texts = [str(item.get(key, "")), *(item.get(f"{key}_localizations") or {}).values()]
    return max(len(str(text)) for text in texts)


def fit_size(command: JsonDict) -> JsonDict:
    """Within 8,000 characters: the options with the most choices offer them by autocomplete
    instead, largest first, until the command fits."""
    while command_size(command) > COMMAND_SIZE_MAX:
        listed = [o for o in command.get("options") or [] if o.get("choices")]
        if not listed:
            break
        largest = max(listed, key=command_size)
        del largest["choices"]
        largest["autocomplete"] = True
    return command
