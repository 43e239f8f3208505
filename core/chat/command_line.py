"""Parse a chat line such as `/txt2img@mybot a red fox seed=7 style="oil paint"`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})
"""Phone keyboards turn quotes curly; `key=“a b”` must still work."""

_OPTION = re.compile(r"""(?<!\S)([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|\S*)""")
_COMMAND = re.compile(r"^/([^\s@]+)(?:@(\S+))?(?:\s+|$)")


@dataclass(frozen=True)
class CommandLine:
    command: str
    """Lower-cased command without the slash and without `@botname`."""
    text: str = ""
    """Free text: everything that is not a `key=value` option."""
    options: dict[str, str] = field(default_factory=dict)
    duplicates: tuple[str, ...] = ()
    """Option names given more than once."""
    addressee: str | None = None
    """The `@botname` suffix, if any (group chats address commands to one bot)."""


def parse_command_line(line: str) -> CommandLine | None:
    """Split a line into command, free text and options; None when it is not a command."""
    line = line.strip()
    match = _COMMAND.match(line)
    if match is None:
        return None
    rest = line[match.end() :].translate(_QUOTES)
    options: dict[str, str] = {}
    duplicates: list[str] = []
    for key, raw in _OPTION.findall(rest):
        name = key.lower()
        if name in options:
            duplicates.append(name)
        options[name] = _unquote(raw)
    text = " ".join(_OPTION.sub(" ", rest).split())
    return CommandLine(
        command=match.group(1).lower(),
        text=text,
        options=options,
        duplicates=tuple(duplicates),
        addressee=match.group(2),
    )


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value
