"""The application commands the bot registers: the compiled command book as Discord JSON.

https://discord.com/developers/docs/interactions/application-commands: chat input commands
(type 1) named `^[-_a-z0-9]{1,32}$` with 1-100 character descriptions; options (string 3,
integer 4, boolean 5, number 10, attachment 11; subcommand 1) with the required ones first,
`min_value`/`max_value`, up to 25 `choices` (or `autocomplete`); at most 100 global commands
and 8,000 characters of names, descriptions and choices per command. Names, option order and
collisions come from the core's compilation (DISCORD_RULES); this module adds the built-ins
Discord gets, the `/comfy` admin group, and keeps every command within the limits, the same
way for the same catalog.
"""

from __future__ import annotations

import math
from typing import Any

from adapters.discord.wording import ADMIN_GROUP_DESCRIPTION
from core.chat.book import CommandBook
from core.chat.commands import ADMIN_COMMANDS, ADMIN_GROUP, CommandSpec
from core.chat.options import OptionKind, OptionSpec
from core.chat.text_render import TextRenderer

JsonDict = dict[str, Any]

BUILTINS = ("workflows", "help", "status", "cancel", "runs", "show", "recipe")
"""The built-in commands on Discord (no /start: Discord has no such convention)."""
MAX_COMMANDS = 100
COMMAND_SIZE_MAX = 8000
CHOICE_MAX = 100
LIMIT_MAX = 20
ADMIN_SUBCOMMANDS = (*ADMIN_COMMANDS, "runs")
"""`/comfy …`: the admin commands, and everybody's runs (`/runs all` in text)."""


def admin_description(name: str) -> str:
    """The message key describing `/comfy <name>`."""
    return "cmd.runs_all" if name == "runs" else f"cmd.{name}"


"""`/comfy runs limit:` at most (a list of runs must fit one message)."""
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


class SlashCommands:
    def __init__(self, book: CommandBook, words: TextRenderer) -> None:
        self._book = book
        self._words = words

    def specs(self) -> list[CommandSpec]:
        """The commands registered on Discord, built-ins first, within the command limit (the
        admin group takes one place); workflows past it have no command here."""
        specs = self._book.specs()
        builtins = [s for s in specs if s.builtin and s.name in BUILTINS]
        workflows = [s for s in specs if not s.builtin]
        return (builtins + workflows)[: MAX_COMMANDS - 1]

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
        description = self._words.text(spec.description) if spec.builtin else spec.description
        options = [self._option(spec, option) for option in spec.options]
        command: JsonDict = {"type": CHAT_INPUT, "name": spec.name, "description": description}
        if options:
            command["options"] = options
        return command

    def _option(self, spec: CommandSpec, option: OptionSpec) -> JsonDict:
        description = option.description
        if spec.builtin:
            description = self._words.text(option.description)
        data: JsonDict = {
            "type": _TYPES[option.kind],
            "name": option.name,
            "description": description,
            "required": option.required,
        }
        data.update(_bounds(option))
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
        text = self._words.text
        subcommands: list[JsonDict] = []
        for name in ADMIN_SUBCOMMANDS:
            sub: JsonDict = {
                "type": SUB_COMMAND,
                "name": name,
                "description": text(admin_description(name)),
            }
            if name == "runs":
                sub["options"] = [
                    {
                        "type": INTEGER,
                        "name": "count",
                        "description": text("opt.count"),
                        "required": False,
                        "min_value": 1,
                        "max_value": LIMIT_MAX,
                    }
                ]
            elif name == "redeliver":
                sub["options"] = [
                    {
                        "type": STRING,
                        "name": "run",
                        "description": text("opt.run"),
                        "required": True,
                    }
                ]
            elif name in ("ban", "unban"):
                sub["options"] = [
                    {
                        "type": STRING,
                        "name": "user",
                        "description": text("opt.user"),
                        "required": True,
                    }
                ]
            subcommands.append(sub)
        return {
            "type": CHAT_INPUT,
            "name": ADMIN_GROUP,
            "description": ADMIN_GROUP_DESCRIPTION,
            "options": subcommands,
        }


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
    """Characters Discord counts toward a command's 8,000: names, descriptions, choices."""
    total = len(str(item.get("name", ""))) + len(str(item.get("description", "")))
    for choice in item.get("choices") or []:
        total += len(str(choice["name"])) + len(str(choice["value"]))
    return total + sum(command_size(option) for option in item.get("options") or [])


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
